package eas

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// SearchRequest is the Search command's request (MS-ASCMD 2.2.1.16).
type SearchRequest struct {
	XMLName wbxml.Name  `wbxml:"Search:Search"`
	Store   SearchStore `wbxml:"Store"`
}

// SearchStore names the store searched and holds the query. A Mailbox
// query is a tree (see MailboxQuery); a GAL query is plain text.
type SearchStore struct {
	Name    string         `wbxml:"Name"`
	Query   *wbxml.Element `wbxml:"Query,omitempty"`
	Options *SearchOptions `wbxml:"Options,omitempty"`
}

// SearchOptions are a search's options.
type SearchOptions struct {
	Range              string           `wbxml:"Range,omitempty"`
	UserName           string           `wbxml:"UserName,omitempty"`
	Password           string           `wbxml:"Password,omitempty"`
	DeepTraversal      bool             `wbxml:"DeepTraversal,empty"`
	RebuildResults     bool             `wbxml:"RebuildResults,empty"`
	Schema             *wbxml.Element   `wbxml:"Schema,omitempty"`
	MIMESupport        *int             `wbxml:"AirSync:MIMESupport,omitempty"`
	BodyPreference     []BodyPreference `wbxml:"AirSyncBase:BodyPreference"`
	BodyPartPreference []BodyPreference `wbxml:"AirSyncBase:BodyPartPreference"`
	// Picture asks for GAL results' photos (14.1+).
	Picture *PictureOptions `wbxml:"Picture,omitempty"`
}

// MailboxQuery is a Mailbox store query: And{Class, CollectionId*,
// FreeText, GreaterThan/LessThan on DateReceived}.
type MailboxQuery struct {
	Class         string
	CollectionIDs []string
	FreeText      string
	// ReceivedAfter and ReceivedBefore bound DateReceived (GreaterThan,
	// LessThan); zero values are left out.
	ReceivedAfter, ReceivedBefore time.Time
}

var (
	tagSearchQuery       = wbxml.MustLookup("Search", "Query")
	tagSearchAnd         = wbxml.MustLookup("Search", "And")
	tagSearchOr          = wbxml.MustLookup("Search", "Or")
	tagSearchFreeText    = wbxml.MustLookup("Search", "FreeText")
	tagSearchGreaterThan = wbxml.MustLookup("Search", "GreaterThan")
	tagSearchLessThan    = wbxml.MustLookup("Search", "LessThan")
	tagSearchValue       = wbxml.MustLookup("Search", "Value")
	tagAirSyncClass      = wbxml.MustLookup("AirSync", "Class")
	tagAirSyncCollection = wbxml.MustLookup("AirSync", "CollectionId")
	tagEmailDateReceived = wbxml.MustLookup("Email", "DateReceived")
)

// Element builds the Query element.
func (q MailboxQuery) Element() *wbxml.Element {
	and := &wbxml.Element{Tag: tagSearchAnd}
	if q.Class != "" {
		and.Add((&wbxml.Element{Tag: tagAirSyncClass}).SetText(q.Class))
	}
	for _, id := range q.CollectionIDs {
		and.Add((&wbxml.Element{Tag: tagAirSyncCollection}).SetText(id))
	}
	if q.FreeText != "" {
		and.Add((&wbxml.Element{Tag: tagSearchFreeText}).SetText(q.FreeText))
	}
	cmp := func(tag wbxml.Tag, t time.Time) {
		and.Add((&wbxml.Element{Tag: tag}).Add(
			&wbxml.Element{Tag: tagEmailDateReceived},
			(&wbxml.Element{Tag: tagSearchValue}).SetText(t.UTC().Format(wbxml.DateTimeFormat))))
	}
	if !q.ReceivedAfter.IsZero() {
		cmp(tagSearchGreaterThan, q.ReceivedAfter)
	}
	if !q.ReceivedBefore.IsZero() {
		cmp(tagSearchLessThan, q.ReceivedBefore)
	}
	return (&wbxml.Element{Tag: tagSearchQuery}).Add(and)
}

// parseMailboxQuery reads a Mailbox query leniently: conditions are taken
// wherever they appear under Query (with or without And), and what easgate
// cannot search on (ConversationId, EqualTo) is ignored.
func parseMailboxQuery(e *wbxml.Element) (MailboxQuery, error) {
	var q MailboxQuery
	if e == nil {
		return q, nil
	}
	var texts []string
	var walk func(e *wbxml.Element) error
	walk = func(e *wbxml.Element) error {
		for _, c := range e.Children {
			switch c.Tag {
			case tagSearchAnd, tagSearchOr:
				if err := walk(c); err != nil {
					return err
				}
			case tagAirSyncClass:
				q.Class = strings.TrimSpace(c.Text())
			case tagAirSyncCollection:
				q.CollectionIDs = append(q.CollectionIDs, strings.TrimSpace(c.Text()))
			case tagSearchFreeText:
				if t := strings.TrimSpace(c.Text()); t != "" {
					texts = append(texts, t)
				}
			case tagSearchGreaterThan, tagSearchLessThan:
				if c.ChildNS("Email", "DateReceived") == nil {
					continue
				}
				v := c.ChildNS("Search", "Value")
				if v == nil {
					return errors.New("date comparison without a Value")
				}
				t, err := wbxml.ParseDateTime(v.Text())
				if err != nil {
					return err
				}
				if c.Tag == tagSearchGreaterThan {
					q.ReceivedAfter = t
				} else {
					q.ReceivedBefore = t
				}
			}
		}
		return nil
	}
	err := walk(e)
	q.FreeText = strings.Join(texts, " ")
	return q, err
}

