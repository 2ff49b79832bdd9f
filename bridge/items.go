package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/mailconv"
	"github.com/easgate/easgate/eas"
)

// fileRef names an attachment: "<uidvalidity>:<uid>:<part>:<folder>". The
// folder comes last so that it may contain ":"; UIDVALIDITY makes a
// reference from before the folder was recreated fail instead of naming
// another message's part.
type fileRef struct {
	uidValidity uint32
	uid         imap.UID
	part        string
	path        string
}

func (r fileRef) String() string {
	return fmt.Sprintf("%d:%d:%s:%s", r.uidValidity, r.uid, r.part, r.path)
}

func parseFileRef(s string) (fileRef, error) {
	f := strings.SplitN(s, ":", 4)
	if len(f) != 4 || f[3] == "" || !validPart(f[2]) {
		return fileRef{}, fmt.Errorf("attachment reference %q: %w", s, eas.ErrNotFound)
	}
	uv, err := strconv.ParseUint(f[0], 10, 32)
	uid, ok := parseUID(f[1])
	if err != nil || uv == 0 || !ok {
		return fileRef{}, fmt.Errorf("attachment reference %q: %w", s, eas.ErrNotFound)
	}
	return fileRef{uidValidity: uint32(uv), uid: uid, part: f[2], path: f[3]}, nil
}

// validPart accepts an IMAP section part path ("2", "1.2.3").
func validPart(p string) bool {
	if p == "" {
		return false
	}
	for _, n := range strings.Split(p, ".") {
		if n == "" || len(n) > 6 || strings.Trim(n, "0123456789") != "" || n[0] == '0' {
			return false
		}
	}
	return true
}

// item is one fetched and converted message.
type item struct {
	flags mailFlags
	email *eas.Email
	err   error // partial conversion
}

// fetchItems fetches uids (reading of each message what its item needs,
// see fetchPlanned) and converts them. Messages expunged or flagged \Deleted meanwhile
// are missing from the result.
func (c *conn) fetchItems(ctx context.Context, path string, uidValidity uint32, uids []imap.UID, body eas.BodyOptions) (map[imap.UID]*item, error) {
	out := make(map[imap.UID]*item, len(uids))
	// A NO (Dovecot: EXPUNGEISSUED) means some of the messages were
	// expunged meanwhile; the others came through.
	if err := c.fetchPlanned(ctx, path, uidValidity, uids, body, out); err != nil && !isNo(err) {
		return nil, err
	}
	if len(out) == len(uids) {
		return out, nil
	}
	// imapclient routes a FETCH reply by its UID only once per command; a
	// flag update of another session for the same message, arriving first,
	// takes the place of the real reply. Ask again for what is missing;
	// what is still missing is gone.
	var missing []imap.UID
	for _, uid := range uids {
		if out[uid] == nil {
			missing = append(missing, uid)
		}
	}
	if err := c.fetchPlanned(ctx, path, uidValidity, missing, body, out); err != nil && !isNo(err) {
		return nil, err
	}
	return out, nil
}

type convertJob struct {
	it       *item
	uid      imap.UID
	raw      []byte
	received time.Time
}

func (c *conn) fetchItemsOnce(ctx context.Context, path string, uidValidity uint32, uids []imap.UID, body eas.BodyOptions, out map[imap.UID]*item) error {
	if len(uids) == 0 {
		return nil
	}
	// Conversion runs beside the network read; the channel bounds how many
	// raw messages wait in memory.
	workers := max(1, min(runtime.GOMAXPROCS(0), len(uids)))
	jobs := make(chan convertJob, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				uid := j.uid
				email, err := mailconv.Convert(j.raw, mailconv.Options{
					Body:     body,
					Received: j.received,
					AttachmentRef: func(part string) string {
						return fileRef{uidValidity: uidValidity, uid: uid, part: part, path: path}.String()
					},
				})
				if email == nil {
					email = &eas.Email{}
				}
				j.it.flags.apply(email)
				j.it.email, j.it.err = email, err
			}
		}()
	}
	want := uidSet(uids)
	err := c.guard(ctx, "UID FETCH", func(progress func()) error {
		cmd := c.client.Fetch(want, &imap.FetchOptions{
			UID: true, Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		})
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			progress()
			var (
				uid      imap.UID
				flags    []imap.Flag
				received time.Time
				raw      []byte
				gotBody  bool
				rerr     error
			)
			for {
				fi := msg.Next()
				if fi == nil {
					break
				}
				switch fi := fi.(type) {
				case imapclient.FetchItemDataUID:
					uid = fi.UID
				case imapclient.FetchItemDataFlags:
					flags = fi.Flags
				case imapclient.FetchItemDataInternalDate:
					received = fi.Time
				case imapclient.FetchItemDataBodySection:
					gotBody = true
					if fi.Literal != nil {
						raw, rerr = readLiteral(fi.Literal)
					}
				}
			}
			if rerr != nil || uid == 0 || !gotBody || !want.Contains(uid) || out[uid] != nil {
				continue
			}
			it := &item{flags: parseFlags(flags)}
			if it.flags.deleted {
				continue
			}
			out[uid] = it
			jobs <- convertJob{it: it, uid: uid, raw: raw, received: received}
		}
		return cmd.Close()
	})
	close(jobs)
	wg.Wait()
	return err
}

// maxPrealloc bounds the buffer a literal's announced size gets up front,
// so that a server's wild number cannot claim memory before data arrives.
const maxPrealloc = 64 << 20

// readLiteral reads a literal into a buffer of its announced size, sparing
// io.ReadAll's regrowing on every message of a large FETCH.
func readLiteral(r imap.LiteralReader) ([]byte, error) {
	size := r.Size()
	if size <= 0 || size > maxPrealloc {
		return io.ReadAll(r)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// uidSet builds a set of UIDs (any order) as ranges.
func uidSet(uids []imap.UID) imap.UIDSet {
	var s imap.UIDSet
	for _, u := range uids {
		s.AddNum(u)
	}
	return s
}

// message selects ref's folder and parses its ServerID.
func (c *conn) message(ctx context.Context, ref eas.ItemRef) (imap.UID, *imap.SelectData, error) {
	uid, ok := parseUID(ref.ServerID)
	if !ok {
		return 0, nil, fmt.Errorf("item %q: %w", ref.ServerID, eas.ErrNotFound)
	}
	sel, err := c.selectFolder(ctx, ref.Path)
	if err != nil {
		return 0, nil, err
	}
	if cur, err := parseCursor(ref.Cursor); err == nil && cur.valid && cur.uidValidity != sel.UIDValidity {
		return 0, nil, fmt.Errorf("item %q: %q was made anew since the phone synced it (UIDVALIDITY %d, was %d): %w",
			ref.ServerID, ref.Path, sel.UIDValidity, cur.uidValidity, eas.ErrNotFound)
	}
	return uid, sel, nil
}

// flagsOf reads the flags of one message; ErrNotFound when it is gone or
// flagged \Deleted.
func (c *conn) flagsOf(ctx context.Context, uid imap.UID) (mailFlags, []imap.Flag, error) {
	var raw []imap.Flag
	found := false
	err := c.guard(ctx, "UID FETCH", func(func()) error {
		msgs, err := c.client.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, Flags: true}).Collect()
		for _, m := range msgs {
			if m.UID == uid {
				raw, found = m.Flags, true
			}
		}
		return err
	})
	if isNo(err) {
		return mailFlags{}, nil, fmt.Errorf("message %d: %w: %w", uid, eas.ErrNotFound, err)
	}
	if err != nil {
		return mailFlags{}, nil, err
	}
	f := parseFlags(raw)
	if !found || f.deleted {
		return f, raw, fmt.Errorf("message %d: %w", uid, eas.ErrNotFound)
	}
	return f, raw, nil
}

