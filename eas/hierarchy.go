package eas

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// mappedFolder is a backend folder with its EAS ids.
type mappedFolder struct {
	Folder
	ID       string
	ParentID string
}

// folderMap lists the user's folders and gives each a stable EAS ServerId.
//
// Ids live in the store per user, not per device, so every phone of the
// user and every FolderSync with SyncKey 0 sees the same ids, and no phone
// downloads a folder again because its id moved. A folder renamed upstream
// keeps its id: it is recognised by its Stamp (IMAP UIDVALIDITY survives a
// rename).
func (s *Server) folderMap(ctx context.Context, r *request) ([]mappedFolder, error) {
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	folders, err := mb.Folders(ctx)
	var down *FoldersIncompleteError
	if err != nil && !errors.As(err, &down) {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	unlock := s.users.lock(r.user)
	defer unlock()
	ids, err := s.store.FolderIDs(ctx, r.user)
	if err != nil {
		return nil, fmt.Errorf("read folder ids: %w", err)
	}
	mapped, newIDs, changed, err := s.reconcileFolders(ctx, r.user, folders, ids, down)
	if err != nil {
		return nil, err
	}
	if down != nil {
		known, err := s.knownFolders(ctx, r, newIDs, down)
		if err != nil {
			return nil, err
		}
		mapped = append(mapped, known...)
	}
	if changed {
		if err := s.store.SaveFolderIDs(ctx, r.user, newIDs); err != nil {
			return nil, fmt.Errorf("save folder ids: %w", err)
		}
	}
	r.folderIDs = newIDs
	return mapped, nil
}

// reconcileFolders matches the upstream folders to the stored ids: by path
// first, then a folder whose path vanished and whose stamp reappears under
// a new path is the same folder renamed; anything else gets a new id.
//
// The ids of folders down lacks stay as they are.
func (s *Server) reconcileFolders(ctx context.Context, user string, folders []Folder, ids []FolderID, down *FoldersIncompleteError) ([]mappedFolder, []FolderID, bool, error) {
	byPath := map[string]FolderID{}
	for _, id := range ids {
		byPath[id.Path] = id
	}
	present := map[string]bool{}
	for _, f := range folders {
		present[f.Path] = true
	}
	// Stamps of stored folders whose path is gone: rename candidates.
	vanished := map[string]FolderID{}
	var out []FolderID
	for _, id := range ids {
		switch {
		case down.lacks(id.Path):
			out = append(out, id)
		case !present[id.Path] && id.Stamp != "":
			vanished[id.Stamp] = id
		}
	}
	changed := false
	idOf := map[string]string{}
	for _, f := range folders {
		id, ok := byPath[f.Path]
		switch {
		case ok:
			if id.Stamp != f.Stamp {
				id.Stamp = f.Stamp
				changed = true
			}
		case f.Stamp != "" && vanished[f.Stamp].ID != "":
			id = vanished[f.Stamp]
			delete(vanished, f.Stamp)
			id.Path = f.Path
			changed = true
		default:
			n, err := s.store.NextFolderID(ctx, user)
			if err != nil {
				return nil, nil, false, fmt.Errorf("new folder id: %w", err)
			}
			id = FolderID{ID: n, Path: f.Path, Stamp: f.Stamp}
			changed = true
		}
		idOf[f.Path] = id.ID
		out = append(out, id)
	}
	if len(out) != len(ids) {
		changed = true
	}
	mapped := make([]mappedFolder, 0, len(folders))
	for _, f := range folders {
		m := mappedFolder{Folder: f, ID: idOf[f.Path], ParentID: "0"}
		if f.Parent != "" {
			if pid, ok := idOf[f.Parent]; ok {
				m.ParentID = pid
			}
		}
		mapped = append(mapped, m)
	}
	return mapped, out, changed, nil
}

// knownFolders are the folders down lacks as the device knows them, so
// that their upstream being down deletes nothing on the phone. A device
// that never listed them does not see them until the upstream is back.
func (s *Server) knownFolders(ctx context.Context, r *request, ids []FolderID, down *FoldersIncompleteError) ([]mappedFolder, error) {
	h, err := s.loadHierarchy(ctx, r)
	if err != nil || h == nil {
		return nil, err
	}
	pathOf, stampOf := map[string]string{}, map[string]string{}
	for _, id := range ids {
		pathOf[id.ID], stampOf[id.ID] = id.Path, id.Stamp
	}
	var out []mappedFolder
	for _, f := range h.Folders {
		p, ok := pathOf[f.ID]
		if !ok || !down.lacks(p) {
			continue
		}
		out = append(out, mappedFolder{ID: f.ID, ParentID: f.ParentID,
			Folder: Folder{Path: p, Parent: pathOf[f.ParentID], Name: f.Name, Type: f.Type, Stamp: stampOf[f.ID]}})
	}
	return out, nil
}

// folderIDs returns the user's folder id map, read from the store once per
// request.
func (s *Server) folderIDs(ctx context.Context, r *request) ([]FolderID, error) {
	if r.folderIDs == nil {
		ids, err := s.store.FolderIDs(ctx, r.user)
		if err != nil {
			return nil, fmt.Errorf("read folder ids: %w", err)
		}
		if ids == nil {
			ids = []FolderID{}
		}
		r.folderIDs = ids
	}
	return r.folderIDs, nil
}

// folderPath returns the backend path of a collection id from the stored
// map (no upstream round trip), or ErrNotFound.
func (s *Server) folderPath(ctx context.Context, r *request, id string) (string, error) {
	ids, err := s.folderIDs(ctx, r)
	if err != nil {
		return "", err
	}
	for _, f := range ids {
		if f.ID == id {
			return f.Path, nil
		}
	}
	return "", ErrNotFound
}

// hierarchyState is what a device holds of the folder hierarchy after a
// FolderSync key, and the generation before it (for a repeated key).
type hierarchyState struct {
	Key         string         `json:"key"`
	Folders     []deviceFolder `json:"folders"`
	PrevKey     string         `json:"prevKey,omitempty"`
	PrevFolders []deviceFolder `json:"prevFolders,omitempty"`
	// Counter numbers the keys; Lineage keeps a key of an earlier state
	// (before a reset) from matching a new one.
	Counter int    `json:"n"`
	Lineage string `json:"lineage"`
}

// deviceFolder is one folder as the device knows it.
type deviceFolder struct {
	ID       string     `json:"id"`
	ParentID string     `json:"parent"`
	Name     string     `json:"name"`
	Type     FolderType `json:"type"`
}

const stateHierarchy = "hierarchy"

// loadHierarchy returns the device's hierarchy state; a corrupt one is one
// the phone must rebuild, not a failure.
func (s *Server) loadHierarchy(ctx context.Context, r *request) (*hierarchyState, error) {
	return loadDeviceState[hierarchyState](ctx, s, r, stateHierarchy, "hierarchy state")
}

func (s *Server) saveHierarchy(ctx context.Context, r *request, h *hierarchyState) error {
	return s.saveDeviceState(ctx, r, stateHierarchy, "hierarchy state", h)
}

// hierarchyDiff computes what turns have into want.
func hierarchyDiff(have, want []deviceFolder) (adds, updates, deletes []deviceFolder) {
	old := map[string]deviceFolder{}
	for _, f := range have {
		old[f.ID] = f
	}
	seen := map[string]bool{}
	for _, f := range want {
		seen[f.ID] = true
		o, ok := old[f.ID]
		switch {
		case !ok:
			adds = append(adds, f)
		case o != f:
			updates = append(updates, f)
		}
	}
	for _, f := range have {
		if !seen[f.ID] {
			deletes = append(deletes, f)
		}
	}
	// Parents before children, so a phone never sees an unknown ParentId.
	sortByDepth(adds, want)
	return adds, updates, deletes
}

func sortByDepth(fs []deviceFolder, all []deviceFolder) {
	parent := map[string]string{}
	for _, f := range all {
		parent[f.ID] = f.ParentID
	}
	depth := func(id string) int {
		d := 0
		for p := parent[id]; p != "" && p != "0" && d < 64; p = parent[p] {
			d++
		}
		return d
	}
	sort.SliceStable(fs, func(i, j int) bool { return depth(fs[i].ID) < depth(fs[j].ID) })
}

func deviceFolders(m []mappedFolder) []deviceFolder {
	out := make([]deviceFolder, 0, len(m))
	for _, f := range m {
		out = append(out, deviceFolder{ID: f.ID, ParentID: f.ParentID, Name: f.Name, Type: f.Type})
	}
	return out
}
