package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"

	"github.com/easgate/easgate/eas"
)

// Change detection.
//
// The phone's copy of a folder is eas's KnownItems: UID -> version. The
// truth is the server's set of undeleted messages (in the FilterType window)
// and their flags. Changes compares the two; the cursor only lets it skip
// work:
//
//   - the folder's counters at the last complete comparison (UIDVALIDITY,
//     HIGHESTMODSEQ, UIDNEXT, MESSAGES) and the window's first day. When one
//     STATUS (a SELECT for the selected mailbox, see conn.counters) shows
//     the same counters, nothing can have changed and no per-message data
//     is read.
//   - HIGHESTMODSEQ also bounds the flag comparison: only messages changed
//     since (UID FETCH ... (CHANGEDSINCE n)) can differ from the phone.
//
// Without CONDSTORE the counters cannot reveal flag changes, so every sync
// reads the flags of the known range; this is the only difference between
// the two trackers below. The rest (UID SEARCH for the current set, set
// differences for adds and deletes) is shared.
//
// Cursor format: "1:<settled>:<uidvalidity>:<modseq>:<uidnext>:<messages>:<since>",
// settled "s" when the cursor may skip work, "p" after a partial window;
// since is the window's first day as YYYYMMDD or "-".

type cursor struct {
	valid   bool // false for the first sync ("")
	settled bool
	folderState
	since string
}

func (c cursor) String() string {
	settled := "p"
	if c.settled {
		settled = "s"
	}
	since := c.since
	if since == "" {
		since = "-"
	}
	return fmt.Sprintf("1:%s:%d:%d:%d:%d:%s", settled, c.uidValidity, c.modSeq, c.uidNext, c.messages, since)
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	f := strings.Split(s, ":")
	if len(f) != 7 || f[0] != "1" || (f[1] != "s" && f[1] != "p") {
		return cursor{}, fmt.Errorf("unknown sync cursor %q", s)
	}
	c := cursor{valid: true, settled: f[1] == "s"}
	uv, err1 := strconv.ParseUint(f[2], 10, 32)
	ms, err2 := strconv.ParseUint(f[3], 10, 64)
	un, err3 := strconv.ParseUint(f[4], 10, 32)
	n, err4 := strconv.ParseUint(f[5], 10, 32)
	if err := errors.Join(err1, err2, err3, err4); err != nil || uv == 0 {
		return cursor{}, fmt.Errorf("bad sync cursor %q", s)
	}
	c.uidValidity, c.modSeq, c.uidNext, c.messages = uint32(uv), ms, uint32(un), uint32(n)
	if f[6] != "-" {
		if _, err := time.Parse("20060102", f[6]); err != nil {
			return cursor{}, fmt.Errorf("bad sync cursor %q", s)
		}
		c.since = f[6]
	}
	return c, nil
}

// sinceDay is the first day of the FilterType window, as IMAP SEARCH sees
// dates (whole days), in UTC. Zero: no window.
func sinceDay(t time.Time) (time.Time, string) {
	if t.IsZero() {
		return time.Time{}, ""
	}
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d, d.Format("20060102")
}

// tracker is what differs between servers with and without CONDSTORE.
type tracker interface {
	// unchanged reports, from the counters alone, that nothing happened
	// in the folder since cur was issued.
	unchanged(cur cursor, st folderState) bool
	// flagQuery returns the FETCH that reads the flags of the messages in
	// known (a UID range) that may differ from the phone's copies. A
	// superset is fine: versions are compared afterwards.
	flagQuery(cur cursor, known imap.UIDSet) *imap.FetchOptions
}

// condstoreTracker relies on HIGHESTMODSEQ: every flag change, expunge and
// append raises it.
type condstoreTracker struct{}

func (condstoreTracker) unchanged(cur cursor, st folderState) bool {
	return cur.valid && cur.settled && st.modSeq != 0 && cur.modSeq == st.modSeq &&
		cur.uidNext == st.uidNext && cur.messages == st.messages
}

func (condstoreTracker) flagQuery(cur cursor, _ imap.UIDSet) *imap.FetchOptions {
	return &imap.FetchOptions{UID: true, Flags: true, ChangedSince: cur.modSeq}
}

// scanTracker is for servers without CONDSTORE: flag changes leave no trace
// in the counters, so every sync reads all the flags.
type scanTracker struct{}

func (scanTracker) unchanged(cursor, folderState) bool { return false }

func (scanTracker) flagQuery(cursor, imap.UIDSet) *imap.FetchOptions {
	return &imap.FetchOptions{UID: true, Flags: true}
}

func (c *conn) tracker(st folderState) tracker {
	if c.caps.Has(imap.CapCondStore) && st.modSeq != 0 {
		return condstoreTracker{}
	}
	return scanTracker{}
}

// flagChange is a known message whose flags differ from the phone's copy.
type flagChange struct {
	uid   imap.UID
	flags mailFlags
}

// syncDiff is everything the phone lacks in one folder.
type syncDiff struct {
	st      folderState
	since   string
	quiet   bool     // nothing moved since the cursor; nothing else is set
	invalid []string // known ServerIDs that are no UIDs
	deleted []imap.UID
	soft    []imap.UID // still there, but before the window
	changed []flagChange
	added   []imap.UID // newest (highest UID) first
}