// Fetch returns the full item. A message that converts only partially comes
// back as far as it could be read (the problem is logged): the phone asked
// for this message and is better served by part of it than by an error.
func (m *Mailbox) Fetch(ctx context.Context, ref eas.ItemRef, body eas.BodyOptions) (eas.Item, error) {
	var email *eas.Email
	err := m.do(ctx, true, func(c *conn) error {
		uid, sel, err := c.message(ctx, ref)
		if err != nil {
			return err
		}
		items, err := c.fetchItems(ctx, ref.Path, sel.UIDValidity, []imap.UID{uid}, body)
		if err != nil {
			return err
		}
		it := items[uid]
		if it == nil {
			return fmt.Errorf("message %d: %w", uid, eas.ErrNotFound)
		}
		if it.err != nil {
			c.log.Warn("message converted partially", zap.String("folder", ref.Path), zap.Uint32("uid", uint32(uid)), zap.Error(it.err))
		}
		email = it.email
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fetch %s/%s: %w", ref.Path, ref.ServerID, err)
	}
	return emailItem(email), nil
}

// UpdateFlags applies a phone's Read, Flag and Categories and returns the
// message's new version.
func (m *Mailbox) UpdateFlags(ctx context.Context, ref eas.ItemRef, u eas.FlagUpdate) (string, error) {
	var version string
	err := m.do(ctx, true, func(c *conn) error {
		uid, _, err := c.message(ctx, ref)
		if err != nil {
			return err
		}
		f, raw, err := c.flagsOf(ctx, uid)
		if err != nil {
			return err
		}
		// Another client changed the message since the phone last saw it:
		// the phone keeps the version it had, and the next Sync brings it
		// the flags as they are, its own change included.
		stale := u.Known != "" && f.version() != u.Known
		add, del := flagEdits(f, raw, u)
		if len(add) == 0 && len(del) == 0 {
			version = f.version()
			if stale {
				version = u.Known
			}
			return nil
		}
		var last []imap.Flag
		got := false
		err = c.guard(ctx, "UID STORE", func(func()) error {
			// Both STOREs go out at once; the reply to the second carries
			// the final flags.
			var cmds []*imapclient.FetchCommand
			if len(add) > 0 {
				cmds = append(cmds, c.client.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: add}, nil))
			}
			if len(del) > 0 {
				cmds = append(cmds, c.client.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: del}, nil))
			}
			var errs []error
			for i, cmd := range cmds {
				msgs, err := cmd.Collect()
				errs = append(errs, err)
				if i != len(cmds)-1 {
					continue
				}
				for _, msg := range msgs {
					if msg.UID == uid && msg.Flags != nil {
						last, got = msg.Flags, true
					}
				}
			}
			return errors.Join(errs...)
		})
		if err != nil {
			return err
		}
		if stale {
			version = u.Known
			return nil
		}
		if got {
			if nf := parseFlags(last); !nf.deleted {
				version = nf.version()
				return nil
			}
		}
		// No FETCH in the reply (allowed when nothing changed): read back.
		nf, _, err := c.flagsOf(ctx, uid)
		if err != nil {
			return err
		}
		version = nf.version()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("update flags of %s/%s: %w", ref.Path, ref.ServerID, err)
	}
	return version, nil
}

// flagEdits turns a FlagUpdate into flags to add and to remove, given the
// message's current flags. A complete follow-up flag (status 1) has no IMAP
// counterpart and clears \Flagged. Categories replace the category
// keywords; a category that an existing keyword already spells (in another
// encoding, set by another client) keeps that keyword.
func flagEdits(f mailFlags, raw []imap.Flag, u eas.FlagUpdate) (add, del []imap.Flag) {
	if u.Read != nil && *u.Read != f.seen {
		if *u.Read {
			add = append(add, imap.FlagSeen)
		} else {
			del = append(del, imap.FlagSeen)
		}
	}
	if u.Flag != nil {
		want := u.Flag.Status != nil && *u.Flag.Status == eas.FlagActive
		if want && !f.flagged {
			add = append(add, imap.FlagFlagged)
		} else if !want && f.flagged {
			del = append(del, imap.FlagFlagged)
		}
	}
	if u.Categories != nil {
		have := make(map[string]string, len(f.keywords)) // category -> keyword
		for _, k := range f.keywords {
			have[keywordCategory(k)] = k
		}
		keep := make(map[string]bool)
		for _, name := range *u.Categories {
			if k, ok := have[name]; ok {
				keep[strings.ToLower(k)] = true
				continue
			}
			if k, ok := categoryKeyword(name); ok && !keep[strings.ToLower(k)] {
				keep[strings.ToLower(k)] = true
				add = append(add, imap.Flag(k))
			}
		}
		for _, k := range f.keywords {
			if !keep[strings.ToLower(k)] {
				del = append(del, imap.Flag(k))
			}
		}
	}
	return add, del
}

