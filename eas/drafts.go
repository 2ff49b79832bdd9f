package eas

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
)

// Drafts sync (MS-ASCMD Sync, MS-ASEMAIL 16.0): a 16.0+ phone adds and
// edits drafts in the Drafts folder with Sync Add and Change, and sends one
// with email2:Send. IMAP cannot edit a message, so every save stores a new
// message and removes the old one: a changed draft gets a new ServerId,
// and the phone learns of it the usual way, a Delete of the old item and
// an Add of the new one in the same answer. A draft to send is stored
// first and only then submitted, so that a failed submission leaves it in
// Drafts rather than losing it.

// draftsCollection reports whether phone commands in the collection may
// write drafts: a 16.0+ phone in the Drafts folder.
func (cs *collSync) draftsCollection(ctx context.Context) (bool, error) {
	if !cs.run.r.version().AtLeast(V160) {
		return false, nil
	}
	t, err := cs.run.folders.folderType(ctx, cs.path)
	if err != nil {
		return false, err
	}
	return t == FolderDrafts, nil
}

// isDraftEdit tells a Change of a draft's content from a flag change.
func isDraftEdit(e *Email, send bool) bool {
	if send {
		return true
	}
	if e == nil {
		return false
	}
	return e.To != "" || e.Cc != "" || e.Bcc != "" || e.Subject != "" || e.Importance != nil ||
		e.Body != nil || (e.Attachments != nil && (len(e.Attachments.Add) > 0 || len(e.Attachments.Delete) > 0))
}

// draftFrom reads a phone's draft; ok is false for data a draft cannot
// hold (a body that is neither text, HTML nor a whole MIME message).
func draftFrom(e *Email) (d *Draft, ok bool) {
	d = &Draft{}
	if e == nil {
		return d, true
	}
	d.To, d.Cc, d.Bcc, d.Subject, d.Importance = e.To, e.Cc, e.Bcc, e.Subject, e.Importance
	if d.Importance != nil && (*d.Importance < 0 || *d.Importance > 2) {
		return nil, false
	}
	if a := e.Attachments; a != nil {
		for _, add := range a.Add {
			if add.ClientID == "" {
				return nil, false
			}
			d.AddAttachments = append(d.AddAttachments, DraftAttachment{
				ClientID: add.ClientID, DisplayName: add.DisplayName, ContentType: add.ContentType,
				ContentID: add.ContentID, ContentLocation: add.ContentLocation, Method: add.Method,
				IsInline: add.IsInline, Content: add.Content,
			})
		}
		for _, del := range a.Delete {
			d.DeleteAttachments = append(d.DeleteAttachments, del.FileReference)
		}
	}
	b := e.Body
	switch {
	case b == nil:
	case b.Type == BodyPlain || b.Type == BodyHTML:
		d.Body = &DraftBody{Type: b.Type, Data: b.Data}
	case b.Type == BodyMIME && len(d.AddAttachments) == 0 && len(d.DeleteAttachments) == 0:
		// The whole draft as a message, with its headers, alternatives and
		// attachments (16.1 clients that compose MIME themselves; Exchange
		// takes it). Read and Flag beside it are the draft's flags.
		d.MIME = []byte(b.Data)
		d.Read = e.Read
		if e.Flag != nil {
			if st := e.Flag.Status; st != nil && (*st < FlagCleared || *st > FlagActive) {
				return nil, false
			}
			d.Flag = e.Flag
		}
	default:
		return nil, false
	}
	return d, true
}

// draftSave is a phone's draft to store: a new one (replaces "") or its
// edit of one, and whether to send it.
type draftSave struct {
	replaces string
	email    *Email
	send     bool
	// outcome receives the status, the new ServerId of an added draft and
	// the FileReferences of added attachments.
	outcome *commandOutcome
}

// saveDraft stores a phone's draft and sends it when asked.
func (cs *collSync) saveDraft(ctx context.Context, ds draftSave) error {
	o := ds.outcome
	d, ok := draftFrom(ds.email)
	if !ok {
		o.Status = SyncConversionError
		return nil
	}
	mb, err := cs.session(ctx)
	if err != nil {
		return err
	}
	var saved *SavedDraft
	if ds.replaces != "" && ds.send && !isDraftEdit(ds.email, false) {
		// Sent as it is: no new copy to store first.
		saved = &SavedDraft{ServerID: ds.replaces}
	} else {
		saved, err = mb.SaveDraft(ctx, cs.path, ds.replaces, d)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		o.Status = SyncObjectNotFound
		return nil
	case errors.Is(err, ErrInvalidDraft):
		cs.log.Info("refusing a phone's draft", zap.Error(err))
		o.Status = SyncConversionError
		return nil
	case fatal(err):
		return fmt.Errorf("save draft: %w", err)
	default:
		cs.log.Error("saving a phone's draft failed", zap.Error(err))
		o.Status = SyncServerError
		return nil
	}
	for i, ref := range saved.FileReferences {
		if i < len(d.AddAttachments) {
			o.Atts = append(o.Atts, SavedAttachment{ClientID: d.AddAttachments[i].ClientID, FileReference: ref})
		}
	}
	added := ds.replaces == ""
	if added {
		o.ServerID = itemServerID(cs.req.CollectionID, saved.ServerID)
	}
	if ds.send {
		err := mb.Send(ctx, Compose{Draft: &ItemRef{Path: cs.path, ServerID: saved.ServerID}, SaveInSent: true})
		if err != nil {
			// Never fatal: the draft is stored, and failing the request
			// would have the phone store it again. It stays in Drafts and
			// comes to the phone as a server Add of this very answer.
			cs.log.Warn("sending a phone's draft failed", zap.Error(err))
			o.Status = SyncServerError
			if added {
				o.ServerID = ""
			}
			return nil
		}
	}
	if added {
		// The phone holds the new draft under its ServerId; a sent one is
		// gone again, which the next diff tells it with a Delete.
		cs.st.SetBoth(saved.ServerID, saved.Version)
		o.Status = SyncSuccess
	}
	// An edited draft: the phone still holds the old ServerId, which the
	// diff of this answer deletes, and it gets the new one as an Add.
	return nil
}
