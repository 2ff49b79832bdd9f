package contacts

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

var _ eas.FolderWriter = (*Session)(nil)

// CreateTypedFolder makes an address book (type 14) named name, at a new
// path of the home set (RFC 5689 extended MKCOL). Address books do not
// nest: one the phone makes under a folder goes beside the others
// (Outlook makes its contacts folders under Contacts).
func (s *Session) CreateTypedFolder(ctx context.Context, parent, name string, t eas.FolderType) (eas.Folder, error) {
	if t != eas.FolderUserContacts {
		return eas.Folder{}, fmt.Errorf("a CardDAV store keeps no folders of type %d: %w", t, eas.ErrFolderType)
	}
	if strings.TrimSpace(name) == "" {
		return eas.Folder{}, eas.ErrInvalidName
	}
	p := path.Join(s.home, dav.NewUID()) + "/"
	if err := s.c.MakeCollection(ctx, dav.AddressBooks, p, name); err != nil {
		return eas.Folder{}, folderError(err)
	}
	return eas.Folder{Path: p, Name: name, Type: eas.FolderUserContacts}, nil
}

// RenameFolder sets the display name of an address book; its path, which
// other clients know it by, stays. Address books do not nest, so
// newParent must be "".
func (s *Session) RenameFolder(ctx context.Context, p, newParent, newName string) (eas.Folder, error) {
	if newParent != "" {
		return eas.Folder{}, fmt.Errorf("address books do not nest: %w", eas.ErrFolderType)
	}
	if strings.TrimSpace(newName) == "" {
		return eas.Folder{}, eas.ErrInvalidName
	}
	f, err := s.book(ctx, p)
	if err != nil {
		return eas.Folder{}, err
	}
	if err := s.c.Rename(ctx, p, newName); err != nil {
		return eas.Folder{}, folderError(err)
	}
	f.Name = newName
	return f, nil
}

// DeleteFolder deletes an address book with its contacts.
func (s *Session) DeleteFolder(ctx context.Context, p string) error {
	if _, err := s.book(ctx, p); err != nil {
		return err
	}
	return folderError(s.c.DeleteCollection(ctx, p))
}

// book is the address book at p, ErrNotFound when there is none.
func (s *Session) book(ctx context.Context, p string) (eas.Folder, error) {
	fs, err := s.Folders(ctx)
	if err != nil {
		return eas.Folder{}, err
	}
	for _, f := range fs {
		if f.Path == p {
			return f, nil
		}
	}
	return eas.Folder{}, fmt.Errorf("address book %q: %w", p, eas.ErrNotFound)
}

// folderError is easError for the writes of collections: a collection
// that exists already, or a name the server refuses. (A 409, a missing
// home set, is the ErrNotFound of a missing parent.)
func folderError(err error) error {
	switch {
	case dav.IsStatus(err, http.StatusMethodNotAllowed):
		// RFC 4918 9.3.1: MKCOL where a resource exists.
		return fmt.Errorf("%w: %v", eas.ErrExists, err)
	case dav.IsStatus(err, http.StatusForbidden, http.StatusUnprocessableEntity):
		return fmt.Errorf("%w: %v", eas.ErrInvalidName, err)
	case dav.IsStatus(err, http.StatusConflict):
		return fmt.Errorf("%w: %v", eas.ErrNotFound, err)
	}
	return dav.EASError(err)
}
