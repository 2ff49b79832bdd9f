package eas

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// The phone's commands in one collection: Add, Change, Delete and Fetch,
// carried out in the order sent. Mail is written through the mail
// extensions (flags, drafts, deletes to the trash); every other class
// through the store's ItemWriter.

// phoneCommand is a phone's Add, Change, Delete or Fetch as the engine
// reads it, for any class: ApplicationData stays an element until the
// class codec reads it.
type phoneCommand struct {
	ServerID string         `wbxml:"ServerId"`
	ClientID string         `wbxml:"ClientId"`
	Data     *wbxml.Element `wbxml:"ApplicationData,omitempty"`
	// Send, on a 16.0+ phone's draft, sends it.
	Send bool `wbxml:"Email2:Send,empty"`
	// InstanceID, on a 16.0+ phone's Delete of a calendar item, deletes
	// one occurrence of the series only.
	InstanceID CompactTime `wbxml:"AirSyncBase:InstanceId,omitempty"`
}

// apply carries out the phone's commands in order.
func (cs *collSync) apply(ctx context.Context) ([]commandOutcome, error) {
	out := make([]commandOutcome, 0, len(cs.req.Commands.Items))
	for _, el := range cs.req.Commands.Items {
		var kind string
		switch el.Tag {
		case tagSyncAdd:
			kind = cmdAdd
		case tagSyncChange:
			kind = cmdChange
		case tagSyncDelete:
			kind = cmdDelete
		case tagSyncFetch:
			kind = cmdFetch
		default:
			cs.log.Info("ignoring unknown sync command", zap.Stringer("tag", el.Tag))
			continue
		}
		o, err := cs.command(ctx, kind, el)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// command carries out one command; an error ends the request.
func (cs *collSync) command(ctx context.Context, kind string, el *wbxml.Element) (commandOutcome, error) {
	o := commandOutcome{Kind: kind}
	var pc phoneCommand
	if err := decodeElement(el, &pc); err != nil {
		o.Status = SyncConversionError
		return o, nil
	}
	o.ServerID, o.ClientID = pc.ServerID, pc.ClientID
	if kind == cmdAdd {
		o.ServerID = ""
		return o, cs.add(ctx, &pc, &o)
	}
	if kind == cmdFetch {
		// Fetched when the answer is built, on a replay too.
		o.Status = SyncSuccess
		return o, nil
	}
	id, ok := splitServerID(cs.req.CollectionID, pc.ServerID)
	if !ok {
		o.Status = SyncObjectNotFound
		return o, nil
	}
	if kind == cmdDelete && pc.InstanceID != "" {
		return o, cs.deleteInstance(ctx, id, pc.InstanceID, &o)
	}
	if kind == cmdDelete {
		return o, cs.delete(ctx, id, &o)
	}
	return o, cs.change(ctx, id, &pc, &o)
}

// outcome sets o's status from the error of a store write: nil for
// success, or the error that ends the request.
func (cs *collSync) outcome(err error, o *commandOutcome, what string) error {
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		o.Status = SyncObjectNotFound
	case errors.Is(err, ErrConflict):
		o.Status = SyncConflict
	case errors.Is(err, ErrInvalidItem):
		cs.log.Info("phone's "+what+" refused by the store", zap.String("item", o.ServerID), zap.Error(err))
		o.Status = SyncConversionError
	case fatal(err):
		return fmt.Errorf("%s %s: %w", what, o.ServerID, err)
	case errors.Is(err, ErrFolderUnavailable):
		cs.log.Warn("phone's "+what+" not applied: upstream unavailable", zap.String("item", o.ServerID), zap.Error(err))
		o.Status = SyncRetry
	default:
		cs.log.Error("applying a phone's "+what+" failed", zap.String("item", o.ServerID), zap.Error(err))
		o.Status = SyncServerError
	}
	return nil
}

// writer is the store's ItemWriter, nil when it takes no writes.
func (cs *collSync) writer(ctx context.Context) (ItemWriter, error) {
	se, err := cs.session(ctx)
	if err != nil {
		return nil, err
	}
	w, _ := se.(ItemWriter)
	return w, nil
}

// add stores a phone's new item.
func (cs *collSync) add(ctx context.Context, pc *phoneCommand, o *commandOutcome) error {
	o.Status = SyncConversionError
	if pc.ClientID == "" {
		return nil
	}
	if cs.class == ClassEmail {
		return cs.addMail(ctx, pc, o)
	}
	w, err := cs.writer(ctx)
	if err != nil || w == nil || pc.Data == nil {
		return err
	}
	it, err := cs.codec.decodeFrom(pc.Data, cs.sender())
	if err != nil {
		return nil
	}
	id, version, err := addItem(ctx, w, NewItem{Path: cs.path, Item: it.Item, Version: cs.run.r.version()})
	o.Status = 0
	if err := cs.outcome(err, o, "add"); err != nil || o.Status != 0 {
		return err
	}
	cs.st.SetBoth(id, version)
	o.ServerID, o.Status = itemServerID(cs.req.CollectionID, id), SyncSuccess
	if c, ok := it.Item.(*Calendar); ok && (c.UID == "" || cs.run.r.version().AtLeast(V160)) {
		cs.addedUID(ctx, id, o)
	}
	return nil
}

// addedUID reads back the UID the store gave a phone's new calendar item,
// for the Add response. MS-ASCAL 2.2.2.46: from 16.0 the phone sends no
// UID and the server returns the one it made; up to 14.1 the server may
// return one when the phone sent none. The item is stored either way: a
// failed read only leaves the UID out, rather than failing the request
// and having the phone send its Add again.
func (cs *collSync) addedUID(ctx context.Context, id string, o *commandOutcome) {
	se, err := cs.session(ctx)
	var it Item
	if err == nil {
		it, err = se.Fetch(ctx, cs.ref(id), cs.body)
	}
	if err != nil {
		cs.log.Warn("added calendar item not read back; Add answered without its UID", zap.String("item", o.ServerID), zap.Error(err))
		return
	}
	if c, ok := it.(*Calendar); ok {
		o.UID = c.UID
	}
}

// sender is who sends the collection's Adds and Changes.
func (cs *collSync) sender() sender {
	r := cs.run.r
	return sender{version: r.version(), supported: cs.st.Meta.Supported, client: r.clientIdentity()}
}

// change applies a phone's Change of an item it holds.
func (cs *collSync) change(ctx context.Context, id string, pc *phoneCommand, o *commandOutcome) error {
	if cs.class == ClassEmail {
		return cs.changeMail(ctx, id, pc, o)
	}
	w, err := cs.writer(ctx)
	if err != nil {
		return err
	}
	if pc.Data == nil {
		// No ApplicationData is malformed, not an item with every field
		// left out: read as one, it would clear what is not ghosted.
		o.Status = SyncConversionError
		return nil
	}
	it, err := cs.codec.decodeFrom(pc.Data, cs.sender())
	if w == nil || err != nil {
		o.Status = SyncConversionError
		return nil
	}
	markCutBodies(it.Item, cs.st.Meta.Options.Body)
	u := ItemUpdate{Item: it.Item, Ghosted: it.Ghosted, Known: cs.st.Known[id], Version: cs.run.r.version()}
	if c := cs.st.Meta.Options.Conflict; c != nil && *c == 0 {
		// Conflict 0: the client's change wins.
		u.Known = ""
	}
	version, err := w.ChangeItem(ctx, cs.ref(id), u)
	if err == nil {
		if _, known := cs.st.Known[id]; known {
			cs.st.SetBoth(id, version)
		}
	}
	return cs.outcome(err, o, "change")
}

// delete removes an item for the phone.
func (cs *collSync) delete(ctx context.Context, id string, o *commandOutcome) error {
	se, err := cs.session(ctx)
	if err != nil {
		return err
	}
	if cs.class == ClassEmail {
		err = cs.deleteMail(ctx, se, id)
	} else if w, ok := se.(ItemWriter); ok {
		err = w.DeleteItem(ctx, cs.ref(id))
	} else {
		o.Status = SyncConversionError
		return nil
	}
	switch {
	case err == nil:
		cs.st.ForgetBoth(id)
	case errors.Is(err, ErrNotFound):
		// Gone already: the phone's copy goes too.
		cs.st.ForgetBoth(id)
	}
	return cs.outcome(err, o, "delete")
}

// deleteInstance removes one occurrence of a series for a 16.x phone
// (MS-ASCMD Sync Delete with InstanceId); the series stays.
func (cs *collSync) deleteInstance(ctx context.Context, id string, instance CompactTime, o *commandOutcome) error {
	se, err := cs.session(ctx)
	if err != nil {
		return err
	}
	d, ok := se.(InstanceDeleter)
	if !ok {
		o.Status = SyncConversionError
		return nil
	}
	ref := cs.ref(id)
	ref.Known = cs.st.Known[id]
	version, err := d.DeleteInstance(ctx, ref, instance)
	if err == nil {
		if _, known := cs.st.Known[id]; known {
			cs.st.SetBoth(id, version)
		}
	}
	return cs.outcome(err, o, "delete of an occurrence")
}

// ref names an item of the collection.
func (cs *collSync) ref(id string) ItemRef {
	return ItemRef{Path: cs.path, ServerID: id, Cursor: cs.st.Meta.Cursor, Version: cs.run.r.version()}
}

// answerCommands builds the Responses element from the commands'
// outcomes, fetching the items of Fetch commands.
func (cs *collSync) answerCommands(ctx context.Context, outcomes []commandOutcome) (*SyncResponses, error) {
	var rs SyncResponses
	n := 0
	for _, o := range outcomes {
		switch o.Kind {
		case cmdChange:
			// A changed draft with attachments added learns their
			// FileReferences; other successful changes get no answer.
			if o.Status != 0 || len(o.Atts) > 0 {
				r := SyncStatusResponse{ServerID: o.ServerID, Status: o.Status}
				if r.Status == 0 {
					r.Status = SyncSuccess
				}
				r.ApplicationData = o.savedDraftData()
				rs.Change = append(rs.Change, r)
				n++
			}
		case cmdDelete:
			if o.Status != 0 {
				rs.Delete = append(rs.Delete, SyncStatusResponse{ServerID: o.ServerID, Status: o.Status})
				n++
			}
		case cmdAdd:
			r := SyncAddResponse{ClientID: o.ClientID, ServerID: o.ServerID, Status: o.Status}
			if o.Status == SyncSuccess {
				r.ApplicationData = o.savedDraftData()
			}
			rs.Add = append(rs.Add, r)
			n++
		case cmdFetch:
			fr, err := cs.fetch(ctx, o)
			if err != nil {
				return nil, err
			}
			rs.Fetch = append(rs.Fetch, fr)
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	return &rs, nil
}

// fetch answers one Fetch command.
func (cs *collSync) fetch(ctx context.Context, o commandOutcome) (SyncFetchResponse, error) {
	fr := SyncFetchResponse{ServerID: o.ServerID, Status: o.Status}
	if fr.Status != SyncSuccess {
		return fr, nil
	}
	id, ok := splitServerID(cs.req.CollectionID, o.ServerID)
	if !ok {
		fr.Status = SyncObjectNotFound
		return fr, nil
	}
	se, err := cs.session(ctx)
	if err != nil {
		return fr, err
	}
	it, err := se.Fetch(ctx, cs.ref(id), cs.body)
	switch {
	case err == nil:
		fr.Item = cs.codec.encode(it, cs.run.r.version(), true)
	case errors.Is(err, ErrNotFound):
		fr.Status = SyncObjectNotFound
	case fatal(err):
		return fr, fmt.Errorf("fetch %s: %w", o.ServerID, err)
	default:
		cs.log.Error("fetch for a phone failed", zap.String("item", o.ServerID), zap.Error(err))
		fr.Status = SyncServerError
	}
	return fr, nil
}
