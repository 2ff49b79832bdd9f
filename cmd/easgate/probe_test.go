package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
)

// probeGateway runs the gateway as `easgate serve` builds it, in front of a
// real Dovecot, and returns its base URL.
func probeGateway(t *testing.T) (*dovecottest.Server, *gateway, string) {
	dc, g, url, _ := probeGatewaySMTP(t)
	return dc, g, url
}

// probeGatewaySMTP also gives the gateway an SMTP server to send through.
func probeGatewaySMTP(t *testing.T) (*dovecottest.Server, *gateway, string, *smtptest.Server) {
	t.Helper()
	sink := smtptest.New(t, smtptest.Options{})
	sink.AddUser("probe@example.com", "probe-secret")
	dc := dovecottest.New(t, dovecottest.Options{})
	dc.AddUser(t, "probe@example.com", "probe-secret")
	dc.Append(t, "probe@example.com", "probe-secret", "INBOX", []byte("From: a@example.com\r\nTo: probe@example.com\r\n"+
		"Subject: hello\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <p1@example.com>\r\n\r\nHello there.\r\n"))
	c := &serveConfig{Listen: "127.0.0.1:0", IMAP: dc.Addr(), IMAPSecurity: "none",
		DB: filepath.Join(t.TempDir(), "g.db"), AdminListen: "127.0.0.1:0",
		SMTP: sink.Addr, SMTPSecurity: "none", SentCopy: true,
		MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9}
	g, err := startGateway(context.Background(), c, zap.NewNop(), testAdminToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return dc, g, "http://" + g.easLn.Addr().String(), sink
}

const testAdminToken = "gateway-admin-token-for-tests"

type probeResult struct {
	OK    bool        `json:"ok"`
	Steps []probeStep `json:"steps"`
}

func runProbeTest(t *testing.T, args []string, password string, cfgHTTP func(*probeConfig)) (int, probeResult) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"EASGATE_PROBE_PASSWORD": password}
	code := probeMainWith(context.Background(), append(args, "--json"), func(k string) string { return env[k] },
		strings.NewReader(""), &out, &errb, cfgHTTP)
	var res probeResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("probe output is not JSON: %v\n%s\n%s", err, out.String(), errb.String())
	}
	return code, res
}

func stepOf(res probeResult, name string) probeStep {
	for _, s := range res.Steps {
		if s.Name == name {
			return s
		}
	}
	return probeStep{}
}

