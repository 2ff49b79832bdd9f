package e2e_test

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/eas/internal/metricstest"
	"github.com/easgate/easgate/wbxml"
)

// answerWait bounds how long a test waits for an answer that must come. It
// keeps a broken gateway from hanging the test and is no speed target.
const answerWait = 20 * time.Second

// pushConfig: heartbeats from 1 s so that expiry is quick to see, a long
// default heartbeat in the tests so that only a change ends a Ping.
var pushConfig = eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 300 * time.Second}

const longHeartbeat = 120

func startPushGateway(t *testing.T, cfg eas.Config) *testGateway {
	t.Helper()
	g := startGateway(t, gatewayOptions{Config: cfg, Push: &bridge.WatchConfig{CheckInterval: 200 * time.Millisecond}})
	logOnFailure(t, g)
	return g
}

// logOnFailure shows the gateway's log when the test fails: a Ping that
// never answers says little by itself.
func logOnFailure(t *testing.T, g *testGateway) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, e := range g.Logs.All() {
			t.Logf("%s %s %s %v", e.Time.Format("15:04:05.000"), e.LoggerName, e.Message, e.ContextMap())
		}
	})
}

// pushPhone is a phone that has provisioned, run FolderSync and synced its
// folders, as a phone has before it pings.
type pushPhone struct {
	*easclient.Client
	user, password string
	// ids maps folder names to collection ids; keys holds the sync keys.
	ids  map[string]string
	keys map[string]string
}

func (g *testGateway) pushPhone(t testing.TB, user, password, deviceID string, folders ...string) *pushPhone {
	t.Helper()
	p, err := g.newPushPhone(user, password, deviceID, folders...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newPushPhone is pushPhone for use off the test's goroutine.
func (g *testGateway) newPushPhone(user, password, deviceID string, folders ...string) (*pushPhone, error) {
	ctx := context.Background()
	c := g.client(user, password, deviceID, eas.V161)
	if _, err := c.Provision(ctx, nil); err != nil {
		return nil, fmt.Errorf("provision %s: %w", deviceID, err)
	}
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		return nil, fmt.Errorf("FolderSync %s: %+v %v", deviceID, fs, err)
	}
	p := &pushPhone{Client: c, user: user, password: password, ids: map[string]string{}, keys: map[string]string{}}
	for _, f := range fs.Changes.Add {
		name := f.DisplayName
		if f.Type == int(eas.FolderInbox) {
			name = "INBOX"
		}
		p.ids[name] = f.ServerID
	}
	for _, name := range append([]string{"INBOX"}, folders...) {
		id, ok := p.ids[name]
		if !ok {
			return nil, fmt.Errorf("no folder %q in %v", name, p.ids)
		}
		res, err := p.SyncAll(ctx, id, "0", 0, nil)
		if err != nil {
			return nil, fmt.Errorf("sync %s of %s: %w", name, deviceID, err)
		}
		p.keys[name] = res.Key
	}
	return p, nil
}

func (p *pushPhone) id(t testing.TB, name string) string {
	t.Helper()
	id, ok := p.ids[name]
	if !ok {
		t.Fatalf("no folder %q in %v", name, p.ids)
	}
	return id
}

// sync brings the phone's copy of a folder up to date.
func (p *pushPhone) sync(t testing.TB, name string) *easclient.SyncResult {
	t.Helper()
	key := p.keys[name]
	if key == "" {
		key = "0"
	}
	res, err := p.SyncAll(context.Background(), p.id(t, name), key, 0, nil)
	if err != nil {
		t.Fatalf("sync %s: %v", name, err)
	}
	p.keys[name] = res.Key
	return res
}

type pingResult struct {
	resp *eas.PingResponse
	err  error
}

// startPing sends a Ping in the background.
func (p *pushPhone) startPing(ctx context.Context, req *eas.PingRequest) <-chan pingResult {
	out := make(chan pingResult, 1)
	go func() {
		resp, err := p.Ping(ctx, req)
		out <- pingResult{resp, err}
	}()
	return out
}

func pingOf(heartbeat int, ids ...string) *eas.PingRequest {
	req := &eas.PingRequest{HeartbeatInterval: &heartbeat}
	for _, id := range ids {
		req.Folders = append(req.Folders, eas.PingFolder{ID: id, Class: "Email"})
	}
	return req
}

// waitAnswer waits for a Ping's answer.
func waitAnswer(t testing.TB, ch <-chan pingResult) *eas.PingResponse {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("ping: %v", r.err)
		}
		return r.resp
	case <-time.After(answerWait):
		t.Fatal("no answer to the Ping")
		return nil
	}
}

