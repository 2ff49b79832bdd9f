package eas

import (
	"context"
	"errors"
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
	c, err := s.beginFolderChange(ctx, r, &req)
	if err != nil {
		return nil, err
	}
	f, err := c.folder(req.ServerID)
	if err != nil {
		return nil, err
	}
	switch {
	case f.Type == FolderRecipients:
		return nil, statusError(FolderSpecial, errors.New("the recipient cache cannot change"))
	case f.Type.IsSpecial():
		// MS-ASCMD's FolderUpdate has no status of its own for a default
		// folder; Status 2 covers "exists or is a special folder".
		return nil, statusError(FolderExists, fmt.Errorf("default folder %q cannot change", f.Path))
	}
	// Both elements are required; a phone that leaves one out keeps what
	// the folder has.
	parent, parentID := f.Parent, f.ParentID
	switch req.ParentID {
	case "":
	case "0":
		parent, parentID = "", "0"
	default:
		if mappedSubtree(c.mapped, f.ID)[req.ParentID] {
			// A folder cannot move into itself.
			return nil, statusError(FolderMalformed, errors.New("a folder cannot move into itself"))
		}
		p, err := c.parent(req.ParentID)
		if err != nil {
			return nil, err
		}
		parent, parentID = p.Path, p.ID
	}
	name := f.Name
	if strings.TrimSpace(req.DisplayName) != "" {
		name = req.DisplayName
	}
	moved := f
	if name != f.Name || parentID != f.ParentID {
		if moved, err = s.renameFolder(ctx, r, f, parent, name); err != nil {
			return nil, err
		}
	}
	key, err := c.commit(ctx, s, r, withFolder(c.h.Folders, moved))
	if err != nil {
		return nil, err
	}
	resp := &FolderUpdateResponse{Status: FolderSuccess, SyncKey: key}
	return &reply{body: resp, easStatus: resp.Status}, nil
}

// renameFolder renames or moves f upstream and returns it as the map now
// has it, under its old id.
func (s *Server) renameFolder(ctx context.Context, r *request, f mappedFolder, parent, name string) (mappedFolder, error) {
	mb, err := r.mailbox(ctx)
	if err != nil {
		return f, err
	}
	nf, err := mb.RenameFolder(ctx, f.Path, parent, name)
	if err != nil {
		return f, folderFailure(r, "rename folder", err, FolderNotFound)
	}
	// The folder keeps its id. Its stamp would tell the map so as well,
	// but not every server keeps one across a rename.
	if err := s.moveFolderID(ctx, r.user, f.ID, nf); err != nil {
		return f, err
	}
	mapped, err := s.folderMap(ctx, r)
	if err != nil {
		return f, err
	}
	moved, ok := folderByID(mapped, f.ID)
	if !ok {
		return f, fmt.Errorf("renamed folder %q is not listed", nf.Path)
	}
	return moved, nil
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
