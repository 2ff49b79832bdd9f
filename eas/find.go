package eas

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// FindRequest is the Find command's request (MS-ASCMD 2.2.1.2, 16.1).
type FindRequest struct {
	XMLName       wbxml.Name  `wbxml:"Find:Find"`
	SearchID      string      `wbxml:"SearchId"`
	ExecuteSearch FindExecute `wbxml:"ExecuteSearch"`
}

// FindExecute holds the search criterion: mailbox or GAL.
type FindExecute struct {
	MailBoxSearchCriterion *FindMailboxCriterion `wbxml:"MailBoxSearchCriterion,omitempty"`
	GalSearchCriterion     *wbxml.Element        `wbxml:"GalSearchCriterion,omitempty"`
}

// FindMailboxCriterion is a mailbox search.
type FindMailboxCriterion struct {
	Query   FindQuery    `wbxml:"Query"`
	Options *FindOptions `wbxml:"Options,omitempty"`
}

// FindQuery says what to look for and where.
type FindQuery struct {
	Class        string `wbxml:"AirSync:Class,omitempty"`
	CollectionID string `wbxml:"AirSync:CollectionId,omitempty"`
	FreeText     string `wbxml:"FreeText,omitempty"`
}

// FindOptions are a Find's options; Range must start at 0.
type FindOptions struct {
	Range         string `wbxml:"Range,omitempty"`
	DeepTraversal bool   `wbxml:"DeepTraversal,empty"`
}

// FindResponse is the Find command's response.
type FindResponse struct {
	XMLName  wbxml.Name   `wbxml:"Find:Find"`
	Status   int          `wbxml:"Status"`
	Response *FindResults `wbxml:"Response,omitempty"`
}

// FindResults are a store's results.
type FindResults struct {
	Store  string       `wbxml:"ItemOperations:Store"`
	Status int          `wbxml:"Status"`
	Result []FindResult `wbxml:"Result"`
	Range  string       `wbxml:"Range,omitempty"`
	Total  *int         `wbxml:"Total,omitempty"`
}

// FindResult is one found message.
type FindResult struct {
	Class        string          `wbxml:"AirSync:Class"`
	ServerID     string          `wbxml:"AirSync:ServerId"`
	CollectionID string          `wbxml:"AirSync:CollectionId"`
	Properties   *FindProperties `wbxml:"Properties,omitempty"`
}

// FindProperties is the summary of a found message.
type FindProperties struct {
	Subject        string    `wbxml:"Email:Subject,omitempty"`
	DateReceived   time.Time `wbxml:"Email:DateReceived,omitempty"`
	DisplayTo      string    `wbxml:"Email:DisplayTo,omitempty"`
	DisplayCc      string    `wbxml:"DisplayCc,omitempty"`
	DisplayBcc     string    `wbxml:"DisplayBcc,omitempty"`
	Importance     *int      `wbxml:"Email:Importance,omitempty"`
	Read           *bool     `wbxml:"Email:Read,omitempty"`
	IsDraft        *bool     `wbxml:"Email2:IsDraft,omitempty"`
	Preview        string    `wbxml:"Preview,omitempty"`
	HasAttachments *bool     `wbxml:"HasAttachments,omitempty"`
	From           string    `wbxml:"Email:From,omitempty"`
}

// Find statuses (MS-ASCMD 2.2.3.177.2).
const (
	FindSuccess         = 1
	FindInvalidRequest  = 2
	FindFolderSyncNeeds = 3
	FindBadRange        = 4
)

// previewChars is the length of a Find result's Preview.
const previewChars = 255

func (s *Server) handleFind(ctx context.Context, r *request) (*reply, error) {
	var req FindRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	status := func(st int) (*reply, error) {
		return &reply{body: &FindResponse{Status: st}, easStatus: st}, nil
	}
	crit := req.ExecuteSearch.MailBoxSearchCriterion
	if crit == nil {
		if gal := req.ExecuteSearch.GalSearchCriterion; gal != nil {
			return s.findGAL(ctx, r, gal)
		}
		return status(FindInvalidRequest)
	}
	lo, hi := 0, maxSearchResults-1
	deep := false
	if o := crit.Options; o != nil {
		deep = o.DeepTraversal
		if o.Range != "" {
			var ok bool
			if lo, hi, ok = parseRange(o.Range); !ok {
				return status(FindInvalidRequest)
			}
			if lo != 0 {
				return status(FindBadRange)
			}
		}
	}
	hi = min(hi, maxSearchResults-1)
	if c := crit.Query.Class; c != "" && !strings.EqualFold(c, "Email") {
		return status(FindInvalidRequest)
	}
	ids, err := s.newCollectionIDs(ctx, r)
	if err != nil {
		return nil, err
	}
	sq := SearchQuery{FreeText: strings.TrimSpace(crit.Query.FreeText)}
	if id := crit.Query.CollectionID; id != "" {
		path, err := ids.path(id)
		if err != nil {
			return status(FindFolderSyncNeeds)
		}
		sq.Paths = []string{path}
		if deep {
			if sq.Paths, err = newRequestFolders(r).subtree(ctx, path); err != nil {
				return nil, err
			}
		}
	}
	refs, err := s.runSearch(ctx, r, sq)
	if err != nil {
		if fatal(err) {
			return nil, err
		}
		r.log.Error("find failed", zap.Error(err))
		return status(StatusServerError)
	}
	total := len(refs)
	res := &FindResults{Store: "Mailbox", Status: FindSuccess, Total: &total}
	if total > 0 {
		hi = min(hi, total-1)
		mb, err := r.mailbox(ctx)
		if err != nil {
			return nil, err
		}
		body := BodyOptions{Preferences: []BodyPreference{{Type: BodyPlain, TruncationSize: 4 * previewChars, Preview: previewChars}}, Version: r.version()}
		for _, ref := range refs[lo : hi+1] {
			coll, err := ids.id(ctx, ref.Path)
			if err != nil {
				if fatal(err) {
					return nil, err
				}
				continue
			}
			e, err := fetchEmail(ctx, mb, ref, body)
			switch {
			case err == nil:
			case fatal(err):
				return nil, fmt.Errorf("fetch find result: %w", err)
			default:
				if !errors.Is(err, ErrNotFound) {
					r.log.Warn("find result unreadable", zap.String("path", ref.Path), zap.String("item", ref.ServerID), zap.Error(err))
				}
				continue
			}
			res.Result = append(res.Result, FindResult{Class: "Email", ServerID: itemServerID(coll, ref.ServerID),
				CollectionID: coll, Properties: findProperties(e)})
		}
		if len(res.Result) > 0 {
			res.Range = "0-" + strconv.Itoa(len(res.Result)-1)
		}
	}
	return &reply{body: &FindResponse{Status: FindSuccess, Response: res}, easStatus: FindSuccess}, nil
}

func findProperties(e *Email) *FindProperties {
	p := &FindProperties{Subject: e.Subject, DateReceived: e.DateReceived, DisplayTo: e.DisplayTo,
		DisplayCc: e.Cc, DisplayBcc: e.Bcc, Importance: e.Importance, Read: e.Read, IsDraft: e.IsDraft, From: e.From}
	if p.Importance == nil {
		normal := 1
		p.Importance = &normal
	}
	has := e.Attachments != nil && len(e.Attachments.Attachment) > 0
	p.HasAttachments = &has
	if b := e.Body; b != nil {
		text := b.Preview
		if text == "" {
			text = b.Data
		}
		p.Preview = cutRunes(strings.Join(strings.Fields(text), " "), previewChars)
	}
	return p
}

// cutRunes keeps the first n characters of s, never splitting one.
func cutRunes(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
