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
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &FolderDeleteResponse{}
	answer := func(st int) (*reply, error) {
		resp.Status = st
		return &reply{body: resp, easStatus: st}, nil
	}
	h, err := s.currentHierarchy(ctx, r, req.SyncKey)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return answer(FolderInvalidSyncKey)
	}
	mapped, err := s.folderMap(ctx, r)
	if err != nil {
		return nil, err
	}
	f, ok := folderByID(mapped, req.ServerID)
	if !ok {
		return answer(FolderNotFound)
	}
	if f.Type.IsSpecial() || f.Type == FolderRecipients {
		return answer(FolderSpecial)
	}
	gone := mappedSubtree(mapped, f.ID)
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	if err := mb.DeleteFolder(ctx, f.Path); err != nil {
		st, err := folderError(r, "delete folder", err, FolderNotFound)
		if err != nil {
			return nil, err
		}
		return answer(st)
	}
	// Drop the folder from the map now, so that a folder made later at the
	// same path gets a new id.
	if _, err := s.folderMap(ctx, r); err != nil {
		return nil, err
	}
	// The phone drops the folder with everything below it, including
	// subfolders only it knows of.
	for id := range subtree(h.Folders, f.ID) {
		gone[id] = true
	}
	var keep []deviceFolder
	for _, d := range h.Folders {
		if !gone[d.ID] {
			keep = append(keep, d)
		}
	}
	for id := range gone {
		if err := s.store.DeleteCollectionState(ctx, r.user, r.q.DeviceID, id); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("forget state of deleted folder %s: %w", id, err)
		}
	}
	key, err := s.commitHierarchy(ctx, r, h, keep)
	if err != nil {
		return nil, err
	}
	resp.SyncKey = key
	return answer(FolderSuccess)
}
