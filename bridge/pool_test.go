package bridge

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

func TestOpenErrors(t *testing.T) {
	u := startDovecot(t, false, Config{})
	ctx := context.Background()

	_, err := u.b.Open(ctx, eas.Credentials{Username: testUser, Password: "wrong"})
	wantErr(t, err, eas.ErrUnauthorized)
	_, err = u.b.Open(ctx, eas.Credentials{Username: "nobody", Password: "x"})
	wantErr(t, err, eas.ErrUnauthorized)

	// A pooled connection with the right password is never handed to a
	// wrong one.
	mb := u.open(t)
	mb.Close()
	_, err = u.b.Open(ctx, eas.Credentials{Username: testUser, Password: "wrong"})
	wantErr(t, err, eas.ErrUnauthorized)

	u.dovecot.Stop(t)
	// The idle connection may not have noticed the server go yet (its
	// reader races this test), so Open may still hand it out; the first
	// command then tells.
	mb2, err := u.b.Open(ctx, eas.Credentials{Username: testUser, Password: testPass})
	if err == nil {
		_, err = mb2.Folders(ctx)
		mb2.Close()
	}
	wantErr(t, err, eas.ErrUnavailable)

	// Back up: the dead pooled connection is replaced.
	u.dovecot.Start(t)
	mb = u.open(t)
	if _, err := mb.Folders(ctx); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestConnectionLostMidRequest(t *testing.T) {
	u := startDovecot(t, false, Config{})
	ctx := context.Background()
	mb := u.open(t)
	if _, err := mb.Folders(ctx); err != nil {
		t.Fatal(err)
	}
	u.dovecot.Stop(t)
	u.dovecot.Start(t)
	// The Mailbox's connection died with the server; a read-only call
	// reconnects.
	if _, err := mb.Folders(ctx); err != nil {
		t.Fatalf("Folders after the server restarted: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := newTestBackend(t, addr, Config{})
	_, err = b.Open(context.Background(), eas.Credentials{Username: "u", Password: "p"})
	wantErr(t, err, eas.ErrUnavailable)
}

// silentServer accepts connections, greets and then never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] silent\r\n"))
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestCommandTimeout(t *testing.T) {
	addr := silentServer(t)
	b := newTestBackend(t, addr, Config{CommandTimeout: 200 * time.Millisecond})
	_, err := b.Open(context.Background(), eas.Credentials{Username: "u", Password: "p"})
	wantErr(t, err, eas.ErrUnavailable)
	if !errors.Is(err, errTimeout) {
		t.Errorf("error %v does not say it timed out", err)
	}

	// The caller's deadline ends the wait as well.
	b = newTestBackend(t, addr, Config{CommandTimeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = b.Open(ctx, eas.Credentials{Username: "u", Password: "p"})
	wantErr(t, err, context.DeadlineExceeded)
}

func TestPoolBound(t *testing.T) {
	var d recordingDialer
	u := startDovecot(t, false, Config{MaxConnsPerAccount: 2, DialContext: d.dial})
	ctx := context.Background()
	cred := eas.Credentials{Username: testUser, Password: testPass}
	a, err := u.b.Open(ctx, cred)
	if err != nil {
		t.Fatal(err)
	}
	b, err := u.b.Open(ctx, cred)
	if err != nil {
		t.Fatal(err)
	}

	// A third Open waits: with a deadline it gives up...
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = u.b.Open(short, cred)
	wantErr(t, err, context.DeadlineExceeded)

	// ...and without one it gets the connection that comes back.
	got := make(chan error, 1)
	var third eas.Mailbox
	go func() {
		var err error
		third, err = u.b.Open(ctx, cred)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("third Open returned (%v) while two connections are in use", err)
	case <-time.After(100 * time.Millisecond):
	}
	a.Close()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if n := d.count(); n != 2 {
		t.Errorf("%d connections dialled, want 2 (the third Open reuses one)", n)
	}
	if _, err := third.Folders(ctx); err != nil {
		t.Fatal(err)
	}
	third.Close()
	b.Close()

	// Another user has a pool of its own.
	u.dovecot.AddUser(t, "bob", "pw")
	c, err := u.b.Open(ctx, eas.Credentials{Username: "bob", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestIdleConnectionsClosed(t *testing.T) {
	var d recordingDialer
	u := startDovecot(t, false, Config{IdleTimeout: 100 * time.Millisecond, DialContext: d.dial})
	mb := u.open(t)
	mb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		u.b.pool.mu.Lock()
		n := len(u.b.pool.accounts)
		u.b.pool.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle connection not closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The pool forgets the account before it says LOGOUT on the closed
	// connections, outside its lock: wait for the goodbye.
	for {
		cmds := d.conns[0].commands()
		last := cmds[len(cmds)-1]
		if strings.HasPrefix(last, "LOGOUT") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last command %q, want LOGOUT", last)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The next Open logs in again.
	u.open(t)
	if n := d.count(); n != 2 {
		t.Errorf("%d connections dialled, want 2", n)
	}
}

// TestNoChangeReadsNoMessages is the cost guarantee: once a folder is
// synced, a Sync or GetItemEstimate that finds nothing new sends one
// command and reads no per-message data.
func TestNoChangeReadsNoMessages(t *testing.T) {
	var d recordingDialer
	u := startDovecot(t, false, Config{DialContext: d.dial})
	c := u.dial(t)
	fill(t, c, "INBOX", 300, 30, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := c.Create("Other", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	mb := u.open(t)
	p := newPhone("INBOX")
	p.syncAll(t, mb)
	if d.count() != 1 {
		t.Fatalf("%d connections", d.count())
	}
	rec := d.conns[0]

	check := func(name string, want ...string) {
		t.Helper()
		cmds := rec.commands()
		ok := len(cmds) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = strings.HasPrefix(cmds[i], want[i])
		}
		if !ok {
			t.Errorf("%s sent %q, want %q", name, cmds, want)
		}
	}
	rec.commands()
	// The folder is still selected from the sync: SELECT it again, since
	// STATUS of the selected mailbox may be stale.
	for i := 0; i < 3; i++ {
		if cs := p.sync(t, mb); len(cs.Changes) != 0 {
			t.Fatalf("changes %v", summary(cs.Changes))
		}
		check("Changes", "SELECT")
		n, err := mb.Pending(context.Background(), p.query())
		if err != nil || n != 0 {
			t.Fatalf("Pending = %d, %v", n, err)
		}
		check("Pending", "SELECT")
	}
	// Not selected: one STATUS.
	if _, err := mb.Folders(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.commands()
	if cs := p.sync(t, mb); len(cs.Changes) != 0 {
		t.Fatalf("changes %v", summary(cs.Changes))
	}
	check("Changes", "STATUS")
	n, err := mb.Pending(context.Background(), p.query())
	if err != nil || n != 0 {
		t.Fatalf("Pending = %d, %v", n, err)
	}
	check("Pending", "STATUS")

	// The phone's own change (UID 8 is unread: fill marks every third
	// message read, from UID 1) is not sent back.
	yes := true
	v, err := mb.UpdateFlags(context.Background(), eas.ItemRef{Path: "INBOX", ServerID: "8"}, eas.FlagUpdate{Read: &yes})
	if err != nil {
		t.Fatal(err)
	}
	p.known["8"] = v
	rec.commands()
	if cs := p.sync(t, mb); len(cs.Changes) != 0 {
		t.Fatalf("own change came back: %v", summary(cs.Changes))
	}

	// A change makes the next sync read again, and only what changed.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(5), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	n, err = mb.Pending(context.Background(), p.query())
	if err != nil || n != 1 {
		t.Fatalf("Pending = %d, %v; want 1", n, err)
	}
	rec.commands()
	if cs := p.sync(t, mb); len(cs.Changes) != 1 {
		t.Fatalf("changes %v", summary(cs.Changes))
	}
	var fetches []string
	for _, cmd := range rec.commands() {
		if strings.Contains(cmd, "FETCH") {
			fetches = append(fetches, cmd)
		}
	}
	if len(fetches) != 1 || !strings.Contains(fetches[0], "CHANGEDSINCE") {
		t.Errorf("fetches %q, want one with CHANGEDSINCE", fetches)
	}
}
