package e2e_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/store"
)

// testGateway is the whole gateway as a phone sees it: easgate's handler
// over HTTP, in front of a real Dovecot, with its SQLite state.
type testGateway struct {
	Dovecot *dovecottest.Server
	Store   *store.Store
	Server  *eas.Server
	HTTP    *httptest.Server
	Admin   *httptest.Server
	Token   string
	Logs    *observer.ObservedLogs
	Backend *bridge.Backend
	// Push is the Notifier when gatewayOptions.Push asked for one.
	Push *bridge.Notifier
	// URL, when set, is where phones speak instead of HTTP (nginx in
	// front of several nodes).
	URL string
}

type gatewayOptions struct {
	NoCondstore bool
	Config      eas.Config
	// SMTPAddr is the submission server (plain TCP); "" leaves sending off.
	SMTPAddr   string
	NoSentCopy bool
	// Push, when set, gives the gateway a Notifier with this configuration.
	Push *bridge.WatchConfig
}

const testAdminToken = "test-admin-token-0123456789"

func startGateway(t testing.TB, opt gatewayOptions) *testGateway {
	t.Helper()
	g := &testGateway{Token: testAdminToken}
	g.Dovecot = dovecottest.New(t, dovecottest.Options{NoCondstore: opt.NoCondstore})
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "easgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g.Store = st
	core, logs := observer.New(zap.DebugLevel)
	g.Logs = logs
	log := zap.New(core)
	g.Backend = bridge.New(bridge.Config{Addr: g.Dovecot.Addr(), Security: bridge.SecurityNone, Logger: log.Named("imap"),
		SMTPAddr: opt.SMTPAddr, SMTPSecurity: bridge.SecurityNone, NoSentCopy: opt.NoSentCopy})
	t.Cleanup(func() { g.Backend.Close() })
	cfg := opt.Config
	cfg.Logger = log.Named("eas")
	var notifier eas.Notifier
	if opt.Push != nil {
		g.Push = bridge.NewNotifier(g.Backend, *opt.Push)
		t.Cleanup(func() { g.Push.Close() })
		notifier = g.Push
	}
	g.Server = eas.NewServer(cfg, g.Backend, st, notifier)
	g.HTTP = httptest.NewServer(g.Server.Handler())
	t.Cleanup(g.HTTP.Close)
	g.Admin = httptest.NewServer(g.Server.AdminHandler(g.Token))
	t.Cleanup(g.Admin.Close)
	return g
}

// userSeq numbers the users the tests make, so that no two share a name.
var userSeq atomic.Int64

// newUser creates a Dovecot account and returns its name and password.
func (g *testGateway) newUser(t testing.TB) (string, string) {
	t.Helper()
	n := userSeq.Add(1)
	name, pw := fmt.Sprintf("user%d@example.com", n), fmt.Sprintf("secret-%d", n)
	g.Dovecot.AddUser(t, name, pw)
	return name, pw
}

// client returns a phone of a new or given user.
func (g *testGateway) client(user, password, deviceID string, v eas.Version) *easclient.Client {
	if g.URL != "" {
		return easclient.New(g.URL, user, password, deviceID, v)
	}
	return easclient.New(g.HTTP.URL, user, password, deviceID, v)
}

// provisioned returns a phone that has provisioned.
func (g *testGateway) provisioned(t testing.TB, user, password, deviceID string, v eas.Version) *easclient.Client {
	t.Helper()
	c := g.client(user, password, deviceID, v)
	if _, err := c.Provision(context.Background(), nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return c
}

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }
