package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/easgate/easgate/bridge/upstream/demo"
	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
)

// noticeWait bounds how long a test waits for a notice that must come. It
// is no performance target: it only keeps a broken watcher from hanging
// the test.
const noticeWait = 15 * time.Second

// watchEnv is an upstream with several accounts, a Backend whose every
// connection goes through a dialer the test controls, and a Notifier.
type watchEnv struct {
	addr     string
	dovecot  *dovecottest.Server
	accounts []eas.Credentials
	b        *Backend
	n        *Notifier

	dials  atomic.Int32
	refuse atomic.Bool
	mu     sync.Mutex
	conns  []*freezable
}

type watchOptions struct {
	dovecot  bool
	accounts int
	cfg      Config
	watch    WatchConfig
}

func startWatch(t *testing.T, opt watchOptions) *watchEnv {
	t.Helper()
	if opt.accounts == 0 {
		opt.accounts = 1
	}
	e := &watchEnv{}
	for i := range opt.accounts {
		e.accounts = append(e.accounts, eas.Credentials{Username: fmt.Sprintf("user%d", i), Password: fmt.Sprintf("pass %d", i)})
	}
	if opt.dovecot {
		e.dovecot = dovecottest.New(t, dovecottest.Options{})
		for _, a := range e.accounts {
			e.dovecot.AddUser(t, a.Username, a.Password)
		}
		e.addr = e.dovecot.Addr()
	} else {
		e.addr = startIdleMemServer(t, e.accounts)
	}
	for _, a := range e.accounts {
		c := e.other(t, a)
		if err := c.Create("Work", nil).Wait(); err != nil {
			t.Fatalf("create Work: %v", err)
		}
	}
	cfg := opt.cfg
	cfg.DialContext = e.dial
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = 5 * time.Second
	}
	e.b = newTestBackend(t, e.addr, cfg)
	w := opt.watch
	if w.MinBackoff == 0 {
		w.MinBackoff, w.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	e.n = NewNotifier(e.b, w)
	t.Cleanup(func() { e.n.Close() })
	return e
}

// startIdleMemServer runs go-imap's in-memory server with an INBOX for
// every account. Its IDLE misses a change made just as IDLE starts (it
// listens for updates only after saying it idles), so IDLE runs in short
// rounds with a poll between them, as the demo upstream does.
func startIdleMemServer(t *testing.T, accounts []eas.Credentials) string {
	t.Helper()
	mem := imapmemserver.New()
	for _, a := range accounts {
		u := imapmemserver.NewUser(a.Username, a.Password)
		if err := u.Create("INBOX", nil); err != nil {
			t.Fatal(err)
		}
		mem.AddUser(u)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return demo.IdleInRounds{SessionIMAP4rev2: mem.NewSession().(imapserver.SessionIMAP4rev2), Round: 50 * time.Millisecond}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIdle: {}, imap.CapListStatus: {}},
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dial is the Backend's dialer: it counts, can refuse, and keeps the
// connections so that the test can cut or freeze them.
func (e *watchEnv) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	e.dials.Add(1)
	if e.refuse.Load() {
		return nil, errors.New("test refuses to connect")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	f := &freezable{Conn: c}
	e.mu.Lock()
	e.conns = append(e.conns, f)
	e.mu.Unlock()
	return f, nil
}

// cut closes every connection the Backend has, as a network failure would.
func (e *watchEnv) cut() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		c.Close()
	}
	e.conns = nil
}

// freeze makes every open connection go silent without closing, as a
// server that hangs or a dropped route would.
func (e *watchEnv) freeze() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.conns {
		c.frozen.Store(true)
	}
	e.conns = nil
}

type freezable struct {
	net.Conn
	frozen atomic.Bool
}

// Read swallows what the server says while frozen; the connection's
// deadlines and Close still end it.
func (f *freezable) Read(p []byte) (int, error) {
	for {
		n, err := f.Conn.Read(p)
		if err != nil || !f.frozen.Load() {
			return n, err
		}
	}
}

