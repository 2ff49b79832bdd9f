package eas

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/easgate/easgate/wbxml"
)

// FolderCreateRequest is the FolderCreate command's request (MS-ASCMD
// 2.2.1.3). ParentId "0" is the top level.
type FolderCreateRequest struct {
	XMLName     wbxml.Name `wbxml:"FolderHierarchy:FolderCreate"`
	SyncKey     string     `wbxml:"SyncKey"`
	ParentID    string     `wbxml:"ParentId"`
	DisplayName string     `wbxml:"DisplayName"`
	Type        int        `wbxml:"Type"`
}

// FolderCreateResponse is the FolderCreate command's response.
type FolderCreateResponse struct {
	XMLName  wbxml.Name `wbxml:"FolderHierarchy:FolderCreate"`
	Status   int        `wbxml:"Status"`
	SyncKey  string     `wbxml:"SyncKey,omitempty"`
	ServerID string     `wbxml:"ServerId,omitempty"`
}

func (s *Server) handleFolderCreate(ctx context.Context, r *request) (*reply, error) {
	var req FolderCreateRequest
	c, err := s.beginFolderChange(ctx, r, &req)
	if err != nil {
		return nil, err
	}
	name := req.DisplayName
	if strings.TrimSpace(name) == "" {
		return nil, statusError(FolderMalformed, errors.New("no DisplayName"))
	}
	t := FolderType(req.Type)
	switch t {
	case FolderGeneric, FolderUserMail, FolderUserCalendar, FolderUserContacts, FolderUserTasks, FolderUserNotes:
	default:
		// Default folders cannot be created (MS-ASCMD says Status 10).
		return nil, statusError(FolderMalformed, fmt.Errorf("cannot create a folder of type %d", req.Type))
	}
	parent := ""
	if req.ParentID != "" && req.ParentID != "0" {
		p, err := c.parent(req.ParentID)
		if err != nil {
			return nil, err
		}
		parent = p.Path
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	f, err := createFolder(ctx, mb, parent, name, t)
	if err != nil {
		return nil, folderFailure(r, "create folder", err, FolderParentNotFound)
	}
	// The map hands out the id, so every device of the user sees this one.
	mapped, err := s.folderMap(ctx, r)
	if err != nil {
		return nil, err
	}
	nf, ok := folderByPath(mapped, f.Path)
	if !ok {
		return nil, fmt.Errorf("created folder %q is not listed", f.Path)
	}
	key, err := c.commit(ctx, s, r, withFolder(c.h.Folders, nf))
	if err != nil {
		return nil, err
	}
	resp := &FolderCreateResponse{Status: FolderSuccess, SyncKey: key, ServerID: nf.ID}
	return &reply{body: resp, easStatus: resp.Status}, nil
}

// createFolder makes a mail folder with the mail store's FolderEditor and
// one of another class with the store's FolderWriter.
func createFolder(ctx context.Context, mb Mailbox, parent, name string, t FolderType) (Folder, error) {
	if t.Class() == ClassEmail {
		return mb.CreateFolder(ctx, parent, name)
	}
	w, ok := mb.(FolderWriter)
	if !ok {
		return Folder{}, fmt.Errorf("no store keeps %s folders: %w", t.Class(), ErrFolderType)
	}
	return w.CreateTypedFolder(ctx, parent, name, t)
}
