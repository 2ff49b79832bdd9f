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
	s := &search{q: q, criteria: searchCriteria(q)}
	err := m.do(ctx, true, func(c *conn) error {
		s.hits = s.hits[:0]
		paths, err := c.searchPaths(ctx, q.Paths)
		if err != nil {
			return err
		}
		for _, path := range paths {
			if err := s.folder(ctx, c, path); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return s.refs(), nil
}

// search is one Search's query and what it found so far.
type search struct {
	q        eas.SearchQuery
	criteria *imap.SearchCriteria
	hits     []searchHit
}

type searchHit struct {
	ref      eas.ItemRef
	uid      imap.UID
	received time.Time
}

// searchCriteria is the UID SEARCH for q; its dates are whole days, which
// search.folder narrows down.
func searchCriteria(q eas.SearchQuery) *imap.SearchCriteria {
	criteria := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
	if s := strings.TrimSpace(q.FreeText); s != "" {
		criteria.Text = []string{s}
	}
	if !q.Since.IsZero() {
		criteria.Since, _ = sinceDay(q.Since)
	}
	if !q.Before.IsZero() {
		// BEFORE excludes its whole day: start from the next one and
		// filter the rest by the exact time.
		d, _ := sinceDay(q.Before)
		criteria.Before = d.AddDate(0, 0, 1)
	}
	return criteria
}

// searchPaths is paths, or every selectable folder when there are none.
func (c *conn) searchPaths(ctx context.Context, paths []string) ([]string, error) {
	if len(paths) > 0 {
		return paths, nil
	}
	l, err := c.list(ctx, "*", false)
	if err != nil {
		return nil, err
	}
	for _, e := range l {
		if selectable(e.data) && !IsNotesFolder(e.data.Mailbox, e.data.Delim) {
			paths = append(paths, e.data.Mailbox)
		}
	}
	return paths, nil
}

// folder searches path and adds its hits.
func (s *search) folder(ctx context.Context, c *conn, path string) error {
	if _, err := c.selectFolder(ctx, path); err != nil {
		return err
	}
	var uids []imap.UID
	err := c.guard(ctx, "UID SEARCH", func(func()) error {
		data, err := c.client.UIDSearch(s.criteria, c.searchOptions()).Wait()
		if err != nil {
			return err
		}
		uids = data.AllUIDs()
		return nil
	})
	if err != nil || len(uids) == 0 {
		return err
	}
	return c.guard(ctx, "UID FETCH", func(progress func()) error {
		cmd := c.client.Fetch(uidSet(uids), &imap.FetchOptions{UID: true, InternalDate: true})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			progress()
			buf, err := msg.Collect()
			if err == nil && buf.UID != 0 && s.within(buf.InternalDate) {
				s.hits = append(s.hits, searchHit{ref: eas.ItemRef{Path: path, ServerID: formatUID(buf.UID)}, uid: buf.UID, received: buf.InternalDate})
			}
		}
		return cmd.Close()
	})
}

// within reports whether a message received at t is in the query's dates.
func (s *search) within(t time.Time) bool {
	return (s.q.Since.IsZero() || !t.Before(s.q.Since)) && (s.q.Before.IsZero() || t.Before(s.q.Before))
}

// refs are the hits, newest first.
func (s *search) refs() []eas.ItemRef {
	slices.SortFunc(s.hits, func(a, b searchHit) int {
		if c := b.received.Compare(a.received); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ref.Path, b.ref.Path); c != 0 {
			return c
		}
		return cmp.Compare(b.uid, a.uid)
	})
	out := make([]eas.ItemRef, len(s.hits))
	for i, h := range s.hits {
		out[i] = h.ref
	}
	return out
}