// Delete moves the item to trash, or expunges it when trash is "" or the
// item is in trash already.
func (m *Mailbox) Delete(ctx context.Context, ref eas.ItemRef, trash string) error {
	err := m.do(ctx, false, func(c *conn) error {
		uid, _, err := c.message(ctx, ref)
		if err != nil {
			return err
		}
		if _, _, err := c.flagsOf(ctx, uid); err != nil {
			return err
		}
		if trash == "" || trash == ref.Path {
			return c.expunge(ctx, imap.UIDSetNum(uid))
		}
		err = c.guard(ctx, "UID MOVE", func(func()) error {
			_, err := c.client.Move(imap.UIDSetNum(uid), trash).Wait()
			return err
		})
		if err != nil {
			return c.missing(ctx, err, trash)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", ref.Path, ref.ServerID, err)
	}
	return nil
}

// expunge removes the messages of set from the selected folder. Without
// UIDPLUS a plain EXPUNGE also removes other messages flagged \Deleted,
// which the sync already treats as gone.
func (c *conn) expunge(ctx context.Context, set imap.UIDSet) error {
	return c.guard(ctx, "EXPUNGE", func(func()) error {
		store := c.client.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
		var exp *imapclient.ExpungeCommand
		if c.caps.Has(imap.CapUIDPlus) {
			exp = c.client.UIDExpunge(set)
		} else {
			exp = c.client.Expunge()
		}
		return errors.Join(store.Close(), exp.Close())
	})
}

// Move moves the item to dst and returns its ServerID and version there.
func (m *Mailbox) Move(ctx context.Context, ref eas.ItemRef, dst string) (string, string, error) {
	var id, version string
	err := m.do(ctx, false, func(c *conn) error {
		uid, _, err := c.message(ctx, ref)
		if err != nil {
			return err
		}
		f, _, err := c.flagsOf(ctx, uid)
		if err != nil {
			return err
		}
		// MOVE and COPY keep the flags, hence the version.
		version = f.version()
		if dst == ref.Path {
			id = ref.ServerID
			return nil
		}
		newUID, err := c.move(ctx, uid, dst)
		if err != nil {
			return err
		}
		id = formatUID(newUID)
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("move %s/%s to %q: %w", ref.Path, ref.ServerID, dst, err)
	}
	return id, version, nil
}

// move moves one message of the selected folder to dst and finds its new
// UID: from COPYUID (UIDPLUS), else by its Message-ID among the messages dst
// received meanwhile.
func (c *conn) move(ctx context.Context, uid imap.UID, dst string) (imap.UID, error) {
	uidPlus := c.caps.Has(imap.CapUIDPlus)
	var msgID string
	var dstNext imap.UID
	if !uidPlus {
		var err error
		if msgID, err = c.messageID(ctx, uid); err != nil {
			return 0, err
		}
		st, err := c.status(ctx, dst)
		if err != nil {
			return 0, err
		}
		// Some servers leave UIDNEXT out of STATUS; then every UID counts.
		dstNext = max(st.UIDNext, 1)
	}
	var data *imapclient.MoveData
	err := c.guard(ctx, "UID MOVE", func(func()) error {
		var err error
		data, err = c.client.Move(imap.UIDSetNum(uid), dst).Wait()
		return err
	})
	if err != nil {
		return 0, c.missing(ctx, err, dst)
	}
	if data != nil && data.DestUIDs != nil {
		src, _ := data.SourceUIDs.(imap.UIDSet)
		dsts, _ := data.DestUIDs.(imap.UIDSet)
		srcs, ok1 := src.Nums()
		ds, ok2 := dsts.Nums()
		if ok1 && ok2 && len(srcs) == len(ds) {
			for i, s := range srcs {
				if s == uid {
					return ds[i], nil
				}
			}
		}
	}
	return c.findCopy(ctx, dst, msgID, dstNext)
}

// messageID reads the Message-ID header of a message of the selected folder.
func (c *conn) messageID(ctx context.Context, uid imap.UID) (string, error) {
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-Id"}, Peek: true}
	var hdr []byte
	err := c.guard(ctx, "UID FETCH", func(func()) error {
		msgs, err := c.client.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		for _, m := range msgs {
			if m.UID == uid {
				hdr = m.FindBodySection(section)
			}
		}
		return err
	})
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(hdr))
	if i := strings.IndexByte(line, ':'); i >= 0 {
		return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(line[i+1:], "\r\n", ""), "\n", "")), nil
	}
	return "", nil
}

