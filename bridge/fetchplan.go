package bridge

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/bridge/mailconv"
	"github.com/easgate/easgate/eas"
)

// A Sync window reads of each message only what its item needs: first the
// outline (flags, size, BODYSTRUCTURE) of every message of the window in
// one UID FETCH, then, grouped by what they need, the header fields, the
// MIME headers of the parts, the body text parts (cut when a truncation
// allows) and the decoded sizes of the attachments, which are never
// downloaded. Small messages, MIME bodies the phone wants whole and
// messages whose outline cannot be trusted are read whole as before.

// outline is what the first UID FETCH tells of a message.
type outline struct {
	flags     []imap.Flag
	received  time.Time
	size      int64
	structure *mailconv.Structure
}

// fetchPlanned fetches and converts uids into out like fetchItemsOnce,
// reading pieces of the messages where that is worth it.
func (c *conn) fetchPlanned(ctx context.Context, path string, uidValidity uint32, uids []imap.UID, body eas.BodyOptions, out map[imap.UID]*item) error {
	if len(uids) == 0 {
		return nil
	}
	if mailconv.WholeMessages(body) {
		return c.fetchItemsOnce(ctx, path, uidValidity, uids, body, out)
	}
	outlines, err := c.fetchOutlines(ctx, uids)
	if err != nil {
		return err
	}
	var whole []imap.UID
	pending := map[imap.UID]mailconv.Plan{}
	for _, uid := range uids {
		o := outlines[uid]
		if o == nil {
			// Not in the answer: fetchItemsOnce finds out whether it is gone.
			whole = append(whole, uid)
			continue
		}
		if parseFlags(o.flags).deleted {
			continue
		}
		if plan := mailconv.PlanFetch(o.structure, o.size, body, mailconv.PlanOptions{}); plan.Whole {
			whole = append(whole, uid)
		} else {
			pending[uid] = plan
		}
	}
	for round := 0; len(pending) > 0; round++ {
		pieces, err := c.fetchPieces(ctx, pending, outlines)
		if err != nil {
			return err
		}
		again := map[imap.UID]mailconv.Plan{}
		for uid := range pending {
			p := pieces[uid]
			if p == nil {
				whole = append(whole, uid)
				continue
			}
			o := outlines[uid]
			email, cerr := mailconv.ConvertPieces(o.structure, p, c.convertOptions(path, uidValidity, uid, body, o.received))
			switch {
			case errors.Is(cerr, mailconv.ErrNeedMore) && round == 0:
				again[uid] = mailconv.PlanFetch(o.structure, o.size, body, mailconv.PlanOptions{Full: true})
			case errors.Is(cerr, mailconv.ErrNeedMore), errors.Is(cerr, mailconv.ErrNeedWhole):
				whole = append(whole, uid)
			default:
				it := &item{flags: parseFlags(o.flags)}
				it.flags.apply(email)
				it.email, it.err = email, cerr
				out[uid] = it
			}
		}
		pending = again
	}
	sort.Slice(whole, func(i, j int) bool { return whole[i] < whole[j] })
	return c.fetchItemsOnce(ctx, path, uidValidity, whole, body, out)
}

func (c *conn) convertOptions(path string, uidValidity uint32, uid imap.UID, body eas.BodyOptions, received time.Time) mailconv.Options {
	return mailconv.Options{
		Body:     body,
		Received: received,
		AttachmentRef: func(part string) string {
			return fileRef{uidValidity: uidValidity, uid: uid, part: part, path: path}.String()
		},
	}
}

// fetchOutlines reads flags, INTERNALDATE, RFC822.SIZE and BODYSTRUCTURE.
func (c *conn) fetchOutlines(ctx context.Context, uids []imap.UID) (map[imap.UID]*outline, error) {
	want := uidSet(uids)
	out := make(map[imap.UID]*outline, len(uids))
	err := c.guard(ctx, "UID FETCH", func(progress func()) error {
		cmd := c.client.Fetch(want, &imap.FetchOptions{
			UID: true, Flags: true, InternalDate: true, RFC822Size: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		})
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			progress()
			var uid imap.UID
			o := &outline{}
			for {
				fi := msg.Next()
				if fi == nil {
					break
				}
				switch fi := fi.(type) {
				case imapclient.FetchItemDataUID:
					uid = fi.UID
				case imapclient.FetchItemDataFlags:
					o.flags = fi.Flags
				case imapclient.FetchItemDataInternalDate:
					o.received = fi.Time
				case imapclient.FetchItemDataRFC822Size:
					o.size = fi.Size
				case imapclient.FetchItemDataBodyStructure:
					o.structure = structureOf(fi.BodyStructure)
				}
			}
			if uid != 0 && want.Contains(uid) && out[uid] == nil {
				out[uid] = o
			}
		}
		return cmd.Close()
	})
	if err != nil && !isNo(err) {
		return nil, err
	}
	return out, nil
}

// pieceGroup is the messages that need the same sections, read in one
// UID FETCH.
type pieceGroup struct {
	uids     []imap.UID
	sections []mailconv.Section
	body     []*imap.FetchItemBodySection
}

