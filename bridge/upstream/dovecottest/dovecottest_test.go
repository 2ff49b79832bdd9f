package dovecottest_test

import (
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
)

func testMessage(subject string) []byte {
	return []byte("From: Alice <alice@example.org>\r\n" +
		"To: Bob <bob@example.org>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Mon, 02 Nov 2026 10:00:00 +0100\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Body of " + subject + ".\r\n")
}

// fetchByUID returns the flags and full text of one message in INBOX.
func fetchByUID(t *testing.T, c *imapclient.Client, uid imap.UID) ([]imap.Flag, []byte) {
	t.Helper()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select INBOX: %v", err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID:         true,
		Flags:       true,
		BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		t.Fatalf("fetch UID %d: %v", uid, err)
	}
	if len(msgs) != 1 {
		t.Fatalf("fetch UID %d: got %d messages, want 1", uid, len(msgs))
	}
	return msgs[0].Flags, msgs[0].FindBodySection(section)
}

func TestUsersAndSpecialFolders(t *testing.T) {
	t.Parallel()
	srv := dovecottest.New(t, dovecottest.Options{})
	srv.AddUser(t, "alice@example.org", "alice-secret")
	srv.AddUser(t, "bob", "p@ss w0rd!")

	wantFolders := map[string]imap.MailboxAttr{
		"INBOX":   "",
		"Drafts":  imap.MailboxAttrDrafts,
		"Sent":    imap.MailboxAttrSent,
		"Trash":   imap.MailboxAttrTrash,
		"Junk":    imap.MailboxAttrJunk,
		"Archive": imap.MailboxAttrArchive,
	}
	for _, tc := range []struct{ user, password string }{
		{"alice@example.org", "alice-secret"},
		{"bob", "p@ss w0rd!"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c := srv.Dial(t, tc.user, tc.password)
			list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true, ReturnSubscribed: true}).Collect()
			if err != nil {
				t.Fatalf("LIST: %v", err)
			}
			got := map[string][]imap.MailboxAttr{}
			for _, m := range list {
				got[m.Mailbox] = m.Attrs
				if m.Delim != '/' {
					t.Errorf("%s: delimiter %q, want '/'", m.Mailbox, m.Delim)
				}
			}
			if len(got) != len(wantFolders) {
				t.Errorf("LIST returned %v, want exactly %d folders", list, len(wantFolders))
			}
			for name, use := range wantFolders {
				attrs, ok := got[name]
				if !ok {
					t.Errorf("folder %s missing", name)
					continue
				}
				if use != "" && !slices.Contains(attrs, use) {
					t.Errorf("folder %s attrs %v, want %s", name, attrs, use)
				}
				if name != "INBOX" && !slices.Contains(attrs, imap.MailboxAttrSubscribed) {
					t.Errorf("folder %s attrs %v, want it subscribed", name, attrs)
				}
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		c, err := imapclient.DialInsecure(srv.Addr(), nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		if err := c.Login("alice@example.org", "wrong").Wait(); err == nil {
			t.Fatal("login with a wrong password succeeded")
		}
	})
}

