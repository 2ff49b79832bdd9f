package dav

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/upstream/radicaletest"
)

const (
	user = "anna"
	pass = "secret"
)

func card(uid, name string) []byte {
	return []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s\r\nN:%s;;;;\r\nEND:VCARD\r\n", uid, name, name))
}

// countingTransport counts the requests a client sends.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func newServer(t *testing.T) *radicaletest.Server {
	t.Helper()
	return radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pass}})
}

func newClient(t *testing.T, s *radicaletest.Server, cfg Config) *Client {
	t.Helper()
	cfg.URL = s.URL()
	c, err := NewClient(cfg, Credentials{user, pass})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDiscovery(t *testing.T) {
	s := newServer(t)
	for _, err := range []error{
		s.AddressBook(user, "work", "Work"),
		s.AddressBook(user, "contacts", ""),
		s.Calendar(user, "cal", "Calendar", "VEVENT"),
		s.Calendar(user, "tasks", "Tasks", "VTODO"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	tests := []struct {
		name string
		url  string
		kind Kind
		want []Collection
	}{
		// Radicale names a collection that has no displayname by its path.
		{"address books from the server root", s.URL(), AddressBooks, []Collection{
			{Path: "/anna/contacts/", Name: "anna/contacts"}, {Path: "/anna/work/", Name: "Work"}}},
		{"address books from a context path", s.URL() + "anna/", AddressBooks, []Collection{
			{Path: "/anna/contacts/", Name: "anna/contacts"}, {Path: "/anna/work/", Name: "Work"}}},
		{"calendars with their components", s.URL(), Calendars, []Collection{
			{Path: "/anna/cal/", Name: "Calendar", Components: []string{"VEVENT"}},
			{Path: "/anna/tasks/", Name: "Tasks", Components: []string{"VTODO"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(Config{URL: tt.url}, Credentials{user, pass})
			if err != nil {
				t.Fatal(err)
			}
			home, err := c.HomeSet(ctx, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if home != "/anna/" {
				t.Errorf("home set %q, want /anna/", home)
			}
			got, err := c.Collections(ctx, tt.kind, home)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("collections\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	names := []string{"contacts", "default", "personal", "addressbook"}
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"/u/b/", "/u/default/", "/u/contacts/"}, "/u/contacts/"},
		{[]string{"/u/personal/", "/u/default/"}, "/u/default/"},
		{[]string{"/u/z/", "/u/Addressbook/"}, "/u/Addressbook/"},
		{[]string{"/u/a/", "/u/b/"}, "/u/a/"},
		{nil, ""},
	}
	for _, tt := range tests {
		var list []Collection
		for _, p := range tt.paths {
			list = append(list, Collection{Path: p})
		}
		got, ok := Default(list, names...)
		if got.Path != tt.want || ok != (tt.want != "") {
			t.Errorf("Default(%v) = %q, %v; want %q", tt.paths, got.Path, ok, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	bad, err := NewClient(Config{URL: s.URL()}, Credentials{user, "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.HomeSet(ctx, AddressBooks)
	if !errors.Is(err, ErrUnauthorized) || Temporary(err) {
		t.Errorf("wrong password: %v (temporary %v), want ErrUnauthorized", err, Temporary(err))
	}
	good := newClient(t, s, Config{Timeout: 5 * time.Second})
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = good.HomeSet(ctx, AddressBooks)
	if err == nil || !Temporary(err) {
		t.Errorf("server down: %v, want a temporary error", err)
	}
	if _, err := NewClient(Config{URL: "ftp://x"}, Credentials{}); err == nil {
		t.Error("ftp URL accepted")
	}
}

func TestMakeCollection(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, Config{})
	ctx := context.Background()
	if err := c.MakeCollection(ctx, AddressBooks, "/anna/contacts/", "Contacts"); err != nil {
		t.Fatal(err)
	}
	if err := c.MakeCollection(ctx, Calendars, "/anna/todo/", "To do", "VTODO"); err != nil {
		t.Fatal(err)
	}
	books, err := c.Collections(ctx, AddressBooks, "/anna/")
	if err != nil {
		t.Fatal(err)
	}
	if len(books) != 1 || books[0].Path != "/anna/contacts/" || books[0].Name != "Contacts" {
		t.Errorf("address books %v", books)
	}
	cals, err := c.Collections(ctx, Calendars, "/anna/")
	if err != nil {
		t.Fatal(err)
	}
	if len(cals) != 1 || !cals[0].Holds("VTODO") || cals[0].Holds("VEVENT") {
		t.Errorf("calendars %v", cals)
	}
	if err := c.MakeCollection(ctx, AddressBooks, "/anna/contacts/", "Again"); err == nil {
		t.Error("making an existing collection succeeded")
	}
}

func TestConditionalWrites(t *testing.T) {
	s := newServer(t)
	if err := s.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s, Config{})
	ctx := context.Background()
	const p = "/anna/contacts/a.vcf"
	etag1, err := c.Put(ctx, p, "text/vcard", card("a", "Anna"), "")
	if err != nil || etag1 == "" {
		t.Fatalf("create: %q, %v", etag1, err)
	}
	if _, err := c.Put(ctx, p, "text/vcard", card("a", "Other"), ""); !errors.Is(err, ErrPrecondition) {
		t.Errorf("create over an existing object: %v, want ErrPrecondition", err)
	}
	etag2, err := c.Put(ctx, p, "text/vcard", card("a", "Anna B"), etag1)
	if err != nil || etag2 == etag1 {
		t.Fatalf("update: %q, %v", etag2, err)
	}
	if _, err := c.Put(ctx, p, "text/vcard", card("a", "Stale"), etag1); !errors.Is(err, ErrPrecondition) {
		t.Errorf("update with a stale ETag: %v, want ErrPrecondition", err)
	}
	data, etag, err := c.Get(ctx, p)
	if err != nil || etag != etag2 || !slices.Equal(data[:11], []byte("BEGIN:VCARD")) {
		t.Errorf("get: etag %q (want %q), %v, %q", etag, etag2, err, data)
	}
	if err := c.Delete(ctx, p, etag1); !errors.Is(err, ErrPrecondition) {
		t.Errorf("delete with a stale ETag: %v", err)
	}
	if err := c.Delete(ctx, p, etag2); err != nil {
		t.Errorf("delete: %v", err)
	}
	if err := c.Delete(ctx, p, ""); err != nil {
		t.Errorf("delete of a deleted object: %v", err)
	}
	if _, _, err := c.Get(ctx, p); !IsStatus(err, http.StatusNotFound) || Temporary(err) {
		t.Errorf("get of a deleted object: %v", err)
	}
}

// TestChanges runs the same story through both strategies.
func TestChanges(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			s := newServer(t)
			if err := s.AddressBook(user, "contacts", "Contacts"); err != nil {
				t.Fatal(err)
			}
			count := &countingTransport{}
			c := newClient(t, s, Config{NoSyncCollection: noSync, Transport: count})
			other := newClient(t, s, Config{})
			ctx := context.Background()
			const coll = "/anna/contacts/"
			etags := map[string]string{}
			for _, id := range []string{"a", "b"} {
				e, err := other.Put(ctx, coll+id+".vcf", "text/vcard", card(id, id), "")
				if err != nil {
					t.Fatal(err)
				}
				etags[id] = e
			}
			d, err := c.Changes(ctx, coll, "")
			if err != nil {
				t.Fatal(err)
			}
			if !d.Full || fmt.Sprint(d.Updated) != fmt.Sprintf("[{%sa.vcf %s} {%sb.vcf %s}]", coll, etags["a"], coll, etags["b"]) {
				t.Errorf("first delta %+v", d)
			}
			count.n.Store(0)
			d2, err := c.Changes(ctx, coll, d.Cursor)
			if err != nil || !d2.Empty() || d2.Cursor != d.Cursor {
				t.Errorf("nothing new: %+v, %v", d2, err)
			}
			if n := count.n.Load(); n != 1 {
				t.Errorf("nothing new cost %d requests, want 1", n)
			}
			eb, err := other.Put(ctx, coll+"b.vcf", "text/vcard", card("b", "B2"), etags["b"])
			if err != nil {
				t.Fatal(err)
			}
			ec, err := other.Put(ctx, coll+"c.vcf", "text/vcard", card("c", "c"), "")
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Delete(ctx, coll+"a.vcf", ""); err != nil {
				t.Fatal(err)
			}
			d3, err := c.Changes(ctx, coll, d2.Cursor)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("[{%sb.vcf %s} {%sc.vcf %s}]", coll, eb, coll, ec)
			slices.SortFunc(d3.Updated, func(a, b Object) int { return cmpString(a.Path, b.Path) })
			if fmt.Sprint(d3.Updated) != want {
				t.Errorf("updated %v, want %v", d3.Updated, want)
			}
			if noSync {
				if !d3.Full {
					t.Error("ETag strategy: delta is not full")
				}
			} else if fmt.Sprint(d3.Deleted) != "["+coll+"a.vcf]" || d3.Full {
				t.Errorf("sync strategy: deleted %v, full %v", d3.Deleted, d3.Full)
			}
			if d3.Cursor == d2.Cursor {
				t.Error("cursor did not move")
			}
		})
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestChangesForgottenToken(t *testing.T) {
	s := newServer(t)
	if err := s.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s, Config{})
	ctx := context.Background()
	if _, err := c.Put(ctx, "/anna/contacts/a.vcf", "text/vcard", card("a", "a"), ""); err != nil {
		t.Fatal(err)
	}
	d, err := c.Changes(ctx, "/anna/contacts/", "sync:http://radicale.org/ns/sync/0000000000000000000000000000000000000000000000000000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Full || len(d.Updated) != 1 {
		t.Errorf("after a forgotten token: %+v, want the full list", d)
	}
}

func TestPoller(t *testing.T) {
	s := newServer(t)
	if err := s.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddressBook(user, "quiet", "Quiet"); err != nil {
		t.Fatal(err)
	}
	p := &Poller{Config: Config{URL: s.URL()}, Interval: 50 * time.Millisecond}
	ctx := context.Background()
	sub, err := p.Subscribe(ctx, Credentials{user, pass}, []string{"/anna/contacts/", "/anna/quiet/", ListPath(AddressBooks)})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	other := newClient(t, s, Config{})
	if _, err := other.Put(ctx, "/anna/contacts/a.vcf", "text/vcard", card("a", "a"), ""); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub); got != "/anna/contacts/" {
		t.Errorf("notice for %q, want /anna/contacts/", got)
	}
	if err := other.MakeCollection(ctx, AddressBooks, "/anna/new/", "New"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub); got != ListPath(AddressBooks) {
		t.Errorf("notice for %q, want the list", got)
	}
	// A second subscriber of the same account shares the loop.
	sub2, err := p.Subscribe(ctx, Credentials{user, pass}, []string{"/anna/quiet/"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	if n := len(p.accounts); n != 1 {
		t.Errorf("%d polling loops for one account", n)
	}
	if _, err := other.Put(ctx, "/anna/quiet/q.vcf", "text/vcard", card("q", "q"), ""); err != nil {
		t.Fatal(err)
	}
	for _, ss := range []*Subscription{sub, sub2} {
		if got := next(t, ss); got != "/anna/quiet/" {
			t.Errorf("notice for %q, want /anna/quiet/", got)
		}
	}
	// A refused login ends the subscriptions.
	if err := s.AddUser(user, "changed"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-sub.C():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("subscription not closed after the password changed")
		}
	}
}

func next(t *testing.T, s *Subscription) string {
	t.Helper()
	select {
	case p, ok := <-s.C():
		if !ok {
			t.Fatal("subscription closed")
		}
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no notice within 10 s")
	}
	return ""
}

// TestChangesOfCalendars: the same strategy serves CalDAV collections.
func TestChangesOfCalendars(t *testing.T) {
	const ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:e1\r\n" +
		"DTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nDTEND:20260102T110000Z\r\nSUMMARY:Meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			s := newServer(t)
			if err := s.Calendar(user, "cal", "Calendar", "VEVENT"); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, s, Config{NoSyncCollection: noSync})
			ctx := context.Background()
			d, err := c.Changes(ctx, "/anna/cal/", "")
			if err != nil || !d.Full || len(d.Updated) != 0 {
				t.Fatalf("empty calendar: %+v, %v", d, err)
			}
			etag, err := c.Put(ctx, "/anna/cal/e1.ics", "text/calendar", []byte(ics), "")
			if err != nil {
				t.Fatal(err)
			}
			d2, err := c.Changes(ctx, "/anna/cal/", d.Cursor)
			if err != nil || fmt.Sprint(d2.Updated) != fmt.Sprintf("[{/anna/cal/e1.ics %s}]", etag) {
				t.Errorf("after a new event: %+v, %v", d2, err)
			}
			d3, err := c.Changes(ctx, "/anna/cal/", d2.Cursor)
			if err != nil || !d3.Empty() {
				t.Errorf("nothing new: %+v, %v", d3, err)
			}
		})
	}
}

// TestPollerForgetsFailedSubscribe: an account whose Subscribe failed (a
// wrong password, a path the server does not have) has no subscriber, and
// its polling loop ends once it has lingered, as after a last Close.
func TestPollerForgetsFailedSubscribe(t *testing.T) {
	s := newServer(t)
	if err := s.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cred Credentials
		path string
	}{
		{"wrong password", Credentials{user, "wrong"}, "/anna/contacts/"},
		{"no such collection", Credentials{user, pass}, "/anna/nowhere/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Poller{Config: Config{URL: s.URL()}, Interval: 20 * time.Millisecond, Linger: 20 * time.Millisecond}
			if _, err := p.Subscribe(context.Background(), tc.cred, []string{tc.path}); err == nil {
				t.Fatal("Subscribe succeeded")
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				p.mu.Lock()
				n := len(p.accounts)
				p.mu.Unlock()
				if n == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d polling loops 10 s after a failed Subscribe", n)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
