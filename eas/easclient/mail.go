package easclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

// Sync sends a Sync request. A nil response with a nil error means the
// server answered with an empty body (a hanging Sync that ended without
// changes, or nothing to report).
func (c *Client) Sync(ctx context.Context, req *eas.SyncRequest) (*eas.SyncResponse, error) {
	var resp eas.SyncResponse
	var body any
	if req != nil {
		body = req
	}
	res, err := c.Do(ctx, "Sync", body, &resp)
	if err != nil {
		return nil, err
	}
	if len(res.Body) == 0 {
		return nil, nil
	}
	return &resp, nil
}

// SyncEmpty sends a Sync with an empty body: the previous request again.
func (c *Client) SyncEmpty(ctx context.Context) (*eas.SyncResponse, error) {
	return c.Sync(ctx, nil)
}

// SyncResult is what SyncAll gathered.
type SyncResult struct {
	// Key is the collection's key after the last round.
	Key string
	// Commands are the server's changes of every round.
	Commands eas.SyncServerCommands
	// Rounds is the number of requests it took.
	Rounds int
}

// SyncAll syncs one collection from key until the server has nothing more
// (no MoreAvailable), window changes at a time, and gathers the changes.
// With key "0" it first gets a key. options (nil: none) go with every round.
func (c *Client) SyncAll(ctx context.Context, collectionID, key string, window int, options *eas.SyncOptions) (*SyncResult, error) {
	out := &SyncResult{Key: key}
	for {
		coll := eas.SyncCollection{SyncKey: out.Key, CollectionID: collectionID}
		if window > 0 {
			coll.WindowSize = &window
		}
		if options != nil {
			coll.Options = []eas.SyncOptions{*options}
		}
		resp, err := c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{coll}})
		if err != nil {
			return out, err
		}
		out.Rounds++
		if resp == nil {
			return out, nil
		}
		col, err := resp.Collection(collectionID)
		if err != nil {
			return out, err
		}
		if col.Status != eas.SyncSuccess {
			return out, &SyncStatusError{CollectionID: collectionID, Status: col.Status}
		}
		was := out.Key
		out.Key = col.SyncKey
		if cmds := col.Commands; cmds != nil {
			out.Commands.Add = append(out.Commands.Add, cmds.Add...)
			out.Commands.Change = append(out.Commands.Change, cmds.Change...)
			out.Commands.Delete = append(out.Commands.Delete, cmds.Delete...)
			out.Commands.SoftDelete = append(out.Commands.SoftDelete, cmds.SoftDelete...)
		}
		if was != "0" && !col.MoreAvailable {
			return out, nil
		}
	}
}

// SyncStatusError is a collection Status other than 1.
type SyncStatusError struct {
	CollectionID string
	Status       int
}

func (e *SyncStatusError) Error() string {
	return fmt.Sprintf("sync of collection %s: status %d", e.CollectionID, e.Status)
}

// GetItemEstimate asks how many changes wait in the given collections.
func (c *Client) GetItemEstimate(ctx context.Context, req *eas.GetItemEstimateRequest) (*eas.GetItemEstimateResponse, error) {
	var resp eas.GetItemEstimateResponse
	_, err := c.Do(ctx, "GetItemEstimate", req, &resp)
	return &resp, err
}

// ItemOperationsResult is an ItemOperations answer; Parts holds the binary
// parts of a multipart answer (Parts[i] is what Part i names; Parts[0] is
// the WBXML document).
type ItemOperationsResult struct {
	*eas.ItemOperationsResponse
	Parts [][]byte
}

// ItemOperations sends an ItemOperations request, asking for a multipart
// answer when multipart is true.
func (c *Client) ItemOperations(ctx context.Context, req *eas.ItemOperationsRequest, multipart bool) (*ItemOperationsResult, error) {
	res, err := c.DoParams(ctx, "ItemOperations", req, nil, Params{AcceptMultiPart: multipart})
	if err != nil {
		return nil, err
	}
	out := &ItemOperationsResult{ItemOperationsResponse: &eas.ItemOperationsResponse{}}
	doc := res.Body
	if strings.HasPrefix(res.Header.Get("Content-Type"), eas.MultipartContentType) {
		parts, err := eas.ParseMultipart(res.Body)
		if err != nil {
			return nil, err
		}
		out.Parts, doc = parts, parts[0]
	}
	if err := wbxml.Unmarshal(doc, out.ItemOperationsResponse); err != nil {
		return nil, fmt.Errorf("decode ItemOperations response: %w", err)
	}
	return out, nil
}

// MoveItems moves items between folders.
func (c *Client) MoveItems(ctx context.Context, moves ...eas.MoveItem) (*eas.MoveItemsResponse, error) {
	var resp eas.MoveItemsResponse
	_, err := c.Do(ctx, "MoveItems", &eas.MoveItemsRequest{Move: moves}, &resp)
	return &resp, err
}

// Search sends a Search request.
func (c *Client) Search(ctx context.Context, req *eas.SearchRequest) (*eas.SearchResponse, error) {
	var resp eas.SearchResponse
	_, err := c.Do(ctx, "Search", req, &resp)
	return &resp, err
}

// Find sends a Find request (16.1).
func (c *Client) Find(ctx context.Context, req *eas.FindRequest) (*eas.FindResponse, error) {
	var resp eas.FindResponse
	_, err := c.Do(ctx, "Find", req, &resp)
	return &resp, err
}

// GetAttachment downloads an attachment the 12.1 way and returns its bytes
// and content type.
func (c *Client) GetAttachment(ctx context.Context, name string) ([]byte, string, error) {
	if name == "" {
		return nil, "", errors.New("GetAttachment: empty attachment name")
	}
	res, err := c.Raw(ctx, "GetAttachment", nil, Params{AttachmentName: name})
	if err != nil {
		return nil, "", err
	}
	return res.Body, res.Header.Get("Content-Type"), nil
}
