package contacts

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

// countingTransport counts the requests a client sends and, among them,
// the listings of a collection: a Depth 1 PROPFIND or a sync-collection
// REPORT (a multiget, which reads cards, is none).
type countingTransport struct {
	n        atomic.Int64
	listings atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	switch {
	case r.Method == "PROPFIND" && r.Header.Get("Depth") == "1":
		c.listings.Add(1)
	case r.Method == "REPORT" && r.GetBody != nil:
		body, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		if bytes.Contains(data, []byte("sync-collection")) {
			c.listings.Add(1)
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// vcf is a small card whose N family name is last.
func vcf(uid, last string) []byte {
	return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + last + "\r\nN:" + last +
		";;;;\r\nEND:VCARD\r\n")
}

// fillBook writes n cards c0000.vcf… straight into Radicale's storage
// (uploading hundreds one by one would take most of the test).
func fillBook(tb testing.TB, srv *radicaletest.Server, n int) {
	tb.Helper()
	if err := srv.AddressBook(user, "contacts", "Contacts"); err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(srv.Dir(), "collection-root", user, "contacts")
	for i := 0; i < n; i++ {
		uid := fmt.Sprintf("c%04d", i)
		if err := os.WriteFile(filepath.Join(dir, uid+".vcf"), vcf(uid, "Card "+uid), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// phoneLog is what a phone received, per ServerId, and what it holds.
type phoneLog struct {
	known
	got   map[string][]string // ServerId → kinds received
	names map[string]string   // ServerId → last name held
}

func newPhone() *phoneLog {
	return &phoneLog{known: known{}, got: map[string][]string{}, names: map[string]string{}}
}

// take applies a change set as a phone does, and fails where the phone
// would end up with a card twice: an Add of a ServerId it holds.
func (p *phoneLog) take(t *testing.T, cs *eas.ChangeSet) {
	t.Helper()
	for _, ch := range cs.Changes {
		if _, held := p.known[ch.ServerID]; ch.Kind == eas.ChangeAdd && held {
			t.Errorf("Add of %s, which the phone holds already", ch.ServerID)
		}
		p.got[ch.ServerID] = append(p.got[ch.ServerID], ch.Kind.String())
		if ch.Kind == eas.ChangeDelete {
			delete(p.names, ch.ServerID)
			continue
		}
		if ch.Version == "" {
			t.Errorf("%s sent without a version", ch.ServerID)
		}
		p.names[ch.ServerID] = ch.Item.(*eas.Contact).LastName
	}
	p.apply(cs)
}

// sync takes one sync of the book in windows, as the engine runs it: it
// returns the cursor of the last window and how many windows it took.
func (p *phoneLog) sync(t *testing.T, se *Session, cursor string, window int, between func(n int)) (string, int) {
	t.Helper()
	for n := 1; ; n++ {
		cs, err := se.Changes(context.Background(), eas.SyncQuery{Path: book, Cursor: cursor, Known: p.known, Window: window})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Changes) > window {
			t.Fatalf("window %d: %d changes", n, len(cs.Changes))
		}
		p.take(t, cs)
		cursor = cs.Cursor
		if !cs.More {
			return cursor, n
		}
		if n > 1000 {
			t.Fatal("no end of changes")
		}
		if between != nil {
			between(n)
		}
	}
}

// TestInitialSyncOneListing: a phone takes a 300-card book in windows of
// 25 while another client adds, changes and deletes cards; the whole
// initial sync lists the book once, and every card reaches the phone
// once, in its latest version, with both change strategies.
func TestInitialSyncOneListing(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			srv := start(t)
			fillBook(t, srv, 300)
			count := &countingTransport{}
			se := open(t, srv, dav.Config{NoSyncCollection: noSync, Transport: count})
			phone := newPhone()
			edits := func(n int) {
				if n != 3 {
					return
				}
				// After three windows (c0000…c0074 sent): one new card,
				// one sent card and one not yet sent changed, one of each
				// deleted.
				put(t, srv, book+"new.vcf", vcf("new", "New"))
				put(t, srv, book+"c0001.vcf", vcf("c0001", "Sent, then changed"))
				put(t, srv, book+"c0200.vcf", vcf("c0200", "Changed before it was sent"))
				for _, p := range []string{book + "c0002.vcf", book + "c0201.vcf"} {
					if status, _, err := srv.Do(context.Background(), user, http.MethodDelete, p, "", nil); err != nil || status/100 != 2 {
						t.Fatalf("DELETE %s: %d %v", p, status, err)
					}
				}
			}
			cursor, windows := phone.sync(t, se, "", 25, edits)
			if windows != 12 {
				t.Errorf("initial sync in %d windows, want 12", windows)
			}
			if n := count.listings.Load(); n != 1 {
				t.Errorf("initial sync of 12 windows listed the book %d times, want 1", n)
			}
			count.listings.Store(0)
			cursor, _ = phone.sync(t, se, cursor, 25, nil)
			if n := count.listings.Load(); n != 1 {
				t.Errorf("the next sync listed the book %d times, want 1", n)
			}
			if cs, err := se.Changes(context.Background(), eas.SyncQuery{Path: book, Cursor: cursor, Known: phone.known, Window: 25}); err != nil || len(cs.Changes) != 0 {
				t.Errorf("then: %+v, %v", cs, err)
			}

			want := map[string]string{}
			for i := 0; i < 300; i++ {
				want[fmt.Sprintf("c%04d.vcf", i)] = fmt.Sprintf("Card c%04d", i)
			}
			want["new.vcf"], want["c0001.vcf"], want["c0200.vcf"] = "New", "Sent, then changed", "Changed before it was sent"
			delete(want, "c0002.vcf")
			delete(want, "c0201.vcf")
			if len(phone.names) != len(want) {
				t.Errorf("phone holds %d cards, want %d", len(phone.names), len(want))
			}
			for id, name := range want {
				if phone.names[id] != name {
					t.Errorf("%s: phone holds %q, want %q", id, phone.names[id], name)
				}
			}
			wantGot := map[string][]string{
				"c0001.vcf": {"Add", "Change"},
				"c0002.vcf": {"Add", "Delete"},
				"c0201.vcf": nil,
			}
			for id, kinds := range phone.got {
				w, special := wantGot[id]
				if !special {
					w = []string{"Add"}
				}
				if !slices.Equal(kinds, w) {
					t.Errorf("%s: phone got %q, want %q", id, kinds, w)
				}
			}
			if kinds := phone.got["c0201.vcf"]; kinds != nil {
				t.Errorf("c0201.vcf, deleted before it was sent: phone got %q", kinds)
			}
			// The phone's versions are the server's: a fresh listing
			// finds nothing to send.
			objs, err := se.c.List(context.Background(), book)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				if id := dav.ServerID(o.Path); phone.known[id] != o.ETag {
					t.Errorf("%s: phone holds version %q, server %q", id, phone.known[id], o.ETag)
				}
			}
			if len(objs) != len(want) {
				t.Errorf("server lists %d cards, want %d", len(objs), len(want))
			}
		})
	}
}

