package contacts

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

// TestNoETags: against a server that gives no ETags, a card reaches the
// phone once and comes again only when it changes, whoever changes it; a
// phone's change of a card changed meanwhile is refused; with both change
// strategies, and with a server that gives no getlastmodified either.
func TestNoETags(t *testing.T) {
	tests := []struct {
		name   string
		strip  []string
		noSync bool
	}{
		{"sync-collection", nil, false},
		{"propfind", nil, true},
		{"sync-collection, no getlastmodified", []string{"getlastmodified"}, false},
		{"propfind, no getlastmodified", []string{"getlastmodified"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noSync := tt.noSync
			// Without getlastmodified, a change that keeps a card's size
			// within the second is told too (with it, the listing's
			// digest misses such a change: changes.go).
			exact := !noSync || len(tt.strip) > 0
			srv := start(t)
			fillBook(t, srv, 30)
			front, strip := radicaletest.NoETags(t, srv, tt.strip...)
			s, err := New(Config{DAV: dav.Config{URL: front, NoSyncCollection: noSync}}).Open(context.Background(), cred)
			if err != nil {
				t.Fatal(err)
			}
			se := s.(*Session)
			ctx := context.Background()
			phone := newPhone()
			cursor, _ := phone.sync(t, se, "", 7, nil)
			if len(phone.known) != 30 {
				t.Fatalf("phone holds %d cards, want 30", len(phone.known))
			}
			if strip.Stripped() == 0 {
				t.Fatal("the proxy removed no ETag")
			}
			for id, v := range phone.known {
				if !strings.HasPrefix(v, dav.DigestPrefix) {
					t.Errorf("%s: version %q is no digest", id, v)
				}
			}
			steps := []struct {
				name  string
				exact bool // the change keeps the card's size
				do    func(t *testing.T)
				want  []string // what the next sync sends, sorted
			}{
				{"nothing changed", false, func(*testing.T) {}, nil},
				{"another client adds, changes, deletes", false, func(t *testing.T) {
					put(t, srv, book+"new.vcf", vcf("new", "New"))
					put(t, srv, book+"c0003.vcf", vcf("c0003", "Changed elsewhere"))
					if status, _, err := srv.Do(ctx, user, http.MethodDelete, book+"c0004.vcf", "", nil); err != nil || status/100 != 2 {
						t.Fatalf("DELETE: %d %v", status, err)
					}
				}, []string{"Add new.vcf New", "Change c0003.vcf Changed elsewhere", "Delete c0004.vcf "}},
				{"another client changes a card, same size", true, func(t *testing.T) {
					put(t, srv, book+"c0007.vcf", vcf("c0007", "Card X0007"))
				}, []string{"Change c0007.vcf Card X0007"}},
				{"the phone adds and changes", false, func(t *testing.T) {
					id, v, err := se.AddItem(ctx, book, &eas.Contact{LastName: "Added by the phone"})
					if err != nil || !strings.HasPrefix(v, dav.DigestPrefix) {
						t.Fatalf("AddItem: %q %v", v, err)
					}
					phone.known[id] = v
					v, err = se.ChangeItem(ctx, eas.ItemRef{Path: book, ServerID: "c0005.vcf"},
						eas.ItemUpdate{Item: &eas.Contact{LastName: "Changed by the phone"}, Known: phone.known["c0005.vcf"]})
					if err != nil || v == phone.known["c0005.vcf"] || !strings.HasPrefix(v, dav.DigestPrefix) {
						t.Fatalf("ChangeItem: %q (held %q) %v", v, phone.known["c0005.vcf"], err)
					}
					phone.known["c0005.vcf"] = v
				}, nil},
				{"the phone changes a card changed elsewhere", false, func(t *testing.T) {
					put(t, srv, book+"c0006.vcf", vcf("c0006", "Changed elsewhere first"))
					_, err := se.ChangeItem(ctx, eas.ItemRef{Path: book, ServerID: "c0006.vcf"},
						eas.ItemUpdate{Item: &eas.Contact{LastName: "Phone"}, Known: phone.known["c0006.vcf"]})
					if !errors.Is(err, eas.ErrConflict) {
						t.Fatalf("stale change: %v, want ErrConflict", err)
					}
				}, []string{"Change c0006.vcf Changed elsewhere first"}},
			}
			for _, st := range steps {
				if st.exact && !exact {
					continue
				}
				st.do(t)
				var got []string
				for round := 0; ; round++ {
					cs, err := se.Changes(ctx, eas.SyncQuery{Path: book, Cursor: cursor, Known: phone.known, Window: 7})
					if err != nil {
						t.Fatal(err)
					}
					for _, ch := range cs.Changes {
						name := ""
						if c, ok := ch.Item.(*eas.Contact); ok {
							name = c.LastName
						}
						got = append(got, ch.Kind.String()+" "+ch.ServerID+" "+name)
					}
					phone.take(t, cs)
					cursor = cs.Cursor
					if !cs.More {
						break
					}
					if round > 10 {
						t.Fatal("no end of changes")
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, st.want) {
					t.Errorf("%s: phone got %q, want %q", st.name, got, st.want)
				}
				if n, err := se.Pending(ctx, eas.SyncQuery{Path: book, Cursor: cursor, Known: phone.known}); err != nil || n != 0 {
					t.Errorf("%s: then Pending %d, %v", st.name, n, err)
				}
			}
			data, _, err := se.c.Get(ctx, book+"c0005.vcf")
			if err != nil || !strings.Contains(string(data), "Changed by the phone") {
				t.Errorf("c0005.vcf on the server: %q, %v", data, err)
			}
		})
	}
}
