package bridge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
)

const (
	testUser = "alice"
	testPass = "secret pass"
)

// upstream is an IMAP server with one account and a Backend on it.
type upstream struct {
	dovecot *dovecottest.Server // nil for the in-memory server
	mem     *imapmemserver.User
	addr    string
	user    string
	pass    string
	b       *Backend
}

// startDovecot starts Dovecot with one user and a Backend for it.
func startDovecot(t testing.TB, noCondstore bool, cfg Config) *upstream {
	t.Helper()
	srv := dovecottest.New(t, dovecottest.Options{NoCondstore: noCondstore})
	srv.AddUser(t, testUser, testPass)
	u := &upstream{dovecot: srv, addr: srv.Addr(), user: testUser, pass: testPass}
	u.b = newTestBackend(t, u.addr, cfg)
	return u
}

// startMemServer starts go-imap's in-memory server (no CONDSTORE, and it
// forgets SPECIAL-USE) with the given capabilities beyond IMAP4rev1.
func startMemServer(t testing.TB, caps []imap.Cap, cfg Config, folders ...string) *upstream {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(testUser, testPass)
	for _, f := range append([]string{"INBOX"}, folders...) {
		if err := user.Create(f, nil); err != nil {
			t.Fatalf("create %q: %v", f, err)
		}
	}
	mem.AddUser(user)
	capSet := imap.CapSet{imap.CapIMAP4rev1: {}}
	for _, c := range caps {
		capSet[c] = struct{}{}
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         capSet,
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	u := &upstream{mem: user, addr: ln.Addr().String(), user: testUser, pass: testPass}
	u.b = newTestBackend(t, u.addr, cfg)
	return u
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

func newTestBackend(t testing.TB, addr string, cfg Config) *Backend {
	cfg.Addr = addr
	cfg.Security = SecurityNone
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = 20 * time.Second
	}
	b := New(cfg)
	t.Cleanup(func() { b.Close() })
	return b
}

func (u *upstream) open(t testing.TB) *Mailbox {
	t.Helper()
	mb, err := u.b.Open(context.Background(), eas.Credentials{Username: u.user, Password: u.pass})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { mb.Close() })
	return mb.(*Mailbox)
}

