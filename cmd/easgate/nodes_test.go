package main

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/store/pgtest"
)

// TestDovecotPushAcrossNodes: two nodes on one PostgreSQL, Dovecot's
// notifications pointed at node B only (as behind a load balancer that
// picks one), a phone's Ping waiting on node A: a message delivered by
// LMTP answers it, through B's notification and the account event B
// publishes. B answers Dovecot 204 for an account whose phones it does
// not hold.
func TestDovecotPushAcrossNodes(t *testing.T) {
	db := pgtest.New(t).Database(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminB := ln.Addr().String()
	conf := shippedConf(t, filepath.Join("..", "..", "testdata", "dovecot"), "90-easgate-push-ox.conf",
		map[string]string{"SECRET@127.0.0.1:8081": pushSecret + "@" + adminB})
	dc := dovecottest.New(t, dovecottest.Options{LMTP: true, Config: conf})
	dc.AddUser(t, "anna", "a")
	node := func(admin string, adminLn net.Listener) *gateway {
		c := &serveConfig{Listen: "127.0.0.1:0", IMAP: dc.Addr(), IMAPSecurity: "none",
			DB: db, AdminListen: admin, adminListener: adminLn,
			MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9,
			FolderCheckInterval: 10 * time.Minute, PushSource: "dovecot", pushSecret: pushSecret,
			upstreamIdle: time.Second}
		g, err := startGateway(context.Background(), c, zap.NewNop(), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	a, b := node("127.0.0.1:0", nil), node(adminB, ln)
	listeners(t, db, 2)

	// Nobody waits anywhere yet: B cannot know where anna's phones are,
	// and tells every node.
	const ox = `{"user":"anna","event":"messageNew","folder":"INBOX","imap-uidvalidity":1,"imap-uid":1}`
	if code := putPush(t, "http://"+adminB, ox); code != http.StatusNoContent {
		t.Errorf("notification to B: HTTP %d, want 204", code)
	}

	e := &pushEnv{dc: dc, g: a, url: "http://" + a.easLn.Addr().String()}
	p := e.phone(t, "nodesphone")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ping := p.ping(ctx)
	e.waiting(t, 1)
	e.switchedOn(t)
	if _, subs := b.push.Watching(); subs != 0 {
		t.Fatalf("%d phones wait on node B, want the Ping on A only", subs)
	}

	dc.Deliver(t, "bob@example.com", []string{"anna"}, message("delivered"))
	answered(t, ping, 2, p.inbox)
	if n := p.sync(t); n != 1 {
		t.Errorf("synced %d changes for one delivery", n)
	}
}

// putPush sends a notification to the push endpoint at url as Dovecot
// does and returns the HTTP status.
func putPush(t *testing.T, url, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url+"/api/push/dovecot", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("dovecot", pushSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// listeners waits until n connections listen for the nodes' events on the
// database at url: an event published before a node listens is not
// delivered to it.
func listeners(t *testing.T, url string, n int) {
	t.Helper()
	sdb, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	eventually(t, "nodes listening", func() bool {
		var got int
		err := sdb.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		return got >= n
	})
}
