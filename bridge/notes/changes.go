package notes

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/textproto"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
)

// Change detection.
//
// The notes mailbox is small, so every Sync lists it whole (UID, FLAGS and
// the UUID header of every message) and compares the notes with the
// versions the phone holds: a note it lacks is an Add, one whose version
// differs a Change, one gone a Delete. The cursor only lets Pending answer
// 0 without listing when the mailbox's counters have not moved since the
// phone's last complete sync; without CONDSTORE a keyword set elsewhere
// moves no counter, so there is no cursor and every check lists.

// note is one note in the mailbox: its newest message.
type note struct {
	id      string
	uid     imap.UID
	flags   []imap.Flag
	version string
	// older are the UIDs of older messages of the same note (an edit whose
	// old message was not deleted yet): deleted with the note.
	older []imap.UID
}

// listing is the notes mailbox at one moment.
type listing struct {
	path  string
	notes []*note // by UID
	byID  map[string]*note
	// cursor is the mailbox's counters, "" without CONDSTORE.
	cursor string
}

// version is a message's version: its UIDVALIDITY and UID (a new message
// for every edit) and a hash of its categories.
func version(uidValidity uint32, uid imap.UID, flags []imap.Flag) string {
	h := fnv.New32a()
	for _, c := range bridge.FlagCategories(flags) {
		h.Write([]byte(c))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%d.%d.%08x", uidValidity, uid, h.Sum32())
}

func counters(sel *imap.SelectData) string {
	if sel.HighestModSeq == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d.%d", sel.UIDValidity, sel.UIDNext, sel.NumMessages, sel.HighestModSeq)
}

var uuidSection = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{hdrUUID}, Peek: true}

// list reads the notes mailbox; errNoMailbox when there is none.
func (s *Session) list(ctx context.Context) (*listing, error) {
	path, err := s.folder(ctx)
	if err != nil {
		return nil, err
	}
	l := &listing{path: path, byID: map[string]*note{}}
	var msgs []*imapclient.FetchMessageBuffer
	var sel imap.SelectData
	err = s.m.InFolder(ctx, path, true, func(c *imapclient.Client, d *imap.SelectData) error {
		sel, msgs = *d, nil
		if d.NumMessages == 0 {
			return nil
		}
		all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
		var err error
		msgs, err = c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{uuidSection}}).Collect()
		return err
	})
	if err != nil {
		return nil, s.missing(err)
	}
	l.cursor = counters(&sel)
	slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return cmp.Compare(a.UID, b.UID) })
	for _, msg := range msgs {
		if bridge.Deleted(msg.Flags) {
			continue
		}
		id := headerUUID(msg.FindBodySection(uuidSection))
		if id == "" {
			id = derivedUUID(sel.UIDValidity, uint32(msg.UID))
		}
		n := &note{id: id, uid: msg.UID, flags: msg.Flags, version: version(sel.UIDValidity, msg.UID, msg.Flags)}
		if old := l.byID[id]; old != nil {
			// UIDs grow: this message is the newer version.
			n.older = append(old.older, old.uid)
			*old = *n
			continue
		}
		l.byID[id] = n
		l.notes = append(l.notes, n)
	}
	return l, nil
}

// headerUUID reads the UUID from a fetched header section.
func headerUUID(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		return ""
	}
	return cleanUUID(h.Get(hdrUUID))
}

// diff is what the phone lacks: Deletes of the notes it holds that are
// gone, then Adds and Changes in UID order.
func diff(l *listing, known eas.KnownItems) []eas.ItemChange {
	var out []eas.ItemChange
	var gone []string
	known.Range(func(id, _ string) bool {
		if l == nil || l.byID[id] == nil {
			gone = append(gone, id)
		}
		return true
	})
	slices.Sort(gone)
	for _, id := range gone {
		out = append(out, eas.ItemChange{Kind: eas.ChangeDelete, ServerID: id})
	}
	if l == nil {
		return out
	}
	for _, n := range l.notes {
		v, ok := known.Version(n.id)
		switch {
		case !ok:
			out = append(out, eas.ItemChange{Kind: eas.ChangeAdd, ServerID: n.id, Version: n.version})
		case v != n.version:
			out = append(out, eas.ItemChange{Kind: eas.ChangeModify, ServerID: n.id, Version: n.version})
		}
	}
	return out
}

// current lists the mailbox, nil when there is none (every note is gone).
func (s *Session) current(ctx context.Context) (*listing, error) {
	l, err := s.list(ctx)
	if errors.Is(err, errNoMailbox) {
		return nil, nil
	}
	return l, err
}

// Changes returns what the phone lacks, each Add and Change with the
// whole note.
func (s *Session) Changes(ctx context.Context, q eas.SyncQuery) (*eas.ChangeSet, error) {
	if err := checkPath(q.Path); err != nil {
		return nil, err
	}
	l, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	all := diff(l, q.Known)
	cs := &eas.ChangeSet{}
	if l != nil {
		cs.Cursor = l.cursor
	}
	if q.Window > 0 && len(all) > q.Window {
		all, cs.More, cs.Cursor = all[:q.Window], true, ""
	}
	var want []*note
	for _, ch := range all {
		if ch.Kind != eas.ChangeDelete {
			want = append(want, l.byID[ch.ServerID])
		}
	}
	if len(want) == 0 {
		cs.Changes = all
		return cs, nil
	}
	items, err := s.notes(ctx, l.path, want, q.Body)
	if err != nil {
		return nil, err
	}
	for _, ch := range all {
		if ch.Kind != eas.ChangeDelete {
			r, ok := items[ch.ServerID]
			if !ok {
				// Deleted since the listing: the next sync says so.
				cs.Cursor = ""
				continue
			}
			ch.Item, ch.Err = r.note, r.err
		}
		cs.Changes = append(cs.Changes, ch)
	}
	return cs, nil
}

// Pending counts what Changes would return; 0 without a look at the notes
// when the mailbox's counters match the cursor.
func (s *Session) Pending(ctx context.Context, q eas.SyncQuery) (int, error) {
	if err := checkPath(q.Path); err != nil {
		return 0, err
	}
	l, err := s.current(ctx)
	if err != nil {
		return 0, err
	}
	if l != nil && q.Cursor != "" && q.Cursor == l.cursor {
		return 0, nil
	}
	return len(diff(l, q.Known)), nil
}

// Fetch returns one note in full.
func (s *Session) Fetch(ctx context.Context, ref eas.ItemRef, body eas.BodyOptions) (eas.Item, error) {
	if err := checkPath(ref.Path); err != nil {
		return nil, err
	}
	l, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	n := l.find(ref.ServerID)
	if n == nil {
		return nil, fmt.Errorf("note %s: %w", ref.ServerID, eas.ErrNotFound)
	}
	items, err := s.notes(ctx, l.path, []*note{n}, body)
	if err != nil {
		return nil, err
	}
	r, ok := items[n.id]
	if !ok {
		return nil, fmt.Errorf("note %s: gone meanwhile: %w", ref.ServerID, eas.ErrNotFound)
	}
	return r.note, r.err
}

// find returns the note id names, nil when there is none.
func (l *listing) find(id string) *note {
	if l == nil {
		return nil
	}
	return l.byID[strings.ToUpper(id)]
}