// other is another mail client of the account.
func (e *watchEnv) other(t testing.TB, a eas.Credentials) *imapclient.Client {
	t.Helper()
	if e.dovecot != nil {
		return e.dovecot.Dial(t, a.Username, a.Password)
	}
	c, err := imapclient.DialInsecure(e.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(a.Username, a.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *watchEnv) subscribe(t testing.TB, a eas.Credentials, paths ...string) eas.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), noticeWait)
	defer cancel()
	s, err := e.n.Subscribe(ctx, a, paths)
	if err != nil {
		t.Fatalf("subscribe %v: %v", paths, err)
	}
	t.Cleanup(s.Close)
	return s
}

func appendTo(t testing.TB, c *imapclient.Client, mailbox string, flags ...imap.Flag) imap.UID {
	t.Helper()
	return appendOne(t, c, mailbox, textMessage(1, time.Now(), "", ""), time.Now(), flags...)
}

// expectNotice waits for a notice naming path.
func expectNotice(t testing.TB, s eas.Subscription, path string) {
	t.Helper()
	timeout := time.After(noticeWait)
	for {
		select {
		case got, ok := <-s.C():
			if !ok {
				t.Fatalf("waiting for %q: channel closed", path)
			}
			if got == path {
				return
			}
		case <-timeout:
			t.Fatalf("no notice for %q", path)
		}
	}
}

// drain empties the channel and returns what it held.
func drain(s eas.Subscription) []string {
	var out []string
	for {
		select {
		case p, ok := <-s.C():
			if !ok {
				return append(out, "(closed)")
			}
			out = append(out, p)
		default:
			return out
		}
	}
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(noticeWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchInbox: another client's append, flag change and expunge in
// INBOX reach the subscriber through IDLE. Dovecot's unasked FETCH carries
// no UID, the in-memory server's does; both must do.
func TestWatchInbox(t *testing.T) {
	for _, upstream := range []string{"memory", "dovecot"} {
		t.Run(upstream, func(t *testing.T) {
			// A check interval longer than the test: only IDLE can report.
			e := startWatch(t, watchOptions{dovecot: upstream == "dovecot", watch: WatchConfig{CheckInterval: time.Hour}})
			a := e.accounts[0]
			s := e.subscribe(t, a, "INBOX")
			other := e.other(t, a)
			if _, err := other.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name string
				do   func()
			}{
				{"append", func() { appendTo(t, other, "INBOX") }},
				{"flag", func() {
					if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}, Silent: true}, nil).Close(); err != nil {
						t.Fatal(err)
					}
				}},
				{"expunge", func() {
					if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
						t.Fatal(err)
					}
					if err := other.Expunge().Close(); err != nil {
						t.Fatal(err)
					}
				}},
			}
			for _, st := range steps {
				drain(s)
				st.do()
				expectNotice(t, s, "INBOX")
			}
			// The watcher's own, and the pooled one logged in at the first
			// notice for the phones (the later ones find it idle).
			eventually(t, "two connections dialled", func() bool { return e.dials.Load() == 2 })
		})
	}
}

