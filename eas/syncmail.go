package eas

import (
	"context"
	"fmt"
)

// The mail class's side of a phone's Sync commands: a Change writes flags
// (or, in a 16.0+ Drafts folder, edits a draft), a Delete moves to the
// trash, and an Add is only ever a 16.0+ draft (drafts.go).

// phoneEmail reads the ApplicationData of a phone's mail command.
func (cs *collSync) phoneEmail(pc *phoneCommand) (*Email, error) {
	if pc.Data == nil {
		return nil, nil
	}
	it, err := cs.codec.decode(pc.Data, nil, cs.run.r.version())
	if err != nil {
		return nil, err
	}
	return it.Item.(*Email), nil
}

// addMail stores a phone's new draft. Mail is created by Sync only as a
// 16.0+ draft; any other Add gets Status 6, and the phone stops retrying
// it.
func (cs *collSync) addMail(ctx context.Context, pc *phoneCommand, o *commandOutcome) error {
	drafts, err := cs.draftsCollection(ctx)
	if err != nil || !drafts || pc.Data == nil {
		return err
	}
	e, err := cs.phoneEmail(pc)
	if err != nil {
		return nil
	}
	o.Status = 0
	return cs.saveDraft(ctx, draftSave{email: e, send: pc.Send, outcome: o})
}

// changeMail applies a phone's Change of a message: its flags, or a
// draft's content.
func (cs *collSync) changeMail(ctx context.Context, id string, pc *phoneCommand, o *commandOutcome) error {
	e, err := cs.phoneEmail(pc)
	if err != nil {
		o.Status = SyncConversionError
		return nil
	}
	if isDraftEdit(e, pc.Send) {
		drafts, err := cs.draftsCollection(ctx)
		if err != nil {
			return err
		}
		if drafts {
			return cs.saveDraft(ctx, draftSave{replaces: id, email: e, send: pc.Send, outcome: o})
		}
		if pc.Send {
			// Only a draft can be sent this way; saying nothing would let
			// the phone believe it went out.
			o.Status = SyncConversionError
			return nil
		}
	}
	u, status := flagUpdate(e, cs.run.r.version())
	if status != 0 {
		o.Status = status
		return nil
	}
	if u.Read == nil && u.Flag == nil && u.Categories == nil {
		return nil
	}
	mb, err := cs.session(ctx)
	if err != nil {
		return err
	}
	u.Known = cs.st.Known[id]
	version, err := mb.UpdateFlags(ctx, cs.ref(id), u)
	if err == nil {
		// Only an item the phone holds gets the new version; one it does
		// not hold is still to be sent as an Add.
		if _, known := cs.st.Known[id]; known {
			cs.st.SetBoth(id, version)
		}
	}
	return cs.outcome(err, o, "change")
}

// deleteMail deletes a message, to the trash unless the phone asked
// otherwise or it is in the trash already.
func (cs *collSync) deleteMail(ctx context.Context, se Session, id string) error {
	mb, ok := se.(MailDeleter)
	if !ok {
		return fmt.Errorf("store deletes no mail: %w", ErrNotFound)
	}
	trash := ""
	if c := cs.req.DeletesAsMoves; c == nil || *c {
		t, err := cs.run.folders.trashPath(ctx)
		if err != nil {
			return err
		}
		if t != cs.path {
			trash = t
		}
	}
	return mb.Delete(ctx, cs.ref(id), trash)
}

// flagUpdate reads the writable fields of a phone's Change; a non-zero
// status refuses it.
func flagUpdate(e *Email, v Version) (FlagUpdate, int) {
	var u FlagUpdate
	if e == nil {
		return u, 0
	}
	if e.ConversationID != nil {
		// MS-ASEMAIL: ConversationId is read-only.
		return u, SyncConversionError
	}
	u.Read = e.Read
	if e.Flag != nil {
		if st := e.Flag.Status; st != nil && (*st < FlagCleared || *st > FlagActive) {
			return u, SyncConversionError
		}
		u.Flag = e.Flag
	}
	if e.Categories != nil && v.AtLeast(V140) {
		cats := append([]string{}, e.Categories.Category...)
		u.Categories = &cats
	}
	return u, 0
}
