// Package dav is the WebDAV side shared by easgate's CardDAV (contacts) and
// CalDAV (calendars, tasks) sources: a client that logs in with the user's
// own credentials, discovery of the user's collections (RFC 6764, RFC 4918
// current-user-principal, RFC 6352 and RFC 4791 home sets), one
// change-detection strategy (RFC 6578 sync-collection where the server
// offers it, else ETag comparison), conditional writes, and a poller that
// stands in for the push DAV lacks.
//
// WebDAV XML is left to github.com/emersion/go-webdav; this package adds
// what that client lacks: If-Match and If-None-Match on writes, raw
// objects, status codes a caller can act on, extended MKCOL, and a
// sync-collection that goes on after a truncated answer.
package dav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"
)

// Config says where the DAV server is. The zero Timeout means
// DefaultTimeout.
type Config struct {
	// URL is the server (https://dav.example.org/) or a context path on it
	// (https://example.org/remote.php/dav/). Discovery starts there.
	URL string
	// Timeout bounds each request, on top of the caller's context.
	Timeout time.Duration
	// Transport is the HTTP transport; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// NoSyncCollection makes Changes compare ETags even where the server
	// offers sync-collection, for servers whose tokens cannot be trusted.
	NoSyncCollection bool
}

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Credentials are the user's own login, the same the phone sent.
type Credentials struct {
	Username string
	Password string
}

// Client talks to one DAV server as one user. It is safe for concurrent
// use.
type Client struct {
	base *url.URL
	http webdav.HTTPClient
	card *carddav.Client
	cal  *caldav.Client
	// noSync: compare ETags, never ask for a sync-collection.
	noSync bool
}

// ErrUnauthorized is returned when the server refuses the credentials.
var ErrUnauthorized = errors.New("dav: credentials refused")

// StatusError is a response the server gave with a status other than
// success.
type StatusError struct {
	Method string
	Path   string
	Code   int
	// Location of a redirect.
	Location string
	// Body is the start of the response body, for logs.
	Body string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("dav: %s %s: %d %s", e.Method, e.Path, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Is makes errors.Is(err, ErrUnauthorized) hold for a 401.
func (e *StatusError) Is(target error) bool {
	return target == ErrUnauthorized && e.Code == http.StatusUnauthorized
}

// IsStatus reports whether err is a StatusError with one of the codes.
func IsStatus(err error, codes ...int) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code == c {
			return true
		}
	}
	return false
}

// Temporary reports whether err is worth retrying later: the server could
// not be reached, timed out, or answered with a 5xx or 429. Callers turn it
// into a retryable protocol status, never into "the data is gone".
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests
	}
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, context.Canceled) {
		return false
	}
	// Everything else is the transport's: refused, reset, timed out, or a
	// body that ended early.
	return true
}

// Unreachable tells a server that is down, slow or refusing from one that
// answered a multiget: go-webdav reports an object of the multistatus
// that is gone (deleted since the listing: 404) as an error of its own,
// which is no reason to retry the whole Sync; the caller reads the
// objects one by one instead.
func Unreachable(ctx context.Context, err error) bool {
	var se *StatusError
	var ne net.Error
	return errors.As(err, &se) && Temporary(err) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || ctx.Err() != nil
}

