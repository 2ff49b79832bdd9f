package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// reportServer answers sync-collection REPORTs with answer(token sent,
// index of the request) and records the tokens sent. A PROPFIND gets the
// listing of /book/ with one object, a.vcf at ETag "L", and is counted.
type reportServer struct {
	*httptest.Server
	mu        sync.Mutex
	tokens    []string
	propfinds int
}

// bookListing is the Depth 1 PROPFIND answer of reportServer.
const bookListing = `<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:">` +
	`<d:response><d:href>/book/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>` +
	`</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>` +
	`<d:response><d:href>/book/a.vcf</d:href><d:propstat><d:prop><d:resourcetype/>` +
	`<d:getcontentlength>10</d:getcontentlength><d:getetag>"L"</d:getetag></d:prop>` +
	`<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`

func newReportServer(t *testing.T, answer func(token string, n int) (int, string)) *reportServer {
	s := &reportServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PROPFIND" {
			s.mu.Lock()
			s.propfinds++
			s.mu.Unlock()
			w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
			w.WriteHeader(http.StatusMultiStatus)
			fmt.Fprint(w, bookListing)
			return
		}
		var q struct {
			Token string    `xml:"DAV: sync-token"`
			Level string    `xml:"DAV: sync-level"`
			ETag  *struct{} `xml:"DAV: prop>getetag"`
		}
		if r.Method != "REPORT" || xml.NewDecoder(r.Body).Decode(&q) != nil || q.Level != "1" || q.ETag == nil {
			t.Errorf("not a sync-collection REPORT asking for getetag: %s %+v", r.Method, q)
		}
		if d := r.Header.Get("Depth"); d != "" && d != "0" {
			t.Errorf("Depth: %s", d)
		}
		s.mu.Lock()
		n := len(s.tokens)
		s.tokens = append(s.tokens, q.Token)
		s.mu.Unlock()
		code, body := answer(q.Token, n)
		w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *reportServer) sent() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%q", s.tokens)
}

