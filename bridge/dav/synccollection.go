package dav

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// syncCollection is the body of an RFC 6578 sync-collection REPORT. It
// asks for DAV:getetag only: callers compare ETags and read the objects
// they lack, so the vCards go-webdav's SyncCollection asks for
// (CARDDAV:address-data) would be read twice.
type syncCollection struct {
	XMLName   xml.Name `xml:"DAV: sync-collection"`
	SyncToken string   `xml:"DAV: sync-token"`
	SyncLevel string   `xml:"DAV: sync-level"`
	Prop      struct {
		ETag struct{} `xml:"DAV: getetag"`
	} `xml:"DAV: prop"`
}

// syncMultiStatus is the answer (RFC 6578 3.2): a response per object
// changed (propstat) or removed (status 404), maybe one for the
// collection itself with 507 when the server sent only part of the
// changes (3.6), and the token of what it sent.
type syncMultiStatus struct {
	Responses []syncResponse `xml:"DAV: response"`
	SyncToken string         `xml:"DAV: sync-token"`
}

type syncResponse struct {
	Hrefs     []string       `xml:"DAV: href"`
	Status    string         `xml:"DAV: status"`
	PropStats []syncPropStat `xml:"DAV: propstat"`
}

type syncPropStat struct {
	Status string `xml:"DAV: status"`
	Prop   struct {
		ETag string `xml:"DAV: getetag"`
	} `xml:"DAV: prop"`
}

// syncPage is one answer to a sync-collection REPORT.
type syncPage struct {
	Updated []Object
	Deleted []string
	Token   string
	// Truncated: the server has more changes to send from Token on.
	Truncated bool
}

// maxSyncAnswer bounds the body of one answer: an address book of
// 100,000 contacts takes about 25 MiB of multistatus.
const maxSyncAnswer = 64 << 20

// errSyncTooLarge is an answer longer than maxSyncAnswer: reading only
// its start would lose changes without telling.
var errSyncTooLarge = fmt.Errorf("over %d MiB", maxSyncAnswer>>20)

// syncReport sends one sync-collection REPORT from token ("" for all)
// and reads the answer; the caller adds the collection to errors.
func (c *Client) syncReport(ctx context.Context, collection, token string) (syncPage, error) {
	// RFC 6578 3.2: sync-level 1 and no Depth header (Depth 0 is implied).
	resp, err := c.sendXML(ctx, "REPORT", collection, "", syncCollection{SyncToken: token, SyncLevel: "1"})
	if err != nil {
		return syncPage{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		// A 2xx that is no multistatus says nothing about changes: a
		// server without sync-collection, which Changes then lists (the
		// code is errNoToken's).
		return syncPage{}, &StatusError{Method: "REPORT", Path: collection, Code: http.StatusNotImplemented,
			Body: fmt.Sprintf("answered %d, not a multistatus", resp.StatusCode)}
	}
	return parseSync(collection, resp.Request.URL, &capReader{r: resp.Body, n: maxSyncAnswer})
}

// parseSync reads a sync-collection multistatus for the collection at
// reqURL. Object paths are href paths unescaped, as go-webdav gives them
// in listings, so that both strategies name an object alike.
func parseSync(collection string, reqURL *url.URL, r io.Reader) (syncPage, error) {
	var ms syncMultiStatus
	if err := xml.NewDecoder(r).Decode(&ms); err != nil {
		return syncPage{}, fmt.Errorf("read the answer: %w", err)
	}
	page := syncPage{Token: strings.TrimSpace(ms.SyncToken)}
	for _, resp := range ms.Responses {
		code := 0
		if resp.Status != "" {
			code = propStatCode(resp.Status)
		}
		for _, href := range resp.Hrefs {
			p, err := hrefPath(reqURL, href)
			if err != nil {
				return syncPage{}, err
			}
			self := strings.TrimSuffix(p, "/") == strings.TrimSuffix(collection, "/")
			switch {
			case self && code == http.StatusInsufficientStorage:
				page.Truncated = true
			case self || strings.HasSuffix(p, "/"):
				// The collection itself or one inside it: no object.
			case code == 0 || success(code):
				page.Updated = append(page.Updated, Object{Path: p, ETag: propETag(resp.PropStats)})
			case code == http.StatusNotFound:
				page.Deleted = append(page.Deleted, p)
			default:
				return syncPage{}, fmt.Errorf("%s: %s", href, strings.TrimSpace(resp.Status))
			}
		}
	}
	return page, nil
}

// propETag is the ETag of the first successful propstat that has one;
// a server may give none (a propstat with 404), which callers handle.
func propETag(stats []syncPropStat) string {
	for _, ps := range stats {
		if success(propStatCode(ps.Status)) && ps.Prop.ETag != "" {
			return unquoteETag(ps.Prop.ETag)
		}
	}
	return ""
}

// hrefPath is the unescaped path of an href, which may be an absolute
// URL, an absolute path or (rarely) relative to the request.
func hrefPath(reqURL *url.URL, href string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(href))
	if err != nil {
		return "", fmt.Errorf("bad href %q: %w", href, err)
	}
	if !u.IsAbs() && !strings.HasPrefix(u.Path, "/") {
		u = reqURL.ResolveReference(u)
	}
	return u.Path, nil
}

// capReader reads at most n bytes and fails on more, so that an answer
// too long is an error rather than a document cut short.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// One byte more tells a body of exactly n from a longer one.
		var b [1]byte
		n, err := c.r.Read(b[:])
		if n > 0 {
			return 0, errSyncTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}
