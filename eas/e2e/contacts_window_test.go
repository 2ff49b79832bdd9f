package e2e_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

// bookListings counts the listings of one address book the gateway sends
// upstream: a Depth 1 PROPFIND or a sync-collection REPORT of its path
// (a multiget, which reads cards, is none).
type bookListings struct {
	book string
	n    atomic.Int64
}

func (c *bookListings) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == c.book {
		switch {
		case r.Method == "PROPFIND" && r.Header.Get("Depth") == "1":
			c.n.Add(1)
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
				c.n.Add(1)
			}
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestContactsInitialSyncListsOnce: a phone takes a 300-card book in
// windows of 25 through the whole gateway (prefetch of the next window
// included) while another client adds, changes and deletes cards: the
// book is listed upstream once for the whole initial sync, and once for
// the sync after it, which brings what changed meanwhile; every card
// reaches the phone once.
func TestContactsInitialSyncListsOnce(t *testing.T) {
	up := &bookListings{}
	g := startCardGateway(t, cardGatewayOptions{Transport: up})
	book := g.book(t, "contacts", "Contacts")
	up.book = book
	fillBook(t, g, "contacts", 300)
	phone := g.phone(t, "windows", eas.V161)
	ids := map[string]string{}
	phone.folders(t, "0", ids)
	id := ids["Contacts"]
	sid := func(i int) string { return fmt.Sprintf("%s:card-%05d.vcf", id, i) }
	got := map[string][]string{} // ServerId → commands, in order
	held := map[string]string{}  // ServerId → last name
	take := func(c cColl) {
		if c.Status != eas.SyncSuccess {
			t.Fatalf("sync status %d", c.Status)
		}
		if c.Commands == nil {
			return
		}
		for _, a := range c.Commands.Add {
			if _, dup := held[a.ServerID]; dup {
				t.Errorf("Add of %s, which the phone holds", a.ServerID)
			}
			got[a.ServerID] = append(got[a.ServerID], "Add")
			held[a.ServerID] = a.ApplicationData.LastName
		}
		for _, a := range c.Commands.Change {
			got[a.ServerID] = append(got[a.ServerID], "Change")
			held[a.ServerID] = a.ApplicationData.LastName
		}
		for _, d := range c.Commands.Delete {
			got[d.ServerID] = append(got[d.ServerID], "Delete")
			delete(held, d.ServerID)
		}
	}
	window := 25
	c := phone.mustSync(t, eas.SyncCollection{SyncKey: "0", CollectionID: id})
	key := c.SyncKey
	for windows := 1; ; windows++ {
		c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, WindowSize: &window, GetChanges: boolp(true)})
		take(c)
		key = c.SyncKey
		if !c.MoreAvailable {
			if windows != 12 {
				t.Errorf("initial sync in %d windows, want 12", windows)
			}
			break
		}
		if windows > 20 {
			t.Fatal("no end of the initial sync")
		}
		if windows == 3 {
			// card-00000…00074 are on the phone.
			g.put(t, book+"new.vcf", testCard("new", "Nora New", ""))
			g.put(t, book+"card-00001.vcf", testCard("card-00001", "Sent Changed", ""))
			g.put(t, book+"card-00200.vcf", testCard("card-00200", "Unsent Changed", ""))
			g.do(t, http.MethodDelete, book+"card-00002.vcf", "")
			g.do(t, http.MethodDelete, book+"card-00201.vcf", "")
		}
	}
	if n := up.n.Load(); n != 1 {
		t.Errorf("the initial sync listed the book %d times, want 1", n)
	}
	c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, WindowSize: &window, GetChanges: boolp(true)})
	take(c)
	want := []string{"+" + id + ":new.vcf", "-" + sid(2), "~" + sid(1)}
	if s := c.summary(); !slices.Equal(s, want) || c.MoreAvailable {
		t.Errorf("next sync: %q (more %v), want %q", s, c.MoreAvailable, want)
	}
	if n := up.n.Load(); n != 2 {
		t.Errorf("initial and next sync listed the book %d times, want 2", n)
	}
	if len(held) != 299 {
		t.Errorf("phone holds %d cards, want 299", len(held))
	}
	for i := range 300 {
		w := []string{"Add"}
		switch i {
		case 1:
			w = []string{"Add", "Change"}
		case 2:
			w = []string{"Add", "Delete"}
		case 201:
			w = nil
		}
		if !slices.Equal(got[sid(i)], w) {
			t.Errorf("%s: phone got %q, want %q", sid(i), got[sid(i)], w)
		}
	}
	if held[sid(1)] != "Changed" || held[sid(200)] != "Changed" || held[id+":new.vcf"] != "New" {
		t.Errorf("phone holds %q, %q, %q", held[sid(1)], held[sid(200)], held[id+":new.vcf"])
	}
}

// TestContactsWithoutETags: with a CardDAV server that gives no ETags, a
// phone gets a book in windows to the end, its next Syncs bring nothing,
// and a card another client changes comes once.
func TestContactsWithoutETags(t *testing.T) {
	strip := &radicaletest.ETagStripper{}
	g := startCardGateway(t, cardGatewayOptions{Transport: strip})
	book := g.book(t, "contacts", "Contacts")
	fillBook(t, g, "contacts", 30)
	phone := g.phone(t, "noetags", eas.V161)
	ids := map[string]string{}
	phone.folders(t, "0", ids)
	id := ids["Contacts"]
	window := 7
	c := phone.mustSync(t, eas.SyncCollection{SyncKey: "0", CollectionID: id})
	key, adds := c.SyncKey, 0
	for windows := 1; ; windows++ {
		c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, WindowSize: &window, GetChanges: boolp(true)})
		if c.Status != eas.SyncSuccess {
			t.Fatalf("sync status %d", c.Status)
		}
		if c.Commands != nil {
			if len(c.Commands.Change)+len(c.Commands.Delete) > 0 {
				t.Errorf("initial sync window %d: %q", windows, c.summary())
			}
			adds += len(c.Commands.Add)
		}
		key = c.SyncKey
		if !c.MoreAvailable {
			break
		}
		if windows > 10 {
			t.Fatal("no end of the initial sync")
		}
	}
	if adds != 30 {
		t.Errorf("initial sync: %d Adds, want 30", adds)
	}
	if strip.Stripped() == 0 {
		t.Fatal("no ETag was removed")
	}
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"nothing changed", func() {}, nil},
		{"nothing changed, again", func() {}, nil},
		{"another client changes a card", func() {
			g.put(t, book+"card-00003.vcf", testCard("card-00003", "Changed Elsewhere", ""))
		}, []string{"~" + id + ":card-00003.vcf"}},
		{"nothing changed since", func() {}, nil},
	}
	for _, st := range steps {
		st.do()
		c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, WindowSize: &window, GetChanges: boolp(true)})
		if s := c.summary(); c.Status != eas.SyncSuccess || !slices.Equal(s, st.want) || c.MoreAvailable {
			t.Errorf("%s: status %d, %q (more %v), want %q", st.name, c.Status, s, c.MoreAvailable, st.want)
		}
		key = c.SyncKey
	}
}
