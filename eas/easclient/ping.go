package easclient

import (
	"context"
	"errors"

	"github.com/easgate/easgate/eas"
)

// Ping sends a Ping and waits for its answer, which may take up to the
// heartbeat. A nil req sends an empty body: the parameters of the previous
// Ping again.
func (c *Client) Ping(ctx context.Context, req *eas.PingRequest) (*eas.PingResponse, error) {
	var body any
	if req != nil {
		body = req
	}
	var resp eas.PingResponse
	res, err := c.Do(ctx, "Ping", body, &resp)
	if err != nil {
		return nil, err
	}
	if len(res.Body) == 0 {
		return nil, errors.New("ping: empty response")
	}
	return &resp, nil
}

// PingFolders is a Ping of the given Email folders with a heartbeat in
// seconds (0 leaves it out).
func (c *Client) PingFolders(ctx context.Context, heartbeat int, folderIDs ...string) (*eas.PingResponse, error) {
	req := &eas.PingRequest{}
	if heartbeat > 0 {
		req.HeartbeatInterval = &heartbeat
	}
	for _, id := range folderIDs {
		req.Folders = append(req.Folders, eas.PingFolder{ID: id, Class: "Email"})
	}
	return c.Ping(ctx, req)
}