func wantPing(t testing.TB, resp *eas.PingResponse, status int, folders ...string) {
	t.Helper()
	if resp.Status != status || !slices.Equal(resp.Folders, folders) {
		t.Fatalf("Ping answered %+v, want status %d with folders %v", resp, status, folders)
	}
}

// waiting waits until the gateway holds n subscriptions in all: the Pings
// sent are past their first look at the folders.
func (g *testGateway) waiting(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(answerWait)
	for {
		_, subs := g.Push.Watching()
		if subs == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions, want %d", subs, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stillWaiting fails when a Ping has answered.
func stillWaiting(t testing.TB, ch <-chan pingResult, who string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s answered %+v %v", who, r.resp, r.err)
	default:
	}
}

func mail(n int) []byte {
	return []byte(fmt.Sprintf("From: a@example.org\r\nTo: b@example.org\r\nSubject: push %d\r\nMessage-ID: <push%d.%d@example.org>\r\n\r\nbody %d\r\n", n, n, time.Now().UnixNano(), n))
}

// TestPingChanges: a waiting Ping answers Status 2 naming the folder when
// another client appends to INBOX, changes a flag there, or appends to
// another folder (found by the periodic check); the phone then syncs the
// change.
func TestPingChanges(t *testing.T) {
	for _, condstore := range []bool{true, false} {
		t.Run(fmt.Sprintf("condstore=%v", condstore), func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, gatewayOptions{NoCondstore: !condstore, Config: pushConfig,
				Push: &bridge.WatchConfig{CheckInterval: 200 * time.Millisecond}})
			logOnFailure(t, g)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			user, pw := g.newUser(t)
			other := g.Dovecot.Dial(t, user, pw)
			if err := other.Create("Work", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			g.Dovecot.Append(t, user, pw, "INBOX", mail(0))
			p := g.pushPhone(t, user, pw, "changes", "Work")
			inbox, work := p.id(t, "INBOX"), p.id(t, "Work")

			steps := []struct {
				name, folder string
				change       func()
			}{
				{"append to INBOX", "INBOX", func() { g.Dovecot.Append(t, user, pw, "INBOX", mail(1)) }},
				{"flag in INBOX", "INBOX", func() {
					if _, err := other.Select("INBOX", nil).Wait(); err != nil {
						t.Fatal(err)
					}
					if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}, Silent: true}, nil).Close(); err != nil {
						t.Fatal(err)
					}
				}},
				{"append to Work", "Work", func() { g.Dovecot.Append(t, user, pw, "Work", mail(2)) }},
				{"read in Work", "Work", func() {
					if _, err := other.Select("Work", nil).Wait(); err != nil {
						t.Fatal(err)
					}
					if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close(); err != nil {
						t.Fatal(err)
					}
				}},
			}
			for _, st := range steps {
				ch := p.startPing(ctx, pingOf(longHeartbeat, inbox, work))
				g.waiting(t, 1)
				st.change()
				wantPing(t, waitAnswer(t, ch), eas.PingChanges, p.id(t, st.folder))
				if res := p.sync(t, st.folder); res.Commands.Len() != 1 {
					t.Fatalf("%s: the sync after the Ping brought %+v", st.name, res.Commands)
				}
				g.waiting(t, 0)
			}
		})
	}
}

