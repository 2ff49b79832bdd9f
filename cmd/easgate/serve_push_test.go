package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

const pushSecret = "0123456789abcdef0123456789abcdef"

// pushEnv is easgate as `easgate serve` builds it with --push-source, in
// front of a real Dovecot whose push_notification plugin calls it,
// configured from the files the README tells administrators to install.
type pushEnv struct {
	dc  *dovecottest.Server
	c   *serveConfig
	g   *gateway
	url string
}

type pushOptions struct {
	driver string // "ox" or "lua"
	source string
	// check is --folder-check-interval; long, so that only a notification
	// can answer a Ping, unless the test is about the check.
	check time.Duration
}

func startPushGateway(t *testing.T, opt pushOptions) *pushEnv {
	t.Helper()
	// Dovecot's configuration names the admin listener, which must be
	// known before Dovecot starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := ln.Addr().String()
	td := filepath.Join("..", "..", "testdata", "dovecot")
	var conf string
	switch opt.driver {
	case "ox":
		conf = shippedConf(t, td, "90-easgate-push-ox.conf", map[string]string{
			"SECRET@127.0.0.1:8081": pushSecret + "@" + admin,
		})
	case "lua":
		script, err := filepath.Abs(filepath.Join(td, "easgate-push.lua"))
		if err != nil {
			t.Fatal(err)
		}
		conf = shippedConf(t, td, "90-easgate-push-lua.conf", map[string]string{
			"/etc/dovecot/easgate-push.lua": script,
			"127.0.0.1:8081":                admin,
			"SECRET":                        pushSecret,
		})
	}
	dc := dovecottest.New(t, dovecottest.Options{LMTP: true, Config: conf})
	dc.AddUser(t, "anna", "a")
	c := &serveConfig{Listen: "127.0.0.1:0", IMAP: dc.Addr(), IMAPSecurity: "none",
		DB: filepath.Join(t.TempDir(), "g.db"), AdminListen: admin, adminListener: ln,
		MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9,
		FolderCheckInterval: opt.check, PushSource: opt.source, pushSecret: pushSecret,
		upstreamIdle: time.Second}
	e := &pushEnv{dc: dc, c: c}
	e.start(t)
	return e
}