// fetchPieces reads the sections of each plan; a message missing from the
// answer is missing from the result.
func (c *conn) fetchPieces(ctx context.Context, plans map[imap.UID]mailconv.Plan, outlines map[imap.UID]*outline) (map[imap.UID]*mailconv.Pieces, error) {
	groups := map[string]*pieceGroup{}
	var keys []string
	for uid, plan := range plans {
		key := planKey(plan)
		g := groups[key]
		if g == nil {
			g = &pieceGroup{sections: plan.Sections}
			for _, s := range plan.Sections {
				g.body = append(g.body, imapSection(s))
			}
			groups[key] = g
			keys = append(keys, key)
		}
		g.uids = append(g.uids, uid)
	}
	sort.Strings(keys)
	out := make(map[imap.UID]*mailconv.Pieces, len(plans))
	err := c.guard(ctx, "UID FETCH", func(progress func()) error {
		// All groups go out at once; their UIDs differ, so each answer
		// finds its command. Dovecot runs such commands in parallel and
		// interleaves their answers, so all are read at once too.
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs = make([]error, len(keys))
		)
		for i, k := range keys {
			g := groups[k]
			cmd := c.client.Fetch(uidSet(g.uids), &imap.FetchOptions{UID: true, BodySection: g.body})
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = readPieces(cmd, g, outlines, out, &mu, progress)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil && !isNo(err) {
		return nil, err
	}
	return out, nil
}

// readPieces reads the answer to one group's UID FETCH into out.
func readPieces(cmd *imapclient.FetchCommand, g *pieceGroup, outlines map[imap.UID]*outline, out map[imap.UID]*mailconv.Pieces, mu *sync.Mutex, progress func()) error {
	want := uidSet(g.uids)
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		progress()
		var uid imap.UID
		p := &mailconv.Pieces{Data: map[mailconv.Section][]byte{}}
		var rerr error
		for {
			fi := msg.Next()
			if fi == nil {
				break
			}
			switch fi := fi.(type) {
			case imapclient.FetchItemDataUID:
				uid = fi.UID
			case imapclient.FetchItemDataBodySection:
				var data []byte
				if fi.Literal != nil {
					var err error
					if data, err = readLiteral(fi.Literal); err != nil {
						rerr = err
					}
				}
				for i, s := range g.body {
					if fi.MatchCommand(s) {
						p.Data[g.sections[i]] = data
						break
					}
				}
			}
		}
		if rerr != nil || uid == 0 || !want.Contains(uid) || outlines[uid] == nil {
			continue
		}
		p.Size = outlines[uid].size
		mu.Lock()
		if out[uid] == nil {
			out[uid] = p
		}
		mu.Unlock()
	}
	return cmd.Close()
}

func planKey(p mailconv.Plan) string {
	var b strings.Builder
	for _, s := range p.Sections {
		b.WriteString(strconv.Itoa(int(s.Kind)))
		b.WriteByte(' ')
		b.WriteString(s.Part)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(s.Len, 10))
		b.WriteByte(';')
	}
	return b.String()
}

// imapSection is the BODY.PEEK item of a section.
func imapSection(s mailconv.Section) *imap.FetchItemBodySection {
	is := &imap.FetchItemBodySection{Part: partNums(s.Part), Peek: true}
	switch s.Kind {
	case mailconv.SectionMIME:
		is.Specifier = imap.PartSpecifierMIME
	case mailconv.SectionHeader:
		is.Specifier = imap.PartSpecifierHeader
		is.HeaderFields = mailconv.HeaderFields
	}
	if s.Len > 0 {
		is.Partial = &imap.SectionPartial{Size: s.Len}
	}
	return is
}

func partNums(part string) []int {
	if part == "" {
		return nil
	}
	var out []int
	for _, f := range strings.Split(part, ".") {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// structureOf turns a BODYSTRUCTURE into the outline mailconv plans with.
func structureOf(bs imap.BodyStructure) *mailconv.Structure {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		s := &mailconv.Structure{Type: bs.MediaType(), Params: map[string]string{}}
		if bs.Extended != nil {
			s.Params = lowerKeys(bs.Extended.Params)
		}
		for _, c := range bs.Children {
			cs := structureOf(c)
			if cs == nil {
				return nil
			}
			s.Children = append(s.Children, cs)
		}
		return s
	case *imap.BodyStructureSinglePart:
		s := &mailconv.Structure{
			Type:     bs.MediaType(),
			Params:   lowerKeys(bs.Params),
			Encoding: strings.ToLower(bs.Encoding),
			Size:     int64(bs.Size),
		}
		if d := bs.Disposition(); d != nil {
			s.Disposition = strings.ToLower(d.Value)
			s.DispParams = lowerKeys(d.Params)
		}
		if bs.MessageRFC822 != nil && bs.MessageRFC822.BodyStructure != nil {
			s.Message = structureOf(bs.MessageRFC822.BodyStructure)
		}
		return s
	}
	return nil
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
