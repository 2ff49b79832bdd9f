package eas_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/wbxml"
)

// observedFake is a fake gateway whose log lines and metrics the test reads.
func observedFake(t *testing.T, cfg eas.Config) (*fakeGateway, *observer.ObservedLogs, *eas.Metrics) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	cfg.Logger = zap.New(core)
	cfg.Metrics = eas.NewMetrics()
	if cfg.MinHeartbeat == 0 {
		cfg.MinHeartbeat, cfg.MaxHeartbeat = time.Second, 300*time.Second
	}
	g := startFakeConfig(t, eas.V141, cfg)
	return g, logs, cfg.Metrics
}

// requestsCounted is the sum of easgate_requests_total.
func requestsCounted(t *testing.T, m *eas.Metrics) int {
	return int(counted(t, m, "easgate_requests_total", "", ""))
}

// counted sums the counter name over the series whose label has value
// (all series when label is "").
func counted(t *testing.T, m *eas.Metrics, name, label, value string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			match := label == ""
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if match {
				n += mt.GetCounter().GetValue()
			}
		}
	}
	return n
}

// rawHTTP sends req as it is on a new connection and returns the status
// line's code.
func rawHTTP(t *testing.T, url, req string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEveryAnswerLogged: each way a request can end, on every endpoint,
// writes exactly one log line and counts exactly one request.
func TestEveryAnswerLogged(t *testing.T) {
	g, logs, m := observedFake(t, eas.Config{})
	auth := "Basic " + basicAuth(fakeUser, "secret")
	eas141 := "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=u&DeviceId=phone1&DeviceType=iPhone"
	tests := []struct {
		name string
		raw  string
		code int
	}{
		{"OPTIONS without credentials", "OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\n\r\n", 401},
		{"OPTIONS", "OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + "\r\n\r\n", 200},
		{"OPTIONS wrong password", "OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + basicAuth(fakeUser, "nope") + "\r\n\r\n", 401},
		{"Autodiscover without credentials", "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 401},
		// The body breaks off mid-chunk: the read fails.
		{"Autodiscover unreadable body", "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
			"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"Autodiscover not XML", "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
			"\r\nContent-Length: 3\r\n\r\n<<<", 200},
		{"Autodiscover", "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + "\r\nContent-Length: 0\r\n\r\n", 200},
		{"Autodiscover JSON", "GET /autodiscover/autodiscover.json?Protocol=ActiveSync HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"Autodiscover JSON bad protocol", "GET /autodiscover/autodiscover.json?Protocol=x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"EAS bad query", "POST /Microsoft-Server-ActiveSync?Cmd=FolderSync HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400},
		{"EAS without credentials", "POST " + eas141 + " HTTP/1.1\r\nHost: x\r\nMS-ASProtocolVersion: 14.1\r\nContent-Length: 0\r\n\r\n", 401},
		{"EAS unknown command", "POST /Microsoft-Server-ActiveSync?Cmd=Frob&User=u&DeviceId=phone1&DeviceType=iPhone HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
			"\r\nMS-ASProtocolVersion: 14.1\r\nContent-Length: 0\r\n\r\n", 501},
		{"EAS no version", "POST " + eas141 + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + "\r\nContent-Length: 0\r\n\r\n", 400},
		{"EAS not provisioned", "POST " + eas141 + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
			"\r\nMS-ASProtocolVersion: 14.1\r\nContent-Length: 0\r\n\r\n", 200},
		{"no such path", "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"wrong method", "GET /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\n\r\n", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.TakeAll()
			before := requestsCounted(t, m)
			if code := rawHTTP(t, g.url, tt.raw); code != tt.code {
				t.Errorf("HTTP %d, want %d", code, tt.code)
			}
			// The line is written after the answer: wait for it.
			var lines []observer.LoggedEntry
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if lines = logs.FilterMessage("request").All(); len(lines) > 0 {
					break
				}
			}
			if len(lines) != 1 {
				t.Fatalf("%d request log lines, want 1", len(lines))
			}
			if got := lines[0].ContextMap()["http"]; got != int64(tt.code) {
				t.Errorf("logged http %v, want %d", got, tt.code)
			}
			if n := requestsCounted(t, m) - before; n != 1 {
				t.Errorf("counted %d requests, want 1", n)
			}
		})
	}
}

func basicAuth(user, pw string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pw)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestSecretsNeverLogged: with tracing on, passwords in the request
// (ItemOperations and Search Options/Password, Settings DevicePassword)
// and the Authorization header appear in no log line.
func TestSecretsNeverLogged(t *testing.T) {
	g, logs, _ := observedFake(t, eas.Config{})
	g.store.mu.Lock()
	for _, d := range g.store.devices {
		d.Trace = true
	}
	g.store.mu.Unlock()
	const secret = "hunter2-very-secret"
	ctx := context.Background()
	ioDoc := mustXML(t, `<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:"><Fetch><Store>Mailbox</Store>`+
		`<airsync:CollectionId>1</airsync:CollectionId><airsync:ServerId>1:1</airsync:ServerId>`+
		`<Options><UserName>u</UserName><Password>`+secret+`</Password></Options></Fetch></ItemOperations>`)
	settings := mustXML(t, `<Settings xmlns="Settings:"><DevicePassword><Set><Password>`+secret+`</Password></Set></DevicePassword></Settings>`)
	for _, tt := range []struct {
		cmd string
		doc *wbxml.Element
	}{{"ItemOperations", ioDoc}, {"Settings", settings}} {
		if _, err := g.phone.Do(ctx, tt.cmd, tt.doc, nil); err != nil && !easclient.IsHTTP(err, 400) {
			t.Fatalf("%s: %v", tt.cmd, err)
		}
	}
	traced := 0
	for _, e := range logs.All() {
		if strings.HasPrefix(e.Message, "trace") {
			traced++
		}
		line := fmt.Sprintf("%s %v", e.Message, e.ContextMap())
		for _, bad := range []string{secret, basicAuth(fakeUser, "secret")} {
			if strings.Contains(line, bad) {
				t.Errorf("log line carries a secret: %s", line)
			}
		}
	}
	if traced < 2 {
		t.Fatalf("%d trace lines: tracing was not on", traced)
	}
}

func mustXML(t *testing.T, s string) *wbxml.Element {
	t.Helper()
	e, err := wbxml.ParseXML(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSlowBodyCutOff: a request whose headers promise a body that never
// comes is answered 408 once BodyReadTimeout passes, instead of holding
// the connection for ever.
func TestSlowBodyCutOff(t *testing.T) {
	g, _, _ := observedFake(t, eas.Config{BodyReadTimeout: 200 * time.Millisecond})
	auth := "Authorization: Basic " + basicAuth(fakeUser, "secret") + "\r\n"
	for _, req := range []string{
		"POST /Microsoft-Server-ActiveSync?Cmd=FolderSync&User=u&DeviceId=phone1&DeviceType=iPhone HTTP/1.1\r\nHost: x\r\n" +
			auth + "MS-ASProtocolVersion: 14.1\r\n" +
			"X-MS-PolicyKey: " + strconv.FormatUint(uint64(g.phone.PolicyKey), 10) + "\r\nContent-Length: 100\r\n\r\n",
		"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 100\r\n\r\n<Auto",
	} {
		if code := rawHTTP(t, g.url, req); code != http.StatusRequestTimeout {
			t.Errorf("%.40q: HTTP %d, want 408", req, code)
		}
	}
}

// fetchRequest is an ItemOperations request of n Fetches of message id in
// folder inbox.
func fetchRequest(t *testing.T, inbox, id string, n int) *wbxml.Element {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:">`)
	for range n {
		fmt.Fprintf(&b, `<Fetch><Store>Mailbox</Store><airsync:CollectionId>%s</airsync:CollectionId><airsync:ServerId>%s</airsync:ServerId></Fetch>`, inbox, inbox+":"+id)
	}
	b.WriteString(`</ItemOperations>`)
	return mustXML(t, b.String())
}

// TestItemOperationsLimit: more operations than Limits.ItemOperations in
// one request are refused as a whole (Status 11) without touching the
// mailbox; the limit itself is served.
func TestItemOperationsLimit(t *testing.T) {
	g, _, _ := observedFake(t, eas.Config{Limits: eas.Limits{ItemOperations: 3}})
	inbox := g.id(t, "INBOX")
	id := g.mail.add("INBOX", "hello", time.Now())
	ctx := context.Background()
	for _, tt := range []struct{ n, status int }{{3, eas.ItemOpsSuccess}, {4, eas.ItemOpsTooLarge}, {5000, eas.ItemOpsTooLarge}} {
		fetches := g.mail.calledN("Fetch")
		var resp eas.ItemOperationsResponse
		if _, err := g.phone.Do(ctx, "ItemOperations", fetchRequest(t, inbox, id, tt.n), &resp); err != nil {
			t.Fatalf("%d operations: %v", tt.n, err)
		}
		if resp.Status != tt.status {
			t.Errorf("%d operations: Status %d, want %d", tt.n, resp.Status, tt.status)
		}
		if tt.status != eas.ItemOpsSuccess && g.mail.calledN("Fetch") != fetches {
			t.Errorf("%d operations: the refused request fetched mail", tt.n)
		}
	}
}

// TestCollectionLimits: MoveItems and GetItemEstimate beyond their limits
// answer their "too many" status (common status 101 and 151) as a whole.
func TestCollectionLimits(t *testing.T) {
	g, _, _ := observedFake(t, eas.Config{Limits: eas.Limits{MoveItems: 2, Collections: 2}})
	inbox := g.id(t, "INBOX")
	ctx := context.Background()
	moves := func(n int) *wbxml.Element {
		var b strings.Builder
		b.WriteString(`<MoveItems xmlns="Move:">`)
		for i := range n {
			fmt.Fprintf(&b, `<Move><SrcMsgId>%s:%d</SrcMsgId><SrcFldId>%s</SrcFldId><DstFldId>%s</DstFldId></Move>`, inbox, i, inbox, inbox)
		}
		b.WriteString(`</MoveItems>`)
		return mustXML(t, b.String())
	}
	estimates := func(n int) *wbxml.Element {
		var b strings.Builder
		b.WriteString(`<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:"><Collections>`)
		for range n {
			fmt.Fprintf(&b, `<Collection><airsync:SyncKey>0</airsync:SyncKey><CollectionId>%s</CollectionId></Collection>`, inbox)
		}
		b.WriteString(`</Collections></GetItemEstimate>`)
		return mustXML(t, b.String())
	}
	for _, tt := range []struct {
		cmd    string
		doc    *wbxml.Element
		status int // top-level status; 0: none
	}{
		{"MoveItems", moves(2), 0},
		{"MoveItems", moves(3), eas.StatusInvalidContent},
		{"GetItemEstimate", estimates(2), 0},
		{"GetItemEstimate", estimates(3), eas.StatusTooManyFolders},
	} {
		var resp *wbxml.Element
		if _, err := g.phone.Do(ctx, tt.cmd, tt.doc, &resp); err != nil {
			t.Fatalf("%s: %v", tt.cmd, err)
		}
		got := 0
		if st := resp.Child("Status"); st != nil {
			got, _ = strconv.Atoi(st.Text())
		}
		if got != tt.status {
			t.Errorf("%s of %d: top-level Status %d, want %d (%s)", tt.cmd, len(tt.doc.Children), got, tt.status, resp.XML())
		}
	}
}

// TestCorruptStateCounted: unreadable stored Ping parameters are dropped
// (the phone is asked for them again, Status 3), logged and counted.
func TestCorruptStateCounted(t *testing.T) {
	g, logs, m := observedFake(t, eas.Config{})
	g.store.PutDeviceState(context.Background(), fakeUser, "phone1", "ping", []byte("{not json"))
	resp, err := g.phone.Ping(context.Background(), nil)
	if err != nil || resp.Status != eas.PingMissingParams {
		t.Fatalf("Ping: %+v %v", resp, err)
	}
	if n := counted(t, m, "easgate_state_corrupt_total", "kind", "ping"); n != 1 {
		t.Errorf("easgate_state_corrupt_total{kind=ping} = %v, want 1", n)
	}
	if logs.FilterMessage("stored state unreadable, dropped").Len() != 1 {
		t.Errorf("no log line for the unreadable state")
	}
}

// TestPingHeartbeatFromArrival: a Ping's heartbeat runs from the moment the
// request arrived, on the configured clock. Here the clock passes the
// whole heartbeat while the body is on its way: the Ping answers Status 1
// at once instead of waiting a heartbeat more.
func TestPingHeartbeatFromArrival(t *testing.T) {
	var mu sync.Mutex
	var offset time.Duration
	armed := false
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := time.Now().Add(offset)
		if armed {
			// The first reading after arming is the request's arrival;
			// then a heartbeat goes by.
			armed, offset = false, offset+2*time.Minute
		}
		return t
	}
	g, _, _ := observedFake(t, eas.Config{Now: now})
	inbox := g.id(t, "INBOX")
	g.sync(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
	mu.Lock()
	armed = true
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := g.phone.PingFolders(ctx, 60, inbox)
	if err != nil || resp.Status != eas.PingExpired {
		t.Fatalf("Ping: %+v %v", resp, err)
	}
}

// switchBackend is the fake backend with an upstream that can go down.
type switchBackend struct {
	fakeBackend
	down *atomic.Bool
}

func (b switchBackend) Open(ctx context.Context, cred eas.Credentials) (eas.Mailbox, error) {
	if b.down.Load() {
		return nil, fmt.Errorf("connect: %w", eas.ErrUnavailable)
	}
	return b.fakeBackend.Open(ctx, cred)
}

// TestPingHeldWhileUpstreamDown: a Ping that finds the upstream down is
// not answered Status 8 at once, which would have the phone ask again and
// again: it is held until the upstream is back, or UpstreamRetry passes.
func TestPingHeldWhileUpstreamDown(t *testing.T) {
	for _, tt := range []struct {
		name     string
		retry    time.Duration
		comeBack bool
	}{
		{"upstream comes back", time.Minute, true},
		{"upstream stays down", 1500 * time.Millisecond, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var down atomic.Bool
			g := &fakeGateway{mail: newFakeMail(), store: newMemStore()}
			cfg := eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 300 * time.Second, UpstreamRetry: tt.retry}
			g.server = eas.NewServer(cfg, switchBackend{fakeBackend{g.mail}, &down}, g.store, fakeNotifier{g.mail})
			hs := httptest.NewServer(g.server.Handler())
			t.Cleanup(hs.Close)
			g.url = hs.URL
			g.phone = g.newPhone(t, "phone1", eas.V141)
			inbox := g.id(t, "INBOX")
			g.sync(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})

			down.Store(true)
			type answer struct {
				resp *eas.PingResponse
				err  error
			}
			ch := make(chan answer, 1)
			go func() {
				resp, err := g.phone.PingFolders(context.Background(), 120, inbox)
				ch <- answer{resp, err}
			}()
			time.Sleep(300 * time.Millisecond)
			select {
			case r := <-ch:
				t.Fatalf("Ping answered while the upstream is down: %+v %v", r.resp, r.err)
			default:
			}
			if tt.comeBack {
				down.Store(false)
			}
			select {
			case r := <-ch:
				if r.err != nil || r.resp.Status != eas.PingServerError {
					t.Fatalf("Ping answered %+v %v, want Status 8", r.resp, r.err)
				}
			case <-time.After(20 * time.Second): // a bound against hanging, no speed target
				t.Fatal("no answer to the Ping")
			}
		})
	}
}

// TestElementLimit: a request body with more elements than Limits.Elements
// is refused whole with HTTP 413 before any command runs, so one request's
// decoded tree stays bounded; one within the limit is served.
func TestElementLimit(t *testing.T) {
	g, _, _ := observedFake(t, eas.Config{Limits: eas.Limits{Elements: 60}})
	inbox := g.id(t, "INBOX")
	id := g.mail.add("INBOX", "hello", time.Now())
	ctx := context.Background()
	// Each Fetch is four elements, the root one more.
	for _, tt := range []struct{ fetches, code int }{{14, http.StatusOK}, {15, http.StatusRequestEntityTooLarge}, {3000, http.StatusRequestEntityTooLarge}} {
		before := g.mail.calledN("Fetch")
		var resp eas.ItemOperationsResponse
		_, err := g.phone.Do(ctx, "ItemOperations", fetchRequest(t, inbox, id, tt.fetches), &resp)
		code := http.StatusOK
		var he *easclient.HTTPError
		if errors.As(err, &he) {
			code = he.Code
		} else if err != nil {
			t.Fatalf("%d fetches: %v", tt.fetches, err)
		}
		if code != tt.code {
			t.Errorf("%d fetches: HTTP %d, want %d", tt.fetches, code, tt.code)
		}
		if code != http.StatusOK && g.mail.calledN("Fetch") != before {
			t.Errorf("%d fetches: the refused request fetched mail", tt.fetches)
		}
	}
}
