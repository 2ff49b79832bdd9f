package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the gateway process the
// benchmark starts: it runs itself with -serve.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestDrive runs the whole benchmark with a few phones: every message
// reaches every phone of its account, and the numbers are reported.
func TestDrive(t *testing.T) {
	for _, tc := range []struct{ upstream, deliver, source string }{
		{"mem", "append", "idle"},
		{"dovecot", "append", "idle"},
		{"dovecot", "lmtp", "dovecot"},
	} {
		t.Run(tc.upstream+"/"+tc.deliver+"/"+tc.source, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			o := options{upstream: tc.upstream, accounts: 3, devices: 2, rounds: 4, concurrency: 4, heartbeat: 600,
				deliver: tc.deliver, pushSource: tc.source, check: time.Hour}
			var out bytes.Buffer
			res, err := drive(ctx, o, &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if len(res.lat) != o.rounds*o.devices || len(res.ref) != o.rounds || res.failures != 0 {
				t.Fatalf("%d answers, %d upstream notices, %d failures", len(res.lat), len(res.ref), res.failures)
			}
			if res.held.Subscriptions != 6 || res.held.Watchers != 3 {
				t.Errorf("gateway held %d subscriptions on %d watchers, want 6 on 3", res.held.Subscriptions, res.held.Watchers)
			}
			res.report(&out)
			if tc.source == "dovecot" && res.held.PushConnections != 0 {
				t.Errorf("%d IMAP connections held for push with the dovecot source", res.held.PushConnections)
			}
			for _, want := range []string{"per waiting phone: heap+stacks", "to Ping answer, 8 samples", "upstream IMAP connections while the phones wait"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
