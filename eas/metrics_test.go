package eas_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/eas/internal/metricstest"
)

func TestMetrics(t *testing.T) {
	g := startFake(t, eas.V141)
	admin := httptest.NewServer(g.server.AdminHandler("metrics-test-token-123"))
	defer admin.Close()
	for i := 0; i < 5; i++ {
		g.mail.add("INBOX", "metrics", time.Now().Add(-time.Duration(i)*time.Hour))
	}
	inbox := g.id(t, "INBOX")
	ctx := context.Background()

	syncs := map[string]string{"command": "Sync", "version": "14.1", "http": "200"}
	beforeSync := metricstest.Scrape(t, admin.URL, "easgate_requests_total", syncs)
	beforeAdds := metricstest.Scrape(t, admin.URL, "easgate_items_sent_total", map[string]string{"kind": "Add"})
	beforeDur := metricstest.Scrape(t, admin.URL, "easgate_request_duration_seconds", map[string]string{"command": "Sync"})
	if _, err := g.phone.SyncAll(ctx, inbox, "0", 0, nil); err != nil {
		t.Fatal(err)
	}
	// Key 0, then one window with the five messages.
	if d := metricstest.Scrape(t, admin.URL, "easgate_requests_total", syncs) - beforeSync; d != 2 {
		t.Errorf("Sync requests counted %v, want 2", d)
	}
	if d := metricstest.Scrape(t, admin.URL, "easgate_items_sent_total", map[string]string{"kind": "Add"}) - beforeAdds; d != 5 {
		t.Errorf("Adds counted %v, want 5", d)
	}
	if d := metricstest.Scrape(t, admin.URL, "easgate_request_duration_seconds", map[string]string{"command": "Sync"}) - beforeDur; d != 2 {
		t.Errorf("Sync durations observed %v, want 2", d)
	}

	// A FolderSync with a bad key is counted with its status.
	bad := map[string]string{"command": "FolderSync", "status": "9"}
	before := metricstest.Scrape(t, admin.URL, "easgate_requests_total", bad)
	if r, err := g.phone.FolderSync(ctx, "{nope}1"); err != nil || r.Status != 9 {
		t.Fatal(r, err)
	}
	if d := metricstest.Scrape(t, admin.URL, "easgate_requests_total", bad) - before; d != 1 {
		t.Errorf("FolderSync status 9 counted %v, want 1", d)
	}

	// A refused login.
	before = metricstest.Scrape(t, admin.URL, "easgate_auth_failures_total", nil)
	c := easclient.New(g.url, fakeUser, "wrong", "phone1", eas.V141)
	c.FolderSync(ctx, "0")
	if d := metricstest.Scrape(t, admin.URL, "easgate_auth_failures_total", nil) - before; d != 1 {
		t.Errorf("auth failures counted %v, want 1", d)
	}
	// The runtime's own metrics are there too.
	if metricstest.Scrape(t, admin.URL, "go_goroutines", nil) == 0 {
		t.Error("no go_goroutines")
	}
}
