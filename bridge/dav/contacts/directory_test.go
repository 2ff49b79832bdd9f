package contacts

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

// photo is a small JPEG-looking photo.
var photo = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0x42}, 300)...)

// seedPeople puts the people of the lookup tests into two address books.
func seedPeople(t *testing.T, srv *radicaletest.Server) {
	t.Helper()
	for _, b := range [][2]string{{"contacts", "Contacts"}, {"work", "Work"}} {
		if err := srv.AddressBook(user, b[0], b[1]); err != nil {
			t.Fatal(err)
		}
	}
	card := func(uid, fn, n, extra string) []byte {
		return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + fn + "\r\nN:" + n + "\r\n" + extra + "END:VCARD\r\n")
	}
	b64 := base64.StdEncoding.EncodeToString(photo)
	put(t, srv, "/anna/contacts/ann.vcf", card("ann", "Ann Smith", "Smith;Ann;;;",
		"EMAIL;TYPE=HOME:ann@example.org\r\nEMAIL;TYPE=WORK:a.smith@work.example\r\nTEL;TYPE=CELL:+49 170 1\r\nPHOTO;ENCODING=b;TYPE=JPEG:"+b64+"\r\n"))
	put(t, srv, "/anna/contacts/bob.vcf", card("bob", "Bob Jones", "Jones;Bob;;;",
		"EMAIL:bob@example.org\r\nNICKNAME:Bobby\r\nORG:ACME\r\nTITLE:Engineer\r\nTEL;TYPE=WORK:+1 555 3\r\n"))
	put(t, srv, "/anna/work/berg.vcf", card("berg", "Anna Berg", "Berg;Anna;;;",
		"EMAIL:anna.berg@example.net\r\nTEL;TYPE=HOME:+49 30 2\r\n"))
	put(t, srv, "/anna/work/joanne.vcf", card("joanne", "Joanne Miller", "Miller;Joanne;;;",
		"EMAIL:jm@example.com\r\n"))
}

// refuseQuery answers every addressbook-query REPORT with 501, as a
// server without one would.
type refuseQuery struct{ refused atomic.Int64 }

func (r *refuseQuery) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == "REPORT" && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		if bytes.Contains(body, []byte("addressbook-query")) {
			r.refused.Add(1)
			return &http.Response{StatusCode: http.StatusNotImplemented, Status: "501 Not Implemented",
				Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: req}, nil
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestLookup(t *testing.T) {
	srv := start(t)
	seedPeople(t, srv)
	tests := []struct {
		query string
		want  []string // "Name <first address>"
	}{
		{"ann", []string{"Ann Smith <ann@example.org>", "Anna Berg <anna.berg@example.net>"}},
		{"ANNA", []string{"Anna Berg <anna.berg@example.net>"}},
		{"smith", []string{"Ann Smith <ann@example.org>"}},
		{"Smith Ann", []string{"Ann Smith <ann@example.org>"}},
		{"Ann Sm", []string{"Ann Smith <ann@example.org>"}},
		{"a.smith@work", []string{"Ann Smith <ann@example.org>"}},
		{"bob@example.org", []string{"Bob Jones <bob@example.org>"}},
		{"bobby", []string{"Bob Jones <bob@example.org>"}},
		{"berg", []string{"Anna Berg <anna.berg@example.net>"}},
		{"jo", []string{"Bob Jones <bob@example.org>", "Joanne Miller <jm@example.com>"}},
		// "anne" is inside "Joanne" but starts no word.
		{"anne", nil},
		{"nobody", nil},
	}
	for _, mode := range []string{"query", "refused query"} {
		t.Run(mode, func(t *testing.T) {
			cfg := dav.Config{}
			refuse := &refuseQuery{}
			if mode == "refused query" {
				cfg.Transport = refuse
			}
			se := open(t, srv, cfg)
			for _, tt := range tests {
				rs, err := se.Lookup(context.Background(), tt.query, 0)
				if err != nil {
					t.Fatalf("%q: %v", tt.query, err)
				}
				var got []string
				for _, r := range rs {
					got = append(got, fmt.Sprintf("%s <%s>", r.Name(), r.Emails[0]))
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("%q: got %q, want %q", tt.query, got, tt.want)
				}
			}
			if mode == "refused query" && refuse.refused.Load() == 0 {
				t.Fatal("the query was never refused")
			}
		})
	}
}

func TestLookupFields(t *testing.T) {
	srv := start(t)
	seedPeople(t, srv)
	se := open(t, srv, dav.Config{})
	ctx := context.Background()
	rs, err := se.Lookup(ctx, "ann smith", 0)
	if err != nil || len(rs) != 1 {
		t.Fatalf("%v %+v", err, rs)
	}
	ann := rs[0]
	if ann.FirstName != "Ann" || ann.LastName != "Smith" || ann.MobilePhone != "+49 170 1" ||
		!slices.Equal(ann.Emails, []string{"ann@example.org", "a.smith@work.example"}) || !bytes.Equal(ann.Picture, photo) {
		t.Errorf("Ann: %+v", ann)
	}
	rs, err = se.Lookup(ctx, "bob", 0)
	if err != nil || len(rs) != 1 {
		t.Fatalf("%v %+v", err, rs)
	}
	if bob := rs[0]; bob.Alias != "Bobby" || bob.Company != "ACME" || bob.Title != "Engineer" || bob.Phone != "+1 555 3" || bob.Picture != nil {
		t.Errorf("Bob: %+v", bob)
	}
	if rs, err := se.Lookup(ctx, "a", 1); err != nil || len(rs) != 1 {
		t.Errorf("limit 1: %v %d results", err, len(rs))
	}
}

func TestLookupServerDown(t *testing.T) {
	srv := start(t)
	seedPeople(t, srv)
	se := open(t, srv, dav.Config{})
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err := se.Lookup(context.Background(), "ann", 0)
	if !errors.Is(err, eas.ErrUnavailable) {
		t.Fatalf("lookup with the server down: %v, want an unavailable error", err)
	}
}