func TestAppendIsPerUser(t *testing.T) {
	t.Parallel()
	srv := dovecottest.New(t, dovecottest.Options{})
	srv.AddUser(t, "alice", "a")
	raw := testMessage("hello alice")
	uid := srv.Append(t, "alice", "a", "INBOX", raw, imap.FlagFlagged)
	srv.Append(t, "alice", "a", "Archive", testMessage("archived"))

	// A user added while the server runs can log in at once.
	srv.AddUser(t, "bob", "b")

	flags, body := fetchByUID(t, srv.Dial(t, "alice", "a"), uid)
	if string(body) != string(raw) {
		t.Errorf("fetched body:\n%q\nwant:\n%q", body, raw)
	}
	if !slices.Contains(flags, imap.FlagFlagged) || slices.Contains(flags, imap.FlagSeen) {
		t.Errorf("flags %v, want \\Flagged and not \\Seen", flags)
	}

	for _, tc := range []struct {
		user, password, mailbox string
		want                    uint32
	}{
		{"alice", "a", "INBOX", 1},
		{"alice", "a", "Archive", 1},
		{"bob", "b", "INBOX", 0},
		{"bob", "b", "Archive", 0},
	} {
		t.Run(tc.user+"/"+tc.mailbox, func(t *testing.T) {
			st, err := srv.Dial(t, tc.user, tc.password).Status(tc.mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
			if err != nil {
				t.Fatalf("STATUS: %v", err)
			}
			if *st.NumMessages != tc.want {
				t.Errorf("%d messages, want %d", *st.NumMessages, tc.want)
			}
		})
	}
}

func TestStopStartKeepsMail(t *testing.T) {
	t.Parallel()
	srv := dovecottest.New(t, dovecottest.Options{})
	srv.AddUser(t, "alice", "a")
	raw := testMessage("survives restart")
	uid := srv.Append(t, "alice", "a", "INBOX", raw, imap.FlagSeen)
	addr := srv.Addr()
	open := srv.Dial(t, "alice", "a")

	srv.Stop(t)
	srv.Stop(t) // stopping twice is harmless
	// The server drops its connections on the way down.
	<-open.Closed()
	if c, err := imapclient.DialInsecure(addr, nil); err == nil {
		c.Close()
		t.Fatal("dial succeeded while the server was stopped")
	}

	srv.Start(t)
	if srv.Addr() != addr {
		t.Errorf("address changed from %s to %s", addr, srv.Addr())
	}
	flags, body := fetchByUID(t, srv.Dial(t, "alice", "a"), uid)
	if string(body) != string(raw) {
		t.Errorf("body after restart:\n%q\nwant:\n%q", body, raw)
	}
	if !slices.Contains(flags, imap.FlagSeen) {
		t.Errorf("flags after restart %v, want \\Seen", flags)
	}
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	always := []imap.Cap{
		imap.CapIMAP4rev1, "NOTIFY", imap.CapIdle, imap.CapMove, imap.CapUIDPlus,
		imap.CapSpecialUse, imap.CapESearch, imap.CapListStatus, imap.CapLiteralPlus,
	}
	condstore := []imap.Cap{imap.CapCondStore, imap.CapQResync}
	caps := map[bool]imap.CapSet{}
	for _, tc := range []struct {
		name        string
		noCondstore bool
	}{
		{"default", false},
		{"NoCondstore", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := dovecottest.New(t, dovecottest.Options{NoCondstore: tc.noCondstore})
			srv.AddUser(t, "u", "p")
			got, err := srv.Dial(t, "u", "p").Capability().Wait()
			if err != nil {
				t.Fatalf("CAPABILITY: %v", err)
			}
			caps[tc.noCondstore] = got
			for _, c := range always {
				if !got.Has(c) {
					t.Errorf("missing %s in %v", c, got)
				}
			}
			for _, c := range condstore {
				if got.Has(c) == tc.noCondstore {
					t.Errorf("has %s = %v, want %v", c, got.Has(c), !tc.noCondstore)
				}
			}
		})
	}
	// NoCondstore spells out Dovecot's list; it must not drift from what
	// this Dovecot advertises by default.
	if len(caps) == 2 {
		want := capNames(caps[false])
		want = slices.DeleteFunc(want, func(s string) bool { return s == "CONDSTORE" || s == "QRESYNC" })
		if got := capNames(caps[true]); !slices.Equal(got, want) {
			t.Errorf("NoCondstore capabilities\n%v\nwant the default ones less CONDSTORE and QRESYNC:\n%v", got, want)
		}
	}
}

func capNames(set imap.CapSet) []string {
	var l []string
	for c := range set {
		l = append(l, string(c))
	}
	slices.Sort(l)
	return l
}

func TestMaxUserIPConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		limit int
		open  int
		want  int
	}{
		// Above Dovecot's own default of 10.
		{"default is high", 0, 15, 15},
		{"limit applies", 2, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := dovecottest.New(t, dovecottest.Options{MaxUserIPConnections: tc.limit})
			srv.AddUser(t, "u", "p")
			ok := 0
			for i := 0; i < tc.open; i++ {
				c, err := imapclient.DialInsecure(srv.Addr(), nil)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				t.Cleanup(func() { c.Close() })
				if err := c.Login("u", "p").Wait(); err != nil {
					continue
				}
				// The limit counts connections with a mail process, so
				// make sure this one has reached it.
				if err := c.Noop().Wait(); err != nil {
					continue
				}
				ok++
			}
			if ok != tc.want {
				t.Errorf("%d of %d logins succeeded, want %d", ok, tc.open, tc.want)
			}
		})
	}
}

