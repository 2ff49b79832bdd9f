package eas

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"
)

// FolderCreate, FolderUpdate and FolderDelete change the hierarchy on the
// phone's behalf. Each needs the device's current FolderSync key, and each
// success issues a new one. The device's hierarchy state takes in exactly
// the phone's own change, so that its next FolderSync does not report the
// change back, while everything else that moved upstream meanwhile (and
// whatever the change did beyond what the phone knows, such as subfolders
// that got new ids) still reaches it. Other devices of the user learn of
// the change from their next FolderSync like of any upstream change.

// currentHierarchy returns the device's hierarchy state when key is its
// current FolderSync key, and nil otherwise (Status 9).
func (s *Server) currentHierarchy(ctx context.Context, r *request, key string) (*hierarchyState, error) {
	h, err := s.loadHierarchy(ctx, r)
	if err != nil {
		return nil, err
	}
	if h == nil || key == "" || key == "0" || key != h.Key {
		return nil, nil
	}
	return h, nil
}

// commitHierarchy stores folders as what the device holds and returns the
// new key. The previous generation stays answerable: a phone that lost
// this answer and runs FolderSync with its old key is told of its change.
func (s *Server) commitHierarchy(ctx context.Context, r *request, h *hierarchyState, folders []deviceFolder) (string, error) {
	h.PrevKey, h.PrevFolders = h.Key, h.Folders
	h.Folders = folders
	h.Counter++
	h.Key = syncKey(h.Lineage, h.Counter)
	if err := s.saveHierarchy(ctx, r, h); err != nil {
		return "", err
	}
	return h.Key, nil
}

// folderByID finds a folder of the user's map by its id.
func folderByID(m []mappedFolder, id string) (mappedFolder, bool) {
	for _, f := range m {
		if f.ID == id {
			return f, true
		}
	}
	return mappedFolder{}, false
}

// folderByPath finds a folder of the user's map by its backend path.
func folderByPath(m []mappedFolder, path string) (mappedFolder, bool) {
	for _, f := range m {
		if f.Path == path {
			return f, true
		}
	}
	return mappedFolder{}, false
}

// withFolder returns folders with f in place of the entry with f's id (or
// added when there is none).
func withFolder(folders []deviceFolder, f mappedFolder) []deviceFolder {
	d := deviceFolder{ID: f.ID, ParentID: f.ParentID, Name: f.Name, Type: f.Type}
	out := slices.Clone(folders)
	for i := range out {
		if out[i].ID == f.ID {
			out[i] = d
			return out
		}
	}
	return append(out, d)
}

// subtree returns the ids of folder id and of every folder below it in
// folders.
func subtree(folders []deviceFolder, id string) map[string]bool {
	in := map[string]bool{id: true}
	for grew := true; grew; {
		grew = false
		for _, f := range folders {
			if !in[f.ID] && in[f.ParentID] {
				in[f.ID] = true
				grew = true
			}
		}
	}
	return in
}

// mappedSubtree is subtree over the user's folder map.
func mappedSubtree(m []mappedFolder, id string) map[string]bool {
	fs := make([]deviceFolder, len(m))
	for i, f := range m {
		fs[i] = deviceFolder{ID: f.ID, ParentID: f.ParentID}
	}
	return subtree(fs, id)
}

// folderError maps a backend error of a folder operation to a status, or
// returns the error when it must end the request.
func folderError(r *request, op string, err error, notFound int) (int, error) {
	switch {
	case errors.Is(err, ErrExists):
		return FolderExists, nil
	case errors.Is(err, ErrNotFound):
		return notFound, nil
	case errors.Is(err, ErrInvalidName):
		return FolderMalformed, nil
	case fatal(err):
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	r.log.Error(op+" failed", zap.Error(err))
	return FolderServerError, nil
}
