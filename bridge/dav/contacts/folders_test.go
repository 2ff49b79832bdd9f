package contacts

import (
	"context"
	"errors"
	"testing"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// TestFolderWriter: a phone's FolderCreate, FolderUpdate and FolderDelete
// of a contacts folder make, rename and delete an address book that other
// CardDAV clients see.
func TestFolderWriter(t *testing.T) {
	srv := start(t)
	if err := srv.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	put(t, srv, book+"apple-1.vcf", []byte(appleCard))
	se := open(t, srv, dav.Config{})
	ctx := context.Background()
	names := func() map[string]eas.Folder {
		t.Helper()
		fs, err := se.Folders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]eas.Folder{}
		for _, f := range fs {
			out[f.Name] = f
		}
		return out
	}

	f, err := se.CreateTypedFolder(ctx, "", "Club", eas.FolderUserContacts)
	if err != nil {
		t.Fatal(err)
	}
	if got := names()["Club"]; got.Path != f.Path || got.Type != eas.FolderUserContacts {
		t.Fatalf("made %+v, listed %+v", f, names())
	}
	// Address books do not nest: one made under the default goes beside it.
	g, err := se.CreateTypedFolder(ctx, book, "Family", eas.FolderUserContacts)
	if err != nil || names()["Family"].Path != g.Path {
		t.Fatalf("made under a book: %+v %v, listed %+v", g, err, names())
	}

	r, err := se.RenameFolder(ctx, f.Path, "", "Chess club")
	if err != nil || r.Path != f.Path || r.Name != "Chess club" {
		t.Fatalf("rename: %+v %v", r, err)
	}
	if got := names()["Chess club"]; got.Path != f.Path {
		t.Fatalf("after the rename: %+v", names())
	}

	if err := se.DeleteFolder(ctx, f.Path); err != nil {
		t.Fatal(err)
	}
	if _, ok := names()["Chess club"]; ok {
		t.Fatalf("deleted book still listed: %+v", names())
	}
	if def := names()["Contacts"]; def.Path != book || def.Type != eas.FolderContacts {
		t.Fatalf("the default book after the delete: %+v", names())
	}

	refused := []struct {
		name string
		err  error
		want error
	}{
		{"create a calendar", func() error {
			_, err := se.CreateTypedFolder(ctx, "", "Trips", eas.FolderUserCalendar)
			return err
		}(), eas.ErrFolderType},
		{"create without a name", func() error {
			_, err := se.CreateTypedFolder(ctx, "", " ", eas.FolderUserContacts)
			return err
		}(), eas.ErrInvalidName},
		{"move into another book", func() error {
			_, err := se.RenameFolder(ctx, g.Path, book, "Family")
			return err
		}(), eas.ErrFolderType},
		{"rename a missing book", func() error {
			_, err := se.RenameFolder(ctx, f.Path, "", "Again")
			return err
		}(), eas.ErrNotFound},
		{"delete a missing book", se.DeleteFolder(ctx, f.Path), eas.ErrNotFound},
	}
	for _, tc := range refused {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	// The default book's contact was never touched.
	objs, err := se.c.List(ctx, book)
	if err != nil || len(objs) != 1 {
		t.Errorf("default book holds %v, %v", objs, err)
	}
}
