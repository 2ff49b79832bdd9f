package easclient

import (
	"context"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

// ResolveRecipients sends a ResolveRecipients request.
func (c *Client) ResolveRecipients(ctx context.Context, req *eas.ResolveRecipientsRequest) (*eas.ResolveRecipientsResponse, error) {
	var resp eas.ResolveRecipientsResponse
	_, err := c.Do(ctx, "ResolveRecipients", req, &resp)
	return &resp, err
}

// SearchGAL searches the GAL store for query; rng "" asks for the default
// range, opts may be nil.
func (c *Client) SearchGAL(ctx context.Context, query, rng string, opts *eas.SearchOptions) (*eas.SearchResponse, error) {
	if rng != "" {
		if opts == nil {
			opts = &eas.SearchOptions{}
		}
		opts.Range = rng
	}
	q := (&wbxml.Element{Tag: wbxml.MustLookup("Search", "Query")}).SetText(query)
	return c.Search(ctx, &eas.SearchRequest{Store: eas.SearchStore{Name: "GAL", Query: q, Options: opts}})
}
