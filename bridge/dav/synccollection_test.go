package dav

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
)

// TestParseSync reads the multistatus shapes of RFC 6578's examples
// (3.8 to 3.10): absolute-URL hrefs, a property the server lacks in a
// propstat of its own, 404 deletions, sub-collections, and the 507 of a
// truncated answer.
func TestParseSync(t *testing.T) {
	const coll = "/home/cyrusdaboo/"
	reqURL, _ := url.Parse("http://webdav.example.com/home/cyrusdaboo/")
	ms := func(token string, responses ...string) string {
		return `<?xml version="1.0" encoding="utf-8" ?><D:multistatus xmlns:D="DAV:">` +
			strings.Join(responses, "") + `<D:sync-token>` + token + `</D:sync-token></D:multistatus>`
	}
	object := func(href, etag string) string {
		return `<D:response><D:href>` + href + `</D:href><D:propstat><D:prop><D:getetag>` + etag +
			`</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>`
	}
	status := func(href, status string) string {
		return `<D:response><D:href>` + href + `</D:href><D:status>HTTP/1.1 ` + status + `</D:status></D:response>`
	}
	const truncated = `<D:response><D:href>http://webdav.example.com/home/cyrusdaboo/</D:href>` +
		`<D:status>HTTP/1.1 507 Insufficient Storage</D:status>` +
		`<D:error><D:number-of-matches-within-limits/></D:error></D:response>`
	for _, tc := range []struct {
		name, body string
		want       string // fmt of the page
		err        string
	}{
		{"initial", ms("http://example.com/ns/sync/1234",
			object("http://webdav.example.com/home/cyrusdaboo/test.doc", `"00001-abcd1"`),
			`<D:response><D:href>http://webdav.example.com/home/cyrusdaboo/vcard.vcf</D:href>`+
				`<D:propstat><D:prop><D:getetag>"00002-abcd1"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>`+
				`<D:propstat><D:prop><R:bigbox xmlns:R="urn:ns.example.com:boxschema"/></D:prop>`+
				`<D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>`,
			object("/home/cyrusdaboo/calendar.ics", `W/"00003-abcd1"`)),
			"{[{/home/cyrusdaboo/test.doc 00001-abcd1} {/home/cyrusdaboo/vcard.vcf 00002-abcd1} " +
				"{/home/cyrusdaboo/calendar.ics 00003-abcd1}] [] http://example.com/ns/sync/1234 false}", ""},
		{"deleted and percent-encoded", ms("http://example.com/ns/sync/1238",
			object("http://webdav.example.com/home/cyrusdaboo/J%C3%BCrgen%20M.vcf", `"00004-abcd1"`),
			status("http://webdav.example.com/home/cyrusdaboo/file.xml", "404 Not Found"),
			status("/home/cyrusdaboo/a%2Bb.vcf", "404 Not Found")),
			"{[{/home/cyrusdaboo/Jürgen M.vcf 00004-abcd1}] [/home/cyrusdaboo/file.xml /home/cyrusdaboo/a+b.vcf] " +
				"http://example.com/ns/sync/1238 false}", ""},
		{"collections skipped", ms("t2",
			object("http://webdav.example.com/home/cyrusdaboo/", `"c"`),
			object("http://webdav.example.com/home/cyrusdaboo/sub/", `"s"`),
			object("/home/cyrusdaboo/sub/x.ics", `"x"`),
			status("/home/cyrusdaboo/gone/", "404 Not Found")),
			"{[{/home/cyrusdaboo/sub/x.ics x}] [] t2 false}", ""},
		{"truncated", ms("http://example.com/ns/sync/1233",
			object("http://webdav.example.com/home/cyrusdaboo/test.doc", `"00001-abcd1"`), truncated),
			"{[{/home/cyrusdaboo/test.doc 00001-abcd1}] [] http://example.com/ns/sync/1233 true}", ""},
		{"no etag", ms("t3", `<D:response><D:href>/home/cyrusdaboo/n.vcf</D:href><D:propstat><D:prop><D:getetag/></D:prop>`+
			`<D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>`),
			"{[{/home/cyrusdaboo/n.vcf }] [] t3 false}", ""},
		{"507 for an object", ms("t4", status("/home/cyrusdaboo/big.vcf", "507 Insufficient Storage")),
			"", "/home/cyrusdaboo/big.vcf: HTTP/1.1 507"},
		{"not xml", "<html>", "", "read the answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := parseSync(coll, reqURL, strings.NewReader(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %+v, %v; want an error with %q", page, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(page); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestCapReader: an answer over the bound is an error, one of exactly the
// bound is read whole.
func TestCapReader(t *testing.T) {
	for _, tc := range []struct {
		size int
		err  error
	}{{10, nil}, {11, errSyncTooLarge}, {3, nil}} {
		r := &capReader{r: strings.NewReader(strings.Repeat("x", tc.size)), n: 10}
		var got []byte
		buf := make([]byte, 4)
		var err error
		for {
			var n int
			n, err = r.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if tc.err == nil && (err != io.EOF || len(got) != tc.size) || tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("%d bytes: read %d, %v", tc.size, len(got), err)
		}
	}
}
