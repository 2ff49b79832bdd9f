package eas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// The Sync of one collection, in four phases that run in order:
//
//  1. begin: check the SyncKey (a new collection, the current key, or the
//     previous one repeated: a replay) and load the state;
//  2. applyCommands: carry out the phone's commands on the generation it
//     holds, or answer them from the replay record;
//  3. gatherChanges: ask the store for what the phone lacks, one window;
//  4. record: store the new generation and build the answer.
//
// A phase that ends the collection early (a status for the whole
// collection) returns done. Nothing here depends on the class: the class
// codec renders items, and the phone's commands go to the class's writer
// (synccommands.go).

// collSync is one collection's Sync within a request: what its phases
// share.
type collSync struct {
	run   *syncRun
	req   *SyncCollection
	class Class
	codec *classCodec
	path  string
	st    *collectionState
	body  BodyOptions
	log   *zap.Logger
	res   collectionResult
	// replay: the phone repeated its previous key; st is that generation.
	replay bool
	// dirty: st must be stored; mutated: the phone's commands changed the
	// store, so the answer is a new generation even without changes.
	dirty, mutated bool
	query          SyncQuery
	changes        *ChangeSet
	responses      *SyncResponses
}

// collection syncs one collection.
func (run *syncRun) collection(ctx context.Context, c *SyncCollection) (collectionResult, error) {
	cs := &collSync{run: run, req: c, log: run.r.log.With(zap.String("collection", c.CollectionID))}
	cs.res.resp = SyncCollectionResponse{SyncKey: c.SyncKey, CollectionID: c.CollectionID, Status: SyncSuccess}
	if !run.r.version().AtLeast(V140) && c.Class != "" {
		cs.res.resp.Class = c.Class
	}
	for _, phase := range []func(context.Context) (bool, error){cs.begin, cs.applyCommands, cs.gatherChanges} {
		done, err := phase(ctx)
		if err != nil || done {
			return cs.res, err
		}
	}
	return cs.res, cs.record(ctx)
}

// fail ends the collection with status.
func (cs *collSync) fail(status int) (bool, error) {
	cs.res.resp.Status = status
	if status == SyncInvalidSyncKey {
		// The phone must start again from 0; some clients store whatever
		// key comes back, so it gets that one.
		cs.res.resp.SyncKey = "0"
	}
	cs.res.something = true
	return true, nil
}

// begin is phase 1: the folder, its class and the phone's key.
func (cs *collSync) begin(ctx context.Context) (bool, error) {
	run, r, c := cs.run, cs.run.r, cs.req
	asked, ok := Class(""), true
	if c.Class != "" {
		if asked, ok = parseClass(c.Class); !ok {
			return cs.fail(SyncProtocolError)
		}
	}
	path, err := run.s.folderPath(ctx, r, c.CollectionID)
	if errors.Is(err, ErrNotFound) {
		return cs.fail(SyncHierarchyChanged)
	}
	if err != nil {
		return true, err
	}
	cs.path = path
	if c.SyncKey == "0" {
		return cs.start(ctx, asked)
	}
	st, err := run.s.loadCollection(ctx, r.user, r.q.DeviceID, c.CollectionID)
	if err != nil {
		return true, err
	}
	switch {
	case st == nil:
		return cs.fail(SyncInvalidSyncKey)
	case c.SyncKey == st.Meta.Key:
	case st.Meta.PrevKey != "" && c.SyncKey == st.Meta.PrevKey:
		// The phone did not get our last answer: answer again from the
		// generation it holds.
		st.rewind()
		cs.replay, cs.dirty = true, true
		cs.log.Info("sync key repeated; answering again", zap.String("key", c.SyncKey))
	default:
		return cs.fail(SyncInvalidSyncKey)
	}
	cs.st = st
	if !cs.setClass(st.Meta.Class, asked) {
		return cs.fail(SyncProtocolError)
	}
	cs.readOptions()
	return false, nil
}

// start is SyncKey 0: a new state for the collection, of the class its
// folder holds, and nothing else.
func (cs *collSync) start(ctx context.Context, asked Class) (bool, error) {
	run, r, c := cs.run, cs.run.r, cs.req
	t, err := run.folders.folderType(ctx, cs.path)
	if errors.Is(err, ErrNotFound) {
		return cs.fail(SyncHierarchyChanged)
	}
	if errors.Is(err, ErrFolderUnavailable) {
		// The folder's upstream is down (since a restart: its folders
		// are not listed): the phone tries again later.
		cs.log.Warn("folder's upstream unavailable", zap.Error(err))
		return cs.fail(SyncRetry)
	}
	if err != nil {
		return true, err
	}
	cs.st = newCollectionState()
	if !cs.setClass(t.Class(), asked) {
		return cs.fail(SyncProtocolError)
	}
	cs.st.Meta.Class = cs.class
	if c.Supported != nil {
		if cs.codec.refusesSupported {
			return cs.fail(SyncProtocolError)
		}
		cs.st.Meta.Supported = supportedNames(c.Supported)
	}
	cs.readOptions()
	if err := run.s.saveCollection(ctx, r.user, r.q.DeviceID, c.CollectionID, cs.st); err != nil {
		return true, err
	}
	cs.res.resp.SyncKey = cs.st.Meta.Key
	cs.res.something = true
	return true, nil
}

