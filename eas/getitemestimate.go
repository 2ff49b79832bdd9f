package eas

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// GetItemEstimateRequest is the GetItemEstimate command's request (MS-ASCMD
// 2.2.1.9).
type GetItemEstimateRequest struct {
	XMLName     wbxml.Name                  `wbxml:"GetItemEstimate:GetItemEstimate"`
	Collections []GetItemEstimateCollection `wbxml:"Collections>Collection"`
}

// GetItemEstimateCollection is one collection of a request. 14.0 and later
// put FilterType and Class in airsync:Options; 12.1 puts Class, FilterType
// and SyncKey directly in the collection. Both forms are read.
type GetItemEstimateCollection struct {
	SyncKey          string        `wbxml:"AirSync:SyncKey"`
	Class            string        `wbxml:"Class,omitempty"`
	CollectionID     string        `wbxml:"CollectionId"`
	FilterType       *int          `wbxml:"AirSync:FilterType,omitempty"`
	ConversationMode *bool         `wbxml:"AirSync:ConversationMode,omitempty"`
	Options          []SyncOptions `wbxml:"AirSync:Options"`
}

// GetItemEstimateResponse is the GetItemEstimate command's response.
type GetItemEstimateResponse struct {
	XMLName  wbxml.Name              `wbxml:"GetItemEstimate:GetItemEstimate"`
	Status   int                     `wbxml:"Status,omitempty"`
	Response []GetItemEstimateResult `wbxml:"Response"`
}

// GetItemEstimateResult is the estimate of one collection.
type GetItemEstimateResult struct {
	Status     int                              `wbxml:"Status"`
	Collection *GetItemEstimateCollectionResult `wbxml:"Collection,omitempty"`
}

// GetItemEstimateCollectionResult names the collection and its estimate.
type GetItemEstimateCollectionResult struct {
	Class        string `wbxml:"Class,omitempty"`
	CollectionID string `wbxml:"CollectionId"`
	Estimate     *int   `wbxml:"Estimate,omitempty"`
}

func (s *Server) handleGetItemEstimate(ctx context.Context, r *request) (*reply, error) {
	var req GetItemEstimateRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	if err := r.limit(len(req.Collections), s.cfg.Limits.Collections, "collections", StatusTooManyFolders); err != nil {
		return nil, err
	}
	resp := &GetItemEstimateResponse{}
	if len(req.Collections) == 0 {
		resp.Response = []GetItemEstimateResult{{Status: EstimateInvalidCollection}}
		return &reply{body: resp, easStatus: EstimateInvalidCollection}, nil
	}
	for i := range req.Collections {
		res, err := s.estimate(ctx, r, &req.Collections[i])
		if err != nil {
			return nil, err
		}
		resp.Response = append(resp.Response, res)
	}
	return &reply{body: resp, easStatus: resp.Response[0].Status}, nil
}

func (s *Server) estimate(ctx context.Context, r *request, c *GetItemEstimateCollection) (GetItemEstimateResult, error) {
	res := GetItemEstimateResult{Status: EstimateSuccess,
		Collection: &GetItemEstimateCollectionResult{CollectionID: c.CollectionID}}
	if !r.version().AtLeast(V140) {
		res.Collection.Class = c.Class
	}
	asked, ok := estimateClass(c)
	if !ok {
		res.Status = EstimateInvalidCollection
		return res, nil
	}
	path, err := s.folderPath(ctx, r, c.CollectionID)
	if errors.Is(err, ErrNotFound) {
		res.Status = EstimateInvalidCollection
		return res, nil
	}
	if err != nil {
		return res, err
	}
	st, err := s.loadCollection(ctx, r.user, r.q.DeviceID, c.CollectionID)
	if err != nil {
		return res, err
	}
	switch {
	case st == nil || c.SyncKey == "0" || c.SyncKey == "":
		res.Status = EstimateNotPrimed
		return res, nil
	case c.SyncKey == st.Meta.Key:
	case st.Meta.PrevKey != "" && c.SyncKey == st.Meta.PrevKey:
		// The phone missed our last Sync answer; it will repeat that key.
		st.rewind()
	default:
		res.Status = EstimateInvalidSyncKey
		return res, nil
	}
	class := st.Meta.Class
	if class == "" {
		class = ClassEmail
	}
	if asked != "" && asked != class {
		res.Status = EstimateInvalidCollection
		return res, nil
	}
	opts := classOptions(c.Options, class)
	o := st.Meta.Options
	switch {
	case opts != nil && opts.FilterType != nil:
		o.FilterType = *opts.FilterType
	case c.FilterType != nil:
		o.FilterType = *c.FilterType
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return res, err
	}
	n, err := mb.Pending(ctx, SyncQuery{
		Path:   path,
		Cursor: st.Meta.Cursor,
		Known:  st.Items(),
		Since:  o.since(s.cfg.Now()),
		Body:   o.Body,

		IncompleteOnly: o.incompleteOnly(),
	})
	switch {
	case err == nil:
	case errors.Is(err, ErrStateInvalid):
		// The next Sync tells the phone to start over; until then its key
		// is worth nothing.
		res.Status = EstimateInvalidSyncKey
		return res, nil
	case errors.Is(err, ErrNotFound):
		res.Status = EstimateInvalidCollection
		return res, nil
	case fatal(err):
		return res, fmt.Errorf("estimate %q: %w", path, err)
	default:
		r.log.Error("estimate failed", zap.String("collection", c.CollectionID), zap.Error(err))
		return res, fmt.Errorf("estimate %q: %w", path, err)
	}
	res.Collection.Estimate = &n
	return res, nil
}

// estimateClass is the class a GetItemEstimate names for a collection, in
// its Class or (14.0+) in its Options; "" when it names none, false for a
// class easgate does not serve.
func estimateClass(c *GetItemEstimateCollection) (Class, bool) {
	name := c.Class
	for _, o := range c.Options {
		if o.Class != "" {
			name = o.Class
			break
		}
	}
	if name == "" {
		return "", true
	}
	return parseClass(name)
}