// syncAnswer is a multistatus for /book/: objects "name etag" changed,
// names deleted, and a 507 for the collection when truncated.
func syncAnswer(token string, truncated bool, changed []string, deleted ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:">`)
	for _, c := range changed {
		name, etag, _ := strings.Cut(c, " ")
		fmt.Fprintf(&b, `<d:response><d:href>http://dav.example.org/book/%s</d:href><d:propstat><d:prop>`+
			`<d:getetag>"%s"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, name, etag)
	}
	for _, name := range deleted {
		fmt.Fprintf(&b, `<d:response><d:href>/book/%s</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`, name)
	}
	if truncated {
		b.WriteString(`<d:response><d:href>/book/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status>` +
			`<d:error><d:number-of-matches-within-limits/></d:error></d:response>`)
	}
	if token != "" {
		fmt.Fprintf(&b, `<d:sync-token>%s</d:sync-token>`, token)
	}
	b.WriteString(`</d:multistatus>`)
	return b.String()
}

func reportClient(t *testing.T, s *reportServer) *Client {
	c, err := NewClient(Config{URL: s.URL}, Credentials{user, pass})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestChangesTruncated: a server that sends its changes in three parts
// (RFC 6578 3.6) is asked again from each token it gives, and the parts
// add up: a later part's entry for an object wins.
func TestChangesTruncated(t *testing.T) {
	answer := func(token string, _ int) (int, string) {
		switch token {
		case "", "t0":
			return http.StatusMultiStatus, syncAnswer("t1", true, []string{"a.vcf 1", "b.vcf 1", "c.vcf 1"})
		case "t1": // b updated then deleted; d deleted, re-added below
			return http.StatusMultiStatus, syncAnswer("t2", true, []string{"a.vcf 2"}, "b.vcf", "d.vcf")
		case "t2":
			return http.StatusMultiStatus, syncAnswer("t3", false, []string{"d.vcf 3"})
		}
		return http.StatusForbidden, ""
	}
	for _, tc := range []struct {
		name, cursor string
		full         bool
		sent         string
	}{{"first", "", true, `["" "t1" "t2"]`}, {"from a token", "sync:t0", false, `["t0" "t1" "t2"]`}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newReportServer(t, answer)
			d, err := reportClient(t, s).Changes(context.Background(), "/book/", tc.cursor)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("{[{/book/a.vcf 2} {/book/c.vcf 1} {/book/d.vcf 3}] [/book/b.vcf] [] %v sync:t3 false}", tc.full)
			if got := fmt.Sprint(d); got != want {
				t.Errorf("delta %s\nwant  %s", got, want)
			}
			if got := s.sent(); got != tc.sent {
				t.Errorf("tokens sent %s, want %s", got, tc.sent)
			}
		})
	}
}

// TestChangesTruncatedEndless: a truncated answer that cannot be
// continued (no new token, the token sent again, or truncated round after
// round) is no reason to fail the collection on every Sync: Changes lists
// it instead, in full, and goes on from the listing; so too when the
// truncated answer is to the fresh start after a token the server forgot.
func TestChangesTruncatedEndless(t *testing.T) {
	for _, tc := range []struct {
		name, cursor string
		answer       func(token string, n int) (int, string)
		requests     int
	}{
		{"no token", "", func(string, int) (int, string) {
			return http.StatusMultiStatus, syncAnswer("", true, []string{"a.vcf 1"})
		}, 1},
		{"same token", "sync:t0", func(token string, _ int) (int, string) {
			return http.StatusMultiStatus, syncAnswer(token, true, []string{"a.vcf 1"})
		}, 1},
		{"same token later", "", func(string, int) (int, string) {
			return http.StatusMultiStatus, syncAnswer("t1", true, []string{"a.vcf 1"})
		}, 2},
		{"after a token forgotten", "sync:t0", func(token string, _ int) (int, string) {
			if token != "" {
				return http.StatusForbidden, ""
			}
			return http.StatusMultiStatus, syncAnswer("", true, []string{"a.vcf 1"})
		}, 2},
		{"endless", "", func(_ string, n int) (int, string) {
			return http.StatusMultiStatus, syncAnswer(fmt.Sprint("t", n+1), true, []string{fmt.Sprintf("%d.vcf 1", n)})
		}, maxSyncRounds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newReportServer(t, tc.answer)
			c := reportClient(t, s)
			d, err := c.Changes(context.Background(), "/book/", tc.cursor)
			if err != nil || !d.Full || fmt.Sprint(d.Updated) != "[{/book/a.vcf L}]" || !strings.HasPrefix(d.Cursor, etagPrefix) {
				t.Fatalf("got %+v, %v; want the full listing", d, err)
			}
			s.mu.Lock()
			if len(s.tokens) != tc.requests || s.propfinds != 1 {
				t.Errorf("%d REPORTs and %d PROPFINDs, want %d and 1", len(s.tokens), s.propfinds, tc.requests)
			}
			s.mu.Unlock()
			// The next Changes goes on from the listing: nothing new.
			next, err := c.Changes(context.Background(), "/book/", d.Cursor)
			if err != nil || !next.Empty() {
				t.Errorf("next Changes: %+v, %v; want no change", next, err)
			}
		})
	}
}

// TestChangesInsufficientStorage: a 507 for the whole request, as an HTTP
// status, is a token the server cannot go on from: start over.
func TestChangesInsufficientStorage(t *testing.T) {
	s := newReportServer(t, func(token string, _ int) (int, string) {
		if token != "" {
			return http.StatusInsufficientStorage, ""
		}
		return http.StatusMultiStatus, syncAnswer("t1", false, []string{"a.vcf 1"})
	})
	d, err := reportClient(t, s).Changes(context.Background(), "/book/", "sync:t0")
	if err != nil || !d.Full || fmt.Sprint(d.Updated) != "[{/book/a.vcf 1}]" || d.Cursor != "sync:t1" {
		t.Fatalf("got %+v, %v", d, err)
	}
	if got := s.sent(); got != `["t0" ""]` {
		t.Errorf("tokens sent %s", got)
	}
}

// TestChangesAnswerTooLarge: an answer over the bound is an error, not a
// list of changes cut short.
func TestChangesAnswerTooLarge(t *testing.T) {
	s := newReportServer(t, func(string, int) (int, string) {
		body := syncAnswer("t1", false, []string{"a.vcf 1"})
		return http.StatusMultiStatus, strings.Replace(body, "</d:multistatus>",
			"<!--"+strings.Repeat(" ", maxSyncAnswer)+"--></d:multistatus>", 1)
	})
	d, err := reportClient(t, s).Changes(context.Background(), "/book/", "")
	if !errors.Is(err, errSyncTooLarge) || !Temporary(err) {
		t.Fatalf("got %+v, %v", d, err)
	}
}