// dial opens an independent connection, as another mail client would.
func (u *upstream) dial(t testing.TB) *imapclient.Client {
	t.Helper()
	if u.dovecot != nil {
		return u.dovecot.Dial(t, u.user, u.pass)
	}
	c, err := imapclient.DialInsecure(u.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(u.user, u.pass).Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// msg is one test message.
type msg struct {
	raw   []byte
	flags []imap.Flag
	date  time.Time
}

func textMessage(n int, date time.Time, subject, body string) []byte {
	if subject == "" {
		subject = fmt.Sprintf("Message %d", n)
	}
	if body == "" {
		body = fmt.Sprintf("This is the body of message %d.", n)
	}
	return []byte(fmt.Sprintf("From: Sender %d <sender%d@example.org>\r\n"+
		"To: Alice <alice@example.org>\r\n"+
		"Subject: %s\r\n"+
		"Date: %s\r\n"+
		"Message-ID: <msg%d.%d@example.org>\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"\r\n%s\r\n", n, n, subject, date.Format(time.RFC1123Z), n, date.UnixNano(), body))
}

// appendAll stores msgs in mailbox over c, many at a time, and returns their
// UIDs in order.
func appendAll(t testing.TB, c *imapclient.Client, mailbox string, msgs []msg) []imap.UID {
	t.Helper()
	uids := make([]imap.UID, 0, len(msgs))
	const batch = 200
	for start := 0; start < len(msgs); start += batch {
		var cmds []*imapclient.AppendCommand
		for _, m := range msgs[start:min(start+batch, len(msgs))] {
			cmd := c.Append(mailbox, int64(len(m.raw)), &imap.AppendOptions{Flags: m.flags, Time: m.date})
			if _, err := cmd.Write(m.raw); err != nil {
				t.Fatalf("append: %v", err)
			}
			if err := cmd.Close(); err != nil {
				t.Fatalf("append: %v", err)
			}
			cmds = append(cmds, cmd)
		}
		for _, cmd := range cmds {
			data, err := cmd.Wait()
			if err != nil {
				t.Fatalf("append to %q: %v", mailbox, err)
			}
			uids = append(uids, data.UID)
		}
	}
	return uids
}

// fill makes folder hold n messages: seed distinct ones (a minute apart
// from base, with varied flags and keywords) and copies of them, which
// Dovecot makes far faster than it appends.
func fill(t testing.TB, c *imapclient.Client, folder string, n, seed int, base time.Time) {
	t.Helper()
	seed = min(seed, n)
	msgs := make([]msg, seed)
	for i := range msgs {
		var flags []imap.Flag
		if i%3 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%7 == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
		if i%11 == 0 {
			flags = append(flags, "Work")
		}
		d := base.Add(time.Duration(i) * time.Minute)
		msgs[i] = msg{raw: textMessage(i, d, "", ""), flags: flags, date: d}
	}
	appendAll(t, c, folder, msgs)
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for have := seed; have < n; {
		k := min(have, n-have)
		var set imap.SeqSet
		set.AddRange(1, uint32(k))
		if _, err := c.Copy(set, folder).Wait(); err != nil {
			t.Fatalf("copy in %q: %v", folder, err)
		}
		have += k
	}
}

func appendOne(t testing.TB, c *imapclient.Client, mailbox string, raw []byte, date time.Time, flags ...imap.Flag) imap.UID {
	t.Helper()
	return appendAll(t, c, mailbox, []msg{{raw: raw, flags: flags, date: date}})[0]
}

// known is the phone's copy of a folder, as eas keeps it.
type known map[string]string

func (k known) Len() int { return len(k) }
func (k known) Version(id string) (string, bool) {
	v, ok := k[id]
	return v, ok
}
func (k known) Range(fn func(string, string) bool) {
	for id, v := range k {
		if !fn(id, v) {
			return
		}
	}
}

// apply updates the copy the way eas does once the phone has the changes.
func (k known) apply(t testing.TB, cs *eas.ChangeSet) {
	t.Helper()
	for _, ch := range cs.Changes {
		switch ch.Kind {
		case eas.ChangeAdd:
			if _, ok := k[ch.ServerID]; ok {
				t.Errorf("Add of %s, which the phone has already", ch.ServerID)
			}
			k[ch.ServerID] = ch.Version
		case eas.ChangeModify:
			if _, ok := k[ch.ServerID]; !ok {
				t.Errorf("Change of %s, which the phone does not have", ch.ServerID)
			}
			k[ch.ServerID] = ch.Version
		case eas.ChangeDelete, eas.ChangeSoftDelete:
			if _, ok := k[ch.ServerID]; !ok {
				t.Errorf("%v of %s, which the phone does not have", ch.Kind, ch.ServerID)
			}
			delete(k, ch.ServerID)
		}
	}
}

// phone is one synced folder.
type phone struct {
	path   string
	cursor string
	known  known
	since  time.Time
	window int
}

func newPhone(path string) *phone { return &phone{path: path, known: known{}, window: 100} }

func (p *phone) query() eas.SyncQuery {
	return eas.SyncQuery{Path: p.path, Cursor: p.cursor, Known: p.known, Since: p.since, Window: p.window}
}

// sync runs one Changes and applies it.
func (p *phone) sync(t testing.TB, mb *Mailbox) *eas.ChangeSet {
	t.Helper()
	cs, err := mb.Changes(context.Background(), p.query())
	if err != nil {
		t.Fatalf("Changes(%s): %v", p.path, err)
	}
	if len(cs.Changes) > p.window {
		t.Fatalf("Changes returned %d changes for a window of %d", len(cs.Changes), p.window)
	}
	p.known.apply(t, cs)
	p.cursor = cs.Cursor
	return cs
}

// syncAll syncs until nothing is left and returns every change.
func (p *phone) syncAll(t testing.TB, mb *Mailbox) []eas.ItemChange {
	t.Helper()
	var all []eas.ItemChange
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("sync does not end")
		}
		cs := p.sync(t, mb)
		all = append(all, cs.Changes...)
		if !cs.More {
			return all
		}
		if len(cs.Changes) == 0 {
			t.Fatal("More without changes")
		}
	}
}

// summary renders changes as "Kind:ServerID" for comparisons.
func summary(chs []eas.ItemChange) []string {
	var out []string
	for _, ch := range chs {
		out = append(out, ch.Kind.String()+":"+ch.ServerID)
	}
	return out
}

func uidString(u imap.UID) string { return formatUID(u) }

func sortedKeys(k known) []string {
	return slices.Sorted(maps.Keys(k))
}

// recorder is a net.Conn that keeps a copy of every command line sent.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	buf strings.Builder
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.buf.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// commands returns the command lines written since the last reset (tag
// stripped), and resets.
func (r *recorder) commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, line := range strings.Split(r.buf.String(), "\r\n") {
		if line == "" {
			continue
		}
		if _, rest, ok := strings.Cut(line, " "); ok {
			line = rest
		}
		out = append(out, line)
	}
	r.buf.Reset()
	return out
}

// recordingDialer records the connections it opens.
type recordingDialer struct {
	mu    sync.Mutex
	conns []*recorder
}

func (d *recordingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	r := &recorder{Conn: c}
	d.mu.Lock()
	d.conns = append(d.conns, r)
	d.mu.Unlock()
	return r, nil
}

func (d *recordingDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
