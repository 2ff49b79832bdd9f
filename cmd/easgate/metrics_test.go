package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// metricValue scrapes /metrics and sums the samples of name whose labels
// include labels.
func metricValue(t *testing.T, url, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
next:
	for _, m := range fams[name].GetMetric() {
		for k, v := range labels {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			if !found {
				continue next
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return sum
}

func waitMetric(t *testing.T, url, name string, labels map[string]string, want func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := metricValue(t, url, name, labels)
		if want(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v stayed at %v", name, labels, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The metrics of a gateway built as `easgate serve` builds it move with
// what happens: requests, items, the watcher, a push, the upstream going
// away and coming back.
func TestServeMetrics(t *testing.T) {
	dc, g, url := probeGateway(t)
	admin := "http://" + g.admLn.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := easclient.New(url, "probe@example.com", "probe-secret", "metrics1", eas.V161)
	if _, err := c.Provision(ctx, nil); err != nil {
		t.Fatal(err)
	}
	fs, err := c.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	inbox := ""
	for _, f := range fs.Changes.Add {
		if f.Type == 2 {
			inbox = f.ServerID
		}
	}
	adds := metricValue(t, admin, "easgate_items_sent_total", map[string]string{"kind": "Add"})
	res, err := c.SyncAll(ctx, inbox, "0", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := metricValue(t, admin, "easgate_items_sent_total", map[string]string{"kind": "Add"}) - adds; d != float64(len(res.Commands.Add)) || d != 1 {
		t.Fatalf("Adds counted %v for %d sent", d, len(res.Commands.Add))
	}
	if v := metricValue(t, admin, "easgate_upstream_connections", nil); v < 1 {
		t.Fatalf("upstream connections %v after a sync", v)
	}

	// A Ping waits on the account's watcher; a new message is pushed.
	pushes := metricValue(t, admin, "easgate_push_latency_seconds", nil)
	done := make(chan *eas.PingResponse, 1)
	go func() {
		r, _ := c.PingFolders(ctx, 120, inbox)
		done <- r
	}()
	waitMetric(t, admin, "easgate_waiting_requests", map[string]string{"command": "Ping"}, func(v float64) bool { return v == 1 })
	waitMetric(t, admin, "easgate_upstream_watchers", nil, func(v float64) bool { return v == 1 })
	dc.Append(t, "probe@example.com", "probe-secret", "INBOX", []byte("From: b@example.com\r\nTo: probe@example.com\r\n"+
		"Subject: metrics\r\nMessage-ID: <m2@example.com>\r\n\r\nNew.\r\n"))
	select {
	case r := <-done:
		if r == nil || r.Status != eas.PingChanges {
			t.Fatalf("Ping answered %+v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no push")
	}
	if d := metricValue(t, admin, "easgate_push_latency_seconds", nil) - pushes; d != 1 {
		t.Fatalf("push latency observations %v, want 1", d)
	}
	if v := metricValue(t, admin, "easgate_requests_total", map[string]string{"command": "Ping", "status": "2"}); v != 1 {
		t.Fatalf("Ping status 2 requests %v", v)
	}

	// The upstream goes away while the watcher watches: it reconnects when
	// the server is back; requests meanwhile count as upstream errors.
	if _, err := c.SyncAll(ctx, inbox, res.Key, 0, nil); err != nil {
		t.Fatal(err)
	}
	go func() {
		r, _ := c.PingFolders(ctx, 120, inbox)
		done <- r
	}()
	waitMetric(t, admin, "easgate_waiting_requests", map[string]string{"command": "Ping"}, func(v float64) bool { return v == 1 })
	errs := metricValue(t, admin, "easgate_upstream_errors_total", nil)
	reconnects := metricValue(t, admin, "easgate_upstream_reconnects_total", nil)
	dc.Stop(t)
	other := easclient.New(url, "probe@example.com", "probe-secret-new", "metrics2", eas.V161)
	other.Options(ctx)
	waitMetric(t, admin, "easgate_upstream_errors_total", nil, func(v float64) bool { return v > errs })
	dc.Start(t)
	waitMetric(t, admin, "easgate_upstream_reconnects_total", nil, func(v float64) bool { return v > reconnects })
	if v := metricValue(t, admin, "easgate_store_errors_total", nil); v != 0 {
		t.Fatalf("store errors %v", v)
	}
}
