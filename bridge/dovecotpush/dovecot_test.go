package dovecotpush_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/easgate/easgate/bridge/dovecotpush"
	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
)

// The entry that switches a user on, for the OX driver and for
// easgate-push.lua alike.
const notifyEntry = "/private/vendor/vendor.dovecot/http-notify"

// pokes is a Poker that knows every account and hands each poke to the test.
type pokes struct {
	known map[string]bool
	ch    chan poke
	mu    sync.Mutex
	all   []poke
}

type poke struct {
	user    string
	folders []string
}

func newPokes(users ...string) *pokes {
	p := &pokes{known: map[string]bool{}, ch: make(chan poke, 1000)}
	for _, u := range users {
		p.known[u] = true
	}
	return p
}

func (p *pokes) Poke(_ context.Context, user string, folders []string) bool {
	if !p.known[user] {
		return false
	}
	pk := poke{user, slices.Clone(folders)}
	p.mu.Lock()
	p.all = append(p.all, pk)
	p.mu.Unlock()
	p.ch <- pk
	return true
}

// drain drops the pokes received so far.
func (p *pokes) drain() {
	for {
		select {
		case <-p.ch:
		default:
			return
		}
	}
}

// await waits for a poke of user that names folder; the bound is there so
// that a Dovecot that never calls fails the test instead of hanging it.
func (p *pokes) await(t *testing.T, user, folder string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case pk := <-p.ch:
			if pk.user == user && slices.Contains(pk.folders, folder) {
				return
			}
			t.Logf("poke %q %q while waiting for %q %q", pk.user, pk.folders, user, folder)
		case <-timeout:
			t.Fatalf("no poke for %q naming %q", user, folder)
		}
	}
}

func message(subject string) []byte {
	return []byte(fmt.Sprintf("From: Bob <bob@example.com>\r\nTo: anna@example.com\r\nSubject: %s\r\n"+
		"Message-ID: <%d@example.com>\r\nDate: Mon, 07 Dec 2026 03:00:00 +0000\r\n\r\nHello.\r\n",
		subject, time.Now().UnixNano()))
}

// switchOn sets the entry to name another account, which easgate also
// serves: the notifications must still be for user, Dovecot's own name, or
// anyone could have their mail wake someone else's phones.
func switchOn(t *testing.T, srv *dovecottest.Server, user, password string) {
	t.Helper()
	v := "user=mallory"
	if err := srv.SetServerMetadata(user, password, notifyEntry, &v); err != nil {
		t.Fatal(err)
	}
}

func TestOXDriverDelivery(t *testing.T) {
	t.Parallel()
	const secret = "dovecot-secret"
	p := newPokes("anna", "bob", "mallory")
	reg := prometheus.NewRegistry()
	h, err := dovecotpush.NewHandler(dovecotpush.Config{Poker: p, Secret: secret, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/push/dovecot", h)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	url := func(secret string) string {
		return strings.Replace(hs.URL, "http://", "http://dovecot:"+secret+"@", 1) + "/api/push/dovecot"
	}
	// The configuration the README shows, plus a second driver with a
	// wrong secret: Dovecot calls both.
	conf := shipped(t, "90-easgate-push-ox.conf", map[string]string{
		"http://dovecot:SECRET@127.0.0.1:8081/api/push/dovecot": url(secret),
	}) + "\nplugin {\n  push_notification_driver2 = ox:url=" + url("wrong") + "\n}"
	srv := dovecottest.New(t, dovecottest.Options{LMTP: true, Config: conf})
	srv.AddUser(t, "anna", "a")
	srv.AddUser(t, "bob", "b")
	switchOn(t, srv, "anna", "a")

	// bob never switched on: the OX driver does not call for him.
	srv.Deliver(t, "carol@example.com", []string{"bob"}, message("for bob"))
	srv.Deliver(t, "bob@example.com", []string{"anna"}, message("one"))
	p.await(t, "anna", "INBOX")
	if v := counter(t, reg, "easgate_dovecot_notifications_total", "event", "MessageNew"); v < 1 {
		t.Errorf("MessageNew counted %v times", v)
	}
	deadline := time.Now().Add(20 * time.Second)
	for counter(t, reg, "easgate_dovecot_notifications_rejected_total", "reason", "unauthorized") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the driver with the wrong secret was not refused")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pk := range p.all {
		if pk.user != "anna" {
			t.Errorf("poke for %q; only anna is switched on, and under her own name", pk.user)
		}
	}
	if len(p.all) != 1 {
		t.Errorf("%d pokes for one delivery, want 1 (the wrong secret must not poke)", len(p.all))
	}
}

// testdata is the repository's testdata/dovecot, whose files the README
// tells administrators to install.
func testdata(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "dovecot")
}

// shipped reads a configuration file from testdata/dovecot with its
// placeholders replaced; each must be there, or the test would not be
// testing what the README shows.
func shipped(t *testing.T, name string, replace map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata(t), name))
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

