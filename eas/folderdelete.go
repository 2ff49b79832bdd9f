package eas

import (
	"context"
	"errors"
	"fmt"

	"github.com/easgate/easgate/wbxml"
)

// FolderDeleteRequest is the FolderDelete command's request (MS-ASCMD
// 2.2.1.4). The folder goes with its subfolders and their mail.
type FolderDeleteRequest struct {
	XMLName  wbxml.Name `wbxml:"FolderHierarchy:FolderDelete"`
	SyncKey  string     `wbxml:"SyncKey"`
	ServerID string     `wbxml:"ServerId"`
}

// FolderDeleteResponse is the FolderDelete command's response.
type FolderDeleteResponse struct {
	XMLName wbxml.Name `wbxml:"FolderHierarchy:FolderDelete"`
	Status  int        `wbxml:"Status"`
	SyncKey string     `wbxml:"SyncKey,omitempty"`
}

func (s *Server) handleFolderDelete(ctx context.Context, r *request) (*reply, error) {
	var req FolderDeleteRequest
	c, err := s.beginFolderChange(ctx, r, &req)
	if err != nil {
		return nil, err
	}
	f, err := c.folder(req.ServerID)
	if err != nil {
		return nil, err
	}
	if f.Type.IsSpecial() || f.Type == FolderRecipients {
		return nil, statusError(FolderSpecial, fmt.Errorf("default folder %q cannot be deleted", f.Path))
	}
	gone := mappedSubtree(c.mapped, f.ID)
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	if err := mb.DeleteFolder(ctx, f.Path); err != nil {
		return nil, folderFailure(r, "delete folder", err, FolderNotFound)
	}
	// Drop the folder from the map now, so that a folder made later at the
	// same path gets a new id.
	if _, err := s.folderMap(ctx, r); err != nil {
		return nil, err
	}
	// The phone drops the folder with everything below it, including
	// subfolders only it knows of.
	for id := range subtree(c.h.Folders, f.ID) {
		gone[id] = true
	}
	var keep []deviceFolder
	for _, d := range c.h.Folders {
		if !gone[d.ID] {
			keep = append(keep, d)
		}
	}
	for id := range gone {
		if err := s.store.DeleteCollectionState(ctx, r.user, r.q.DeviceID, id); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("forget state of deleted folder %s: %w", id, err)
		}
	}
	key, err := c.commit(ctx, s, r, keep)
	if err != nil {
		return nil, err
	}
	resp := &FolderDeleteResponse{Status: FolderSuccess, SyncKey: key}
	return &reply{body: resp, easStatus: resp.Status}, nil
}