// TestLargeDeltaWithPhoneWrites: a later delta larger than the window is
// listed once too; what the phone itself adds, changes and deletes
// between its windows does not come back to it, and it gets to the end
// of the delta, with both change strategies.
func TestLargeDeltaWithPhoneWrites(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			srv := start(t)
			fillBook(t, srv, 40)
			count := &countingTransport{}
			se := open(t, srv, dav.Config{NoSyncCollection: noSync, Transport: count})
			ctx := context.Background()
			phone := newPhone()
			cursor, _ := phone.sync(t, se, "", 100, nil)
			for i := 0; i < 30; i++ {
				uid := fmt.Sprintf("c%04d", i)
				put(t, srv, book+uid+".vcf", vcf(uid, "Edited "+uid))
			}
			phone.got = map[string][]string{}
			count.listings.Store(0)
			var added string
			writes := func(n int) {
				if n != 1 {
					return
				}
				// c0000…c0009 came in the first window.
				for _, id := range []string{"c0000.vcf", "c0035.vcf"} {
					v, err := se.ChangeItem(ctx, eas.ItemRef{Path: book, ServerID: id},
						eas.ItemUpdate{Item: &eas.Contact{LastName: "Phone " + id}, Known: phone.known[id]})
					if err != nil {
						t.Fatal(id, err)
					}
					phone.known[id], phone.names[id] = v, "Phone "+id
				}
				if err := se.DeleteItem(ctx, eas.ItemRef{Path: book, ServerID: "c0036.vcf"}); err != nil {
					t.Fatal(err)
				}
				delete(phone.known, "c0036.vcf")
				delete(phone.names, "c0036.vcf")
				id, v, err := se.AddItem(ctx, book, &eas.Contact{LastName: "Added by the phone"})
				if err != nil {
					t.Fatal(err)
				}
				phone.known[id], phone.names[id], added = v, "Added by the phone", id
			}
			cursor, windows := phone.sync(t, se, cursor, 10, writes)
			// The phone's change of c0000, which it got, takes a place
			// in the next window: one window more at most.
			if windows < 3 || windows > 4 {
				t.Errorf("delta of 30 in %d windows, want 3 or 4", windows)
			}
			if n := count.listings.Load(); n != 1 {
				t.Errorf("the delta listed the book %d times, want 1", n)
			}
			for i := 0; i < 40; i++ {
				id := fmt.Sprintf("c%04d.vcf", i)
				var want []string
				if i < 30 {
					want = []string{"Change"}
				}
				if !slices.Equal(phone.got[id], want) {
					t.Errorf("%s: phone got %q, want %q", id, phone.got[id], want)
				}
			}
			if kinds := phone.got[added]; kinds != nil {
				t.Errorf("the phone's own card came back: %q", kinds)
			}
			if again, _ := phone.sync(t, se, cursor, 10, nil); len(phone.got) != 30 {
				t.Errorf("then the phone got %v (cursor %q)", phone.got, again)
			}
			objs, err := se.c.List(ctx, book)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != len(phone.known) {
				t.Errorf("server holds %d cards, the phone %d", len(objs), len(phone.known))
			}
			for _, o := range objs {
				if id := dav.ServerID(o.Path); phone.known[id] != o.ETag {
					t.Errorf("%s: phone holds version %q, server %q", id, phone.known[id], o.ETag)
				}
			}
		})
	}
}

