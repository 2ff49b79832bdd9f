package e2e_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// drain syncs coll from key to the end in windows through c, each Sync
// bounded so that a lock never released fails the test instead of hanging
// it, and counts every Add by subject into got. It returns the last key.
func drain(t *testing.T, c *easclient.Client, coll, key string, window int, got map[string]int) string {
	t.Helper()
	for rounds := 0; rounds < 100; rounds++ {
		col := retrying(t, "sync", func() (*eas.SyncCollectionResponse, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: key, CollectionID: coll, WindowSize: ptr(window)}}})
			if err != nil {
				return nil, err
			}
			if resp == nil {
				return &eas.SyncCollectionResponse{Status: eas.SyncSuccess, SyncKey: key}, nil
			}
			return resp.Collection(coll)
		})
		if col.Status != eas.SyncSuccess {
			t.Fatalf("Sync with key %s: status %d", key, col.Status)
		}
		key = col.SyncKey
		if col.Commands != nil {
			for _, it := range col.Commands.Add {
				got[it.ApplicationData.Subject]++
			}
		}
		if !col.MoreAvailable {
			return key
		}
	}
	t.Fatal("no end of the Sync after 100 windows")
	return ""
}

// exactlyOnce checks that got holds Message first to Message last once
// each, and nothing else.
func exactlyOnce(t *testing.T, got map[string]int, first, last int) {
	t.Helper()
	if len(got) != last-first+1 {
		t.Errorf("the phone got %d distinct messages, want %d", len(got), last-first+1)
	}
	for i := first; i <= last; i++ {
		if n := got[fmt.Sprintf("Message %d", i)]; n != 1 {
			t.Errorf("Message %d came %d times", i, n)
		}
	}
}

// TestProcessKilledHoldingDeviceLock runs three easgate processes on one
// PostgreSQL behind nginx. One is SIGKILLed while it holds a phone's
// device lock in the middle of a Sync (its IMAP upstream held back so the
// request stays inside its work): PostgreSQL releases the lock with the
// dead process's connections, and the phone, sending its Sync again
// through nginx, goes on at another process without waiting, every
// message exactly once.
func TestProcessKilledHoldingDeviceLock(t *testing.T) {
	const total, window = 600, 100
	ctx := context.Background()
	dc := dovecottest.New(t, dovecottest.Options{})
	db := pg.Database(t)
	stall := startStallProxy(t, dc.Addr())
	victim := startProc(t, "victim", db, stall.Addr())
	b := startProc(t, "b", db, dc.Addr())
	c := startProc(t, "c", db, dc.Addr())
	proxy := startBalancer(t, []string{victim.addr, b.addr, c.addr})
	p := (&cluster{dovecot: dc}).newPhone(t, proxy, "killed-mid-sync")
	p.appendMessages(t, 1, total)
	inbox := p.ids["INBOX"]

	got := map[string]int{}
	key := syncColl(t, p.Client, eas.SyncCollection{SyncKey: "0", CollectionID: inbox}).SyncKey
	col := syncColl(t, p.Client, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: ptr(window)})
	if col.Status != eas.SyncSuccess || !col.MoreAvailable {
		t.Fatalf("first window: status %d, more %v", col.Status, col.MoreAvailable)
	}
	for _, it := range col.Commands.Add {
		got[it.ApplicationData.Subject]++
	}
	key = col.SyncKey

	// The victim logs the user in upstream first (a request of its own),
	// then its upstream stops answering while the next Sync works.
	direct := p.on(victim.URL())
	if _, err := direct.GetItemEstimate(ctx, &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{{SyncKey: key, CollectionID: inbox}}}); err != nil {
		t.Fatalf("GetItemEstimate on the victim: %v", err)
	}
	if n := advisoryLocks(t, ctx, db); n != 0 {
		t.Fatalf("%d advisory locks held before the Sync", n)
	}
	stall.paused.Store(true)
	lost := make(chan error, 1)
	go func() {
		_, err := direct.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: key, CollectionID: inbox, WindowSize: ptr(window)}}})
		lost <- err
	}()
	for deadline := time.Now().Add(20 * time.Second); advisoryLocks(t, ctx, db) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the victim never took the device lock for the Sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
	victim.signal(t, syscall.SIGKILL)
	if err := victim.exited(t, 10*time.Second); err == nil {
		t.Fatal("the SIGKILLed process exited cleanly")
	}
	if err := <-lost; err == nil {
		t.Fatal("the Sync on the killed process was answered")
	}
	stall.paused.Store(false)
	// The dead session's lock goes with its connection.
	for deadline := time.Now().Add(10 * time.Second); advisoryLocks(t, ctx, db) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the killed process's device lock is still held")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The phone sends its Sync again, through nginx, and goes on.
	drain(t, p.Client, inbox, key, window, got)
	exactlyOnce(t, got, 1, total)
}