func TestLuaScriptEvents(t *testing.T) {
	t.Parallel()
	const secret = "lua-secret"
	p := newPokes("anna", "mallory")
	reg := prometheus.NewRegistry()
	h, err := dovecotpush.NewHandler(dovecotpush.Config{Poker: p, Secret: secret, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)

	conf := shipped(t, "90-easgate-push-lua.conf", map[string]string{
		"/etc/dovecot/easgate-push.lua":          filepath.Join(testdata(t), "easgate-push.lua"),
		"http://127.0.0.1:8081/api/push/dovecot": hs.URL,
		"SECRET":                                 secret,
	})
	srv := dovecottest.New(t, dovecottest.Options{LMTP: true, Config: conf})
	srv.AddUser(t, "anna", "a")
	srv.AddUser(t, "bob", "b")
	switchOn(t, srv, "anna", "a")
	uid := srv.Append(t, "anna", "a", "INBOX", message("setup"))
	p.await(t, "anna", "INBOX") // the APPEND above
	other := srv.Dial(t, "anna", "a")
	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		name   string
		do     func(t *testing.T)
		folder string
		event  string
	}{
		{"delivery by LMTP", func(t *testing.T) {
			srv.Deliver(t, "bob@example.com", []string{"anna"}, message("delivered"))
		}, "INBOX", "MessageNew"},
		{"flag set", func(t *testing.T) {
			store(t, other, uid, imap.StoreFlagsAdd, imap.FlagFlagged)
		}, "INBOX", "FlagsSet"},
		{"flag cleared", func(t *testing.T) {
			store(t, other, uid, imap.StoreFlagsDel, imap.FlagFlagged)
		}, "INBOX", "FlagsClear"},
		{"expunge", func(t *testing.T) {
			store(t, other, uid, imap.StoreFlagsAdd, imap.FlagDeleted)
			if err := other.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
				t.Fatal(err)
			}
		}, "INBOX", "MessageExpunge"},
		{"append by another client", func(t *testing.T) {
			srv.Append(t, "anna", "a", "Sent", message("sent"), imap.FlagSeen)
		}, "Sent", "MessageAppend"},
		{"folder created", func(t *testing.T) {
			if err := other.Create("Projects", nil).Wait(); err != nil {
				t.Fatal(err)
			}
		}, eas.FolderListPath, "MailboxCreate"},
		{"folder renamed", func(t *testing.T) {
			if err := other.Rename("Projects", "Old projects", nil).Wait(); err != nil {
				t.Fatal(err)
			}
		}, eas.FolderListPath, "MailboxRename"},
		{"folder deleted", func(t *testing.T) {
			if err := other.Delete("Old projects").Wait(); err != nil {
				t.Fatal(err)
			}
		}, eas.FolderListPath, "MailboxDelete"},
	} {
		t.Run(step.name, func(t *testing.T) {
			// Dovecot calls the script before it answers the command (or
			// the LMTP DATA) that caused the event, so what earlier steps
			// caused has arrived by now and cannot satisfy this one.
			p.drain()
			before := received(t, reg, step.event)
			step.do(t)
			p.await(t, "anna", step.folder)
			if got := received(t, reg, step.event); got <= before {
				t.Errorf("easgate_dovecot_notifications_total{event=%q} stayed at %v", step.event, got)
			}
		})
	}

	// bob never switched on: his mail and his flags are not reported.
	srv.Deliver(t, "anna@example.com", []string{"bob"}, message("for bob"))
	srv.Append(t, "bob", "b", "INBOX", message("bob's own"))
	srv.Deliver(t, "bob@example.com", []string{"anna"}, message("last"))
	p.await(t, "anna", "INBOX")
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pk := range p.all {
		if pk.user != "anna" {
			t.Errorf("poke for %q; only anna is switched on, and under her own name", pk.user)
		}
	}
}

func store(t *testing.T, c *imapclient.Client, uid imap.UID, op imap.StoreFlagsOp, flag imap.Flag) {
	t.Helper()
	err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{flag}}, nil).Close()
	if err != nil {
		t.Fatalf("STORE %v %s: %v", op, flag, err)
	}
}

func received(t *testing.T, reg *prometheus.Registry, event string) float64 {
	t.Helper()
	return counter(t, reg, "easgate_dovecot_notifications_total", "event", event)
}

// counter reads the series of the counter name whose label has value.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestLuaScriptEasgateDown checks that an easgate that is down or stuck
// costs IMAP clients a bounded wait, not their commands.
func TestLuaScriptEasgateDown(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(stuck) })
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for _, tc := range []struct{ name, url string }{
		{"connection refused", closedURL},
		{"no answer", hung.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conf := shipped(t, "90-easgate-push-lua.conf", map[string]string{
				"/etc/dovecot/easgate-push.lua":          filepath.Join(testdata(t), "easgate-push.lua"),
				"http://127.0.0.1:8081/api/push/dovecot": tc.url,
				"SECRET":                                 "x",
				"easgate_push_timeout_msecs = 2000":      "easgate_push_timeout_msecs = 300",
			})
			srv := dovecottest.New(t, dovecottest.Options{LMTP: true, Config: conf})
			srv.AddUser(t, "anna", "a")
			switchOn(t, srv, "anna", "a")
			uid := srv.Append(t, "anna", "a", "INBOX", message("one"))
			srv.Deliver(t, "bob@example.com", []string{"anna"}, message("two"))
			c := srv.Dial(t, "anna", "a")
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			store(t, c, uid, imap.StoreFlagsAdd, imap.FlagFlagged)
			msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{Flags: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || !slices.Contains(msgs[0].Flags, imap.FlagFlagged) {
				t.Errorf("after STORE the message has %v", msgs)
			}
			st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if st.NumMessages == nil || *st.NumMessages != 2 {
				t.Errorf("INBOX holds %v messages, want the appended and the delivered one", st.NumMessages)
			}
		})
	}
}