func (d *syncDiff) count() int {
	return len(d.invalid) + len(d.deleted) + len(d.soft) + len(d.changed) + len(d.added)
}

// Changes returns what the phone lacks in q.Path: deletes first, then flag
// changes, then adds, newest first, at most q.Window of them.
func (m *Mailbox) Changes(ctx context.Context, q eas.SyncQuery) (*eas.ChangeSet, error) {
	cur, err := parseCursor(q.Cursor)
	if err != nil {
		return nil, fmt.Errorf("sync %q: %w: %w", q.Path, eas.ErrStateInvalid, err)
	}
	var cs *eas.ChangeSet
	err = m.do(ctx, true, func(c *conn) error {
		d, err := c.diff(ctx, q, cur)
		if err != nil {
			return err
		}
		if d.quiet {
			cs = &eas.ChangeSet{Cursor: q.Cursor}
			return nil
		}
		cs, err = m.window(ctx, c, q, cur, d)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sync %q: %w", q.Path, err)
	}
	return cs, nil
}

// Pending counts the changes Changes would return without a window. When
// the counters have not moved it reads no per-message data.
func (m *Mailbox) Pending(ctx context.Context, q eas.SyncQuery) (int, error) {
	cur, err := parseCursor(q.Cursor)
	if err != nil {
		return 0, fmt.Errorf("estimate %q: %w: %w", q.Path, eas.ErrStateInvalid, err)
	}
	n := 0
	err = m.do(ctx, true, func(c *conn) error {
		d, err := c.diff(ctx, q, cur)
		if err != nil {
			return err
		}
		n = d.count()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("estimate %q: %w", q.Path, err)
	}
	return n, nil
}

// diff compares the folder with the phone's copy.
func (c *conn) diff(ctx context.Context, q eas.SyncQuery, cur cursor) (*syncDiff, error) {
	// The counters are read before anything else, so that a change racing
	// this sync raises them past what the new cursor records.
	// Fresh counters are only worth a SELECT when they may prove that
	// nothing changed, which needs a settled cursor.
	st, err := c.counters(ctx, q.Path, cur.valid && cur.settled)
	if err != nil {
		if isNo(err) && !errors.Is(err, eas.ErrNotFound) {
			if l, lerr := c.list(ctx, q.Path, false); lerr == nil {
				for _, e := range l {
					if e.data.Mailbox == q.Path && !selectable(e.data) {
						// A \Noselect parent listed by Folders: it holds no mail.
						return &syncDiff{quiet: true}, nil
					}
				}
			}
		}
		return nil, err
	}
	if cur.valid && cur.uidValidity != st.uidValidity {
		return nil, fmt.Errorf("UIDVALIDITY changed from %d to %d: %w", cur.uidValidity, st.uidValidity, eas.ErrStateInvalid)
	}
	sinceDate, since := sinceDay(q.Since)
	tr := c.tracker(st)
	if cur.since == since && tr.unchanged(cur, st) {
		return &syncDiff{quiet: true, st: st, since: since}, nil
	}

	sel, err := c.selectFolder(ctx, q.Path)
	if err != nil {
		return nil, err
	}
	if sel.UIDValidity != st.uidValidity {
		// Deleted and created again between STATUS and SELECT.
		return nil, fmt.Errorf("UIDVALIDITY changed during sync: %w", eas.ErrStateInvalid)
	}

	d := &syncDiff{st: st, since: since}
	known := make(map[imap.UID]string, knownLen(q.Known))
	var lo, hi imap.UID
	if q.Known != nil {
		q.Known.Range(func(id, version string) bool {
			uid, ok := parseUID(id)
			if !ok {
				d.invalid = append(d.invalid, id)
				return true
			}
			known[uid] = version
			if lo == 0 || uid < lo {
				lo = uid
			}
			hi = max(hi, uid)
			return true
		})
	}
	slices.Sort(d.invalid)

	criteria := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}, Since: sinceDate}
	var current []imap.UID
	flags := make(map[imap.UID]mailFlags)
	err = c.guard(ctx, "UID SEARCH", func(progress func()) error {
		search := c.client.UIDSearch(criteria, c.searchOptions())
		var fetch *imapclient.FetchCommand
		if len(known) > 0 {
			var rng imap.UIDSet
			rng.AddRange(lo, hi)
			fetch = c.client.Fetch(rng, tr.flagQuery(cur, rng))
		}
		// Drain the FETCH while waiting for the SEARCH: the reader must
		// never block on a full channel.
		fetched := make(chan error, 1)
		if fetch != nil {
			go func() {
				for {
					msg := fetch.Next()
					if msg == nil {
						break
					}
					buf, err := msg.Collect()
					if err == nil && buf.UID != 0 {
						flags[buf.UID] = parseFlags(buf.Flags)
					}
				}
				fetched <- fetch.Close()
			}()
		} else {
			fetched <- nil
		}
		data, serr := search.Wait()
		progress()
		ferr := <-fetched
		if serr != nil {
			return serr
		}
		if ferr != nil {
			return ferr
		}
		current = data.AllUIDs()
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(current)

	var gone []imap.UID
	for uid := range known {
		if _, ok := slices.BinarySearch(current, uid); !ok {
			gone = append(gone, uid)
		}
	}
	slices.Sort(gone)
	if len(gone) > 0 && since != "" {
		// A message that left the set may still exist, older than the
		// window: the phone drops it without deleting it.
		var outside []imap.UID
		err = c.guard(ctx, "UID SEARCH", func(func()) error {
			var rng imap.UIDSet
			rng.AddRange(gone[0], gone[len(gone)-1])
			data, err := c.client.UIDSearch(&imap.SearchCriteria{
				UID:     []imap.UIDSet{rng},
				NotFlag: []imap.Flag{imap.FlagDeleted},
				Before:  sinceDate,
			}, c.searchOptions()).Wait()
			if err != nil {
				return err
			}
			outside = data.AllUIDs()
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.Sort(outside)
		for _, uid := range gone {
			if _, ok := slices.BinarySearch(outside, uid); ok {
				d.soft = append(d.soft, uid)
			} else {
				d.deleted = append(d.deleted, uid)
			}
		}
	} else {
		d.deleted = gone
	}

	for i := len(current) - 1; i >= 0; i-- {
		uid := current[i]
		v, ok := known[uid]
		if !ok {
			d.added = append(d.added, uid)
			continue
		}
		if f, ok := flags[uid]; ok && !f.deleted && f.version() != v {
			d.changed = append(d.changed, flagChange{uid: uid, flags: f})
		}
	}
	return d, nil
}

func knownLen(k eas.KnownItems) int {
	if k == nil {
		return 0
	}
	return k.Len()
}

// searchOptions asks for the compact ESEARCH answer where there is one: a
// folder of 10,000 messages then answers in a few bytes.
func (c *conn) searchOptions() *imap.SearchOptions {
	if c.caps.Has(imap.CapESearch) {
		return &imap.SearchOptions{ReturnAll: true}
	}
	return nil
}

// window turns the first q.Window changes of d into a ChangeSet and issues
// the cursor for exactly what it delivers.
func (m *Mailbox) window(ctx context.Context, c *conn, q eas.SyncQuery, cur cursor, d *syncDiff) (*eas.ChangeSet, error) {
	n := q.Window
	if n <= 0 || n > 512 {
		n = 512
	}
	cs := &eas.ChangeSet{}
	take := func(k int) int { return max(0, min(k, n-len(cs.Changes))) }

	for _, id := range d.invalid[:take(len(d.invalid))] {
		cs.Changes = append(cs.Changes, eas.ItemChange{Kind: eas.ChangeDelete, ServerID: id})
	}
	for _, uid := range d.deleted[:take(len(d.deleted))] {
		cs.Changes = append(cs.Changes, eas.ItemChange{Kind: eas.ChangeDelete, ServerID: formatUID(uid)})
	}
	for _, uid := range d.soft[:take(len(d.soft))] {
		cs.Changes = append(cs.Changes, eas.ItemChange{Kind: eas.ChangeSoftDelete, ServerID: formatUID(uid)})
	}
	nChanged := take(len(d.changed))
	for _, ch := range d.changed[:nChanged] {
		cs.Changes = append(cs.Changes, eas.ItemChange{
			Kind: eas.ChangeModify, ServerID: formatUID(ch.uid), Version: ch.flags.version(), Item: emailItem(ch.flags.change()),
		})
	}
	adds := d.added[:take(len(d.added))]
	delivered := len(cs.Changes) + len(adds)
	allAdds := true
	if len(adds) > 0 {
		items, err := c.fetchItems(ctx, q.Path, d.st.uidValidity, adds, q.Body)
		if err != nil {
			return nil, err
		}
		for _, uid := range adds {
			it := items[uid]
			if it == nil {
				// Expunged (or flagged \Deleted) since the search.
				allAdds = false
				continue
			}
			if it.err != nil {
				c.log.Warn("message converted partially", zap.String("folder", q.Path), zap.Uint32("uid", uint32(uid)), zap.Error(it.err))
			}
			cs.Changes = append(cs.Changes, eas.ItemChange{
				Kind: eas.ChangeAdd, ServerID: formatUID(uid), Version: it.flags.version(), Item: emailItem(it.email), Err: it.err,
			})
		}
	}
	cs.More = delivered < d.count()

	next := cursor{valid: true, settled: !cs.More && allAdds, folderState: d.st, since: d.since}
	if nChanged < len(d.changed) {
		// Flag changes left behind must come back in the next CHANGEDSINCE.
		next.modSeq = 0
		if cur.valid {
			next.modSeq = cur.modSeq
		}
	}
	cs.Cursor = next.String()
	return cs, nil
}

func parseUID(id string) (imap.UID, bool) {
	if id == "" || id[0] == '0' || len(id) > 10 {
		return 0, false
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return imap.UID(n), true
}

func formatUID(uid imap.UID) string { return strconv.FormatUint(uint64(uid), 10) }