// TestProcessSIGTERMAnswersPings: an easgate process holding phones'
// Pings is sent SIGTERM: every Ping is answered at once (status 1, so the
// phones ping again), the process exits cleanly within a bound, and the
// phones' next Pings, through nginx, wait on the other process and learn
// of new mail.
func TestProcessSIGTERMAnswersPings(t *testing.T) {
	dc := dovecottest.New(t, dovecottest.Options{})
	db := pg.Database(t)
	a := startProc(t, "a", db, dc.Addr())
	b := startProc(t, "b", db, dc.Addr())
	proxy := startBalancer(t, []string{a.addr, b.addr})
	cl := &cluster{dovecot: dc}
	var phones []*phone
	var pings []<-chan pinged
	for i := range 4 {
		p := cl.newPhone(t, proxy, fmt.Sprintf("sigterm%d", i))
		// The Sync goes to a as well: a Sync on b would publish an event
		// that may reach a after the Ping began there, and end it.
		onA := p.on(a.URL())
		syncColl(t, onA, eas.SyncCollection{SyncKey: "0", CollectionID: p.ids["INBOX"]})
		phones = append(phones, p)
		pings = append(pings, ping(onA, p.ids["INBOX"]))
	}
	for deadline := time.Now().Add(20 * time.Second); a.waitingNow(t) != len(phones); {
		for i, pc := range pings {
			select {
			case r := <-pc:
				t.Fatalf("phone %d: Ping answered before SIGTERM: %+v %v", i, r.resp, r.err)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("a holds %d waiting requests, want %d", a.waitingNow(t), len(phones))
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.signal(t, syscall.SIGTERM)
	for i, pc := range pings {
		if r := answered(t, "SIGTERM", pc, 2*time.Second); r.Status != eas.PingExpired {
			t.Errorf("phone %d: Ping answered status %d at SIGTERM, want %d", i, r.Status, eas.PingExpired)
		}
	}
	if err := a.exited(t, 15*time.Second); err != nil {
		t.Errorf("easgate after SIGTERM: %v", err)
	}
	for i, p := range phones {
		pc := ping(p.Client, p.ids["INBOX"])
		b.waiting(t, 1)
		p.appendMessages(t, 1, 1)
		if r := answered(t, "APPEND after SIGTERM", pc, 30*time.Second); r.Status != eas.PingChanges {
			t.Fatalf("phone %d: Ping through nginx after SIGTERM: %+v", i, r)
		}
	}
}

// TestDBCopyPhoneContinues: a phone half way through syncing its INBOX
// from a node on SQLite; the node is stopped, `easgate db copy` moves the
// state to PostgreSQL, a node starts on PostgreSQL, and the phone goes on
// with the SyncKeys it holds: no FolderSync or Sync from 0, every message
// exactly once, new mail too.
func TestDBCopyPhoneContinues(t *testing.T) {
	const total, window = 250, 50
	ctx := context.Background()
	dc := dovecottest.New(t, dovecottest.Options{})
	file := filepath.Join(t.TempDir(), "easgate.db")
	old := startProc(t, "sqlite", file, dc.Addr())
	p := (&cluster{dovecot: dc}).newPhone(t, old.URL(), "migrating")
	p.appendMessages(t, 1, total)
	inbox := p.ids["INBOX"]
	fs, err := p.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	folderKey := fs.SyncKey
	got := map[string]int{}
	key := syncColl(t, p.Client, eas.SyncCollection{SyncKey: "0", CollectionID: inbox}).SyncKey
	for range 2 {
		col := syncColl(t, p.Client, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: ptr(window)})
		if col.Status != eas.SyncSuccess || !col.MoreAvailable {
			t.Fatalf("window on SQLite: status %d, more %v", col.Status, col.MoreAvailable)
		}
		for _, it := range col.Commands.Add {
			got[it.ApplicationData.Subject]++
		}
		key = col.SyncKey
	}

	old.signal(t, syscall.SIGTERM)
	if err := old.exited(t, 15*time.Second); err != nil {
		t.Fatalf("easgate on SQLite after SIGTERM: %v", err)
	}
	url := pg.Database(t)
	out, err := exec.Command(easgateBinary(t), "db", "copy", "--from", file, "--to", url).CombinedOutput()
	if err != nil {
		t.Fatalf("easgate db copy: %v\n%s", err, out)
	}
	node := startProc(t, "postgres", url, dc.Addr())
	p.URL = node.URL()

	fs, err = p.FolderSync(ctx, folderKey)
	if err != nil || fs.Status != eas.FolderSuccess || (fs.Changes != nil && fs.Changes.Count > 0) {
		t.Fatalf("FolderSync with the key from SQLite: %v %+v", err, fs)
	}
	key = drain(t, p.Client, inbox, key, window, got)
	exactlyOnce(t, got, 1, total)
	p.appendMessages(t, total+1, 5)
	drain(t, p.Client, inbox, key, window, got)
	exactlyOnce(t, got, 1, total+5)
}
