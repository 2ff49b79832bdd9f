package eas_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// scrape reads /metrics as Prometheus would and returns the value of the
// sample with the given name and labels (0 when absent).
func scrape(t *testing.T, url, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: HTTP %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	fam, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
next:
	for _, m := range fam.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

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
	beforeSync := scrape(t, admin.URL, "easgate_requests_total", syncs)
	beforeAdds := scrape(t, admin.URL, "easgate_items_sent_total", map[string]string{"kind": "Add"})
	beforeDur := scrape(t, admin.URL, "easgate_request_duration_seconds", map[string]string{"command": "Sync"})
	if _, err := g.phone.SyncAll(ctx, inbox, "0", 0, nil); err != nil {
		t.Fatal(err)
	}
	// Key 0, then one window with the five messages.
	if d := scrape(t, admin.URL, "easgate_requests_total", syncs) - beforeSync; d != 2 {
		t.Errorf("Sync requests counted %v, want 2", d)
	}
	if d := scrape(t, admin.URL, "easgate_items_sent_total", map[string]string{"kind": "Add"}) - beforeAdds; d != 5 {
		t.Errorf("Adds counted %v, want 5", d)
	}
	if d := scrape(t, admin.URL, "easgate_request_duration_seconds", map[string]string{"command": "Sync"}) - beforeDur; d != 2 {
		t.Errorf("Sync durations observed %v, want 2", d)
	}

	// A FolderSync with a bad key is counted with its status.
	bad := map[string]string{"command": "FolderSync", "status": "9"}
	before := scrape(t, admin.URL, "easgate_requests_total", bad)
	if r, err := g.phone.FolderSync(ctx, "{nope}1"); err != nil || r.Status != 9 {
		t.Fatal(r, err)
	}
	if d := scrape(t, admin.URL, "easgate_requests_total", bad) - before; d != 1 {
		t.Errorf("FolderSync status 9 counted %v, want 1", d)
	}

	// A refused login.
	before = scrape(t, admin.URL, "easgate_auth_failures_total", nil)
	c := easclient.New(g.url, fakeUser, "wrong", "phone1", eas.V141)
	c.FolderSync(ctx, "0")
	if d := scrape(t, admin.URL, "easgate_auth_failures_total", nil) - before; d != 1 {
		t.Errorf("auth failures counted %v, want 1", d)
	}
	// The runtime's own metrics are there too.
	if scrape(t, admin.URL, "go_goroutines", nil) == 0 {
		t.Error("no go_goroutines")
	}
}

// A Ping waiting through the real watcher shows in the waiting gauge, and
// its push in the latency histogram.
func TestPushMetrics(t *testing.T) {
	g := startGateway(t, gatewayOptions{Config: pushConfig, Push: &bridge.WatchConfig{CheckInterval: time.Second}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	user, pw := g.newUser(t)
	p := g.pushPhone(t, user, pw, "metrics")
	inbox := p.id(t, "INBOX")

	pings := map[string]string{"command": "Ping"}
	before := scrape(t, g.Admin.URL, "easgate_push_latency_seconds", nil)
	ch := p.startPing(ctx, pingOf(longHeartbeat, inbox))
	g.waiting(t, 1)
	deadline := time.Now().Add(answerWait)
	for scrape(t, g.Admin.URL, "easgate_waiting_requests", pings) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the waiting Ping never showed in easgate_waiting_requests")
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.Dovecot.Append(t, user, pw, "INBOX", mail(1))
	wantPing(t, waitAnswer(t, ch), eas.PingChanges, inbox)
	if got := scrape(t, g.Admin.URL, "easgate_waiting_requests", pings); got != 0 {
		t.Errorf("waiting Pings after the answer: %v", got)
	}
	if d := scrape(t, g.Admin.URL, "easgate_push_latency_seconds", nil) - before; d != 1 {
		t.Errorf("push latency observations %v, want 1", d)
	}
}
