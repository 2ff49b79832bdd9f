package eas

import (
	"context"
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
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &FolderCreateResponse{}
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
	name := req.DisplayName
	if strings.TrimSpace(name) == "" {
		return answer(FolderMalformed)
	}
	switch FolderType(req.Type) {
	case FolderGeneric, FolderUserMail:
	default:
		// Default folders cannot be created (MS-ASCMD says Status 10), and
		// a mail-only server has no calendar, contacts, tasks or notes.
		return answer(FolderMalformed)
	}
	mapped, err := s.folderMap(ctx, r)
	if err != nil {
		return nil, err
	}
	parent := ""
	if req.ParentID != "" && req.ParentID != "0" {
		p, ok := folderByID(mapped, req.ParentID)
		if !ok {
			return answer(FolderParentNotFound)
		}
		if p.Type == FolderRecipients {
			return answer(FolderSpecial)
		}
		parent = p.Path
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	f, err := mb.CreateFolder(ctx, parent, name)
	if err != nil {
		st, err := folderError(r, "create folder", err, FolderParentNotFound)
		if err != nil {
			return nil, err
		}
		return answer(st)
	}
	// The map hands out the id, so every device of the user sees this one.
	if mapped, err = s.folderMap(ctx, r); err != nil {
		return nil, err
	}
	nf, ok := folderByPath(mapped, f.Path)
	if !ok {
		return nil, fmt.Errorf("created folder %q is not listed", f.Path)
	}
	key, err := s.commitHierarchy(ctx, r, h, withFolder(h.Folders, nf))
	if err != nil {
		return nil, err
	}
	resp.SyncKey, resp.ServerID = key, nf.ID
	return answer(FolderSuccess)
}
