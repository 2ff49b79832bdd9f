// Package e2e_test runs the whole gateway as deployed: easgate nodes on a
// real PostgreSQL behind a real nginx, in front of a real Dovecot, driven
// by the EAS client as a phone, every effect checked on Dovecot.
package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/store"
	"github.com/easgate/easgate/store/pgtest"
)

// pg is the PostgreSQL cluster the tests share, a database per test.
var pg *pgtest.Server

func TestMain(m *testing.M) {
	srv, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pg = srv
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	os.Exit(code)
}

const adminToken = "test-admin-token-0123456789"

// node is one easgate node: its own store connections, upstream
// connections, push watcher and listener, sharing the cluster's database.
type node struct {
	name  string
	store *store.Store
	// events is the store as the server sees it, whose device events the
	// test may hold back.
	events  *eventGate
	backend *bridge.Backend
	push    *bridge.Notifier
	metrics *eas.Metrics
	srv     *eas.Server
	http    *http.Server
	addr    string
	admin   *httptest.Server
	// syncs counts the Sync requests the node received.
	syncs    atomic.Int64
	requests atomic.Int64
	// killOn, when set, picks the request after whose work the node dies
	// before it answers.
	killOn  atomic.Pointer[func(*http.Request) bool]
	stopped atomic.Bool
}

func (n *node) URL() string { return "http://" + n.addr }

// cluster is a Dovecot, a database and easgate nodes behind nginx.
type cluster struct {
	dovecot *dovecottest.Server
	db      string
	nodes   []*node
	// proxy is nginx's URL, balancing round robin over the nodes.
	proxy string
}

func startCluster(t testing.TB, nodes int) *cluster {
	t.Helper()
	return startClusterOn(t, pg.Database(t), nodes)
}

// startClusterOn starts nodes sharing the database at db (a PostgreSQL
// URL, or an SQLite file for one node).
func startClusterOn(t testing.TB, db string, nodes int) *cluster {
	t.Helper()
	c := &cluster{dovecot: dovecottest.New(t, dovecottest.Options{}), db: db}
	var addrs []string
	for i := range nodes {
		n := c.startNode(t, fmt.Sprintf("node%d", i+1))
		c.nodes = append(c.nodes, n)
		addrs = append(addrs, n.addr)
	}
	c.proxy = startBalancer(t, addrs)
	return c
}

func (c *cluster) startNode(t testing.TB, name string) *node {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, c.db)
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(name)
	n := &node{name: name, store: st, events: &eventGate{Store: st}, metrics: eas.NewMetrics()}
	n.backend = bridge.New(bridge.Config{Addr: c.dovecot.Addr(), Security: bridge.SecurityNone, Logger: log.Named("imap")})
	n.push = bridge.NewNotifier(n.backend, bridge.WatchConfig{})
	n.srv = eas.NewServer(eas.Config{Logger: log.Named("eas"), Metrics: n.metrics}, n.backend, n.events, n.push)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = ln.Addr().String()
	n.http = &http.Server{Handler: n.wrap(n.srv.Handler()), ErrorLog: zap.NewStdLog(log)}
	go n.http.Serve(ln)
	n.admin = httptest.NewServer(n.srv.AdminHandler(adminToken))
	t.Cleanup(func() { n.stop(t) })
	return n
}

// wrap counts requests and, for the request killOn picks, lets the node do
// all its work (state saved, upstream changed) and then dies without
// answering: the worst moment for a phone.
func (n *node) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.requests.Add(1)
		if r.URL.Query().Get("Cmd") == "Sync" {
			n.syncs.Add(1)
		}
		if f := n.killOn.Load(); f != nil && (*f)(r) {
			n.killOn.Store(nil)
			h.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			n.kill()
			return
		}
		h.ServeHTTP(w, r)
	})
}

// kill ends the node as a crash would for its phones: listener and
// connections closed at once, no answer to anything running.
func (n *node) kill() {
	n.stopped.Store(true)
	n.http.Close()
	n.admin.CloseClientConnections()
}

// stop stops the node gracefully, as easgate does on SIGTERM: waiting
// requests answered at once, running ones finished, then it closes.
func (n *node) stop(t testing.TB) {
	t.Helper()
	if !n.stopped.Swap(true) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.push.Close()
		closed := make(chan error, 1)
		go func() { closed <- n.srv.Close(ctx) }()
		if err := n.http.Shutdown(ctx); err != nil {
			t.Errorf("%s: shutdown: %v", n.name, err)
		}
		if err := <-closed; err != nil {
			t.Errorf("%s: close: %v", n.name, err)
		}
	} else {
		// A killed node's requests still finish in this process.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.push.Close()
		n.srv.Close(ctx)
	}
	n.admin.Close()
	n.backend.Close()
	if err := n.store.Close(); err != nil {
		t.Errorf("%s: close store: %v", n.name, err)
	}
}

// startBalancer balances over addrs round robin with nginx, on a
// throwaway configuration with the settings of testdata/nginx/easgate.conf
// that matter here, and returns its URL.
func startBalancer(t testing.TB, addrs []string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	port := freePort(t)
	var servers strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&servers, "        server %s;\n", a)
	}
	conf := fmt.Sprintf(`    upstream easgate {
%[1]s        keepalive 16;
    }
    server {
        listen 127.0.0.1:%[2]d;
        location / {
            proxy_pass http://easgate;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_buffering off;
            proxy_request_buffering off;
        }
    }`, servers.String(), port)
	return "http://" + runNginx(t, findNginx(t), dir, conf, port)
}