func TestProbe(t *testing.T) {
	dc, _, url, sink := probeGatewaySMTP(t)

	t.Run("every step passes", func(t *testing.T) {
		// The base URL and the endpoint's URL (what the demo and
		// Autodiscover print) both work.
		for _, u := range []string{url, url + "/", url + "/Microsoft-Server-ActiveSync", url + "/microsoft-server-activesync/"} {
			code, res := runProbeTest(t, []string{"--url", u, "--user", "probe@example.com"}, "probe-secret", nil)
			if code != 0 || !res.OK {
				t.Fatalf("--url %s: exit %d: %+v", u, code, res.Steps)
			}
			for _, name := range []string{"options", "provision", "settings", "foldersync", "sync", "estimate"} {
				if s := stepOf(res, name); !s.OK || s.Skipped || s.Name == "" {
					t.Errorf("--url %s: step %s: %+v", u, name, s)
				}
			}
			if d := stepOf(res, "sync").Detail; !strings.Contains(d, "1 messages") {
				t.Errorf("--url %s: sync detail %q", u, d)
			}
		}
	})

	t.Run("sending", func(t *testing.T) {
		for _, v := range []string{"14.1", "12.1"} {
			before := len(sink.Messages())
			code, res := runProbeTest(t, []string{"--url", url, "--user", "probe@example.com", "--version", v,
				"--send-to", "someone@example.net"}, "probe-secret", nil)
			if s := stepOf(res, "sendmail"); code != 0 || !s.OK {
				t.Fatalf("%s: exit %d, sendmail step %+v", v, code, s)
			}
			msgs := sink.Messages()
			if len(msgs) != before+1 || msgs[len(msgs)-1].To[0] != "someone@example.net" ||
				!strings.Contains(string(msgs[len(msgs)-1].Data), "sent by easgate probe") {
				t.Fatalf("%s: SMTP server got %+v", v, msgs)
			}
		}
		sink.Refuse(func(stage smtptest.Stage, arg string) *smtp.SMTPError {
			if stage == smtptest.StageRcpt {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return nil
		})
		defer sink.Refuse(nil)
		code, res := runProbeTest(t, []string{"--url", url, "--user", "probe@example.com", "--send-to", "nobody@example.net"},
			"probe-secret", nil)
		if s := stepOf(res, "sendmail"); code != 1 || s.OK || !strings.Contains(s.Explain, "refused the recipient") {
			t.Fatalf("refused recipient: exit %d, step %+v", code, s)
		}
	})

	t.Run("push", func(t *testing.T) {
		dcp, g, url := probeGateway(t)
		type result struct {
			code int
			res  probeResult
		}
		done := make(chan result, 1)
		go func() {
			code, res := runProbeTest(t, []string{"--url", url, "--user", "probe@example.com", "--push", "--push-wait", "30s"},
				"probe-secret", nil)
			done <- result{code, res}
		}()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, subs := g.push.Watching(); subs == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the probe's Ping never waited")
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case r := <-done:
			t.Fatalf("probe ended before any mail came: %+v", r)
		default:
		}
		dcp.Append(t, "probe@example.com", "probe-secret", "INBOX", []byte("From: b@example.com\r\n"+
			"To: probe@example.com\r\nSubject: pushed\r\nMessage-ID: <p2@example.com>\r\n\r\nNew.\r\n"))
		select {
		case r := <-done:
			if s := stepOf(r.res, "push"); r.code != 0 || !s.OK || !strings.Contains(s.Detail, "pushed") {
				t.Fatalf("exit %d, push step %+v", r.code, s)
			}
			if s := stepOf(r.res, "ping"); !s.OK || !strings.Contains(s.Detail, "from 60 s") {
				t.Fatalf("ping step %+v", s)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the probe did not see the pushed message")
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		code, res := runProbeTest(t, []string{"--url", url, "--user", "probe@example.com"}, "nope", nil)
		s := stepOf(res, "options")
		if code != 1 || s.OK || !strings.Contains(s.Explain, "wrong user name or password") {
			t.Fatalf("exit %d, options step %+v", code, s)
		}
	})

	t.Run("TLS name mismatch", func(t *testing.T) {
		_, g2, _ := probeGateway(t)
		ts := httptest.NewUnstartedServer(g2.eas.Handler())
		ts.StartTLS()
		defer ts.Close()
		// The test certificate names example.com and 127.0.0.1, not localhost.
		port := ts.Listener.Addr().String()[strings.LastIndex(ts.Listener.Addr().String(), ":"):]
		code, res := runProbeTest(t, []string{"--url", "https://localhost" + port, "--user", "probe@example.com"}, "probe-secret",
			func(c *probeConfig) { c.httpClient = ts.Client() })
		s := stepOf(res, "options")
		if code != 1 || s.OK || !strings.Contains(s.Explain, `not valid for "localhost"`) || !strings.Contains(s.Explain, "example.com") {
			t.Fatalf("exit %d, options step %+v", code, s)
		}
	})

	t.Run("mail server down", func(t *testing.T) {
		dc.Stop(t)
		defer dc.Start(t)
		// Another password: no login remembered from the steps above.
		code, res := runProbeTest(t, []string{"--url", url, "--user", "probe@example.com"}, "probe-secret-other", nil)
		s := stepOf(res, "options")
		if code != 1 || s.OK || !strings.Contains(s.Explain, "cannot reach the mail server") {
			t.Fatalf("exit %d, options step %+v", code, s)
		}
	})
}
