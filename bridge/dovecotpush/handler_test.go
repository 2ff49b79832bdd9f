package dovecotpush_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/easgate/easgate/bridge/dovecotpush"
	"github.com/easgate/easgate/eas"
)

// oxBody is a payload as Dovecot 2.3.19's OX driver sends it.
const oxBody = `{"user":"anna","event":"messageNew","folder":"INBOX","imap-uidvalidity":1765080000,"imap-uid":7,"from":"Bob <bob@example.com>","subject":"Hello","snippet":"Hi Anna, ...","unseen":1}`

func TestHandler(t *testing.T) {
	const secret = "s3cret"
	now := time.Unix(1765080003, 0)
	basic := func(r *http.Request) { r.SetBasicAuth("dovecot", secret) }
	for _, tc := range []struct {
		name      string
		method    string
		body      string
		auth      func(*http.Request)
		domain    string
		want      int
		wantPokes []poke
		reason    string // rejected_total label that must grow
		event     string // received_total label that must grow
	}{
		{name: "ox messageNew", body: oxBody, auth: basic, want: 204,
			wantPokes: []poke{{"anna", []string{"INBOX"}}}, event: "MessageNew"},
		{name: "ox by POST with bearer", method: "POST", body: oxBody,
			auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) }, want: 204,
			wantPokes: []poke{{"anna", []string{"INBOX"}}}, event: "MessageNew"},
		{name: "lua events folded per folder", auth: basic, want: 204,
			body: `{"user":"anna","time":1765080001,"events":[` +
				`{"event":"FlagsSet","folder":"INBOX"},{"event":"MessageExpunge","folder":"INBOX"},` +
				`{"event":"MessageAppend","folder":"Sent"},{"event":"MailboxRename","folder":"B","old-folder":"A"},` +
				`{"event":"MailboxCreate","folder":"C"}]}`,
			wantPokes: []poke{{"anna", []string{"INBOX", "Sent", eas.FolderListPath}}}, event: "MailboxRename"},
		{name: "lua subscription only", auth: basic, want: 204,
			body:  `{"user":"anna","events":[{"event":"MailboxSubscribe","folder":"C"}]}`,
			event: "MailboxSubscribe"},
		{name: "lua unknown kind counted as other", auth: basic, want: 204,
			body:  `{"user":"anna","events":[{"event":"Something","folder":"C"}]}`,
			event: "other"},
		{name: "domain login normalised", body: strings.Replace(oxBody, `"anna"`, `"EXAMPLE\\anna"`, 1), auth: basic, want: 204,
			wantPokes: []poke{{"anna", []string{"INBOX"}}}},
		{name: "domain added", body: strings.Replace(oxBody, `"anna"`, `"carol"`, 1), auth: basic, domain: "example.com", want: 204,
			wantPokes: []poke{{"carol@example.com", []string{"INBOX"}}}},
		{name: "both forms known", body: oxBody, auth: basic, domain: "example.com", want: 204,
			wantPokes: []poke{{"anna", []string{"INBOX"}}, {"anna@example.com", []string{"INBOX"}}}},
		{name: "domain removed", body: strings.Replace(oxBody, `"anna"`, `"bob@Example.com"`, 1), auth: basic,
			domain: "example.com", want: 204, wantPokes: []poke{{"bob", []string{"INBOX"}}}},
		{name: "other domain not removed", body: strings.Replace(oxBody, `"anna"`, `"bob@example.org"`, 1), auth: basic,
			domain: "example.com", want: 404, reason: "unknown_user"},
		{name: "unknown user", body: strings.Replace(oxBody, `"anna"`, `"carol"`, 1), auth: basic, want: 404, reason: "unknown_user"},
		{name: "no credentials", body: oxBody, want: 401, reason: "unauthorized"},
		{name: "wrong password", body: oxBody, auth: func(r *http.Request) { r.SetBasicAuth("dovecot", "s3cre") }, want: 401, reason: "unauthorized"},
		{name: "wrong bearer", body: oxBody, auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, want: 401, reason: "unauthorized"},
		{name: "GET", method: "GET", auth: basic, want: 405, reason: "method"},
		{name: "not JSON", body: `user=anna`, auth: basic, want: 400, reason: "malformed"},
		{name: "truncated", body: oxBody[:40], auth: basic, want: 400, reason: "malformed"},
		{name: "two values", body: oxBody + oxBody, auth: basic, want: 400, reason: "malformed"},
		{name: "both kinds", body: `{"user":"anna","event":"messageNew","folder":"INBOX","events":[]}`, auth: basic, want: 400, reason: "malformed"},
		{name: "neither kind", body: `{"user":"anna","folder":"INBOX"}`, auth: basic, want: 400, reason: "malformed"},
		{name: "no user", body: strings.Replace(oxBody, `"anna"`, `""`, 1), auth: basic, want: 400, reason: "malformed"},
		{name: "user with newline", body: strings.Replace(oxBody, `"anna"`, `"an\nna"`, 1), auth: basic, want: 400, reason: "malformed"},
		{name: "no folder", body: strings.Replace(oxBody, `"INBOX"`, `""`, 1), auth: basic, want: 400, reason: "malformed"},
		{name: "folder with NUL", body: strings.Replace(oxBody, `"INBOX"`, `"\u0000folders"`, 1), auth: basic, want: 400, reason: "malformed"},
		{name: "uid not a number", body: strings.Replace(oxBody, `"imap-uid":7`, `"imap-uid":"7"`, 1), auth: basic, want: 400, reason: "malformed"},
		{name: "lua no events", body: `{"user":"anna","events":[]}`, auth: basic, want: 400, reason: "malformed"},
		{name: "lua event without name", body: `{"user":"anna","events":[{"folder":"INBOX"}]}`, auth: basic, want: 400, reason: "malformed"},
		{name: "oversized", body: `{"user":"anna","events":[` + strings.Repeat(`{"event":"FlagsSet","folder":"INBOX"},`, 2000) + `{"event":"FlagsSet","folder":"INBOX"}]}`,
			auth: basic, want: 413, reason: "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newPokes("anna", "anna@example.com", "carol@example.com", "bob")
			reg := prometheus.NewPedanticRegistry()
			h, err := dovecotpush.NewHandler(dovecotpush.Config{Poker: rec, Secret: secret, Domain: tc.domain, Registerer: reg, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			method := tc.method
			if method == "" {
				method = http.MethodPut
			}
			req := httptest.NewRequest(method, "/api/push/dovecot", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != nil {
				tc.auth(req)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tc.want)
			}
			if got := rec.all; !equalPokes(got, tc.wantPokes) {
				t.Errorf("pokes %q, want %q", got, tc.wantPokes)
			}
			if v := gathered(t, reg, "easgate_dovecot_notifications_rejected_total", "reason", tc.reason); tc.reason != "" && v != 1 {
				t.Errorf("rejected{reason=%q} = %v, want 1", tc.reason, v)
			} else if tc.reason == "" && v != 0 {
				t.Errorf("%v rejections counted for an accepted request", v)
			}
			if tc.event != "" {
				if v := gathered(t, reg, "easgate_dovecot_notifications_total", "event", tc.event); v != 1 {
					t.Errorf("received{event=%q} = %v, want 1", tc.event, v)
				}
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestHandlerDelay(t *testing.T) {
	rec := newPokes("anna")
	now := time.Unix(1765080003, 0)
	reg := prometheus.NewPedanticRegistry()
	h, err := dovecotpush.NewHandler(dovecotpush.Config{Poker: rec, Secret: "x", Registerer: reg, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"user":"anna","time":1765080001,"events":[{"event":"MessageNew","folder":"INBOX"}]}`,
		oxBody, // says nothing of time: not observed
	} {
		req := httptest.NewRequest(http.MethodPut, "/", strings.NewReader(body))
		req.SetBasicAuth("", "x")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 204 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	var count uint64
	var sum float64
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "easgate_dovecot_notification_delay_seconds" {
			count = f.GetMetric()[0].GetHistogram().GetSampleCount()
			sum = f.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	if count != 1 || sum != 2 {
		t.Errorf("delay histogram has %d observations summing to %v s, want 1 of 2 s", count, sum)
	}
}

func TestNewHandlerRefusesOpenEndpoint(t *testing.T) {
	for _, cfg := range []dovecotpush.Config{
		{Poker: newPokes(), Secret: ""},
		{Poker: newPokes(), Secret: " \n"},
		{Secret: "x"},
	} {
		if _, err := dovecotpush.NewHandler(cfg); err == nil {
			t.Errorf("dovecotpush.NewHandler(%+v) succeeded", cfg)
		}
	}
}

func equalPokes(a, b []poke) bool {
	return slices.EqualFunc(a, b, func(x, y poke) bool {
		return x.user == y.user && slices.Equal(x.folders, y.folders)
	})
}

// gathered sums the counter name over the series whose label has value;
// an empty value sums every series.
func gathered(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	var sum float64
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
				if l.GetName() == label && (value == "" || l.GetValue() == value) {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
