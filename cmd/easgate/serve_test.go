package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/store/pgtest"
)

// TestUnreachableUpstreams: an upstream nobody answers at, or whose name
// does not resolve, is named in a warning at startup and in /healthz,
// while easgate runs on and /healthz stays HTTP 200.
func TestUnreachableUpstreams(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	c := &serveConfig{Listen: "127.0.0.1:0", IMAP: "127.0.0.1:1", IMAPSecurity: "tls",
		SMTP: "smtp.invalid:587", SMTPSecurity: "starttls",
		DB: filepath.Join(t.TempDir(), "g.db"), AdminListen: "127.0.0.1:0",
		MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9}
	g, err := startGateway(context.Background(), c, zap.New(core), testAdminToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	warnUnreachable(context.Background(), g.eas, zap.New(core))
	warned := map[string]string{}
	for _, e := range logs.FilterMessageSnippet("upstream unreachable").All() {
		m := e.ContextMap()
		warned[m["upstream"].(string)+" "+m["addr"].(string)] = m["reason"].(string)
	}
	for _, want := range []string{"imap 127.0.0.1:1", "smtp smtp.invalid:587"} {
		if warned[want] == "" {
			t.Errorf("no warning with a reason for %s (got %v)", want, warned)
		}
	}
	h := getHealth(t, g)
	if h.code != http.StatusOK || h.Status != "degraded" || len(h.Upstreams) != 3 {
		t.Fatalf("healthz: HTTP %d %+v", h.code, h.Health)
	}
	for _, u := range h.Upstreams {
		if wantUp := u.Name == "db"; u.Up != wantUp || (!u.Up && u.Error == "") {
			t.Errorf("healthz: %+v, want the upstreams down with their reason and the database up", u)
		}
	}
}

// TestHealthyUpstreams: with the real Dovecot and SMTP server up, /healthz
// says so.
func TestHealthyUpstreams(t *testing.T) {
	_, g, _, _ := probeGatewaySMTP(t)
	h := getHealth(t, g)
	if h.code != http.StatusOK || h.Status != "ok" || len(h.Upstreams) != 3 {
		t.Fatalf("healthz: HTTP %d %+v", h.code, h.Health)
	}
	for _, u := range h.Upstreams {
		if !u.Up {
			t.Errorf("healthz: %+v, want up", u)
		}
	}
}

type healthAnswer struct {
	eas.Health
	code int
}

func getHealth(t *testing.T, g *gateway) healthAnswer {
	t.Helper()
	resp, err := http.Get("http://" + g.admLn.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h healthAnswer
	if err := json.NewDecoder(resp.Body).Decode(&h.Health); err != nil {
		t.Fatalf("healthz is not JSON: %v", err)
	}
	h.code = resp.StatusCode
	return h
}

// TestCloseCutsAndWaits: a request still running when Close's grace ends
// is cut off and waited for before the state closes, and Close reports
// that the shutdown was not clean.
func TestCloseCutsAndWaits(t *testing.T) {
	_, g, url := probeGateway(t)
	g.grace = 200 * time.Millisecond
	// Headers promising a body that does not come: the request stays in
	// its handler.
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "+
		"cHJvYmVAZXhhbXBsZS5jb206cHJvYmUtc2VjcmV0\r\nContent-Length: 100\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	err = g.Close()
	if err == nil || !strings.Contains(err.Error(), "shutdown") {
		t.Fatalf("Close: %v, want the unclean shutdown reported", err)
	}
	// The store is closed: using it fails.
	if _, err := g.store.Devices(context.Background()); err == nil {
		t.Error("the store is still open after Close")
	}
}

// TestConnectionsPerClient: a client address holds at most the configured
// number of connections; beyond it a connection is answered 503 and
// closed, and a closed connection frees its place.
func TestConnectionsPerClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int32
	lim := limitPerClient(ln, 2, nil, func() { refused.Add(1) })
	defer lim.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := lim.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var server []net.Conn
	for range 2 {
		dial()
		server = append(server, <-accepted)
	}
	third := dial()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(third).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 503") {
		t.Fatalf("third connection: %q %v, want HTTP 503", line, err)
	}
	if n := refused.Load(); n != 1 {
		t.Errorf("%d refusals counted, want 1", n)
	}
	server[0].Close()
	dial()
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("a freed place was not given to the next connection")
	}
	// Trusted proxies are not bounded.
	exempt := limitPerClient(ln, 1, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, nil)
	if _, ok := exempt.(*perClientListener); !ok || !exempt.(*perClientListener).isExempt(netip.MustParseAddr("127.0.0.1")) {
		t.Error("a trusted proxy's address is bounded")
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	for _, arg := range []string{"version", "--version"} {
		out.Reset()
		if code := run([]string{arg}, strings.NewReader(""), &out, io.Discard); code != 0 {
			t.Fatalf("%s: exit %d", arg, code)
		}
		if !strings.HasPrefix(out.String(), "easgate ") || !strings.Contains(out.String(), "go1.") {
			t.Errorf("%s: %q", arg, out.String())
		}
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	got := versionText(bi, true)
	for _, want := range []string{"easgate v1.2.3", "go1.26.8", "revision", "abc123", "modified"} {
		if !strings.Contains(got, want) {
			t.Errorf("version text lacks %q:\n%s", want, got)
		}
	}
}

// TestServeHelp: the new bounds are documented in `serve -h`.
func TestServeHelp(t *testing.T) {
	var errb bytes.Buffer
	if code := runServe([]string{"-h"}, io.Discard, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, flag := range []string{"body-read-timeout", "min-body-rate", "max-conns-per-client", "max-item-operations"} {
		if !strings.Contains(errb.String(), flag) {
			t.Errorf("serve -h does not mention --%s", flag)
		}
	}
}

// TestHealthDatabaseDown: with the state in PostgreSQL, /healthz names the
// database when it stops answering, and again once it is back.
func TestHealthDatabaseDown(t *testing.T) {
	pg := pgtest.New(t)
	c := &serveConfig{Listen: "127.0.0.1:0", IMAP: "127.0.0.1:1", IMAPSecurity: "none",
		DB: pg.Database(t), AdminListen: "127.0.0.1:0",
		MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9}
	g, err := startGateway(context.Background(), c, zap.NewNop(), testAdminToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	db := func(h healthAnswer) eas.UpstreamState {
		for _, u := range h.Upstreams {
			if u.Name == "db" {
				return u
			}
		}
		t.Fatalf("healthz names no database: %+v", h.Health)
		return eas.UpstreamState{}
	}
	if u := db(getHealth(t, g)); !u.Up || !strings.HasPrefix(u.Addr, "postgres://") {
		t.Fatalf("database before the stop: %+v, want up, with its address", u)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	// /healthz checks at most every 10 s: wait for a fresh look.
	deadline := time.Now().Add(30 * time.Second)
	for u := db(getHealth(t, g)); u.Up; u = db(getHealth(t, g)) {
		if time.Now().After(deadline) {
			t.Fatal("healthz still says the stopped database is up")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	for u := db(getHealth(t, g)); !u.Up; u = db(getHealth(t, g)) {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatal("healthz does not see the database back")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
