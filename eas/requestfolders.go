package eas

import (
	"context"
	"fmt"
)

// requestFolders caches what one request learns of the user's folders.
type requestFolders struct {
	r       *request
	folders []Folder
	loaded  bool
	trash   string
}

func newRequestFolders(r *request) *requestFolders {
	return &requestFolders{r: r}
}

func (f *requestFolders) load(ctx context.Context) error {
	if f.loaded {
		return nil
	}
	mb, err := f.r.mailbox(ctx)
	if err != nil {
		return err
	}
	fs, err := mb.Folders(ctx)
	if err != nil {
		return fmt.Errorf("list folders: %w", err)
	}
	f.folders, f.loaded = fs, true
	for _, x := range fs {
		if x.Type == FolderDeleted {
			f.trash = x.Path
			break
		}
	}
	return nil
}

// trashPath is the path of the Deleted Items folder, "" when there is none.
func (f *requestFolders) trashPath(ctx context.Context) (string, error) {
	if err := f.load(ctx); err != nil {
		return "", err
	}
	return f.trash, nil
}

// folderType is the type of the folder at path, ErrNotFound when there is
// none.
func (f *requestFolders) folderType(ctx context.Context, path string) (FolderType, error) {
	if err := f.load(ctx); err != nil {
		return 0, err
	}
	for _, x := range f.folders {
		if x.Path == path {
			return x.Type, nil
		}
	}
	return 0, fmt.Errorf("folder %q: %w", path, ErrNotFound)
}

// subtree returns path and every folder below it.
func (f *requestFolders) subtree(ctx context.Context, path string) ([]string, error) {
	if err := f.load(ctx); err != nil {
		return nil, err
	}
	children := map[string][]string{}
	for _, x := range f.folders {
		children[x.Parent] = append(children[x.Parent], x.Path)
	}
	out := []string{path}
	seen := map[string]bool{path: true}
	for i := 0; i < len(out); i++ {
		for _, c := range children[out[i]] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// collectionIDs maps backend paths to collection ids, assigning ids (as
// FolderSync would) to folders the stored map does not know yet.
type collectionIDs struct {
	s         *Server
	r         *request
	byPath    map[string]string
	byID      map[string]string
	refreshed bool
}

func (s *Server) newCollectionIDs(ctx context.Context, r *request) (*collectionIDs, error) {
	ids, err := s.store.FolderIDs(ctx, r.user)
	if err != nil {
		return nil, fmt.Errorf("read folder ids: %w", err)
	}
	c := &collectionIDs{s: s, r: r}
	c.fill(ids)
	return c, nil
}

func (c *collectionIDs) fill(ids []FolderID) {
	c.byPath, c.byID = map[string]string{}, map[string]string{}
	for _, f := range ids {
		c.byPath[f.Path] = f.ID
		c.byID[f.ID] = f.Path
	}
}

// path returns the backend path of a collection id or ErrNotFound.
func (c *collectionIDs) path(id string) (string, error) {
	if p, ok := c.byID[id]; ok {
		return p, nil
	}
	return "", ErrNotFound
}

// id returns the collection id of a backend path.
func (c *collectionIDs) id(ctx context.Context, path string) (string, error) {
	if id, ok := c.byPath[path]; ok {
		return id, nil
	}
	if c.refreshed {
		return "", ErrNotFound
	}
	c.refreshed = true
	mapped, err := c.s.folderMap(ctx, c.r)
	if err != nil {
		return "", err
	}
	c.byPath, c.byID = map[string]string{}, map[string]string{}
	for _, m := range mapped {
		c.byPath[m.Path] = m.ID
		c.byID[m.ID] = m.Path
	}
	if id, ok := c.byPath[path]; ok {
		return id, nil
	}
	return "", ErrNotFound
}
