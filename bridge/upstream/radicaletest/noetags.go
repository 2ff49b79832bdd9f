package radicaletest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// ETagStripper carries DAV requests and removes every ETag from the
// answers, as a server that keeps none answers: the getetag properties of
// PROPFIND and REPORT answers and the ETag headers, and the other
// properties named in Props (getlastmodified, say). It counts what it
// removed, so that a test knows it ran against a server without ETags.
// Its zero value strips ETags only and carries requests with
// http.DefaultTransport.
type ETagStripper struct {
	// Props are more properties to remove, by local name.
	Props []string
	// Next carries the requests; nil means http.DefaultTransport.
	Next http.RoundTripper

	once  sync.Once
	strip *regexp.Regexp
	n     atomic.Int64
}

// Stripped is how many ETags and properties were removed so far.
func (s *ETagStripper) Stripped() int64 { return s.n.Load() }

// RoundTrip carries r and strips its answer.
func (s *ETagStripper) RoundTrip(r *http.Request) (*http.Response, error) {
	s.once.Do(func() {
		alt := strings.Join(append([]string{"getetag"}, s.Props...), "|")
		s.strip = regexp.MustCompile(`(?s)<([\w-]+:)?(` + alt + `)\b[^>]*?(/>|>.*?</([\w-]+:)?(` + alt + `)>)`)
	})
	next := s.Next
	if next == nil {
		next = http.DefaultTransport
	}
	// A transport that asks for gzip itself unpacks the answer; the
	// regexp reads plain XML.
	r = r.Clone(r.Context())
	r.Header.Del("Accept-Encoding")
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get("ETag") != "" {
		resp.Header.Del("ETag")
		s.n.Add(1)
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	s.n.Add(int64(len(s.strip.FindAllIndex(body, -1))))
	body = s.strip.ReplaceAll(body, nil)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, nil
}

// NoETags puts a proxy in front of srv that strips its answers as an
// ETagStripper with props does; it returns the proxy's URL, for the
// client under test, and the stripper, which counts. Other clients still
// reach srv directly.
func NoETags(t testing.TB, srv *Server, props ...string) (string, *ETagStripper) {
	t.Helper()
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	strip := &ETagStripper{Props: props}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = strip
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	return front.URL + "/", strip
}