// NewClient makes a client for cfg logging in as cred. It sends nothing.
func NewClient(cfg Config, cred Credentials) (*Client, error) {
	base, err := url.Parse(cfg.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("dav: invalid server URL %q", cfg.URL)
	}
	if base.Path == "" {
		base.Path = "/"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	hc := &http.Client{
		Transport: cfg.Transport,
		Timeout:   timeout,
		// A redirected PROPFIND or PUT would come back as a GET; those
		// redirects are the caller's to follow (discovery does).
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// req is already the GET Go would turn a PROPFIND into.
			if m := via[0].Method; m != http.MethodGet && m != http.MethodHead || len(via) >= 5 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	c := &Client{base: base, noSync: cfg.NoSyncCollection, http: &statusClient{webdav.HTTPClientWithBasicAuth(hc, cred.Username, cred.Password)}}
	if err := c.setEndpoint(base); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) setEndpoint(u *url.URL) error {
	var err error
	if c.card, err = carddav.NewClient(c.http, u.String()); err != nil {
		return fmt.Errorf("dav: %w", err)
	}
	if c.cal, err = caldav.NewClient(c.http, u.String()); err != nil {
		return fmt.Errorf("dav: %w", err)
	}
	c.base = u
	return nil
}

// CardDAV is the go-webdav CardDAV client on the same login, for the
// address-book reports this package does not wrap.
func (c *Client) CardDAV() *carddav.Client { return c.card }

// CalDAV is the go-webdav CalDAV client on the same login.
func (c *Client) CalDAV() *caldav.Client { return c.cal }

// statusClient turns every answer that is not a success into a
// *StatusError, so that callers of go-webdav's clients can tell a refused
// login, a missing object and a server that is down apart.
type statusClient struct{ next webdav.HTTPClient }

func (s *statusClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := s.next.Do(req)
	if err != nil {
		return nil, fmt.Errorf("dav: %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return nil, &StatusError{Method: req.Method, Path: req.URL.Path, Code: resp.StatusCode,
		Location: resp.Header.Get("Location"), Body: strings.TrimSpace(string(body))}
}

// Object is one resource of a collection as a write or a listing leaves it.
type Object struct {
	// Path is the absolute path on the server.
	Path string
	// ETag is the entity tag without quotes; "" when the server gave none.
	ETag string
}

// Get reads one object raw. A server that sends no ETag gives "".
func (c *Client) Get(ctx context.Context, path string) (data []byte, etag string, err error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("dav: GET %s: %w", path, err)
	}
	return data, unquoteETag(resp.Header.Get("ETag")), nil
}

// ErrPrecondition is returned by Put and Delete when the object is not in
// the state the write expected: it changed since ifMatch was read, or an
// object to create exists already. The server's version wins.
var ErrPrecondition = errors.New("dav: the object changed on the server")

// Put writes one object. ifMatch "" creates it (If-None-Match: *);
// otherwise the write happens only while the object still has that ETag.
// It returns the new ETag ("" when the server did not say).
func (c *Client) Put(ctx context.Context, path, contentType string, data []byte, ifMatch string) (string, error) {
	if ifMatch == "" {
		return c.put(ctx, path, contentType, data, "If-None-Match", "*")
	}
	return c.put(ctx, path, contentType, data, "If-Match", strconv.Quote(ifMatch))
}

// Replace writes one existing object over the version read: only while
// it still has ETag ifMatch, or with no precondition when the server gave
// no ETag to match, the caller having compared the content it read just
// before. (If-Match: * would do for the latter, but Radicale takes the
// star for an ETag and refuses.) It returns the new ETag, as Put does.
func (c *Client) Replace(ctx context.Context, path, contentType string, data []byte, ifMatch string) (string, error) {
	if ifMatch == "" {
		return c.put(ctx, path, contentType, data, "", "")
	}
	return c.Put(ctx, path, contentType, data, ifMatch)
}

func (c *Client) put(ctx context.Context, path, contentType string, data []byte, header, value string) (string, error) {
	req, err := c.newRequest(ctx, http.MethodPut, path, data)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", contentType)
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := c.http.Do(req)
	if IsStatus(err, http.StatusPreconditionFailed) {
		return "", fmt.Errorf("%w: PUT %s", ErrPrecondition, path)
	}
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return unquoteETag(resp.Header.Get("ETag")), nil
}

// Delete removes one object, only while it has the ETag ifMatch (any ETag
// when ifMatch is ""). An object that is gone already is not an error.
func (c *Client) Delete(ctx context.Context, path, ifMatch string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, path, nil)
	if err != nil {
		return err
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", strconv.Quote(ifMatch))
	}
	resp, err := c.http.Do(req)
	switch {
	case IsStatus(err, http.StatusNotFound, http.StatusGone):
		return nil
	case IsStatus(err, http.StatusPreconditionFailed):
		return fmt.Errorf("%w: DELETE %s", ErrPrecondition, path)
	case err != nil:
		return err
	}
	resp.Body.Close()
	return nil
}

// sendXML sends body, encoded as XML, with method to path, and a Depth
// header unless depth is "". The caller closes the answer's body.
func (c *Client) sendXML(ctx context.Context, method, path, depth string, body any) (*http.Response, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(body); err != nil {
		return nil, fmt.Errorf("dav: %s %s: %w", method, path, err)
	}
	req, err := c.newRequest(ctx, method, path, buf.Bytes())
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	if depth != "" {
		req.Header.Set("Depth", depth)
	}
	return c.http.Do(req)
}

func (c *Client) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	u := c.base.ResolveReference(&url.URL{Path: path})
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("dav: %s %s: %w", method, path, err)
	}
	return req, nil
}

// unquoteETag strips the quotes (and a weak prefix) of an ETag header.
func unquoteETag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}