// start starts the gateway on e's configuration and admin address.
func (e *pushEnv) start(t *testing.T) {
	t.Helper()
	g, err := startGateway(context.Background(), e.c, zap.NewNop(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	e.g, e.url = g, "http://"+g.easLn.Addr().String()
}

// restart stops the gateway and starts a new process's worth of it on the
// same database and admin address, which Dovecot's configuration names.
func (e *pushEnv) restart(t *testing.T) {
	t.Helper()
	e.g.Close()
	ln, err := net.Listen("tcp", e.c.AdminListen)
	if err != nil {
		t.Fatal(err)
	}
	e.c.adminListener = ln
	e.start(t)
}

// notify sends a notification to the admin listener as Dovecot's OX
// driver does and returns the HTTP status.
func (e *pushEnv) notify(t *testing.T, secret, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, e.adminURL()+"/api/push/dovecot", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("dovecot", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *pushEnv) adminURL() string { return "http://" + e.g.admLn.Addr().String() }

func shippedConf(t *testing.T, dir, name string, replace map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for old, repl := range replace {
		if !strings.Contains(conf, old) {
			t.Fatalf("%s has no %q", name, old)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	return conf
}

// phone is a provisioned device with INBOX synced.
type phone struct {
	c       *easclient.Client
	inbox   string
	key     string
	folders string
}

func (e *pushEnv) phone(t *testing.T, id string) *phone {
	t.Helper()
	ctx := context.Background()
	p := &phone{c: easclient.New(e.url, "anna", "a", id, eas.V161)}
	if _, err := p.c.Provision(ctx, nil); err != nil {
		t.Fatal(err)
	}
	fs, err := p.c.FolderSync(ctx, "0")
	if err != nil || fs.Status != 1 {
		t.Fatalf("FolderSync: %+v %v", fs, err)
	}
	p.folders = fs.SyncKey
	for _, f := range fs.Changes.Add {
		if f.Type == int(eas.FolderInbox) {
			p.inbox = f.ServerID
		}
	}
	p.key = "0"
	p.sync(t)
	return p
}

// sync brings INBOX up to date and returns how many changes it got.
func (p *phone) sync(t *testing.T) int {
	t.Helper()
	res, err := p.c.SyncAll(context.Background(), p.inbox, p.key, 100, nil)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	p.key = res.Key
	return len(res.Commands.Add) + len(res.Commands.Change) + len(res.Commands.Delete) + len(res.Commands.SoftDelete)
}

// ping starts a Ping of INBOX; its answer arrives on the channel.
func (p *phone) ping(ctx context.Context) <-chan pingResult {
	ch := make(chan pingResult, 1)
	go func() {
		r, err := p.c.PingFolders(ctx, 600, p.inbox)
		ch <- pingResult{r, err}
	}()
	return ch
}

type pingResult struct {
	r   *eas.PingResponse
	err error
}

// answered waits for a Ping's answer. The bound only keeps a broken
// gateway from hanging the test; it is no speed target.
func answered(t *testing.T, ch <-chan pingResult, status int, folder string) {
	t.Helper()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("Ping: %v", res.err)
		}
		if res.r.Status != status || (folder != "" && !slices.Contains(res.r.Folders, folder)) {
			t.Fatalf("Ping answered %+v, want status %d naming %q", res.r, status, folder)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Ping not answered (want status %d)", status)
	}
}

// waiting waits until n phones of the account wait.
func (e *pushEnv) waiting(t *testing.T, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d waiting phones", n), func() bool {
		_, subs := e.g.push.Watching()
		return subs >= n
	})
}

// switchedOn waits until easgate has set the notification entry for anna.
func (e *pushEnv) switchedOn(t *testing.T) {
	t.Helper()
	c := e.dc.Dial(t, "anna", "a")
	defer func() { c.Logout().Wait() }()
	eventually(t, "easgate switching Dovecot's notifications on", func() bool {
		data, err := c.GetMetadata("", []string{bridge.NotifyEntry}, nil).Wait()
		if err != nil {
			t.Fatalf("GETMETADATA: %v", err)
		}
		return err == nil && data.Entries[bridge.NotifyEntry] != nil
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// established counts the TCP connections the Dovecot at addr holds open:
// its own side of every IMAP session, whoever opened it.
func established(t *testing.T, addr string) int {
	t.Helper()
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	want := fmt.Sprintf(":%04X", port)
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; 01 is ESTABLISHED.
			if len(fields) > 3 && strings.HasSuffix(fields[1], want) && fields[3] == "01" {
				n++
			}
		}
		f.Close()
	}
	return n
}

func message(subject string) []byte {
	return []byte(fmt.Sprintf("From: Bob <bob@example.com>\r\nTo: anna@example.com\r\nSubject: %s\r\n"+
		"Message-ID: <%d@example.com>\r\nDate: Mon, 07 Dec 2026 03:00:00 +0000\r\n\r\nHello.\r\n",
		subject, time.Now().UnixNano()))
}

// TestDovecotPushDelivery: a message delivered by LMTP answers every
// waiting Ping of the account, through Dovecot's notification; easgate
// switched the account's notifications on itself. With --push-source
// dovecot no IMAP connection is open while the phones wait, by easgate's
// gauge and by Dovecot's own sockets; with both, the IDLE one is.
func TestDovecotPushDelivery(t *testing.T) {
	for _, tc := range []struct {
		driver, source string
		held           int
	}{
		{"ox", "dovecot", 0},
		{"lua", "dovecot", 0},
		{"lua", "both", 1},
	} {
		t.Run(tc.driver+"/"+tc.source, func(t *testing.T) {
			e := startPushGateway(t, pushOptions{driver: tc.driver, source: tc.source, check: 10 * time.Minute})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			phones := []*phone{e.phone(t, "pushphone1"), e.phone(t, "pushphone2")}
			var pings []<-chan pingResult
			for _, p := range phones {
				pings = append(pings, p.ping(ctx))
			}
			e.waiting(t, len(phones))
			e.switchedOn(t)
			// The phones' Syncs left pooled connections; they close
			// after the (test's) idle timeout. What stays is push's.
			held := -1
			eventually(t, fmt.Sprintf("%d IMAP connections held (Dovecot's count)", tc.held), func() bool {
				held = established(t, e.dc.Addr())
				return held == tc.held
			})
			t.Logf("IMAP connections open while %d phones wait: %d", len(phones), held)
			if got := metricValue(t, e.adminURL(), "easgate_upstream_push_connections", nil); int(got) != tc.held {
				t.Errorf("easgate_upstream_push_connections = %v, want %d", got, tc.held)
			}

			e.dc.Deliver(t, "bob@example.com", []string{"anna"}, message("delivered"))
			for i, p := range phones {
				answered(t, pings[i], 2, p.inbox)
				if n := p.sync(t); n != 1 {
					t.Errorf("phone %d synced %d changes for one delivery", i, n)
				}
			}
		})
	}
}

// TestDovecotPushLuaEvents: with easgate's Lua script, what another IMAP
// client does answers a waiting Ping at once: a flag set, an expunge, an
// APPEND, and a folder created (Ping Status 7, the folder hierarchy).
func TestDovecotPushLuaEvents(t *testing.T) {
	e := startPushGateway(t, pushOptions{driver: "lua", source: "dovecot", check: 10 * time.Minute})
	uid := e.dc.Append(t, "anna", "a", "INBOX", message("first"))
	p := e.phone(t, "luaphone1")
	other := e.dc.Dial(t, "anna", "a")
	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := func(op imap.StoreFlagsOp, flag imap.Flag) {
		if err := other.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Flags: []imap.Flag{flag}, Silent: true}, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i, step := range []struct {
		name   string
		do     func()
		status int
	}{
		{"flag set", func() { store(imap.StoreFlagsAdd, imap.FlagFlagged) }, 2},
		{"expunge", func() {
			store(imap.StoreFlagsAdd, imap.FlagDeleted)
			if err := other.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"append", func() { e.dc.Append(t, "anna", "a", "INBOX", message("appended")) }, 2},
		{"folder created", func() {
			if err := other.Create("Projects", nil).Wait(); err != nil {
				t.Fatal(err)
			}
		}, 7},
	} {
		ping := p.ping(ctx)
		e.waiting(t, 1)
		if i == 0 {
			e.switchedOn(t)
		}
		step.do()
		folder := p.inbox
		if step.status != 2 {
			folder = ""
		}
		answered(t, ping, step.status, folder)
		if step.status == 2 {
			if n := p.sync(t); n != 1 {
				t.Errorf("%s: the phone synced %d changes, want 1", step.name, n)
			}
		}
		t.Logf("%s answered the Ping with status %d", step.name, step.status)
	}
}

// TestDovecotPushCatchUp: what no notification reports (the OX driver
// reports delivered mail only; a notification lost while Dovecot
// restarts) is caught by the periodic check, so no phone waits forever;
// and a delivery that was notified is not reported a second time by the
// check, which would make the phone sync twice for one message.
func TestDovecotPushCatchUp(t *testing.T) {
	const check = 500 * time.Millisecond
	e := startPushGateway(t, pushOptions{driver: "ox", source: "dovecot", check: check})
	p := e.phone(t, "catchup1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ping := p.ping(ctx)
	e.waiting(t, 1)
	e.switchedOn(t)
	// An APPEND by another client: the OX driver says nothing.
	e.dc.Append(t, "anna", "a", "INBOX", message("appended"))
	answered(t, ping, 2, p.inbox)
	if n := p.sync(t); n != 1 {
		t.Errorf("synced %d changes, want 1", n)
	}

	// Dovecot stops while the phone waits and comes back; mail arrives
	// by a way nothing notifies.
	ping = p.ping(ctx)
	e.waiting(t, 1)
	e.dc.Stop(t)
	time.Sleep(2 * check)
	e.dc.Start(t)
	e.dc.Append(t, "anna", "a", "INBOX", message("after the restart"))
	answered(t, ping, 2, p.inbox)
	if n := p.sync(t); n != 1 {
		t.Errorf("synced %d changes after the restart, want 1", n)
	}

	// A delivery notified: one answer, one sync, then the phone waits
	// again and nothing answers for several checks.
	ping = p.ping(ctx)
	e.waiting(t, 1)
	e.dc.Deliver(t, "bob@example.com", []string{"anna"}, message("delivered"))
	answered(t, ping, 2, p.inbox)
	if n := p.sync(t); n != 1 {
		t.Errorf("synced %d changes for one delivery, want 1", n)
	}
	quiet, stop := context.WithTimeout(ctx, 6*check)
	defer stop()
	select {
	case res := <-p.ping(quiet):
		if res.err == nil {
			t.Errorf("the Ping after the sync was answered %+v: the delivery was pushed twice", res.r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the quiet Ping did not end")
	}
}

// TestPushSourceFlags: the flag combinations easgate serve refuses, and
// those it takes, from the command line and the environment.
func TestPushSourceFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", pushSecret+"\n")
	short := write("short", "abc\n")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want bridge.PushSource
		err  string
	}{
		{"default", nil, nil, bridge.PushIdle, ""},
		{"dovecot", []string{"--push-source", "dovecot", "--push-secret-file", good}, nil, bridge.PushDovecot, ""},
		{"both from the environment", nil, map[string]string{"EASGATE_PUSH_SOURCE": "both", "EASGATE_PUSH_SECRET_FILE": good}, bridge.PushBoth, ""},
		{"dovecot without a secret", []string{"--push-source", "dovecot"}, nil, 0, "needs --push-secret-file"},
		{"a secret with idle", []string{"--push-secret-file", good}, nil, 0, "--push-source is idle"},
		{"short secret", []string{"--push-source", "both", "--push-secret-file", short}, nil, 0, "shorter than 16"},
		{"missing file", []string{"--push-source", "both", "--push-secret-file", filepath.Join(dir, "none")}, nil, 0, "--push-secret-file"},
		{"unknown source", []string{"--push-source", "notify"}, nil, 0, "want idle, dovecot or both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c serveConfig
			fs := serveFlags(&c, io.Discard)
			if err := parseWithEnv(fs, tc.args, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			got, secret, err := c.pushSource()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			if (got != bridge.PushIdle) != (secret == pushSecret) {
				t.Errorf("secret %q with source %v", secret, got)
			}
		})
	}
}

// TestPushEndpointOnAdminListener: with a push secret and no admin token
// the admin listener serves the endpoint and /healthz, refuses the admin
// API, and the endpoint answers Dovecot as the README says.
func TestPushEndpointOnAdminListener(t *testing.T) {
	e := startPushGateway(t, pushOptions{driver: "ox", source: "dovecot", check: 10 * time.Minute})
	url := e.adminURL()
	const ox = `{"user":"anna","event":"messageNew","folder":"INBOX","imap-uidvalidity":1,"imap-uid":1}`
	if code := e.notify(t, "wrong", ox); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: HTTP %d", code)
	}
	if code := e.notify(t, pushSecret, ox); code != http.StatusNotFound {
		t.Errorf("a user no phone has waited for: HTTP %d, want 404", code)
	}
	p := e.phone(t, "endpoint1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ping := p.ping(ctx)
	e.waiting(t, 1)
	// Stored by APPEND, which the OX driver does not report: only this
	// notification tells easgate (the check is minutes away). A
	// notification without a change does not answer the Ping: easgate
	// looks at the folder first.
	e.dc.Append(t, "anna", "a", "INBOX", message("appended"))
	if code := e.notify(t, pushSecret, ox); code != http.StatusNoContent {
		t.Errorf("notification for a waiting phone: HTTP %d, want 204", code)
	}
	answered(t, ping, 2, p.inbox)
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/api/devices": http.StatusUnauthorized} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestDovecotPushKnownAfterRestart: after a restart, a notification for an
// account whose phones have not come back yet is taken (Dovecot would log
// each of its deliveries as an error otherwise), and one for a user with
// no phone is still refused.
func TestDovecotPushKnownAfterRestart(t *testing.T) {
	e := startPushGateway(t, pushOptions{driver: "ox", source: "dovecot", check: 10 * time.Minute})
	const (
		anna = `{"user":"anna","event":"messageNew","folder":"INBOX","imap-uidvalidity":1,"imap-uid":1}`
		bob  = `{"user":"bob","event":"messageNew","folder":"INBOX","imap-uidvalidity":1,"imap-uid":1}`
	)
	e.phone(t, "restart1")
	e.restart(t)
	if code := e.notify(t, pushSecret, anna); code != http.StatusNoContent {
		t.Errorf("an account with a phone, after a restart: HTTP %d, want 204", code)
	}
	if code := e.notify(t, pushSecret, bob); code != http.StatusNotFound {
		t.Errorf("a user with no phone: HTTP %d, want 404", code)
	}
}