func TestConcurrentStart(t *testing.T) {
	t.Parallel()
	const n = 3
	var (
		mu    sync.Mutex
		addrs = map[string]bool{}
	)
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				srv := dovecottest.New(t, dovecottest.Options{})
				mu.Lock()
				addrs[srv.Addr()] = true
				mu.Unlock()
				user := fmt.Sprintf("user%d", i)
				srv.AddUser(t, user, "p")
				raw := testMessage(fmt.Sprintf("server %d", i))
				uid := srv.Append(t, user, "p", "INBOX", raw)
				_, body := fetchByUID(t, srv.Dial(t, user, "p"), uid)
				if string(body) != string(raw) {
					t.Errorf("body %q, want %q", body, raw)
				}
				// Each server holds only its own message.
				st, err := srv.Dial(t, user, "p").Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
				if err != nil {
					t.Fatalf("STATUS: %v", err)
				}
				if *st.NumMessages != 1 {
					t.Errorf("INBOX has %d messages, want 1", *st.NumMessages)
				}
			})
		}
	})
	if len(addrs) != n {
		t.Errorf("servers listened on %v, want %d distinct addresses", addrs, n)
	}
}

// fatalRecorder stands in for a test that is expected to fail, keeping the
// message instead of failing the real test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// fatal runs f with a recorder and returns what it passed to Fatal or
// Fatalf.
func fatal(t *testing.T, f func(tb testing.TB)) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(rec)
	}()
	<-done
	return rec.msg
}

func TestFailures(t *testing.T) {
	t.Parallel()
	srv := dovecottest.New(t, dovecottest.Options{})
	srv.AddUser(t, "taken", "p")

	for _, tc := range []struct {
		name string
		f    func(tb testing.TB)
		want []string
	}{
		{"colon in user", func(tb testing.TB) { srv.AddUser(tb, "a:b", "p") }, []string{`"a:b"`}},
		{"slash in user", func(tb testing.TB) { srv.AddUser(tb, "../x", "p") }, []string{`"../x"`}},
		{"line break in password", func(tb testing.TB) { srv.AddUser(tb, "c", "p\nq") }, []string{"password"}},
		{"duplicate user", func(tb testing.TB) { srv.AddUser(tb, "taken", "p") }, []string{"already exists"}},
		{"wrong password", func(tb testing.TB) { srv.Dial(tb, "taken", "nope") }, []string{"AUTHENTICATIONFAILED"}},
		{"append to missing mailbox", func(tb testing.TB) {
			srv.Append(tb, "taken", "p", "Nowhere", testMessage("lost"))
		}, []string{`"Nowhere"`}},
		{"start while running", func(tb testing.TB) { srv.Start(tb) }, []string{"already running"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := fatal(t, tc.f)
			if msg == "" {
				t.Fatal("no failure reported")
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("failure %q does not mention %q", msg, w)
				}
			}
		})
	}

	// A start that cannot bind reports Dovecot's own words and log.
	srv.Stop(t)
	ln, err := net.Listen("tcp", srv.Addr())
	if err != nil {
		t.Fatalf("occupy %s: %v", srv.Addr(), err)
	}
	msg := fatal(t, func(tb testing.TB) { srv.Start(tb) })
	ln.Close()
	for _, w := range []string{"Address already in use", "dovecot.log", "2."} {
		if !strings.Contains(msg, w) {
			t.Errorf("start failure does not mention %q:\n%s", w, msg)
		}
	}
	// The failed start leaves the server stopped, and it can start again.
	srv.Start(t)
	srv.Dial(t, "taken", "p")
}

// TestStartClose: the API without testing.TB starts a server, takes
// accounts and logins, reports bad input as errors, and Close stops it
// for good (twice is harmless).
func TestStartClose(t *testing.T) {
	t.Parallel()
	srv, err := dovecottest.Start(dovecottest.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()
	for _, tc := range []struct {
		name, user, password string
		want                 string // "" for success
	}{
		{"new user", "carol", "c-secret", ""},
		{"duplicate user", "carol", "other", "already exists"},
		{"colon in user", "a:b", "p", `"a:b"`},
		{"line break in password", "dave", "p\nq", "password"},
	} {
		err := srv.AddAccount(tc.user, tc.password)
		if tc.want == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := srv.Login("carol", "wrong"); err == nil || !strings.Contains(err.Error(), "AUTHENTICATIONFAILED") {
		t.Errorf("login with a wrong password: %v", err)
	}
	c, err := srv.Login("carol", "c-secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select INBOX: %v", err)
	}
	c.Close()

	addr := srv.Addr()
	closed = true
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}
}
