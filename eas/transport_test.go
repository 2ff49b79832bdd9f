package eas_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

func TestGzipResponses(t *testing.T) {
	g := startFake(t, eas.V141)
	for i := 0; i < 40; i++ {
		g.mail.add("INBOX", "message with a subject long enough to matter", time.Now().Add(-time.Duration(i)*time.Minute))
	}
	inbox := g.id(t, "INBOX")
	ctx := context.Background()
	for _, accept := range []bool{false, true} {
		c := g.newPhone(t, map[bool]string{false: "plain1", true: "gzip1"}[accept], eas.V141)
		c.AcceptGzip = accept
		first, err := c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: inbox}}})
		if err != nil {
			t.Fatal(err)
		}
		req := &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: first.Collections[0].SyncKey, CollectionID: inbox}}}
		res, err := c.Do(ctx, "Sync", req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Header.Get("Content-Encoding") == "gzip"; got != accept {
			t.Fatalf("Accept-Encoding gzip %v: Content-Encoding %q", accept, res.Header.Get("Content-Encoding"))
		}
		// The client decompressed it: the body is the WBXML document.
		if !bytes.HasPrefix(res.Body, []byte{0x03, 0x01, 0x6a, 0x00}) || len(res.Body) < 1024 {
			t.Fatalf("body of %d bytes: % x", len(res.Body), res.Body[:min(8, len(res.Body))])
		}
	}

	// Buffers and gzip writers are reused from one answer to the next:
	// every answer of a sync in small windows still decodes to its own items.
	c := g.newPhone(t, "gzip2", eas.V141)
	c.AcceptGzip = true
	first, err := c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: inbox}}})
	if err != nil {
		t.Fatal(err)
	}
	key, window, seen := first.Collections[0].SyncKey, 8, map[string]bool{}
	for more := true; more; {
		req := &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: key, CollectionID: inbox, WindowSize: &window}}}
		var resp eas.SyncResponse
		res, err := c.Do(ctx, "Sync", req, &resp)
		if err != nil {
			t.Fatal(err)
		}
		if res.Header.Get("Content-Encoding") != "gzip" || len(resp.Collections) != 1 || resp.Collections[0].Commands == nil {
			t.Fatalf("answer %d: encoding %q, %+v", len(seen)/window, res.Header.Get("Content-Encoding"), resp)
		}
		col := resp.Collections[0]
		for _, a := range col.Commands.Add {
			if seen[a.ServerID] || a.ApplicationData == nil || !strings.Contains(a.ApplicationData.Subject, "long enough") {
				t.Fatalf("answer %d: add %s again or without its data: %+v", len(seen)/window, a.ServerID, a.ApplicationData)
			}
			seen[a.ServerID] = true
		}
		key, more = col.SyncKey, col.MoreAvailable
	}
	if len(seen) != 40 {
		t.Fatalf("synced %d messages, want 40", len(seen))
	}
}

func TestTransportErrors(t *testing.T) {
	g := startFakeConfig(t, eas.V141, eas.Config{MaxRequestBytes: 1 << 20})
	ctx := context.Background()
	post := func(query string, header map[string]string, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", g.url+"/Microsoft-Server-ActiveSync?"+query, strings.NewReader(body))
		req.SetBasicAuth(fakeUser, "secret")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	v141 := map[string]string{"MS-ASProtocolVersion": "14.1", "X-MS-PolicyKey": strconv.FormatUint(uint64(g.phone.PolicyKey), 10)}
	gz := withHeader(v141, "Content-Encoding", "gzip")
	const folderSync = "Cmd=FolderSync&User=u&DeviceId=phone1&DeviceType=iPhone"
	tests := []struct {
		name   string
		query  string
		header map[string]string
		body   string
		code   int
	}{
		{"unknown command", "Cmd=Frobnicate&User=u&DeviceId=phone1&DeviceType=iPhone", v141, "", http.StatusNotImplemented},
		{"no device id", "Cmd=FolderSync&User=u&DeviceType=iPhone", v141, "", http.StatusBadRequest},
		{"unsupported version", folderSync, map[string]string{"MS-ASProtocolVersion": "2.5"}, "", http.StatusBadRequest},
		{"no version", folderSync, map[string]string{}, "", http.StatusBadRequest},
		{"body not WBXML", folderSync, v141, "<FolderSync/>", http.StatusBadRequest},
		{"truncated WBXML", folderSync, v141, "\x03\x01\x6a\x00\x00\x07\x56\x52\x03\x30", http.StatusBadRequest},
		{"wrong root element", folderSync, v141, "\x03\x01\x6a\x00\x45\x01", http.StatusBadRequest},
		{"too large", folderSync, v141, strings.Repeat("x", 2<<20), http.StatusRequestEntityTooLarge},
		{"gzip", folderSync, gz, gzipped(t, "\x03\x01\x6a\x00\x00\x07\x56\x52\x03\x30\x00\x01\x01"), http.StatusOK},
		{"gzip expanding past the limit", folderSync, gz, gzipped(t, strings.Repeat("\x00", 2<<20)), http.StatusRequestEntityTooLarge},
		{"not gzip", folderSync, gz, "\x03\x01\x6a\x00", http.StatusBadRequest},
		{"unknown encoding", folderSync, withHeader(v141, "Content-Encoding", "br"), "x", http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		if resp := post(tt.query, tt.header, tt.body); resp.StatusCode != tt.code {
			t.Errorf("%s: HTTP %d, want %d", tt.name, resp.StatusCode, tt.code)
		}
	}
	// A wrong password is 401 with a Basic challenge, before anything else.
	c := easclient.New(g.url, fakeUser, "wrong", "phone1", eas.V141)
	if _, err := c.FolderSync(ctx, "0"); !easclient.IsHTTP(err, http.StatusUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
}

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func withHeader(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for hk, hv := range h {
		out[hk] = hv
	}
	return out
}