// TestPingParameters covers the statuses a Ping gets before it waits, and
// the parameters a device's later Pings reuse.
func TestPingParameters(t *testing.T) {
	cfg := pushConfig
	cfg.MaxPingFolders = 2
	g := startPushGateway(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	user, pw := g.newUser(t)
	p := g.pushPhone(t, user, pw, "params")
	inbox, trash := p.id(t, "INBOX"), p.id(t, "Trash")

	fresh := g.provisioned(t, user, pw, "fresh", eas.V161)
	for _, tc := range []struct {
		name string
		req  *eas.PingRequest
	}{
		{"empty body", nil},
		{"no elements", &eas.PingRequest{}},
		{"folders without a heartbeat", &eas.PingRequest{Folders: []eas.PingFolder{{ID: inbox, Class: "Email"}}}},
		{"heartbeat without folders", pingOf(60)},
	} {
		resp, err := fresh.Ping(ctx, tc.req)
		if err != nil || resp.Status != eas.PingMissingParams {
			t.Errorf("%s from a device that never pinged: %+v %v", tc.name, resp, err)
		}
	}

	tests := []struct {
		name   string
		req    *eas.PingRequest
		status int
		limit  int
		max    int
	}{
		{"heartbeat zero", pingOf(0, inbox), eas.PingInvalidInterval, 1, 0},
		{"heartbeat below the minimum", pingOf(-5, inbox), eas.PingInvalidInterval, 1, 0},
		{"heartbeat above the maximum", pingOf(301, inbox), eas.PingInvalidInterval, 300, 0},
		{"too many folders", pingOf(60, inbox, trash, p.id(t, "Sent")), eas.PingTooManyFolders, 0, 2},
		{"duplicate folders", pingOf(60, inbox, inbox), eas.PingSyntaxError, 0, 0},
		{"unknown folder", pingOf(60, "999"), eas.PingHierarchyChanged, 0, 0},
	}
	for _, tc := range tests {
		resp, err := p.Ping(ctx, tc.req)
		if err != nil || resp.Status != tc.status || resp.HeartbeatInterval != tc.limit || resp.MaxFolders != tc.max {
			t.Errorf("%s: %+v %v; want status %d, heartbeat %d, max folders %d", tc.name, resp, err, tc.status, tc.limit, tc.max)
		}
	}
	resp, err := p.Raw(ctx, "Ping", []byte("not wbxml"), easclient.Params{})
	if err != nil {
		t.Fatalf("malformed Ping: %v", err)
	}
	if st := pingStatusOf(t, resp.Body); st != eas.PingSyntaxError {
		t.Errorf("malformed Ping: status %d", st)
	}

	// A Ping that expires answers Status 1, and leaves its parameters for
	// the next ones: an empty Ping, and one that changes the heartbeat only.
	wantPing(t, waitAnswer(t, p.startPing(ctx, pingOf(1, inbox))), eas.PingExpired)
	wantPing(t, waitAnswer(t, p.startPing(ctx, nil)), eas.PingExpired)
	ch := p.startPing(ctx, &eas.PingRequest{HeartbeatInterval: ptr(longHeartbeat)})
	g.waiting(t, 1)
	g.Dovecot.Append(t, user, pw, "INBOX", mail(1))
	wantPing(t, waitAnswer(t, ch), eas.PingChanges, inbox)
	p.sync(t, "INBOX")
	ch = p.startPing(ctx, nil)
	g.waiting(t, 1)
	g.Dovecot.Append(t, user, pw, "INBOX", mail(2))
	wantPing(t, waitAnswer(t, ch), eas.PingChanges, inbox)

	// A Ping of a folder the phone never synced has nothing to report
	// until it syncs it: Trash here.
	wantPing(t, waitAnswer(t, p.startPing(ctx, pingOf(1, trash))), eas.PingExpired)
}

func ptr[T any](v T) *T { return &v }

func pingStatusOf(t testing.TB, body []byte) int {
	t.Helper()
	var resp eas.PingResponse
	if err := wbxml.Unmarshal(body, &resp); err != nil {
		t.Fatalf("ping response: %v", err)
	}
	return resp.Status
}

// TestPingSuperseded: a new Ping or Sync of the device ends the waiting
// Ping at once with Status 1; several Pings at once leave one waiting.
func TestPingSuperseded(t *testing.T) {
	g := startPushGateway(t, pushConfig)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	user, pw := g.newUser(t)
	p := g.pushPhone(t, user, pw, "super")
	inbox := p.id(t, "INBOX")

	first := p.startPing(ctx, pingOf(longHeartbeat, inbox))
	g.waiting(t, 1)
	second := p.startPing(ctx, pingOf(longHeartbeat, inbox))
	wantPing(t, waitAnswer(t, first), eas.PingExpired)
	g.waiting(t, 1)
	stillWaiting(t, second, "the newer Ping")

	// A Sync of the device ends the Ping too.
	p.sync(t, "INBOX")
	wantPing(t, waitAnswer(t, second), eas.PingExpired)

	// Some Android apps send several Pings at once: one keeps waiting.
	var chans []<-chan pingResult
	for range 5 {
		chans = append(chans, p.startPing(ctx, pingOf(longHeartbeat, inbox)))
	}
	expired := 0
	var last <-chan pingResult
	for _, ch := range chans {
		select {
		case r := <-ch:
			if r.err != nil || r.resp.Status != eas.PingExpired {
				t.Fatalf("a superseded Ping answered %+v %v", r.resp, r.err)
			}
			expired++
		case <-time.After(answerWait / 4):
			if last != nil {
				t.Fatal("two Pings of one device wait at once")
			}
			last = ch
		}
	}
	if expired != 4 || last == nil {
		t.Fatalf("%d of 5 Pings ended", expired)
	}
	g.waiting(t, 1)
	g.Dovecot.Append(t, user, pw, "INBOX", mail(1))
	wantPing(t, waitAnswer(t, last), eas.PingChanges, inbox)
}

// TestPingHierarchy: a folder created upstream while a Ping waits ends it
// with Status 7; so does a Ping whose device has not caught up with the
// folder list yet. After FolderSync the Ping waits again.
func TestPingHierarchy(t *testing.T) {
	g := startPushGateway(t, pushConfig)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	user, pw := g.newUser(t)
	p := g.pushPhone(t, user, pw, "hier")
	inbox := p.id(t, "INBOX")
	other := g.Dovecot.Dial(t, user, pw)

	ch := p.startPing(ctx, pingOf(longHeartbeat, inbox))
	g.waiting(t, 1)
	if err := other.Create("Projects", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	wantPing(t, waitAnswer(t, ch), eas.PingHierarchyChanged)
	wantPing(t, waitAnswer(t, p.startPing(ctx, nil)), eas.PingHierarchyChanged)

	h, err := p.FolderSync(ctx, "0")
	if err != nil || h.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %+v %v", h, err)
	}
	ch = p.startPing(ctx, nil)
	g.waiting(t, 1)
	g.Dovecot.Append(t, user, pw, "INBOX", mail(1))
	wantPing(t, waitAnswer(t, ch), eas.PingChanges, inbox)
}

// TestPingManyAccounts: 50 devices of 5 accounts wait at once; a change in
// one account ends the Pings of that account's devices and no other.
func TestPingManyAccounts(t *testing.T) {
	g := startPushGateway(t, pushConfig)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	const accounts, devices = 5, 10
	type account struct {
		user, pw string
		phones   []*pushPhone
		waits    []<-chan pingResult
	}
	all := make([]*account, accounts)
	var wg sync.WaitGroup
	errs := make(chan error, accounts*devices)
	for i := range all {
		user, pw := g.newUser(t)
		// Dovecot makes INBOX at its first use; two sessions doing so at
		// once can give it two UIDVALIDITYs (and a phone Status 3).
		if _, err := g.Dovecot.Dial(t, user, pw).Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		a := &account{user: user, pw: pw, phones: make([]*pushPhone, devices)}
		all[i] = a
		for d := range devices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := g.newPushPhone(user, pw, fmt.Sprintf("dev%d", d))
				if err != nil {
					errs <- err
				}
				a.phones[d] = p
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, a := range all {
		for _, p := range a.phones {
			a.waits = append(a.waits, p.startPing(ctx, pingOf(longHeartbeat, p.id(t, "INBOX"))))
		}
	}
	g.waiting(t, accounts*devices)
	if n, _ := g.Push.Watching(); n != accounts {
		t.Errorf("%d watchers for %d accounts", n, accounts)
	}
	for i, a := range all {
		g.Dovecot.Append(t, a.user, a.pw, "INBOX", mail(i))
		for d, ch := range a.waits {
			wantPing(t, waitAnswer(t, ch), eas.PingChanges, a.phones[d].id(t, "INBOX"))
		}
		for _, b := range all[i+1:] {
			for d, ch := range b.waits {
				stillWaiting(t, ch, fmt.Sprintf("device %d of %s", d, b.user))
			}
		}
	}
}

// TestPingBehindNginx: a Ping held by the real nginx answers when mail
// arrives.
func TestPingBehindNginx(t *testing.T) {
	cfg := pushConfig
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	g := startPushGateway(t, cfg)
	u, _ := url.Parse(g.HTTP.URL)
	proxy := startNginx(t, u.Host, "127.0.0.2")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	user, pw := g.newUser(t)
	p := g.pushPhone(t, user, pw, "nginxpush")
	p.URL, p.HTTP = proxy.URL, proxy.Client

	ch := p.startPing(ctx, pingOf(longHeartbeat, p.id(t, "INBOX")))
	g.waiting(t, 1)
	g.Dovecot.Append(t, user, pw, "INBOX", mail(1))
	wantPing(t, waitAnswer(t, ch), eas.PingChanges, p.id(t, "INBOX"))
}

// TestPingUpstreamRestart: Dovecot goes away while Pings wait and comes
// back. The Pings keep waiting, and answer the next change; a Ping that
// arrives while the server is away answers at once.
func TestPingUpstreamRestart(t *testing.T) {
	g := startPushGateway(t, pushConfig)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	user, pw := g.newUser(t)
	var phones []*pushPhone
	var waits []<-chan pingResult
	for d := range 3 {
		p := g.pushPhone(t, user, pw, fmt.Sprintf("restart%d", d))
		phones = append(phones, p)
		waits = append(waits, p.startPing(ctx, pingOf(longHeartbeat, p.id(t, "INBOX"))))
	}
	g.waiting(t, 3)

	late := g.pushPhone(t, user, pw, "late")

	g.Dovecot.Stop(t)
	// A Ping that comes while the server is away cannot look at the
	// folders: it is held until the server is back (or a while passes),
	// then answers Status 8 (or HTTP 503 at once when the login itself
	// needs the server), and the phone retries.
	lateCh := make(chan pingResult, 1)
	go func() {
		resp, err := late.PingFolders(ctx, longHeartbeat, late.id(t, "INBOX"))
		lateCh <- pingResult{resp, err}
	}()
	time.Sleep(500 * time.Millisecond)
	for d, ch := range waits {
		stillWaiting(t, ch, fmt.Sprintf("device %d", d))
	}
	g.Dovecot.Start(t)
	select {
	case r := <-lateCh:
		switch {
		case r.err == nil && r.resp.Status == eas.PingServerError:
		case easclient.IsHTTP(r.err, 503):
		default:
			t.Errorf("Ping while the server is away: %+v %v", r.resp, r.err)
		}
	case <-time.After(answerWait):
		t.Error("the Ping held while the server was away did not answer once it was back")
	}

	g.Dovecot.Append(t, user, pw, "INBOX", mail(1))
	for d, ch := range waits {
		wantPing(t, waitAnswer(t, ch), eas.PingChanges, phones[d].id(t, "INBOX"))
	}
}

// TestHangingSync: a Sync with a heartbeat and nothing to send waits, and
// answers with the new message when it arrives.
func TestHangingSync(t *testing.T) {
	g := startPushGateway(t, pushConfig)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	user, pw := g.newUser(t)
	p := g.pushPhone(t, user, pw, "hanging")
	inbox := p.id(t, "INBOX")

	done := make(chan *eas.SyncResponse, 1)
	go func() {
		resp, err := p.Sync(ctx, &eas.SyncRequest{HeartbeatInterval: ptr(longHeartbeat),
			Collections: []eas.SyncCollection{{SyncKey: p.keys["INBOX"], CollectionID: inbox}}})
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	g.waiting(t, 1)
	g.Dovecot.Append(t, user, pw, "INBOX", mail(1))
	select {
	case resp := <-done:
		if resp == nil {
			t.Fatal("empty answer")
		}
		col, err := resp.Collection(inbox)
		if err != nil || col.Commands == nil || len(col.Commands.Add) != 1 {
			t.Fatalf("hanging Sync answered %+v %v", resp, err)
		}
	case <-time.After(answerWait):
		t.Fatal("the hanging Sync did not answer")
	}
}

// A Ping waiting through the real watcher shows in the waiting gauge, and
// its push in the latency histogram.
func TestPushMetrics(t *testing.T) {
	g := startGateway(t, gatewayOptions{Config: pushConfig, Push: &bridge.WatchConfig{CheckInterval: time.Second}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	user, pw := g.newUser(t)
	p := g.pushPhone(t, user, pw, "metrics")
	inbox := p.id(t, "INBOX")

	pings := map[string]string{"command": "Ping"}
	before := metricstest.Scrape(t, g.Admin.URL, "easgate_push_latency_seconds", nil)
	ch := p.startPing(ctx, pingOf(longHeartbeat, inbox))
	g.waiting(t, 1)
	deadline := time.Now().Add(answerWait)
	for metricstest.Scrape(t, g.Admin.URL, "easgate_waiting_requests", pings) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the waiting Ping never showed in easgate_waiting_requests")
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.Dovecot.Append(t, user, pw, "INBOX", mail(1))
	wantPing(t, waitAnswer(t, ch), eas.PingChanges, inbox)
	if got := metricstest.Scrape(t, g.Admin.URL, "easgate_waiting_requests", pings); got != 0 {
		t.Errorf("waiting Pings after the answer: %v", got)
	}
	if d := metricstest.Scrape(t, g.Admin.URL, "easgate_push_latency_seconds", nil) - before; d != 1 {
		t.Errorf("push latency observations %v, want 1", d)
	}
}
