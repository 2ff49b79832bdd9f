package eas

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// FindGALCriterion is a Find of the GAL (16.1): the same address books
// as Search's GAL store.
type FindGALCriterion struct {
	Query   FindQuery       `wbxml:"Query"`
	Options *FindGALOptions `wbxml:"Options,omitempty"`
}

// FindGALOptions are a GAL Find's options; Range must start at 0.
type FindGALOptions struct {
	Range   string          `wbxml:"Range,omitempty"`
	Picture *PictureOptions `wbxml:"Picture,omitempty"`
}

// FindGALResponse is the answer to a GAL Find.
type FindGALResponse struct {
	XMLName  wbxml.Name      `wbxml:"Find:Find"`
	Status   int             `wbxml:"Status"`
	Response *FindGALResults `wbxml:"Response,omitempty"`
}

// FindGALResults are the people found.
type FindGALResults struct {
	Store  string          `wbxml:"ItemOperations:Store"`
	Status int             `wbxml:"Status"`
	Result []FindGALResult `wbxml:"Result"`
	Range  string          `wbxml:"Range,omitempty"`
	Total  *int            `wbxml:"Total,omitempty"`
}

// FindGALResult is one person, with the GAL fields of Search.
type FindGALResult struct {
	Properties *GALProperties `wbxml:"Properties"`
}

var tagFindGALCriterion = wbxml.MustLookup("Find", "GalSearchCriterion")

// findGAL answers a Find whose criterion is crit, a GalSearchCriterion.
func (s *Server) findGAL(ctx context.Context, r *request, crit *wbxml.Element) (*reply, error) {
	status := func(st int) (*reply, error) {
		return &reply{body: &FindGALResponse{Status: st}, easStatus: st}, nil
	}
	var c FindGALCriterion
	if err := decodeElement(&wbxml.Element{Tag: tagFindGALCriterion, Children: crit.Children}, &c); err != nil {
		return status(FindInvalidRequest)
	}
	query := strings.TrimSpace(c.Query.FreeText)
	hi := maxGALResults - 1
	var pics *pictureBudget
	if o := c.Options; o != nil {
		if o.Range != "" {
			lo, h, ok := parseRange(o.Range)
			if !ok {
				return status(FindInvalidRequest)
			}
			if lo != 0 {
				return status(FindBadRange)
			}
			hi = min(h, hi)
		}
		if o.Picture != nil {
			pics = &pictureBudget{opts: *o.Picture}
		}
	}
	if query == "" {
		return status(FindInvalidRequest)
	}
	found, err := r.lookup(ctx, query)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) || ctx.Err() != nil {
			return nil, err
		}
		r.log.Warn("GAL find failed", zap.Error(err))
		return status(StatusServerError)
	}
	found = matching(query, found)
	total := len(found)
	res := &FindGALResults{Store: "GAL", Status: FindSuccess, Total: &total}
	for i := 0; i < total && i <= hi; i++ {
		res.Result = append(res.Result, FindGALResult{Properties: galProperties(&found[i], query, pics)})
	}
	if len(res.Result) > 0 {
		res.Range = "0-" + strconv.Itoa(len(res.Result)-1)
	}
	return &reply{body: &FindGALResponse{Status: FindSuccess, Response: res}, easStatus: FindSuccess}, nil
}