// TestTwoPhonesOneDelta: two phones of one user at the same cursor share
// the delta kept for the windows of the first; the second still learns
// of a card the first deleted itself before the listing (the first does
// not hold it, so the deletions kept for its windows lacked it, and the
// second kept the card for good), and neither gets what the other's
// phone added as gone.
func TestTwoPhonesOneDelta(t *testing.T) {
	srv := start(t)
	fillBook(t, srv, 6)
	se := open(t, srv, dav.Config{NoSyncCollection: true})
	ctx := context.Background()
	a, b := newPhone(), newPhone()
	cursor, _ := a.sync(t, se, "", 100, nil)
	if cb, _ := b.sync(t, se, "", 100, nil); cb != cursor {
		t.Fatalf("the phones are at %q and %q", cursor, cb)
	}
	if err := se.DeleteItem(ctx, eas.ItemRef{Path: book, ServerID: "c0000.vcf"}); err != nil {
		t.Fatal(err)
	}
	delete(a.known, "c0000.vcf")
	for i := range 5 {
		uid := fmt.Sprintf("n%04d", i)
		put(t, srv, book+uid+".vcf", vcf(uid, "New "+uid))
	}
	// Phone a takes the first window of the new cards, then adds one.
	cs, err := se.Changes(ctx, eas.SyncQuery{Path: book, Cursor: cursor, Known: a.known, Window: 2})
	if err != nil || !cs.More {
		t.Fatalf("first window: %+v %v", cs, err)
	}
	a.take(t, cs)
	// Phone b syncs meanwhile, from the same cursor, and again.
	cb, _ := b.sync(t, se, cursor, 100, nil)
	cb, _ = b.sync(t, se, cb, 100, nil)
	if _, held := b.known["c0000.vcf"]; held {
		t.Error("phone b still holds c0000.vcf, which phone a deleted")
	}
	// Then phone a adds a card between its windows.
	id, v, err := se.AddItem(ctx, book, &eas.Contact{LastName: "Added by a"})
	if err != nil {
		t.Fatal(err)
	}
	a.known[id] = v
	ca, _ := a.sync(t, se, cursor, 2, nil)
	a.sync(t, se, ca, 2, nil)
	b.sync(t, se, cb, 100, nil)
	objs, err := se.c.List(ctx, book)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, o := range objs {
		want = append(want, dav.ServerID(o.Path))
	}
	slices.Sort(want)
	for name, p := range map[string]*phoneLog{"a": a, "b": b} {
		var got []string
		for id := range p.known {
			got = append(got, id)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("phone %s holds %q, the server %q", name, got, want)
		}
	}
}