// TestWatchPolledFolders: a folder other than INBOX is compared within the
// check interval, the folder list too, and each notice reaches only the
// subscriptions watching what changed.
func TestWatchPolledFolders(t *testing.T) {
	for _, upstream := range []string{"memory", "dovecot"} {
		t.Run(upstream, func(t *testing.T) {
			e := startWatch(t, watchOptions{dovecot: upstream == "dovecot", watch: WatchConfig{CheckInterval: 100 * time.Millisecond}})
			a := e.accounts[0]
			inbox := e.subscribe(t, a, "INBOX")
			work := e.subscribe(t, a, "Work")
			list := e.subscribe(t, a, eas.FolderListPath)
			other := e.other(t, a)

			appendTo(t, other, "Work")
			expectNotice(t, work, "Work")
			// Read elsewhere: without CONDSTORE (memory) only UNSEEN shows it.
			if _, err := other.Select("Work", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			drain(work)
			if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close(); err != nil {
				t.Fatal(err)
			}
			expectNotice(t, work, "Work")

			if err := other.Create("Projects", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			expectNotice(t, list, eas.FolderListPath)

			appendTo(t, other, "INBOX")
			expectNotice(t, inbox, "INBOX")
			if got := drain(inbox); slices.ContainsFunc(got, func(p string) bool { return p != "INBOX" }) {
				t.Errorf("INBOX subscription got %v", got)
			}
			if got := drain(work); slices.Contains(got, "INBOX") || slices.Contains(got, eas.FolderListPath) {
				t.Errorf("Work subscription got %v", got)
			}
		})
	}
}

// TestWatchAccountsApart: several accounts, several subscriptions each, one
// connection per account, and each change reaches its own account only.
func TestWatchAccountsApart(t *testing.T) {
	e := startWatch(t, watchOptions{accounts: 3, watch: WatchConfig{CheckInterval: time.Hour}})
	subs := make([][]eas.Subscription, len(e.accounts))
	for i, a := range e.accounts {
		for range 3 {
			subs[i] = append(subs[i], e.subscribe(t, a, "INBOX", "Work"))
		}
	}
	if accounts, n := e.n.Watching(); accounts != 3 || n != 9 {
		t.Fatalf("watching %d accounts with %d subscriptions, want 3 and 9", accounts, n)
	}
	for i, a := range e.accounts {
		appendTo(t, e.other(t, a), "INBOX")
		for _, s := range subs[i] {
			expectNotice(t, s, "INBOX")
		}
		for j := range e.accounts {
			if j == i {
				continue
			}
			for _, s := range subs[j] {
				if got := drain(s); len(got) > 0 {
					t.Errorf("account %d got %v after a change of account %d", j, got, i)
				}
			}
		}
	}
	// A watcher and a connection logged in at its notice, per account.
	eventually(t, "six connections dialled for 3 accounts", func() bool { return e.dials.Load() == 6 })
}

// TestSubscriptionCoalesces: notices never block the watcher and a path is
// queued at most once while the subscriber has not emptied its channel.
func TestSubscriptionCoalesces(t *testing.T) {
	type step struct {
		notify  string // a path to notify, or
		receive int    // how many notices the subscriber takes out
	}
	tests := []struct {
		name  string
		steps []step
		want  []string // what the channel holds at the end
	}{
		{"repeats collapse", []step{{notify: "A"}, {notify: "A"}, {notify: "A"}}, []string{"A"}},
		{"each path once", []step{{notify: "A"}, {notify: "B"}, {notify: "A"}, {notify: "B"}}, []string{"A", "B"}},
		{"again once taken", []step{{notify: "A"}, {receive: 1}, {notify: "A"}}, []string{"A"}},
		{"not while the receiver drains", []step{{notify: "A"}, {notify: "B"}, {receive: 1}, {notify: "A"}}, []string{"B"}},
		{"unknown path ignored", []step{{notify: "C"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSubscription([]string{"A", "B"})
			for _, st := range tc.steps {
				if st.notify != "" {
					s.notify(st.notify)
				}
				for range st.receive {
					<-s.ch
				}
			}
			var got []string
			for len(s.ch) > 0 {
				got = append(got, <-s.ch)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("channel holds %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWatchSlowSubscriber: a subscriber that never reads does not hold up
// the others of its account.
func TestWatchSlowSubscriber(t *testing.T) {
	e := startWatch(t, watchOptions{watch: WatchConfig{CheckInterval: time.Hour}})
	a := e.accounts[0]
	e.subscribe(t, a, "INBOX") // never read
	reader := e.subscribe(t, a, "INBOX")
	other := e.other(t, a)
	for range 5 {
		appendTo(t, other, "INBOX")
		expectNotice(t, reader, "INBOX")
	}
}

// TestWatchGrace: a watcher outlives its last subscription by the grace
// period, so a phone's next Ping reuses its connection, and closes after.
func TestWatchGrace(t *testing.T) {
	e := startWatch(t, watchOptions{watch: WatchConfig{Grace: 500 * time.Millisecond}})
	a := e.accounts[0]
	for range 3 {
		s, err := e.n.Subscribe(context.Background(), a, []string{"INBOX"})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if n := e.dials.Load(); n != 1 {
		t.Errorf("%d connections for three subscriptions within the grace period, want 1", n)
	}
	eventually(t, "retiring the watcher", func() bool {
		accounts, _ := e.n.Watching()
		return accounts == 0
	})
	// A new subscription after that starts a new watcher that works.
	s := e.subscribe(t, a, "INBOX")
	appendTo(t, e.other(t, a), "INBOX")
	expectNotice(t, s, "INBOX")
	// Two watchers, and the connection logged in at the notice.
	eventually(t, "three connections in all", func() bool { return e.dials.Load() == 3 })
}

// TestWatchResubscribe: a phone's next Ping subscribes to folders the
// watcher still knows from the previous one (within the grace period); their
// changes are still found by the periodic check.
func TestWatchResubscribe(t *testing.T) {
	e := startWatch(t, watchOptions{watch: WatchConfig{CheckInterval: 100 * time.Millisecond}})
	a := e.accounts[0]
	s, err := e.n.Subscribe(context.Background(), a, []string{"INBOX", "Work"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Let the watcher settle into waiting with nobody to serve.
	time.Sleep(300 * time.Millisecond)
	s = e.subscribe(t, a, "INBOX", "Work")
	appendTo(t, e.other(t, a), "Work")
	expectNotice(t, s, "Work")
}

// TestWatchPrewarmsPool: a watched account holds no pooled connection past
// the idle timeout, but the moment the watcher tells of new mail it logs one
// in, so that the phones' look at their folders finds it ready.
func TestWatchPrewarmsPool(t *testing.T) {
	e := startWatch(t, watchOptions{cfg: Config{IdleTimeout: 100 * time.Millisecond}})
	a := e.accounts[0]
	idle := func() int {
		e.b.pool.mu.Lock()
		defer e.b.pool.mu.Unlock()
		if acc := e.b.pool.accounts[a.Username]; acc != nil {
			return len(acc.idle)
		}
		return 0
	}
	s := e.subscribe(t, a, "INBOX")
	mb, err := e.b.Open(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	mb.Close()
	eventually(t, "the idle connection closing while watched", func() bool { return idle() == 0 })
	appendTo(t, e.other(t, a), "INBOX")
	expectNotice(t, s, "INBOX")
	eventually(t, "a connection logged in after the notice", func() bool { return idle() == 1 })
	// It serves the next Open without a new login.
	e.b.pool.mu.Lock()
	warm := e.b.pool.accounts[a.Username].idle[0]
	e.b.pool.mu.Unlock()
	mb, err = e.b.Open(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	if mb.(*Mailbox).c != warm {
		t.Fatal("Open after the notice did not get the connection logged in for it")
	}
}

// TestWatchReconnect: the connection drops, the server cannot be reached
// for a while, and a change made meanwhile is reported once the watcher is
// back, in INBOX and in a polled folder.
func TestWatchReconnect(t *testing.T) {
	for _, upstream := range []string{"memory", "dovecot"} {
		t.Run(upstream, func(t *testing.T) {
			// A command timeout longer than the test waits for anything:
			// a Subscribe while the server is away must not wait for it.
			e := startWatch(t, watchOptions{dovecot: upstream == "dovecot", cfg: Config{CommandTimeout: time.Minute},
				watch: WatchConfig{CheckInterval: time.Hour}})
			a := e.accounts[0]
			s := e.subscribe(t, a, "INBOX", "Work")
			other := e.other(t, a)
			e.refuse.Store(true)
			e.cut()
			before := e.dials.Load()
			eventually(t, "retries while the server is away", func() bool { return e.dials.Load() >= before+3 })
			late := e.subscribe(t, a, "INBOX", "Work")
			appendTo(t, other, "INBOX")
			appendTo(t, other, "Work")
			drain(s)
			e.refuse.Store(false)
			for _, sub := range []eas.Subscription{s, late} {
				got := map[string]bool{}
				timeout := time.After(noticeWait)
				for !got["INBOX"] || !got["Work"] {
					select {
					case p := <-sub.C():
						got[p] = true
					case <-timeout:
						t.Fatalf("after reconnecting got %v", got)
					}
				}
			}
			// And IDLE works again.
			appendTo(t, other, "INBOX")
			expectNotice(t, s, "INBOX")
		})
	}
}

// TestWatchDeadServer: a server that stops answering without closing the
// connection is noticed by the probe, and the watcher connects again.
func TestWatchDeadServer(t *testing.T) {
	e := startWatch(t, watchOptions{
		cfg:   Config{CommandTimeout: 300 * time.Millisecond},
		watch: WatchConfig{CheckInterval: time.Hour, ProbeAfter: 200 * time.Millisecond},
	})
	a := e.accounts[0]
	s := e.subscribe(t, a, "INBOX")
	e.freeze()
	eventually(t, "a new connection", func() bool { return e.dials.Load() >= 2 })
	appendTo(t, e.other(t, a), "INBOX")
	expectNotice(t, s, "INBOX")
}

// TestWatchServerDown: Subscribe does not hang while the server is away; it
// returns after the first failed attempt, and the paths are reported once
// the watcher gets through.
func TestWatchServerDown(t *testing.T) {
	e := startWatch(t, watchOptions{})
	a := e.accounts[0]
	e.refuse.Store(true)
	s := e.subscribe(t, a, "INBOX")
	e.refuse.Store(false)
	expectNotice(t, s, "INBOX")
}

func TestWatchUnauthorized(t *testing.T) {
	e := startWatch(t, watchOptions{})
	bad := eas.Credentials{Username: e.accounts[0].Username, Password: "wrong"}
	_, err := e.n.Subscribe(context.Background(), bad, []string{"INBOX"})
	wantErr(t, err, eas.ErrUnauthorized)
	if accounts, _ := e.n.Watching(); accounts != 0 {
		t.Errorf("%d watchers left after a refused login", accounts)
	}
}

// TestNotifierClose ends the subscriptions: their channels close.
func TestNotifierClose(t *testing.T) {
	e := startWatch(t, watchOptions{})
	s := e.subscribe(t, e.accounts[0], "INBOX")
	e.n.Close()
	select {
	case _, ok := <-s.C():
		if ok {
			t.Fatal("a notice instead of the closed channel")
		}
	case <-time.After(noticeWait):
		t.Fatal("channel not closed")
	}
	_, err := e.n.Subscribe(context.Background(), e.accounts[0], []string{"INBOX"})
	wantErr(t, err, errNotifierClosed)
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, 8*time.Second
	tests := []struct {
		prev, want time.Duration
	}{
		{0, lo}, {lo, 2 * lo}, {2 * lo, 4 * lo}, {4 * lo, hi}, {hi, hi},
	}
	for _, tc := range tests {
		if got := nextBackoff(tc.prev, lo, hi); got != tc.want {
			t.Errorf("nextBackoff(%v) = %v, want %v", tc.prev, got, tc.want)
		}
	}
	jitters := []struct {
		r    float64
		want time.Duration
	}{
		{0, 4 * time.Second}, {0.5, 6 * time.Second}, {0.999999, 8 * time.Second},
	}
	for _, tc := range jitters {
		if got := jitter(8*time.Second, tc.r); got.Round(time.Millisecond) != tc.want {
			t.Errorf("jitter(8s, %v) = %v, want %v", tc.r, got, tc.want)
		}
	}
}

func TestMarkSame(t *testing.T) {
	base := mark{folderState: folderState{uidValidity: 1, uidNext: 5, messages: 4, modSeq: 9}}
	tests := []struct {
		name string
		a, b mark
		want bool
	}{
		{"equal", base, base, true},
		{"new message", base, mark{folderState: folderState{uidValidity: 1, uidNext: 6, messages: 5, modSeq: 10}}, false},
		{"flag change", base, mark{folderState: folderState{uidValidity: 1, uidNext: 5, messages: 4, modSeq: 10}}, false},
		{"recreated", base, mark{folderState: folderState{uidValidity: 2, uidNext: 5, messages: 4, modSeq: 9}}, false},
		{"deleted", base, mark{missing: true}, false},
		{"still missing", mark{missing: true}, mark{missing: true}, true},
		{"read elsewhere without CONDSTORE", mark{folderState: folderState{uidValidity: 1, uidNext: 5, messages: 4}, unseen: 2}, mark{folderState: folderState{uidValidity: 1, uidNext: 5, messages: 4}, unseen: 1}, false},
		{"from a SELECT without CONDSTORE", mark{folderState: folderState{uidValidity: 1, uidNext: 5, messages: 4}, partial: true}, mark{folderState: folderState{uidValidity: 1, uidNext: 5, messages: 4}, partial: true}, false},
		{"folder list", mark{list: "a"}, mark{list: "b"}, false},
	}
	for _, tc := range tests {
		if got := tc.a.same(tc.b); got != tc.want {
			t.Errorf("%s: same = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// pinger is a phone that Pings INBOX again and again, each Ping and the
// gap before the next one short, as while its Pings keep failing.
type pinger struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startPinger(t *testing.T, e *watchEnv, a eas.Credentials, every time.Duration) *pinger {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pinger{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for ctx.Err() == nil {
			if s, err := e.n.Subscribe(ctx, a, []string{"INBOX"}); err == nil {
				time.Sleep(every)
				s.Close()
			}
			// The phone reads the answer and sends its next Ping.
			time.Sleep(every)
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *pinger) stop() {
	p.cancel()
	<-p.done
}

// connected reports whether user's watcher has its connection up.
func (e *watchEnv) connected(user string) bool {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	w := e.n.watchers[user]
	return w != nil && w.connected.Load()
}

// TestPushResumesAfterOutage: Dovecot stops and starts again while a phone
// keeps Pinging; the watcher keeps trying, is back once Dovecot is, and
// reports new mail, however often the phone's Pings end meanwhile (each
// used to push the next attempt a grace period later, so push stayed off
// for as long as the phone Pinged).
func TestPushResumesAfterOutage(t *testing.T) {
	e := startWatch(t, watchOptions{dovecot: true,
		watch: WatchConfig{CheckInterval: time.Hour, Grace: time.Second, MinBackoff: DefaultMinBackoff}})
	a := e.accounts[0]
	// The watcher has seen INBOX; from here on only the pinger subscribes.
	e.subscribe(t, a, "INBOX").Close()
	startPinger(t, e, a, 300*time.Millisecond)
	e.dovecot.Stop(t)
	before := e.dials.Load()
	eventually(t, "retries while Dovecot is down", func() bool { return e.dials.Load() >= before+3 })
	e.dovecot.Start(t)
	back := time.Now()
	eventually(t, "the watcher reconnects", func() bool { return e.connected(a.Username) })
	t.Logf("watcher back %v after Dovecot, %d dials", time.Since(back), e.dials.Load()-before)
	s := e.subscribe(t, a, "INBOX")
	appendTo(t, e.other(t, a), "INBOX")
	expectNotice(t, s, "INBOX")
}