// SearchResponse is the Search command's response.
type SearchResponse struct {
	XMLName wbxml.Name         `wbxml:"Search:Search"`
	Status  int                `wbxml:"Status"`
	Store   *SearchStoreResult `wbxml:"Response>Store,omitempty"`
}

// SearchStoreResult holds a store's results.
type SearchStoreResult struct {
	Status int            `wbxml:"Status"`
	Result []SearchResult `wbxml:"Result"`
	Range  string         `wbxml:"Range,omitempty"`
	Total  *int           `wbxml:"Total,omitempty"`
}

// SearchResult is one found item. An empty Result stands for "no match".
type SearchResult struct {
	Class        string            `wbxml:"AirSync:Class,omitempty"`
	LongID       string            `wbxml:"LongId,omitempty"`
	CollectionID string            `wbxml:"AirSync:CollectionId,omitempty"`
	Properties   *SearchProperties `wbxml:"Properties,omitempty"`
}

// SearchProperties holds a found item's fields.
type SearchProperties struct {
	Fields []*wbxml.Element `wbxml:",any"`
}

// Email decodes the item's fields.
func (p *SearchProperties) Email() (*Email, error) { return emailFromElements(p.Fields) }

// Mailbox search ranges: zero-based, inclusive, at most 100 results.
const (
	defaultSearchRange = "0-99"
	maxSearchResults   = 100
)

func (s *Server) handleSearch(ctx context.Context, r *request) (*reply, error) {
	var req SearchRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &SearchResponse{Status: SearchSuccess}
	store := &SearchStoreResult{Status: SearchSuccess}
	resp.Store = store
	switch strings.ToLower(strings.TrimSpace(req.Store.Name)) {
	case "mailbox":
		if err := s.searchMailbox(ctx, r, &req.Store, store); err != nil {
			return nil, err
		}
	case "gal":
		if err := s.searchGAL(ctx, r, &req.Store, store); err != nil {
			return nil, err
		}
	case "documentlibrary":
		// No document libraries behind an IMAP store.
		store.Status = SearchServerError
	default:
		store.Status = SearchInvalidRequest
	}
	return &reply{body: resp, easStatus: store.Status}, nil
}

// searchMailbox runs a Mailbox store search into store.
func (s *Server) searchMailbox(ctx context.Context, r *request, req *SearchStore, store *SearchStoreResult) error {
	q, err := parseMailboxQuery(req.Query)
	if err != nil {
		store.Status = SearchInvalidRequest
		return nil
	}
	opts := req.Options
	if opts == nil {
		opts = &SearchOptions{}
	}
	rng := opts.Range
	if rng == "" {
		rng = defaultSearchRange
	}
	lo, hi, ok := parseRange(rng)
	if !ok {
		store.Status = SearchInvalidRequest
		return nil
	}
	hi = min(hi, lo+maxSearchResults-1)
	zero := 0
	if q.Class != "" && !strings.EqualFold(q.Class, "Email") {
		store.Result, store.Total = []SearchResult{{}}, &zero
		return nil
	}
	ids, err := s.newCollectionIDs(ctx, r)
	if err != nil {
		return err
	}
	folders := newRequestFolders(r)
	sq := SearchQuery{FreeText: q.FreeText, Since: q.ReceivedAfter, Before: q.ReceivedBefore}
	for _, id := range q.CollectionIDs {
		path, err := ids.path(id)
		if err != nil {
			store.Status = SearchFolderSyncNeeds
			return nil
		}
		if !opts.DeepTraversal {
			sq.Paths = append(sq.Paths, path)
			continue
		}
		sub, err := folders.subtree(ctx, path)
		if err != nil {
			return err
		}
		sq.Paths = append(sq.Paths, sub...)
	}
	refs, err := s.runSearch(ctx, r, sq)
	if err != nil {
		if fatal(err) {
			return err
		}
		r.log.Error("mailbox search failed", zap.Error(err))
		store.Status = SearchServerError
		return nil
	}
	total := len(refs)
	store.Total = &total
	if total == 0 || lo >= total {
		store.Result = []SearchResult{{}}
		return nil
	}
	hi = min(hi, total-1)
	body := bodyOptions(opts.BodyPreference, opts.MIMESupport, nil, nil, r.version())
	mb, err := r.mailbox(ctx)
	if err != nil {
		return err
	}
	for _, ref := range refs[lo : hi+1] {
		coll, err := ids.id(ctx, ref.Path)
		if err != nil {
			if fatal(err) {
				return err
			}
			continue
		}
		e, err := fetchEmail(ctx, mb, ref, body)
		switch {
		case err == nil:
		case fatal(err):
			return fmt.Errorf("fetch search result: %w", err)
		default:
			// Gone since the search, or unreadable: leave it out.
			if !errors.Is(err, ErrNotFound) {
				r.log.Warn("search result unreadable", zap.String("path", ref.Path), zap.String("item", ref.ServerID), zap.Error(err))
			}
			continue
		}
		fields, err := emailElements(emailForVersion(e, r.version(), true))
		if err != nil {
			return err
		}
		store.Result = append(store.Result, SearchResult{
			Class: "Email", LongID: longID(coll, ref.ServerID), CollectionID: coll,
			Properties: &SearchProperties{Fields: fields},
		})
	}
	if len(store.Result) == 0 {
		store.Result = []SearchResult{{}}
		return nil
	}
	store.Range = strconv.Itoa(lo) + "-" + strconv.Itoa(lo+len(store.Result)-1)
	return nil
}

// runSearch asks the backend.
func (s *Server) runSearch(ctx context.Context, r *request, q SearchQuery) ([]ItemRef, error) {
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	refs, err := mb.Search(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return refs, nil
}