// phone is a provisioned device of a new user, speaking to url, with an
// IMAP connection of the same user for setup and checks.
type phone struct {
	*easclient.Client
	user, pw string
	imap     *imapclient.Client
	ids      map[string]string // folder path: collection id
}

func (c *cluster) newPhone(t testing.TB, url, deviceID string) *phone {
	t.Helper()
	n := userSeq.Add(1)
	user, pw := fmt.Sprintf("user%d@example.com", n), fmt.Sprintf("secret-%d", n)
	c.dovecot.AddUser(t, user, pw)
	p := &phone{Client: easclient.New(url, user, pw, deviceID, eas.V161), user: user, pw: pw,
		imap: c.dovecot.Dial(t, user, pw)}
	p.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	ctx := t.Context()
	if _, err := p.Provision(ctx, nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	fs, err := p.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess || fs.Changes == nil {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	p.ids = map[string]string{}
	for _, f := range fs.Changes.Add {
		if f.ParentID == "0" {
			p.ids[f.DisplayName] = f.ServerID
		}
	}
	if p.ids["INBOX"] == "" {
		t.Fatalf("no INBOX in %+v", fs.Changes.Add)
	}
	return p
}

// on returns a second client of the same device speaking to url (another
// node, or nginx).
func (p *phone) on(url string) *easclient.Client {
	c := *p.Client
	c.URL = url
	c.HTTP = &http.Client{Transport: &http.Transport{}}
	return &c
}

// appendMessages stores n messages with unique subjects ("Message i"),
// pipelined on p's IMAP connection.
func (p *phone) appendMessages(t testing.TB, first, n int) {
	t.Helper()
	base := time.Now().Add(-time.Duration(first+n+1) * time.Minute).UTC().Truncate(time.Second)
	var cmds []*imapclient.AppendCommand
	flush := func() {
		for _, cmd := range cmds {
			if _, err := cmd.Wait(); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		cmds = cmds[:0]
	}
	for i := first; i < first+n; i++ {
		date := base.Add(time.Duration(i) * time.Minute)
		raw := fmt.Sprintf("From: sender%d@example.org\r\nTo: %s\r\nSubject: Message %d\r\nDate: %s\r\n"+
			"Message-ID: <msg-%d@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"This is message %d.\r\n", i, p.user, i, date.Format(time.RFC1123Z), i, i)
		cmd := p.imap.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Time: date})
		w := bufio.NewWriter(cmd)
		w.WriteString(raw)
		if err := w.Flush(); err != nil {
			t.Fatalf("append: %v", err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("append: %v", err)
		}
		cmds = append(cmds, cmd)
		if len(cmds) == 200 {
			flush()
		}
	}
	flush()
}

// retrying is how a phone treats an answer that never came (a node died,
// nginx answered 502) or a retryable one: it sends the same request again.
func retrying[T any](t testing.TB, what string, f func() (T, error)) T {
	t.Helper()
	var last error
	for range 20 {
		v, err := f()
		if err == nil {
			return v
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, last)
	var zero T
	return zero
}

// syncColl runs one Sync of one collection, retried as a phone would.
func syncColl(t testing.TB, c *easclient.Client, coll eas.SyncCollection) *eas.SyncCollectionResponse {
	t.Helper()
	return retrying(t, "sync", func() (*eas.SyncCollectionResponse, error) {
		resp, err := c.Sync(t.Context(), &eas.SyncRequest{Collections: []eas.SyncCollection{coll}})
		if err != nil {
			return nil, err
		}
		if resp == nil {
			return &eas.SyncCollectionResponse{Status: eas.SyncSuccess, SyncKey: coll.SyncKey, CollectionID: coll.CollectionID}, nil
		}
		return resp.Collection(coll.CollectionID)
	})
}

// waiting blocks until n holds k waiting requests (Pings, Syncs with a
// heartbeat).
func (n *node) waiting(t testing.TB, k int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if got := n.waitingNow(t); got == k {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%s holds %d waiting requests, want %d", n.name, got, k)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (n *node) waitingNow(t testing.TB) int {
	t.Helper()
	mfs, err := n.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, mf := range mfs {
		if mf.GetName() == "easgate_waiting_requests" {
			for _, m := range mf.GetMetric() {
				total += int(m.GetGauge().GetValue())
			}
		}
	}
	return total
}

// pinged is a Ping's outcome and how long it took.
type pinged struct {
	resp *eas.PingResponse
	err  error
	took time.Duration
}

// ping starts a Ping of INBOX on c with a long heartbeat.
func ping(c *easclient.Client, inbox string) <-chan pinged {
	out := make(chan pinged, 1)
	start := time.Now()
	go func() {
		resp, err := c.PingFolders(context.Background(), 900, inbox)
		out <- pinged{resp, err, time.Since(start)}
	}()
	return out
}

// answered waits for a Ping's answer, at most bound after now.
func answered(t testing.TB, what string, c <-chan pinged, bound time.Duration) *eas.PingResponse {
	t.Helper()
	start := time.Now()
	select {
	case p := <-c:
		if p.err != nil {
			t.Fatalf("%s: Ping: %v", what, p.err)
		}
		return p.resp
	case <-time.After(bound):
		t.Fatalf("%s: Ping still waiting after %v", what, time.Since(start))
	}
	return nil
}
