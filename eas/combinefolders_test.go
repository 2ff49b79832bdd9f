package eas_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// bookStore is an upstream of address books whose sessions make, rename
// and delete them (eas.FolderWriter), flat as CardDAV keeps them.
type bookStore struct{ m *fakeMail }

func (b bookStore) Open(ctx context.Context, cred eas.Credentials) (eas.Session, error) {
	return bookSession{&fakeMailbox{m: b.m, user: cred.Username}}, nil
}

type bookSession struct{ *fakeMailbox }

func (s bookSession) CreateTypedFolder(ctx context.Context, parent, name string, t eas.FolderType) (eas.Folder, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if t != eas.FolderUserContacts || parent != "" {
		return eas.Folder{}, eas.ErrFolderType
	}
	if s.m.folders[name] != nil {
		return eas.Folder{}, eas.ErrExists
	}
	s.m.addFolder(name, "", t)
	return s.m.folders[name].Folder, nil
}

func (s bookSession) RenameFolder(ctx context.Context, path, newParent, newName string) (eas.Folder, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	fo := s.m.folders[path]
	switch {
	case fo == nil:
		return eas.Folder{}, eas.ErrNotFound
	case newParent != "":
		return eas.Folder{}, eas.ErrFolderType
	}
	// The path stays, as a CardDAV collection's does; the name changes.
	fo.Name = newName
	return fo.Folder, nil
}

func (s bookSession) DeleteFolder(ctx context.Context, path string) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.m.folders[path] == nil {
		return eas.ErrNotFound
	}
	delete(s.m.folders, path)
	return nil
}

// FolderCreate, FolderUpdate and FolderDelete of contacts folders reach
// the upstream that keeps contacts; its default folder cannot change.
func TestCombinedFolderWriter(t *testing.T) {
	ctx := context.Background()
	books := &fakeMail{folders: map[string]*fakeFolder{}, invalid: map[string]bool{},
		atts: map[string]eas.AttachmentData{}, calls: map[string]int{}}
	books.addFolder("Contacts", "", eas.FolderContacts)
	mail := newFakeMail()
	combined := eas.Combine(fakeBackend{mail}, fakeNotifier{mail},
		eas.Upstream{Name: "books", Backend: bookStore{books}, Classes: []eas.Class{eas.ClassContacts}})
	g := &fakeGateway{mail: mail, store: newMemStore()}
	g.server = eas.NewServer(eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second}, combined, g.store, combined)
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	g.phone = g.newPhone(t, "phone1", eas.V141)
	fs, err := g.phone.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	key := fs.SyncKey
	contacts, inbox := g.id(t, "Contacts"), g.id(t, "INBOX")

	refused := []struct {
		name string
		do   func(key string) (int, error)
		want int
	}{
		{"create a calendar no store keeps", func(key string) (int, error) {
			r, err := g.phone.FolderCreate(ctx, key, "0", "Trips", int(eas.FolderUserCalendar))
			return r.Status, err
		}, eas.FolderMalformed},
		{"create a default contacts folder", func(key string) (int, error) {
			r, err := g.phone.FolderCreate(ctx, key, "0", "Contacts 2", int(eas.FolderContacts))
			return r.Status, err
		}, eas.FolderMalformed},
		{"rename the default contacts folder", func(key string) (int, error) {
			r, err := g.phone.FolderUpdate(ctx, key, contacts, "0", "People")
			return r.Status, err
		}, eas.FolderExists},
		{"delete the default contacts folder", func(key string) (int, error) {
			r, err := g.phone.FolderDelete(ctx, key, contacts)
			return r.Status, err
		}, eas.FolderSpecial},
	}
	for _, tc := range refused {
		if got, err := tc.do(key); err != nil || got != tc.want {
			t.Errorf("%s: Status %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	if books.folders["Contacts"] == nil || books.folders["Contacts"].Name != "Contacts" || len(books.folders) != 1 {
		t.Fatalf("address books after the refusals: %v", books.folders)
	}

	// Made under the Inbox (as Outlook does under a folder), kept flat.
	cr, err := g.phone.FolderCreate(ctx, key, inbox, "Club", int(eas.FolderUserContacts))
	if err != nil || cr.Status != eas.FolderSuccess || books.folders["Club"] == nil {
		t.Fatalf("FolderCreate of a contacts folder: %v %+v, books %v", err, cr, books.folders)
	}
	club := cr.ServerID
	up, err := g.phone.FolderUpdate(ctx, cr.SyncKey, club, "0", "Chess club")
	if err != nil || up.Status != eas.FolderSuccess || books.folders["Club"].Name != "Chess club" {
		t.Fatalf("FolderUpdate of a contacts folder: %v %+v, books %v", err, up, books.folders)
	}
	if mv, err := g.phone.FolderUpdate(ctx, up.SyncKey, club, inbox, "Chess club"); err != nil || mv.Status != eas.FolderMalformed {
		t.Fatalf("moving an address book into the Inbox: %v %+v", err, mv)
	}
	// The phone's next FolderSync has nothing new: it made these changes.
	fs, err = g.phone.FolderSync(ctx, up.SyncKey)
	if err != nil || fs.Status != eas.FolderSuccess || (fs.Changes != nil && fs.Changes.Count != 0) {
		t.Fatalf("FolderSync after the phone's changes: %v %+v", err, fs)
	}
	del, err := g.phone.FolderDelete(ctx, fs.SyncKey, club)
	if err != nil || del.Status != eas.FolderSuccess || books.folders["Club"] != nil {
		t.Fatalf("FolderDelete of a contacts folder: %v %+v, books %v", err, del, books.folders)
	}
	// Another phone sees the default folder only, under its old id.
	other := g.newPhone(t, "phone2", eas.V141)
	fs, err = other.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fs.Changes.Add {
		if f.Type == int(eas.FolderContacts) || f.Type == int(eas.FolderUserContacts) {
			n++
			if f.ServerID != contacts {
				t.Errorf("contacts folder %+v, want id %s", f, contacts)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d contacts folders after the delete: %+v", n, fs.Changes.Add)
	}
}