// setClass settles the collection's class: stored states before classes
// were kept are mail. false refuses a class the phone names wrongly, or
// one the engine or the protocol version does not serve.
func (cs *collSync) setClass(stored, asked Class) bool {
	if stored == "" {
		stored = ClassEmail
	}
	codec, err := codecFor(stored)
	if err != nil || (asked != "" && asked != stored) || !cs.run.r.version().AtLeast(codec.minVersion) {
		return false
	}
	cs.class, cs.codec = stored, codec
	return true
}

// readOptions takes the Options of the collection's class, when the
// phone sent them, and settles the body options and the store query.
func (cs *collSync) readOptions() {
	v := cs.run.r.version()
	if o := classOptions(cs.req.Options, cs.class); o != nil {
		cs.st.Meta.Options = toSyncOptions(o, v)
		cs.dirty = true
	}
	cs.body = cs.st.Meta.Options.Body
	cs.body.Version = v
	cs.query = SyncQuery{
		Path:   cs.path,
		Cursor: cs.st.Meta.Cursor,
		Known:  cs.st.Items(),
		Since:  cs.st.Meta.Options.since(cs.run.now),
		Window: windowSize(cs.req.WindowSize, cs.run.window),
		Body:   cs.body,

		IncompleteOnly: cs.st.Meta.Options.incompleteOnly(),
	}
}

// classOptions picks the Options of class: those without a Class apply to
// the collection's own.
func classOptions(opts []SyncOptions, class Class) *SyncOptions {
	for i := range opts {
		if opts[i].Class == "" || strings.EqualFold(opts[i].Class, string(class)) {
			return &opts[i]
		}
	}
	return nil
}

// toSyncOptions converts request Options to the stored form.
func toSyncOptions(o *SyncOptions, v Version) syncOptions {
	out := syncOptions{Conflict: o.Conflict}
	if o.FilterType != nil && *o.FilterType >= 0 && *o.FilterType <= filterIncompleteTasks {
		out.FilterType = *o.FilterType
	}
	out.Body = bodyOptions(o.BodyPreference, o.MIMESupport, o.MIMETruncation, o.Truncation, v)
	return out
}

func (cs *collSync) hasCommands() bool {
	return cs.req.Commands != nil && len(cs.req.Commands.Items) > 0
}

func (cs *collSync) getChanges() bool {
	return cs.req.GetChanges == nil || *cs.req.GetChanges
}

// session is the user's store.
func (cs *collSync) session(ctx context.Context) (Mailbox, error) {
	return cs.run.r.mailbox(ctx)
}

// applyCommands is phase 2. The phone's commands apply to the generation
// it holds, before the server's changes are gathered, so that its own
// changes never come back to it.
func (cs *collSync) applyCommands(ctx context.Context) (bool, error) {
	if !cs.hasCommands() {
		return false, nil
	}
	key := cs.req.SyncKey
	hash, err := commandsHash(cs.req.Commands)
	if err != nil {
		return true, fmt.Errorf("hash sync commands: %w", err)
	}
	outcomes, ok := cs.replayed(key, hash)
	if ok {
		cs.log.Info("repeated sync commands answered without applying them again", zap.Int("commands", len(outcomes)))
	} else {
		if outcomes, err = cs.apply(ctx); err != nil {
			return true, err
		}
		raw, err := json.Marshal(replayRecord{Key: key, Hash: hash, Outcomes: outcomes})
		if err != nil {
			return true, err
		}
		cs.st.Meta.Replay = raw
	}
	cs.dirty = true
	for i := range outcomes {
		cs.mutated = cs.mutated || outcomes[i].mutates()
	}
	cs.responses, err = cs.answerCommands(ctx, outcomes)
	return false, err
}

