package eas

import (
	"context"
	"fmt"
	"strings"

	"github.com/easgate/easgate/wbxml"
)

// FolderUpdateRequest is the FolderUpdate command's request (MS-ASCMD
// 2.2.1.6): rename ServerId to DisplayName and/or move it under ParentId
// ("0" is the top level).
type FolderUpdateRequest struct {
	XMLName     wbxml.Name `wbxml:"FolderHierarchy:FolderUpdate"`
	SyncKey     string     `wbxml:"SyncKey"`
	ServerID    string     `wbxml:"ServerId"`
	ParentID    string     `wbxml:"ParentId"`
	DisplayName string     `wbxml:"DisplayName"`
}

// FolderUpdateResponse is the FolderUpdate command's response.
type FolderUpdateResponse struct {
	XMLName wbxml.Name `wbxml:"FolderHierarchy:FolderUpdate"`
	Status  int        `wbxml:"Status"`
	SyncKey string     `wbxml:"SyncKey,omitempty"`
}

func (s *Server) handleFolderUpdate(ctx context.Context, r *request) (*reply, error) {
	var req FolderUpdateRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &FolderUpdateResponse{}
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
	switch {
	case f.Type == FolderRecipients:
		return answer(FolderSpecial)
	case f.Type.IsSpecial():
		// MS-ASCMD's FolderUpdate has no status of its own for a default
		// folder; Status 2 covers "exists or is a special folder".
		return answer(FolderExists)
	}
	// Both elements are required; a phone that leaves one out keeps what
	// the folder has.
	parent, parentID := f.Parent, f.ParentID
	switch req.ParentID {
	case "":
	case "0":
		parent, parentID = "", "0"
	default:
		p, ok := folderByID(mapped, req.ParentID)
		if !ok {
			return answer(FolderParentNotFound)
		}
		if mappedSubtree(mapped, f.ID)[p.ID] {
			// A folder cannot move into itself.
			return answer(FolderMalformed)
		}
		if p.Type == FolderRecipients {
			return answer(FolderSpecial)
		}
		parent, parentID = p.Path, p.ID
	}
	name := f.Name
	if strings.TrimSpace(req.DisplayName) != "" {
		name = req.DisplayName
	}
	if name == f.Name && parentID == f.ParentID {
		key, err := s.commitHierarchy(ctx, r, h, withFolder(h.Folders, f))
		if err != nil {
			return nil, err
		}
		resp.SyncKey = key
		return answer(FolderSuccess)
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	nf, err := mb.RenameFolder(ctx, f.Path, parent, name)
	if err != nil {
		st, err := folderError(r, "rename folder", err, FolderNotFound)
		if err != nil {
			return nil, err
		}
		return answer(st)
	}
	// The folder keeps its id. Its stamp would tell the map so as well,
	// but not every server keeps one across a rename.
	if err := s.moveFolderID(ctx, r.user, f.ID, nf); err != nil {
		return nil, err
	}
	if mapped, err = s.folderMap(ctx, r); err != nil {
		return nil, err
	}
	moved, ok := folderByID(mapped, f.ID)
	if !ok {
		return nil, fmt.Errorf("renamed folder %q is not listed", nf.Path)
	}
	key, err := s.commitHierarchy(ctx, r, h, withFolder(h.Folders, moved))
	if err != nil {
		return nil, err
	}
	resp.SyncKey = key
	return answer(FolderSuccess)
}

// moveFolderID points folder id at its new path in the user's map.
func (s *Server) moveFolderID(ctx context.Context, user, id string, f Folder) error {
	unlock := s.users.lock(user)
	defer unlock()
	ids, err := s.store.FolderIDs(ctx, user)
	if err != nil {
		return fmt.Errorf("read folder ids: %w", err)
	}
	out := ids[:0:0]
	for _, e := range ids {
		switch {
		case e.ID == id:
			e.Path, e.Stamp = f.Path, f.Stamp
		case e.Path == f.Path:
			// A stale entry for a folder once at this path.
			continue
		}
		out = append(out, e)
	}
	if err := s.store.SaveFolderIDs(ctx, user, out); err != nil {
		return fmt.Errorf("save folder ids: %w", err)
	}
	return nil
}
