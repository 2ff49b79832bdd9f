package demo_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/contacts"
	"github.com/easgate/easgate/bridge/upstream/demo"
	"github.com/easgate/easgate/eas"
)

// noneKnown is a phone that holds nothing yet.
type noneKnown struct{}

func (noneKnown) Len() int                                  { return 0 }
func (noneKnown) Version(string) (string, bool)             { return "", false }
func (noneKnown) Range(func(serverID, version string) bool) {}

// The demo CardDAV server is what easgate's contacts store expects of a
// real one: discovery, listing, reading, lookups and writes.
func TestCardDAV(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := demo.StartCardDAV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	b := contacts.New(contacts.Config{DAV: dav.Config{URL: d.URL}})
	if _, err := b.Open(ctx, eas.Credentials{Username: demo.User, Password: "wrong"}); !errors.Is(err, eas.ErrUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
	se, err := b.Open(ctx, eas.Credentials{Username: demo.User, Password: demo.Password})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := se.Folders(ctx)
	if err != nil || len(fs) != 1 || fs[0].Type != eas.FolderContacts || fs[0].Name != "Contacts" {
		t.Fatalf("folders %+v %v", fs, err)
	}
	book := fs[0].Path
	cs, err := se.Changes(ctx, eas.SyncQuery{Path: book, Known: noneKnown{}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ch := range cs.Changes {
		c, ok := ch.Item.(*eas.Contact)
		if ch.Kind != eas.ChangeAdd || !ok || ch.Err != nil {
			t.Fatalf("change %+v", ch)
		}
		names = append(names, c.FirstName+" "+c.LastName)
	}
	slices.Sort(names)
	want := []string{"Lena Fischer", "Maria Schneider", "Priya Raman", "Sam O'Connor", "Tom Becker",
		"Алексей Смирнов", "Jürgen Weiß", "太郎 山田"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("contacts %q, want %q", names, want)
	}

	dir := se.(eas.Directory)
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"maria", []string{"Maria Schneider <maria.schneider@example.org> photo"}},
		{"tommy", []string{"Tom Becker <tom.becker@example.org>"}},
		{"weiß", []string{"Jürgen Weiß <juergen.weiss@example.de>"}},
		{"p", []string{"Priya Raman <priya.raman@example.org> photo"}},
		{"nobody", nil},
	} {
		rs, err := dir.Lookup(ctx, tt.query, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rs {
			s := fmt.Sprintf("%s <%s>", r.Name(), r.Emails[0])
			if len(r.Picture) > 0 {
				s += " photo"
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("lookup %q: %q, want %q", tt.query, got, tt.want)
		}
	}

	// A phone's new contact is stored and found.
	w := se.(eas.ItemWriter)
	id, _, err := w.AddItem(ctx, book, &eas.Contact{FirstName: "Nina", LastName: "Neu", Email1Address: "nina@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := dir.Lookup(ctx, "nina", 0); err != nil || len(rs) != 1 || rs[0].Emails[0] != "nina@example.com" {
		t.Fatalf("new contact: %v %+v", err, rs)
	}
	if err := w.DeleteItem(ctx, eas.ItemRef{Path: book, ServerID: id}); err != nil {
		t.Fatal(err)
	}
	if rs, err := dir.Lookup(ctx, "nina", 0); err != nil || len(rs) != 0 {
		t.Fatalf("deleted contact: %v %+v", err, rs)
	}
}
