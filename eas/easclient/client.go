// Package easclient is an Exchange ActiveSync client: enough of a phone to
// drive an EAS server through its commands. The tests use it, and so does
// `easgate probe`, against easgate or any other EAS server.
package easclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

// Client is one device of one user. It is not safe for concurrent use by
// several goroutines when they change its fields (PolicyKey after Provision).
type Client struct {
	// URL is the server's base URL, e.g. https://mail.example.com.
	URL        string
	User       string
	Password   string
	DeviceID   string
	DeviceType string
	UserAgent  string
	Version    eas.Version
	// PolicyKey is sent as X-MS-PolicyKey when non-zero; Provision sets it.
	PolicyKey uint32
	// Base64Query sends the base64-encoded query form instead of the plain one.
	Base64Query bool
	// AcceptGzip asks for gzip responses (AOSP does).
	AcceptGzip bool
	HTTP       *http.Client
}

// New returns a client with the defaults of a recent iPhone speaking version v.
func New(baseURL, user, password, deviceID string, v eas.Version) *Client {
	return &Client{
		URL: strings.TrimSuffix(baseURL, "/"), User: user, Password: password,
		DeviceID: deviceID, DeviceType: "iPhone", UserAgent: "Apple-iPhone15C2/2103.69",
		Version: v, HTTP: http.DefaultClient,
	}
}

// HTTPError is a response with a status other than 200.
type HTTPError struct {
	Code   int
	Header http.Header
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Code, http.StatusText(e.Code), strings.TrimSpace(e.Body))
}

// IsHTTP reports whether err is an HTTPError with the given code.
func IsHTTP(err error, code int) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.Code == code
}

// Result is a raw response.
type Result struct {
	Header http.Header
	// Body is the (decompressed) WBXML or other body; empty for an empty answer.
	Body []byte
}

// Params are the optional query parameters of a request.
type Params struct {
	SaveInSent      bool
	AcceptMultiPart bool
	CollectionID    string
	ItemID          string
	LongID          string
	AttachmentName  string
	ContentType     string
}

func (c *Client) endpoint(cmd string, p Params) (string, error) {
	base := c.URL + "/Microsoft-Server-ActiveSync?"
	if c.Base64Query {
		q := &eas.Query{Cmd: cmd, User: c.User, DeviceID: c.DeviceID, DeviceType: c.DeviceType,
			Version: c.Version, PolicyKey: c.PolicyKey, HasPolicyKey: c.PolicyKey != 0, Locale: 0x0409,
			SaveInSent: p.SaveInSent, AcceptMultiPart: p.AcceptMultiPart, CollectionID: p.CollectionID,
			ItemID: p.ItemID, LongID: p.LongID, AttachmentName: p.AttachmentName}
		s, err := eas.EncodeBase64Query(q)
		if err != nil {
			return "", err
		}
		return base + url.QueryEscape(s), nil
	}
	v := url.Values{}
	v.Set("Cmd", cmd)
	v.Set("User", c.User)
	v.Set("DeviceId", c.DeviceID)
	v.Set("DeviceType", c.DeviceType)
	if p.SaveInSent {
		v.Set("SaveInSent", "T")
	}
	for k, val := range map[string]string{"CollectionId": p.CollectionID, "ItemId": p.ItemID,
		"LongId": p.LongID, "AttachmentName": p.AttachmentName} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return base + v.Encode(), nil
}

// Raw posts body for cmd and returns the response; a status other than 200
// is an *HTTPError.
func (c *Client) Raw(ctx context.Context, cmd string, body []byte, p Params) (*Result, error) {
	u, err := c.endpoint(cmd, p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ct := p.ContentType
	if ct == "" {
		ct = "application/vnd.ms-sync.wbxml"
	}
	req.Header.Set("Content-Type", ct)
	if !c.Base64Query {
		req.Header.Set("MS-ASProtocolVersion", c.Version.String())
		if c.PolicyKey != 0 {
			req.Header.Set("X-MS-PolicyKey", strconv.FormatUint(uint64(c.PolicyKey), 10))
		}
		if p.AcceptMultiPart {
			req.Header.Set("MS-ASAcceptMultiPart", "T")
		}
	}
	if c.AcceptGzip {
		// Set explicitly, so the transport hands us the gzip bytes as they are.
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rd io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip response: %w", err)
		}
		rd = zr
	}
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Code: resp.StatusCode, Header: resp.Header, Body: string(data)}
	}
	return &Result{Header: resp.Header, Body: data}, nil
}

// Do marshals req (a struct with XMLName, or a *wbxml.Element; nil for an
// empty body), posts it, and decodes a non-empty answer into resp (nil to
// ignore it). It returns the raw result too.
func (c *Client) Do(ctx context.Context, cmd string, req, resp any) (*Result, error) {
	return c.DoParams(ctx, cmd, req, resp, Params{})
}

// DoParams is Do with query parameters.
func (c *Client) DoParams(ctx context.Context, cmd string, req, resp any, p Params) (*Result, error) {
	var body []byte
	var err error
	switch v := req.(type) {
	case nil:
	case *wbxml.Element:
		body, err = v.Bytes()
	case []byte:
		body = v
	default:
		body, err = wbxml.Marshal(v)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", cmd, err)
	}
	res, err := c.Raw(ctx, cmd, body, p)
	if err != nil {
		return nil, err
	}
	if resp != nil && len(res.Body) > 0 {
		if e, ok := resp.(**wbxml.Element); ok {
			*e, err = wbxml.Parse(res.Body)
		} else {
			err = wbxml.Unmarshal(res.Body, resp)
		}
		if err != nil {
			return res, fmt.Errorf("decode %s response: %w", cmd, err)
		}
	}
	return res, nil
}

// Options sends the OPTIONS probe and returns the response headers.
func (c *Client) Options(ctx context.Context) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, c.URL+"/Microsoft-Server-ActiveSync", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return resp.Header, &HTTPError{Code: resp.StatusCode, Header: resp.Header, Body: string(b)}
	}
	return resp.Header, nil
}

// do sends req as the phone: with its credentials and User-Agent, through
// its HTTP client.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	req.SetBasicAuth(c.User, c.Password)
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}