// gatherChanges is phase 3: one window of the server's changes, from a
// prefetch when one fits.
func (cs *collSync) gatherChanges(ctx context.Context) (bool, error) {
	if !cs.getChanges() {
		return false, nil
	}
	if !cs.hasCommands() && !cs.replay {
		cs.changes = cs.run.prefetched(ctx, cs.req.CollectionID, cs.req.SyncKey, cs.query, cs.st.Meta.Options.FilterType)
		if cs.changes != nil {
			return false, nil
		}
	}
	se, err := cs.session(ctx)
	if err != nil {
		return true, err
	}
	cs.changes, err = se.Changes(ctx, cs.query)
	switch {
	case err == nil:
	case errors.Is(err, ErrStateInvalid):
		// The folder was recreated upstream (UIDVALIDITY): the phone
		// starts this collection again from SyncKey 0.
		cs.log.Info("collection state invalid upstream; phone must resync", zap.Error(err))
		r := cs.run.r
		if err := cs.run.s.store.DeleteCollectionState(ctx, r.user, r.q.DeviceID, cs.req.CollectionID); err != nil {
			return true, fmt.Errorf("drop collection state: %w", err)
		}
		return cs.fail(SyncInvalidSyncKey)
	case errors.Is(err, ErrNotFound):
		return cs.fail(SyncHierarchyChanged)
	case fatal(err):
		return true, fmt.Errorf("changes in %q: %w", cs.path, err)
	case errors.Is(err, ErrFolderUnavailable):
		// Another upstream of the user holds this folder, and it is down.
		cs.log.Warn("folder's upstream unavailable", zap.Error(err))
		cs.collectionError(SyncRetry)
	default:
		// Keep what the commands did; the phone retries with its key,
		// which the replay record answers.
		cs.log.Error("reading changes failed", zap.Error(err))
		cs.collectionError(SyncServerError)
	}
	return false, nil
}

// collectionError answers the collection with status but keeps what the
// phone's commands did.
func (cs *collSync) collectionError(status int) {
	cs.res.resp.Status = status
	cs.res.something = true
	cs.changes = nil
}

// record is phase 4: the new generation, stored, and the answer.
func (cs *collSync) record(ctx context.Context) error {
	run, r, st := cs.run, cs.run.r, cs.st
	if cs.mutated || (cs.changes != nil && len(cs.changes.Changes) > 0) {
		st.Begin()
		if !cs.hasCommands() {
			st.Meta.Replay = nil
		}
		cs.dirty = true
	}
	cmds := cs.serverCommands(ctx)
	if cs.dirty {
		if err := run.s.saveCollection(ctx, r.user, r.q.DeviceID, cs.req.CollectionID, st); err != nil {
			return err
		}
	}
	resp := &cs.res.resp
	if resp.MoreAvailable && resp.Status == SyncSuccess {
		run.planPrefetch(cs.req.CollectionID, st, cs.query)
	}
	if cmds.Len() > 0 {
		resp.Commands = &cmds
	}
	resp.Responses = cs.responses
	if st.Meta.Key != cs.req.SyncKey || cmds.Len() > 0 || cs.responses != nil || resp.MoreAvailable {
		cs.res.something = true
	}
	resp.SyncKey = st.Meta.Key
	if resp.Status == SyncSuccess {
		cs.res.path = cs.path
	}
	return nil
}

// serverCommands turns the store's changes into the answer's commands and
// the phone's new generation.
func (cs *collSync) serverCommands(ctx context.Context) SyncServerCommands {
	var cmds SyncServerCommands
	if cs.changes == nil {
		return cmds
	}
	v, st := cs.run.r.version(), cs.st
	for _, ch := range cs.changes.Changes {
		sid := itemServerID(cs.req.CollectionID, ch.ServerID)
		if ch.Err != nil {
			cs.itemError(ctx, ch)
		}
		switch ch.Kind {
		case ChangeAdd:
			st.Set(ch.ServerID, ch.Version)
			cmds.Add = append(cmds.Add, SyncItem{ServerID: sid, Item: cs.codec.encode(ch.Item, v, true)})
		case ChangeModify:
			st.Set(ch.ServerID, ch.Version)
			cmds.Change = append(cmds.Change, SyncItem{ServerID: sid, Item: cs.codec.encode(ch.Item, v, false)})
		case ChangeDelete:
			st.Forget(ch.ServerID)
			cmds.Delete = append(cmds.Delete, SyncItemID{ServerID: sid})
		case ChangeSoftDelete:
			st.Forget(ch.ServerID)
			cmds.SoftDelete = append(cmds.SoftDelete, SyncItemID{ServerID: sid})
		default:
			cs.log.Error("backend returned an unknown change kind", zap.Stringer("kind", ch.Kind))
		}
	}
	m := cs.run.s.cfg.Metrics
	m.itemsSent("Add", len(cmds.Add))
	m.itemsSent("Change", len(cmds.Change))
	m.itemsSent("Delete", len(cmds.Delete))
	m.itemsSent("SoftDelete", len(cmds.SoftDelete))
	if st.Meta.Cursor != cs.changes.Cursor {
		st.Meta.Cursor = cs.changes.Cursor
		cs.dirty = true
	}
	cs.res.resp.MoreAvailable = cs.changes.More
	return cmds
}

// itemError records an item that could not be converted completely; it
// is still sent, with what could be read.
func (cs *collSync) itemError(ctx context.Context, ch ItemChange) {
	run := cs.run
	msg := fmt.Sprintf("collection %s, item %s: %v", cs.req.CollectionID, ch.ServerID, ch.Err)
	cs.log.Warn("item converted with errors", zap.String("item", ch.ServerID), zap.Error(ch.Err))
	if err := run.s.store.RecordError(ctx, run.r.user, run.r.q.DeviceID, msg, run.now); err != nil {
		cs.log.Error("store: record item error", zap.Error(err))
	}
}
