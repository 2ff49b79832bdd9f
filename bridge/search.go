package bridge

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

// Search runs a UID SEARCH in every folder asked for (every selectable
// folder when none is) and returns the hits newest first by date received.
// IMAP compares whole days; the exact bounds are applied to INTERNALDATE.
func (m *Mailbox) Search(ctx context.Context, q eas.SearchQuery) ([]eas.ItemRef, error) {
	type hit struct {
		ref      eas.ItemRef
		uid      imap.UID
		received time.Time
	}
	var hits []hit
	err := m.do(ctx, true, func(c *conn) error {
		hits = hits[:0]
		paths := q.Paths
		if len(paths) == 0 {
			l, err := c.list(ctx, "*", false)
			if err != nil {
				return err
			}
			for _, e := range l {
				if selectable(e.data) && !IsNotesFolder(e.data.Mailbox, e.data.Delim) {
					paths = append(paths, e.data.Mailbox)
				}
			}
		}
		criteria := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
		if s := strings.TrimSpace(q.FreeText); s != "" {
			criteria.Text = []string{s}
		}
		if !q.Since.IsZero() {
			criteria.Since, _ = sinceDay(q.Since)
		}
		if !q.Before.IsZero() {
			// BEFORE excludes its whole day: start from the next one and
			// filter the rest below.
			d, _ := sinceDay(q.Before)
			criteria.Before = d.AddDate(0, 0, 1)
		}
		for _, path := range paths {
			if _, err := c.selectFolder(ctx, path); err != nil {
				return err
			}
			var uids []imap.UID
			err := c.guard(ctx, "UID SEARCH", func(func()) error {
				data, err := c.client.UIDSearch(criteria, c.searchOptions()).Wait()
				if err != nil {
					return err
				}
				uids = data.AllUIDs()
				return nil
			})
			if err != nil {
				return err
			}
			if len(uids) == 0 {
				continue
			}
			err = c.guard(ctx, "UID FETCH", func(progress func()) error {
				cmd := c.client.Fetch(uidSet(uids), &imap.FetchOptions{UID: true, InternalDate: true})
				for {
					msg := cmd.Next()
					if msg == nil {
						break
					}
					progress()
					buf, err := msg.Collect()
					if err != nil || buf.UID == 0 {
						continue
					}
					if !q.Since.IsZero() && buf.InternalDate.Before(q.Since) {
						continue
					}
					if !q.Before.IsZero() && !buf.InternalDate.Before(q.Before) {
						continue
					}
					hits = append(hits, hit{ref: eas.ItemRef{Path: path, ServerID: formatUID(buf.UID)}, uid: buf.UID, received: buf.InternalDate})
				}
				return cmd.Close()
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if c := b.received.Compare(a.received); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ref.Path, b.ref.Path); c != 0 {
			return c
		}
		return cmp.Compare(b.uid, a.uid)
	})
	out := make([]eas.ItemRef, len(hits))
	for i, h := range hits {
		out[i] = h.ref
	}
	return out, nil
}