// findCopy finds the copy of a moved message in dst: among the messages
// with a UID from dstNext on, the one with the Message-ID (the newest when
// several match, or when the message has none).
func (c *conn) findCopy(ctx context.Context, dst, msgID string, dstNext imap.UID) (imap.UID, error) {
	if _, err := c.selectFolder(ctx, dst); err != nil {
		return 0, err
	}
	criteria := &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: max(dstNext, 1), Stop: 0}}}}
	if msgID != "" {
		criteria.Header = []imap.SearchCriteriaHeaderField{{Key: "Message-Id", Value: msgID}}
	}
	var uids []imap.UID
	err := c.guard(ctx, "UID SEARCH", func(func()) error {
		data, err := c.client.UIDSearch(criteria, nil).Wait()
		if err != nil {
			return err
		}
		uids = data.AllUIDs()
		return nil
	})
	if err != nil {
		return 0, err
	}
	var best imap.UID
	for _, u := range uids {
		// "n:*" also matches the highest UID when it is below n.
		if u >= dstNext {
			best = max(best, u)
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("moved to %q but cannot find the copy", dst)
	}
	return best, nil
}

// EmptyFolder expunges every message of path and, when asked, deletes its
// subfolders.
func (m *Mailbox) EmptyFolder(ctx context.Context, path string, deleteSubfolders bool) error {
	err := m.do(ctx, false, func(c *conn) error {
		if _, err := c.selectFolder(ctx, path); err != nil {
			return err
		}
		// EXISTS, kept up to date by imapclient; "1:*" of an empty folder is
		// an error to some servers.
		if mb := c.client.Mailbox(); mb == nil || mb.NumMessages > 0 {
			err := c.guard(ctx, "EXPUNGE", func(func()) error {
				store := c.client.Store(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}},
					&imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
				return errors.Join(store.Close(), c.client.Expunge().Close())
			})
			if err != nil {
				return err
			}
		}
		if !deleteSubfolders {
			return nil
		}
		delim, err := c.delimiter(ctx)
		if err != nil {
			return err
		}
		return c.deleteChildren(ctx, path, delim)
	})
	if err != nil {
		return fmt.Errorf("empty folder %q: %w", path, err)
	}
	return nil
}

// Attachment returns the part a FileReference from this backend names.
func (m *Mailbox) Attachment(ctx context.Context, fileReference string) (*eas.AttachmentData, error) {
	ref, err := parseFileRef(fileReference)
	if err != nil {
		return nil, err
	}
	var raw []byte
	err = m.do(ctx, true, func(c *conn) error {
		sel, err := c.selectFolder(ctx, ref.path)
		if err != nil {
			return err
		}
		if sel.UIDValidity != ref.uidValidity {
			return fmt.Errorf("folder %q was recreated: %w", ref.path, eas.ErrNotFound)
		}
		section := &imap.FetchItemBodySection{Peek: true}
		found := false
		err = c.guard(ctx, "UID FETCH", func(progress func()) error {
			msgs, err := c.client.Fetch(imap.UIDSetNum(ref.uid), &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
			for _, msg := range msgs {
				if msg.UID == ref.uid && !parseFlags(msg.Flags).deleted {
					raw, found = msg.FindBodySection(section), true
				}
			}
			return err
		})
		if isNo(err) {
			return fmt.Errorf("message %d: %w: %w", ref.uid, eas.ErrNotFound, err)
		}
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("message %d: %w", ref.uid, eas.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attachment %q: %w", fileReference, err)
	}
	data, err := mailconv.Attachment(raw, ref.part)
	if err != nil {
		if data == nil || errors.Is(err, eas.ErrNotFound) {
			return nil, fmt.Errorf("attachment %q: %w", fileReference, err)
		}
		// Undecodable transfer encoding: the raw bytes beat nothing.
		m.b.log.Warn("attachment decoded partially", zap.String("ref", fileReference), zap.Error(err))
	}
	return data, nil
}

// emailItem is e as an eas.Item: nil (not a nil *eas.Email) when there is
// none.
func emailItem(e *eas.Email) eas.Item {
	if e == nil {
		return nil
	}
	return e
}
