package contacts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/vcardconv"
	"github.com/easgate/easgate/eas"
)

const book = "/anna/contacts/"

const appleCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//macOS 14.4//EN\r\n" +
	"N:Berg;Anna;;;\r\nFN:Anna Berg\r\nitem1.EMAIL;type=INTERNET;type=pref:anna@example.org\r\n" +
	"item1.X-ABLabel:_$!<Work>!$_\r\nTEL;type=CELL:+49 170 1\r\nNOTE:Met in Lisbon\r\n" +
	"X-ABUID:1234:ABPerson\r\nUID:apple-1\r\nEND:VCARD\r\n"

// serverCard reads a card as the server has it.
func serverCard(t *testing.T, se *Session, path string) (string, []string) {
	t.Helper()
	data, etag, err := se.c.Get(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	card, err := vcardconv.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for k, fs := range card {
		for _, f := range fs {
			lines = append(lines, f.Group+"."+k+":"+f.Value)
		}
	}
	slices.Sort(lines)
	return etag, lines
}

func TestPhoneWrites(t *testing.T) {
	srv := start(t)
	if err := srv.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	put(t, srv, book+"apple-1.vcf", []byte(appleCard))
	se := open(t, srv, dav.Config{})
	ctx := context.Background()
	phone := known{}
	cs, err := se.Changes(ctx, eas.SyncQuery{Path: book, Known: phone, Window: 100})
	if err != nil || len(cs.Changes) != 1 {
		t.Fatalf("first sync: %+v, %v", cs, err)
	}
	phone.apply(cs)
	c := cs.Changes[0].Item.(*eas.Contact)

	// A Change of the mobile number only, Body left out (ghosted, as AOSP).
	_, before := serverCard(t, se, book+"apple-1.vcf")
	c.MobilePhoneNumber, c.Body = "+49 170 2", nil
	v, err := se.ChangeItem(ctx, eas.ItemRef{Path: book, ServerID: "apple-1.vcf"},
		eas.ItemUpdate{Item: c, Ghosted: []string{"Body", "Categories", "Children", "Picture"}, Known: phone["apple-1.vcf"]})
	if err != nil || v == "" || v == phone["apple-1.vcf"] {
		t.Fatalf("ChangeItem: %q, %v", v, err)
	}
	phone["apple-1.vcf"] = v
	_, after := serverCard(t, se, book+"apple-1.vcf")
	var gone, added []string
	for _, l := range before {
		if !contains(after, l) {
			gone = append(gone, l)
		}
	}
	for _, l := range after {
		if !contains(before, l) {
			added = append(added, l)
		}
	}
	if strings.Join(gone, "|") != ".TEL:+49 170 1" || strings.Join(added, "|") != ".TEL:+49 170 2" {
		t.Errorf("change rewrote more than the number: gone %q, added %q", gone, added)
	}

	// The phone's own change is not sent back to it.
	cs, err = se.Changes(ctx, eas.SyncQuery{Path: book, Cursor: cs.Cursor, Known: phone, Window: 100})
	if err != nil || len(cs.Changes) != 0 {
		t.Errorf("after the phone's change: %+v, %v", cs.Changes, err)
	}

	// Another client edits; the phone's change from the old version loses.
	if _, err := se.c.Put(ctx, book+"apple-1.vcf", "text/vcard", []byte(strings.Replace(appleCard, "Lisbon", "Porto", 1)), v); err != nil {
		t.Fatal(err)
	}
	etag, other := serverCard(t, se, book+"apple-1.vcf")
	c.FirstName = "Annette"
	if _, err := se.ChangeItem(ctx, eas.ItemRef{Path: book, ServerID: "apple-1.vcf"}, eas.ItemUpdate{Item: c, Known: v}); !errors.Is(err, eas.ErrConflict) {
		t.Errorf("stale change: %v, want ErrConflict", err)
	}
	if e2, now := serverCard(t, se, book+"apple-1.vcf"); e2 != etag || strings.Join(now, "|") != strings.Join(other, "|") {
		t.Error("a losing change was written")
	}

	// Add, then Delete.
	id, ver, err := se.AddItem(ctx, book, &eas.Contact{FirstName: "Neu", Email1Address: "neu@example.org"})
	if err != nil || !strings.HasSuffix(id, ".vcf") || ver == "" {
		t.Fatalf("AddItem: %q %q %v", id, ver, err)
	}
	it, err := se.Fetch(ctx, eas.ItemRef{Path: book, ServerID: id}, eas.BodyOptions{})
	if err != nil || it.(*eas.Contact).Email1Address != "neu@example.org" || it.(*eas.Contact).FileAs != "Neu" {
		t.Errorf("Fetch of the added contact: %+v, %v", it, err)
	}
	if err := se.DeleteItem(ctx, eas.ItemRef{Path: book, ServerID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := se.Fetch(ctx, eas.ItemRef{Path: book, ServerID: id}, eas.BodyOptions{}); !errors.Is(err, eas.ErrNotFound) {
		t.Errorf("Fetch after delete: %v", err)
	}
	if err := se.DeleteItem(ctx, eas.ItemRef{Path: book, ServerID: id}); err != nil {
		t.Errorf("second delete: %v", err)
	}
	for _, bad := range []string{"../x.vcf", "", "a/b"} {
		if _, err := se.Fetch(ctx, eas.ItemRef{Path: book, ServerID: bad}, eas.BodyOptions{}); !errors.Is(err, eas.ErrNotFound) {
			t.Errorf("Fetch %q: %v, want ErrNotFound", bad, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// TestBadAdd: a phone's contact that cannot be stored leaves nothing on
// the server.
func TestBadAdd(t *testing.T) {
	srv := start(t)
	if err := srv.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	se := open(t, srv, dav.Config{})
	ctx := context.Background()
	for _, pic := range []string{strings.Repeat("QUFB", eas.PhonePictureMaxSize/4+1), "%%%"} {
		_, _, err := se.AddItem(ctx, book, &eas.Contact{FirstName: "X", Picture: pic})
		if !errors.Is(err, ErrInvalidContact) || !errors.Is(err, eas.ErrInvalidItem) {
			t.Errorf("AddItem with a bad picture: %v, want ErrInvalidContact and eas.ErrInvalidItem", err)
		}
	}
	objs, err := se.c.List(ctx, book)
	if err != nil || len(objs) != 0 {
		t.Errorf("after refused adds: %v, %v", objs, err)
	}
}

// TestServerDown: an upstream that is down gives a retryable error, never
// one that makes the phone drop its contacts.
func TestServerDown(t *testing.T) {
	srv := start(t)
	if err := srv.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	put(t, srv, book+"apple-1.vcf", []byte(appleCard))
	se := open(t, srv, dav.Config{Timeout: 3 * time.Second})
	ctx := context.Background()
	phone := known{}
	cs, err := se.Changes(ctx, eas.SyncQuery{Path: book, Known: phone, Window: 10})
	if err != nil {
		t.Fatal(err)
	}
	phone.apply(cs)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Folders", func() error { _, err := se.Folders(ctx); return err }},
		{"Changes", func() error {
			_, err := se.Changes(ctx, eas.SyncQuery{Path: book, Cursor: cs.Cursor, Known: phone, Window: 10})
			return err
		}},
		{"Pending", func() error {
			_, err := se.Pending(ctx, eas.SyncQuery{Path: book, Cursor: cs.Cursor, Known: phone})
			return err
		}},
		{"Fetch", func() error {
			_, err := se.Fetch(ctx, eas.ItemRef{Path: book, ServerID: "apple-1.vcf"}, eas.BodyOptions{})
			return err
		}},
		{"AddItem", func() error { _, _, err := se.AddItem(ctx, book, &eas.Contact{FirstName: "X"}); return err }},
		{"DeleteItem", func() error { return se.DeleteItem(ctx, eas.ItemRef{Path: book, ServerID: "apple-1.vcf"}) }},
		{"Open", func() error {
			_, err := New(Config{DAV: dav.Config{URL: srv.URL()}}).Open(ctx, cred)
			return err
		}},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, eas.ErrUnavailable) || errors.Is(err, eas.ErrNotFound) || errors.Is(err, eas.ErrStateInvalid) {
			t.Errorf("%s with the server down: %v, want ErrUnavailable", c.name, err)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	cs2, err := se.Changes(ctx, eas.SyncQuery{Path: book, Cursor: cs.Cursor, Known: phone, Window: 10})
	if err != nil || len(cs2.Changes) != 0 {
		t.Errorf("after the restart: %+v, %v", cs2, err)
	}
}

func TestWrongPassword(t *testing.T) {
	srv := start(t)
	_, err := New(Config{DAV: dav.Config{URL: srv.URL()}}).Open(context.Background(), eas.Credentials{Username: user, Password: "wrong"})
	if !errors.Is(err, eas.ErrUnauthorized) {
		t.Errorf("Open with a wrong password: %v", err)
	}
}

func TestNotifier(t *testing.T) {
	srv := start(t)
	if err := srv.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	b := New(Config{DAV: dav.Config{URL: srv.URL()}, PollInterval: 50 * time.Millisecond})
	ctx := context.Background()
	sub, err := b.Notifier().Subscribe(ctx, cred, []string{book, eas.FolderListPath})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	put(t, srv, book+"apple-1.vcf", []byte(appleCard))
	if got := next(t, sub); got != book {
		t.Errorf("notice %q, want %q", got, book)
	}
	if err := srv.AddressBook(user, "club", "Club"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub); got != eas.FolderListPath {
		t.Errorf("notice %q, want the folder list", got)
	}
}

func next(t *testing.T, sub eas.Subscription) string {
	t.Helper()
	select {
	case p, ok := <-sub.C():
		if !ok {
			t.Fatal("subscription closed")
		}
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no notice within 10 s")
	}
	return ""
}
