package sieve_test

// Out of Office end to end: a phone sets it through the gateway, Dovecot
// delivers mail through LMTP and Pigeonhole answers, the replies arrive at
// the SMTP sink Dovecot submits to.

import (
	"cmp"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/sieve"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/eas/htmltext"
	"github.com/easgate/easgate/store"
	"github.com/easgate/easgate/wbxml"
)

const domain = "example.com"

// gateway is easgate with Oof on the env's Dovecot.
type gateway struct {
	*env
	url string
}

func startGateway(t *testing.T, sieveAddr string) *gateway {
	t.Helper()
	e := startEnv(t)
	if sieveAddr == "" {
		sieveAddr = e.dc.SieveAddr
	}
	ctx := context.Background()
	backend := bridge.New(bridge.Config{Addr: e.dc.IMAPAddr, Security: bridge.SecurityNone, Domain: domain})
	t.Cleanup(func() { backend.Close() })
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	oof := sieve.New(sieve.Config{Addr: sieveAddr, Security: bridge.SecurityNone, Domain: domain})
	srv := eas.NewServer(eas.Config{Oof: oof}, backend, st, nil)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &gateway{env: e, url: hs.URL}
}

func (g *gateway) phone(t *testing.T, user, pw string, v eas.Version) *easclient.Client {
	t.Helper()
	p := easclient.New(g.url, user, pw, "oof"+user, v)
	if _, err := p.Provision(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// settings posts a Settings document written as XML.
func settings(t *testing.T, p *easclient.Client, doc string) *eas.SettingsResponse {
	t.Helper()
	el, err := wbxml.ParseXML(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	var resp eas.SettingsResponse
	if _, err := p.Do(context.Background(), "Settings", el, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != eas.SettingsSuccess || resp.Oof == nil {
		t.Fatalf("Settings: %+v", resp)
	}
	return &resp
}

func oofGet(t *testing.T, p *easclient.Client) *eas.OofSet {
	t.Helper()
	return oofGetAs(t, p, "TEXT")
}

// oofGetAs gets the settings with the messages in bodyType.
func oofGetAs(t *testing.T, p *easclient.Client, bodyType string) *eas.OofSet {
	t.Helper()
	r := settings(t, p, `<Settings xmlns="Settings"><Oof><Get><BodyType>`+bodyType+`</BodyType></Get></Oof></Settings>`)
	if r.Oof.Status != eas.SettingsSuccess || r.Oof.Get == nil || r.Oof.Get.OofState == nil {
		t.Fatalf("Oof Get: %+v", r.Oof)
	}
	return r.Oof.Get
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// msg is one OofMessage of a request form.
func msg(appliesTo string, enabled bool, text, bodyType string) string {
	on := "0"
	if enabled {
		on = "1"
	}
	out := fmt.Sprintf("<OofMessage><%s/><Enabled>%s</Enabled>", appliesTo, on)
	if text != "" {
		out += "<ReplyMessage>" + esc(text) + "</ReplyMessage><BodyType>" + bodyType + "</BodyType>"
	}
	return out + "</OofMessage>"
}

func oofSet(state int, window string, msgs ...string) string {
	return fmt.Sprintf(`<Settings xmlns="Settings"><Oof><Set><OofState>%d</OofState>%s%s</Set></Oof></Settings>`,
		state, window, strings.Join(msgs, ""))
}

func window(start, end time.Time) string {
	return "<StartTime>" + start.UTC().Format(wbxml.DateTimeFormat) + "</StartTime><EndTime>" +
		end.UTC().Format(wbxml.DateTimeFormat) + "</EndTime>"
}

// The texts carry what a Sieve string or the settings comment could break.
const (
	internalText = "Back on Monday.\nAsk \"Björn\" in C:\\Support,\nor dial ${phone}. – Anna"
	externalText = "Vielen Dank für Ihre Nachricht.\nIch bin bis 3. Januar nicht im Büro.\n\n\\o/ \"Anna\""
)

// htmlText is HTML as phones write it: on one line, longer than a mail
// line may be, with letters beyond ASCII.
var htmlText = "<p>Back <b>Monday</b> &amp; reachable via \"Björn\".</p><ul>" +
	strings.Repeat("<li>Für Rückfragen zum Projekt wenden Sie sich bitte an das Team.</li>", 20) + "</ul>"

// form is how phones of one protocol version set Oof on and off.
type form struct {
	version eas.Version
	// on sets Oof for now (OofState 1 or a window around now).
	on string
	// scheduledLater sets a window that has not begun; "" skips that check.
	scheduledLater string
	off            string
	// getType is the BodyType of the phone's Get ("" for TEXT).
	getType string
	// want is what Get returns while on.
	wantState                          int
	wantInternal, wantExternal         string
	wantInternalHTML, wantExternalHTML bool
	// replyInternal is the reply internal senders get.
	replyInternal     string
	replyInternalHTML bool
}

func forms(now time.Time) []form {
	return []form{
		{
			// AOSP-derived clients at 12.1: global Oof, TEXT, off without
			// texts.
			version: eas.V121,
			on: oofSet(1, "",
				msg("AppliesToInternal", true, internalText, "TEXT"),
				msg("AppliesToExternalKnown", true, externalText, "TEXT"),
				msg("AppliesToExternalUnknown", true, externalText, "TEXT")),
			off:       oofSet(0, ""),
			wantState: 1, wantInternal: internalText, wantExternal: externalText, replyInternal: internalText,
		},
		{
			// iOS at 14.1: a time window, "Text", off with the texts.
			version:        eas.V141,
			scheduledLater: oofSet(2, window(now.Add(24*time.Hour), now.Add(48*time.Hour)), msg("AppliesToInternal", true, internalText, "Text"), msg("AppliesToExternalUnknown", true, externalText, "Text")),
			on: oofSet(2, window(now.Add(-time.Hour), now.Add(24*time.Hour)),
				msg("AppliesToInternal", true, internalText, "Text"),
				msg("AppliesToExternalKnown", true, externalText, "Text"),
				msg("AppliesToExternalUnknown", true, externalText, "Text")),
			off: oofSet(0, "",
				msg("AppliesToInternal", true, internalText, "Text"),
				msg("AppliesToExternalKnown", true, externalText, "Text"),
				msg("AppliesToExternalUnknown", true, externalText, "Text")),
			wantState: 2, wantInternal: internalText, wantExternal: externalText, replyInternal: internalText,
		},
		{
			// 16.1: HTML for colleagues, text outside; off with every
			// message disabled.
			version: eas.V161,
			on: oofSet(1, "",
				msg("AppliesToInternal", true, htmlText, "HTML"),
				msg("AppliesToExternalKnown", false, "", ""),
				msg("AppliesToExternalUnknown", true, externalText, "TEXT")),
			off: oofSet(0, "",
				msg("AppliesToInternal", false, htmlText, "HTML"),
				msg("AppliesToExternalKnown", false, "", ""),
				msg("AppliesToExternalUnknown", false, externalText, "TEXT")),
			// It gets the messages as HTML, the text one made HTML.
			getType:   "HTML",
			wantState: 1, wantInternal: htmlText, wantInternalHTML: true,
			wantExternal: htmltext.FromText(externalText), wantExternalHTML: true,
			replyInternal: htmlText, replyInternalHTML: true,
		},
	}
}

// priorScript is the user's own rules, with bytes a rewrite would change.
const priorScript = "# Anna's rules – \"keep\" them\r\nrequire [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"urgent\" {\n  fileinto :create \"Urgent\";\n}\n\t"

func TestOofPhones(t *testing.T) {
	now := time.Now()
	g := startGateway(t, "")
	for i, f := range forms(now) {
		t.Run(f.version.String(), func(t *testing.T) {
			user := fmt.Sprintf("anna%d", i)
			g.dc.AddUser(t, user, "pw")
			addr := user + "@" + domain
			// The second form's user has no Sieve script at all.
			hadPrior := i != 1
			if hadPrior {
				c := g.dial(t, user, "pw")
				ctx := context.Background()
				if err := c.PutScript(ctx, "mine", priorScript); err != nil {
					t.Fatal(err)
				}
				if err := c.SetActive(ctx, "mine"); err != nil {
					t.Fatal(err)
				}
				c.Logout(ctx)
			}
			p := g.phone(t, user, "pw", f.version)
			sent := len(g.sink.Messages())

			if f.scheduledLater != "" {
				if r := settings(t, p, f.scheduledLater); r.Oof.Status != eas.SettingsSuccess {
					t.Fatalf("scheduled Set: %+v", r.Oof)
				}
				g.deliver(t, "erin@other.org", addr, "Before the window")
				if n := len(g.sink.Messages()); n != sent {
					t.Fatalf("a reply before the window began: %d messages", n-sent)
				}
			}

			if r := settings(t, p, f.on); r.Oof.Status != eas.SettingsSuccess {
				t.Fatalf("Set on: %+v", r.Oof)
			}
			got := oofGetAs(t, p, cmp.Or(f.getType, "TEXT"))
			checkGet(t, got, f)
			if f.wantInternalHTML {
				// Asked for text, the HTML message comes as text.
				got := oofGet(t, p)
				if in := got.OofMessage[0]; in.ReplyMessage != htmltext.ToText(f.wantInternal) || in.BodyType != "TEXT" {
					t.Errorf("internal as text %+v", in)
				}
			}
			if f.wantState == 2 {
				start, _ := wbxml.ParseDateTime(got.StartTime)
				if !start.Equal(now.Add(-time.Hour).Truncate(time.Millisecond)) {
					t.Errorf("StartTime %s", got.StartTime)
				}
			}

			// External sender, twice: one reply per :days.
			g.deliver(t, "bob@other.org", addr, "urgent: the report")
			g.deliver(t, "bob@other.org", addr, "urgent: the report, again")
			replies := g.sink.Messages()[sent:]
			if len(replies) != 1 {
				t.Fatalf("external: %d replies, want 1\n%s", len(replies), g.dc.Log())
			}
			checkReply(t, replies[0], "bob@other.org", addr, "Automatic reply: urgent: the report", externalText, false)

			// Internal sender.
			g.deliver(t, "carol@"+domain, addr, "Lunch?")
			replies = g.sink.Messages()[sent:]
			if len(replies) != 2 {
				t.Fatalf("internal: %d replies, want 2", len(replies))
			}
			checkReply(t, replies[1], "carol@"+domain, addr, "Automatic reply: Lunch?", f.replyInternal, f.replyInternalHTML)

			if hadPrior {
				// The user's own rule kept working under the wrapper.
				if n := g.messages(t, user, "Urgent"); n != 2 {
					t.Errorf("Urgent holds %d messages, want 2: the user's rules did not run", n)
				}
			}

			if r := settings(t, p, f.off); r.Oof.Status != eas.SettingsSuccess {
				t.Fatalf("Set off: %+v", r.Oof)
			}
			got = oofGetAs(t, p, cmp.Or(f.getType, "TEXT"))
			if *got.OofState != 0 || got.StartTime != "" {
				t.Errorf("after off: OofState %d, start %q", *got.OofState, got.StartTime)
			}
			// The texts stay for next time, whether the phone sent them with
			// OofState 0 or not.
			if len(got.OofMessage) != 3 || got.OofMessage[0].ReplyMessage != f.wantInternal ||
				got.OofMessage[2].ReplyMessage != f.wantExternal {
				t.Errorf("after off: messages %+v", got.OofMessage)
			}
			g.deliver(t, "dave@other.org", addr, "Anyone there?")
			if n := len(g.sink.Messages()) - sent; n != 2 {
				t.Errorf("after off: %d replies, want still 2", n)
			}
			g.checkRestored(t, user, hadPrior)
		})
	}
}

func checkGet(t *testing.T, got *eas.OofSet, f form) {
	t.Helper()
	if *got.OofState != f.wantState {
		t.Errorf("OofState %d, want %d", *got.OofState, f.wantState)
	}
	if f.wantState == 2 && (got.StartTime == "" || got.EndTime == "") {
		t.Errorf("time-based without window: %+v", got)
	}
	byAudience := map[string]eas.OofMessage{}
	for _, m := range got.OofMessage {
		switch {
		case m.AppliesToInternal:
			byAudience["internal"] = m
		case m.AppliesToExternalKnown:
			byAudience["known"] = m
		case m.AppliesToExternalUnknown:
			byAudience["unknown"] = m
		}
	}
	in, out := byAudience["internal"], byAudience["unknown"]
	if in.Enabled != "1" || in.ReplyMessage != f.wantInternal {
		t.Errorf("internal %+v, want %q", in, f.wantInternal)
	}
	if want := map[bool]string{true: "HTML", false: "TEXT"}[f.wantInternalHTML]; in.BodyType != want {
		t.Errorf("internal BodyType %q, want %s", in.BodyType, want)
	}
	if want := map[bool]string{true: "HTML", false: "TEXT"}[f.wantExternalHTML]; out.Enabled != "1" || out.ReplyMessage != f.wantExternal || out.BodyType != want {
		t.Errorf("external %+v, want %q", out, f.wantExternal)
	}
}

func (g *gateway) deliver(t *testing.T, from, to, subject string) {
	t.Helper()
	raw := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d.%s>\r\n\r\nHello.\r\n",
		from, to, subject, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), from)
	g.dc.Deliver(t, from, to, []byte(raw))
}

// checkReply checks one automatic reply as the sink received it.
func checkReply(t *testing.T, m smtptest.Message, to, from, subject, text string, html bool) {
	t.Helper()
	if !slices.Equal(m.To, []string{to}) || m.From != "" {
		t.Errorf("reply envelope from %q to %v, want <> to %s", m.From, m.To, to)
	}
	ent, err := message.Read(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("reply: %v\n%s", err, m.Data)
	}
	h := mail.Header{Header: ent.Header}
	if subj, _ := h.Subject(); subj != subject {
		t.Errorf("reply subject %q, want %q", subj, subject)
	}
	if fa, _ := h.AddressList("From"); len(fa) != 1 || fa[0].Address != from {
		t.Errorf("reply From %v, want %s", fa, from)
	}
	if h.Get("Auto-Submitted") == "" {
		t.Errorf("reply without Auto-Submitted")
	}
	if html {
		checkHTMLReply(t, m.Data, ent, text)
		return
	}
	ct, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if ct != "text/plain" {
		t.Errorf("reply Content-Type %q, want text/plain", ct)
	}
	body, err := io.ReadAll(ent.Body)
	if err != nil {
		t.Fatalf("reply body: %v", err)
	}
	got := strings.TrimRight(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
	if got != text {
		t.Errorf("reply text %q, want %q", got, text)
	}
}

// checkHTMLReply checks the reply of an HTML message: 7-bit with lines a
// mail may have, the HTML and its text as alternatives.
func checkHTMLReply(t *testing.T, raw []byte, ent *message.Entity, html string) {
	t.Helper()
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 || strings.IndexFunc(line, func(r rune) bool { return r >= 0x80 }) >= 0 {
			t.Errorf("reply line %d: %d bytes, not 7-bit or too long: %.80q", i+1, len(line), line)
		}
	}
	mr := ent.MultipartReader()
	if mr == nil {
		t.Fatalf("reply is %q, want multipart/alternative", ent.Header.Get("Content-Type"))
	}
	if ct, _, _ := ent.Header.ContentType(); ct != "multipart/alternative" {
		t.Errorf("reply Content-Type %q, want multipart/alternative", ct)
	}
	want := []struct{ typ, body string }{{"text/plain", htmltext.ToText(html)}, {"text/html", html}}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			if i != len(want) {
				t.Errorf("reply has %d parts, want %d", i, len(want))
			}
			return
		}
		if err != nil || i >= len(want) {
			t.Fatalf("reply part %d: %v", i, err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("reply part %d: %v", i, err)
		}
		ct, _, _ := p.Header.ContentType()
		if got := strings.TrimRight(string(body), "\r\n"); ct != want[i].typ || got != want[i].body {
			t.Errorf("reply part %d: %s %q, want %s %q", i, ct, got, want[i].typ, want[i].body)
		}
	}
}

// messages counts the messages in a user's mailbox, 0 when it does not exist.
func (g *gateway) messages(t *testing.T, user, mailbox string) int {
	t.Helper()
	c, err := imapclient.DialInsecure(g.dc.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0
	}
	return int(*st.NumMessages)
}

// checkRestored checks that Oof off left the user's scripts as they were.
func (g *gateway) checkRestored(t *testing.T, user string, hadPrior bool) {
	t.Helper()
	ctx := context.Background()
	c := g.dial(t, user, "pw")
	defer c.Logout(ctx)
	list, err := c.ListScripts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var active []string
	for _, s := range list {
		if s.Name == sieve.WrapperScript {
			t.Errorf("wrapper script left after off: %v", list)
		}
		if s.Active {
			active = append(active, s.Name)
		}
	}
	if !hadPrior {
		if len(active) != 0 {
			t.Errorf("active %v, want none as before", active)
		}
		return
	}
	if !slices.Equal(active, []string{"mine"}) {
		t.Fatalf("active %v, want [mine]", active)
	}
	content, err := c.GetScript(ctx, "mine")
	if err != nil || content != priorScript {
		t.Errorf("user's script now %q, %v; want %q", content, err, priorScript)
	}
}

// TestOofUpstreamDown: a ManageSieve server that cannot be reached gives
// "server unavailable", which phones retry, for Get and Set alike.
func TestOofUpstreamDown(t *testing.T) {
	g := startGateway(t, "127.0.0.1:1")
	g.dc.AddUser(t, "anna", "pw")
	p := g.phone(t, "anna", "pw", eas.V161)
	for _, doc := range []string{
		`<Settings xmlns="Settings"><Oof><Get><BodyType>TEXT</BodyType></Get></Oof></Settings>`,
		oofSet(1, "", msg("AppliesToInternal", true, "away", "TEXT")),
	} {
		if r := settings(t, p, doc); r.Oof.Status != eas.SettingsServerUnavailable || r.Oof.Get != nil {
			t.Errorf("%s: %+v", doc, r.Oof)
		}
	}
}

// TestOofBadSet: settings that cannot be kept are refused with "invalid
// arguments" and change nothing.
func TestOofBadSet(t *testing.T) {
	g := startGateway(t, "")
	g.dc.AddUser(t, "anna", "pw")
	p := g.phone(t, "anna", "pw", eas.V141)
	now := time.Now()
	for _, doc := range []string{
		oofSet(2, window(now, now.Add(-time.Hour)), msg("AppliesToInternal", true, "away", "TEXT")),
		oofSet(2, "", msg("AppliesToInternal", true, "away", "TEXT")),
		oofSet(7, ""),
		`<Settings xmlns="Settings"><Oof><Set><OofMessage><Enabled>1</Enabled></OofMessage></Set></Oof></Settings>`,
	} {
		if r := settings(t, p, doc); r.Oof.Status != eas.SettingsInvalidArguments {
			t.Errorf("%s: %+v", doc, r.Oof)
		}
	}
	if got := oofGet(t, p); *got.OofState != 0 || got.OofMessage[0].ReplyMessage != "" {
		t.Errorf("after refused sets: %+v", got)
	}
}

// TestOofActivatedElsewhere: a user who activates another script while away
// (in webmail) has turned the reply off; Get says so and turning Oof off
// leaves that script active.
func TestOofActivatedElsewhere(t *testing.T) {
	g := startGateway(t, "")
	g.dc.AddUser(t, "anna", "pw")
	p := g.phone(t, "anna", "pw", eas.V161)
	if r := settings(t, p, oofSet(1, "", msg("AppliesToExternalUnknown", true, "away", "TEXT"))); r.Oof.Status != 1 {
		t.Fatalf("Set: %+v", r.Oof)
	}
	ctx := context.Background()
	c := g.dial(t, "anna", "pw")
	if err := c.PutScript(ctx, "webmail", priorScript); err != nil {
		t.Fatal(err)
	}
	if err := c.SetActive(ctx, "webmail"); err != nil {
		t.Fatal(err)
	}
	c.Logout(ctx)
	got := oofGet(t, p)
	if *got.OofState != 0 || got.OofMessage[2].ReplyMessage != "away" {
		t.Errorf("Get: %+v", got)
	}
	if r := settings(t, p, oofSet(0, "")); r.Oof.Status != 1 {
		t.Fatalf("Set off: %+v", r.Oof)
	}
	c = g.dial(t, "anna", "pw")
	defer c.Logout(ctx)
	list, err := c.ListScripts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == sieve.WrapperScript || s.Active != (s.Name == "webmail") {
			t.Errorf("scripts after off: %v", list)
		}
	}
}

// TestOofWrapperEdited: a wrapper edited by hand no longer says what it
// replaced; turning Oof off still works and stops the replies.
func TestOofWrapperEdited(t *testing.T) {
	g := startGateway(t, "")
	g.dc.AddUser(t, "anna", "pw")
	p := g.phone(t, "anna", "pw", eas.V141)
	if r := settings(t, p, oofSet(1, "", msg("AppliesToExternalUnknown", true, "away", "TEXT"))); r.Oof.Status != 1 {
		t.Fatalf("Set: %+v", r.Oof)
	}
	ctx := context.Background()
	c := g.dial(t, "anna", "pw")
	edited := "require \"include\";\r\ninclude :personal \"" + sieve.OofScript + "\";\r\n"
	if err := c.PutScript(ctx, sieve.WrapperScript, edited); err != nil {
		t.Fatal(err)
	}
	c.Logout(ctx)
	if r := settings(t, p, oofSet(0, "")); r.Oof.Status != 1 {
		t.Fatalf("Set off: %+v", r.Oof)
	}
	if got := oofGet(t, p); *got.OofState != 0 {
		t.Errorf("Get after off: %+v", got)
	}
	g.deliver(t, "bob@other.org", "anna@"+domain, "hello")
	if n := len(g.sink.Messages()); n != 0 {
		t.Errorf("%d replies after off", n)
	}
}
