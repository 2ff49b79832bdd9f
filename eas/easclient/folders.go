package easclient

import (
	"context"

	"github.com/easgate/easgate/eas"
)

// FolderCreate creates a folder named name of type typ under parentID ("0":
// the top level). key is the current FolderSync key.
func (c *Client) FolderCreate(ctx context.Context, key, parentID, name string, typ int) (*eas.FolderCreateResponse, error) {
	var resp eas.FolderCreateResponse
	_, err := c.Do(ctx, "FolderCreate", &eas.FolderCreateRequest{SyncKey: key, ParentID: parentID, DisplayName: name, Type: typ}, &resp)
	return &resp, err
}

// FolderUpdate renames folder serverID to name and/or moves it under
// parentID ("0": the top level).
func (c *Client) FolderUpdate(ctx context.Context, key, serverID, parentID, name string) (*eas.FolderUpdateResponse, error) {
	var resp eas.FolderUpdateResponse
	_, err := c.Do(ctx, "FolderUpdate", &eas.FolderUpdateRequest{SyncKey: key, ServerID: serverID, ParentID: parentID, DisplayName: name}, &resp)
	return &resp, err
}

// FolderDelete deletes folder serverID with its subfolders.
func (c *Client) FolderDelete(ctx context.Context, key, serverID string) (*eas.FolderDeleteResponse, error) {
	var resp eas.FolderDeleteResponse
	_, err := c.Do(ctx, "FolderDelete", &eas.FolderDeleteRequest{SyncKey: key, ServerID: serverID}, &resp)
	return &resp, err
}
