package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message"
	"github.com/emersion/go-smtp"

	"github.com/easgate/easgate/bridge/upstream/smtptest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// sendEnv is a phone of a Dovecot user behind the gateway, with an SMTP
// sink as the upstream's submission server.
type sendEnv struct {
	g     *testGateway
	sink  *smtptest.Server
	user  string
	pw    string
	phone *easclient.Client
	// inbox, sent and drafts are collection ids.
	inbox, sent, drafts string
}

var sendDevice atomic.Int64

func newSendEnv(t *testing.T, v eas.Version, opt gatewayOptions) *sendEnv {
	t.Helper()
	sink := smtptest.New(t, smtptest.Options{})
	opt.SMTPAddr = sink.Addr
	g := startGateway(t, opt)
	user, pw := g.newUser(t)
	sink.AddUser(user, pw)
	e := &sendEnv{g: g, sink: sink, user: user, pw: pw}
	e.phone = g.provisioned(t, user, pw, fmt.Sprintf("send%d", sendDevice.Add(1)), v)
	fs, err := e.phone.FolderSync(context.Background(), "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %+v %v", fs, err)
	}
	for _, f := range fs.Changes.Add {
		switch f.Type {
		case int(eas.FolderInbox):
			e.inbox = f.ServerID
		case int(eas.FolderSent):
			e.sent = f.ServerID
		case int(eas.FolderDrafts):
			e.drafts = f.ServerID
		}
	}
	if e.inbox == "" || e.sent == "" {
		t.Fatalf("no Inbox or Sent in %+v", fs.Changes.Add)
	}
	return e
}

// clientIDs are unique per test binary run, as a phone's are per device.
var clientSeq atomic.Int64

func newClientID() string { return fmt.Sprintf("msg-%d", clientSeq.Add(1)) }

// phoneMessage is a plain message as a phone writes it (no Date, no
// Message-ID; the gateway adds them).
func phoneMessage(from, to, cc, bcc, subject, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\n", from)
	if to != "" {
		fmt.Fprintf(&b, "To: %s\r\n", to)
	}
	if cc != "" {
		fmt.Fprintf(&b, "Cc: %s\r\n", cc)
	}
	if bcc != "" {
		fmt.Fprintf(&b, "Bcc: %s\r\n", bcc)
	}
	fmt.Fprintf(&b, "Subject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", subject, body)
	return []byte(b.String())
}

// storedMessage is a message as an independent IMAP client sees it.
type storedMessage struct {
	uid   imap.UID
	flags []imap.Flag
	raw   []byte
}

// stored lists a mailbox over a connection of its own.
func (e *sendEnv) stored(t *testing.T, mailbox string) []storedMessage {
	t.Helper()
	c := e.g.Dovecot.Dial(t, e.user, e.pw)
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("select %s: %v", mailbox, err)
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("fetch %s: %v", mailbox, err)
	}
	var out []storedMessage
	for _, m := range msgs {
		out = append(out, storedMessage{uid: m.UID, flags: m.Flags, raw: m.FindBodySection(section)})
	}
	return out
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	return slices.ContainsFunc(flags, func(g imap.Flag) bool { return strings.EqualFold(string(g), string(f)) })
}

// original files raw in INBOX and returns its ServerId and a LongId for it
// the way a phone learns them: from a Sync, and from a Search.
func (e *sendEnv) original(t *testing.T, raw []byte, subject string) (serverID, longID string) {
	t.Helper()
	e.g.Dovecot.Append(t, e.user, e.pw, "INBOX", raw, imap.FlagSeen)
	ctx := context.Background()
	res, err := e.phone.SyncAll(ctx, e.inbox, "0", 100, nil)
	if err != nil {
		t.Fatalf("sync inbox: %v", err)
	}
	for _, it := range res.Commands.Add {
		if it.ApplicationData != nil && it.ApplicationData.Subject == subject {
			serverID = it.ServerID
		}
	}
	if serverID == "" {
		t.Fatalf("%q not in the inbox", subject)
	}
	resp, err := e.phone.Search(ctx, &eas.SearchRequest{Store: eas.SearchStore{Name: "Mailbox",
		Query: eas.MailboxQuery{Class: "Email", CollectionIDs: []string{e.inbox}, FreeText: subject}.Element()}})
	if err != nil || resp.Status != 1 || resp.Store == nil || len(resp.Store.Result) != 1 {
		t.Fatalf("search %q: %+v %v", subject, resp, err)
	}
	return serverID, resp.Store.Result[0].LongID
}

// header reads one header field of a received message.
func header(t *testing.T, raw []byte, key string) string {
	t.Helper()
	m, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatalf("read message: %v", err)
	}
	return m.Header.Get(key)
}

// hasHeader tells whether a header field is present at all.
func hasHeader(t *testing.T, raw []byte, key string) bool {
	t.Helper()
	m, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatalf("read message: %v", err)
	}
	return m.Header.Has(key)
}

// leafPart is one decoded leaf of a MIME tree.
type leafPart struct {
	mediaType string
	filename  string
	contentID string
	body      []byte
}

// leaves decodes every leaf part (transfer encoding removed, text left in
// its charset).
func leaves(t *testing.T, raw []byte) []leafPart {
	t.Helper()
	m, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatalf("read message: %v", err)
	}
	var out []leafPart
	err = m.Walk(func(path []int, e *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) {
			return err
		}
		mt, _, _ := e.Header.ContentType()
		if strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		_, dp, _ := e.Header.ContentDisposition()
		body, err := io.ReadAll(e.Body)
		if err != nil {
			return err
		}
		out = append(out, leafPart{mediaType: mt, filename: dp["filename"],
			contentID: strings.Trim(e.Header.Get("Content-Id"), "<> "), body: body})
		return nil
	})
	if err != nil {
		t.Fatalf("walk message: %v", err)
	}
	return out
}

// text returns the decoded text parts of a message by media type, joined.
func textParts(t *testing.T, raw []byte) (plain, html string) {
	t.Helper()
	for _, p := range leaves(t, raw) {
		if p.filename != "" {
			continue
		}
		switch p.mediaType {
		case "text/plain":
			plain += string(p.body)
		case "text/html":
			html += string(p.body)
		}
	}
	return plain, html
}

// send sends one message in the form of the phone's version: WBXML from
// 14.0 on, message/rfc822 before.
func (e *sendEnv) send(ctx context.Context, clientID string, mime []byte, saveInSent bool) error {
	if !e.phone.Version.AtLeast(eas.V140) {
		return e.phone.SendMIME(ctx, "SendMail", mime, easclient.Params{SaveInSent: saveInSent})
	}
	return e.phone.SendMail(ctx, &eas.SendMailRequest{ClientID: clientID, SaveInSentItems: saveInSent, MIME: mime})
}

func TestSendMail(t *testing.T) {
	tests := []struct {
		name       string
		v          eas.Version
		base64     bool
		saveInSent bool
		noSentCopy bool
		wantCopy   bool
	}{
		{name: "14.1 with a copy in Sent", v: eas.V141, saveInSent: true, wantCopy: true},
		{name: "16.1 without SaveInSentItems", v: eas.V161},
		{name: "14.0 base64 query", v: eas.V140, base64: true, saveInSent: true, wantCopy: true},
		{name: "12.1 message/rfc822 with SaveInSent=T", v: eas.V121, saveInSent: true, wantCopy: true},
		{name: "12.1 message/rfc822 without SaveInSent", v: eas.V121},
		{name: "upstream files sent mail itself", v: eas.V141, saveInSent: true, noSentCopy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSendEnv(t, tt.v, gatewayOptions{NoSentCopy: tt.noSentCopy})
			e.phone.Base64Query = tt.base64
			ctx := context.Background()
			subject := "Plans for " + tt.name
			raw := phoneMessage(`"Me" <`+e.user+`>`, "Anna <anna@Example.COM>", "bob@example.net",
				"Secret Sam <sam@example.org>", subject, "Let us meet on Friday.\r\nSee you!")
			if err := e.send(ctx, newClientID(), raw, tt.saveInSent); err != nil {
				t.Fatalf("send: %v", err)
			}

			got := e.sink.Messages()
			if len(got) != 1 {
				t.Fatalf("SMTP server got %d messages, want 1", len(got))
			}
			m := got[0]
			if m.User != e.user || m.From != e.user {
				t.Errorf("AUTH as %q, MAIL FROM %q; want both %q", m.User, m.From, e.user)
			}
			rcpts := slices.Clone(m.To)
			slices.Sort(rcpts)
			if want := []string{"anna@example.com", "bob@example.net", "sam@example.org"}; !slices.Equal(rcpts, want) {
				t.Errorf("RCPT TO %v, want %v", rcpts, want)
			}
			if hasHeader(t, m.Data, "Bcc") || bytes.Contains(m.Data, []byte("sam@example.org")) {
				t.Errorf("the sent message shows the Bcc recipient:\n%s", m.Data)
			}
			if got := header(t, m.Data, "Subject"); got != subject {
				t.Errorf("Subject %q, want %q", got, subject)
			}
			if header(t, m.Data, "Message-Id") == "" || header(t, m.Data, "Date") == "" {
				t.Errorf("no Message-ID or Date added:\n%s", m.Data)
			}
			if plain, _ := textParts(t, m.Data); !strings.Contains(plain, "Let us meet on Friday.") {
				t.Errorf("body %q lacks the text", plain)
			}

			copies := e.stored(t, "Sent")
			if !tt.wantCopy {
				if len(copies) != 0 {
					t.Fatalf("%d messages in Sent, want none", len(copies))
				}
				return
			}
			if len(copies) != 1 {
				t.Fatalf("%d messages in Sent, want 1", len(copies))
			}
			c := copies[0]
			if !hasFlag(c.flags, imap.FlagSeen) {
				t.Errorf("Sent copy flags %v lack \\Seen", c.flags)
			}
			if hasHeader(t, c.raw, "Bcc") || bytes.Contains(c.raw, []byte("sam@example.org")) {
				t.Errorf("Sent copy shows the Bcc recipient:\n%s", c.raw)
			}
			if !bytes.Equal(c.raw, m.Data) {
				t.Errorf("Sent copy differs from the message sent:\n%s\n---\n%s", c.raw, m.Data)
			}
		})
	}
}

// forwardOriginal is a message with a binary attachment, a text attachment
// with a non-ASCII name and an inline image the HTML shows.
type forwardOriginal struct {
	raw     []byte
	subject string
	// parts maps each attachment's name (or Content-ID) to its bytes.
	parts map[string][]byte
}

func newForwardOriginal(t *testing.T, to, subject string) forwardOriginal {
	t.Helper()
	bin := make([]byte, 6000)
	if _, err := rand.Read(bin); err != nil {
		t.Fatal(err)
	}
	img := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 700)...)
	if _, err := rand.Read(img[8:]); err != nil {
		t.Fatal(err)
	}
	text := []byte("Grüße aus Köln,\r\nvoilà le résumé.\r\n")
	const nonASCII = "Grüße résumé.txt"
	wrap := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		out.WriteString(s + "\r\n")
		return out.String()
	}
	// RFC 2231 form: charset, empty language, percent-encoded bytes.
	encName := "utf-8''"
	for _, c := range []byte(nonASCII) {
		if c < 0x80 && c != ' ' && c != '%' && c != '\'' {
			encName += string(c)
		} else {
			encName += fmt.Sprintf("%%%02X", c)
		}
	}
	raw := "From: Carol <carol@example.org>\r\n" +
		"To: " + to + "\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Tue, 3 Mar 2026 09:30:00 +0100\r\n" +
		"Message-ID: <fwd-" + fmt.Sprint(clientSeq.Add(1)) + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
		"--outer\r\n" +
		"Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n" +
		"--rel\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n" +
		"<html><body><p>The figures are attached.</p><img src=\"cid:logo@example.org\"></body></html>\r\n" +
		"--rel\r\n" +
		"Content-Type: image/png\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"Content-ID: <logo@example.org>\r\n" +
		"Content-Disposition: inline; filename=\"logo.png\"\r\n\r\n" +
		wrap(img) +
		"--rel--\r\n" +
		"--outer\r\n" +
		"Content-Type: application/octet-stream; name=\"figures.bin\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"figures.bin\"\r\n\r\n" +
		wrap(bin) +
		"--outer\r\n" +
		"Content-Type: text/plain; charset=utf-8; name*=" + encName + "\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename*=" + encName + "\r\n\r\n" +
		wrap(text) +
		"--outer--\r\n"
	return forwardOriginal{raw: []byte(raw), subject: subject,
		parts: map[string][]byte{"figures.bin": bin, nonASCII: text, "logo@example.org": img}}
}

func TestSmartForwardAttachments(t *testing.T) {
	tests := []struct {
		name string
		v    eas.Version
		// how the phone names the original
		by         string
		forwardees []eas.Forwardee
	}{
		{name: "14.1 by FolderId and ItemId", v: eas.V141, by: "item"},
		{name: "16.1 by LongId with a Forwardee", v: eas.V161, by: "long",
			forwardees: []eas.Forwardee{{Name: "Dave", Email: "dave@example.net"}}},
		{name: "12.1 message/rfc822 with ItemId and CollectionId", v: eas.V121, by: "item"},
		{name: "12.1 message/rfc822 with LongId", v: eas.V121, by: "long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSendEnv(t, tt.v, gatewayOptions{})
			ctx := context.Background()
			orig := newForwardOriginal(t, e.user, "Quarterly figures")
			itemID, longID := e.original(t, orig.raw, orig.subject)
			fwd := phoneMessage(e.user, "erin@example.net", "", "", "Fwd: "+orig.subject, "See below.")

			var err error
			if tt.v.AtLeast(eas.V140) {
				req := &eas.SmartForwardRequest{ClientID: newClientID(), SaveInSentItems: true, MIME: fwd,
					Source: &eas.ComposeSource{FolderID: e.inbox, ItemID: itemID}}
				if tt.by == "long" {
					req.Source = &eas.ComposeSource{LongID: longID}
				}
				if tt.forwardees != nil {
					req.Forwardees = &eas.Forwardees{Forwardee: tt.forwardees}
				}
				err = e.phone.SmartForward(ctx, req)
			} else {
				p := easclient.Params{SaveInSent: true, ItemID: itemID, CollectionID: e.inbox}
				if tt.by == "long" {
					p = easclient.Params{SaveInSent: true, LongID: longID}
				}
				err = e.phone.SendMIME(ctx, "SmartForward", fwd, p)
			}
			if err != nil {
				t.Fatalf("SmartForward: %v", err)
			}

			got := e.sink.Messages()
			if len(got) != 1 {
				t.Fatalf("SMTP server got %d messages, want 1", len(got))
			}
			m := got[0]
			want := []string{"erin@example.net"}
			for _, f := range tt.forwardees {
				want = append(want, f.Email)
			}
			if !slices.Equal(m.To, want) {
				t.Errorf("RCPT TO %v, want %v", m.To, want)
			}
			found := map[string][32]byte{}
			for _, p := range leaves(t, m.Data) {
				key := p.filename
				if p.contentID != "" {
					key = p.contentID
				}
				if _, ok := orig.parts[key]; ok {
					found[key] = sha256.Sum256(p.body)
				}
			}
			for name, data := range orig.parts {
				h, ok := found[name]
				switch {
				case !ok:
					t.Errorf("attachment %q missing from the forward:\n%s", name, m.Data)
				case h != sha256.Sum256(data):
					t.Errorf("attachment %q changed on the way", name)
				}
			}
			plain, html := textParts(t, m.Data)
			if !strings.Contains(plain, "See below.") || !strings.Contains(plain, "The figures are attached.") {
				t.Errorf("plain text lacks the phone's text or the original's:\n%s", plain)
			}
			if !strings.Contains(html, "cid:logo@example.org") {
				t.Errorf("HTML does not show the inline image:\n%s", html)
			}

			in := e.stored(t, "INBOX")
			if len(in) != 1 || !hasFlag(in[0].flags, imap.FlagForwarded) {
				t.Errorf("original after forwarding: %+v, want $Forwarded", in)
			}
			if n := len(e.stored(t, "Sent")); n != 1 {
				t.Errorf("%d messages in Sent, want 1", n)
			}
		})
	}
}

func TestSmartReply(t *testing.T) {
	plainOriginal := func(to, msgID string) []byte {
		return []byte("From: Carol <carol@example.org>\r\nTo: " + to + "\r\nSubject: Meeting\r\n" +
			"Date: Tue, 3 Mar 2026 09:30:00 +0100\r\nMessage-ID: <" + msgID + ">\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n\r\nCan we meet on Tuesday?\r\nBest, Carol\r\n")
	}
	htmlOriginal := func(to, msgID string) []byte {
		return []byte("From: Carol <carol@example.org>\r\nTo: " + to + "\r\nSubject: Meeting\r\n" +
			"Date: Tue, 3 Mar 2026 09:30:00 +0100\r\nMessage-ID: <" + msgID + ">\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Lunch at <b>noon</b> on Tuesday?</p></body></html>\r\n")
	}
	tests := []struct {
		name     string
		v        eas.Version
		original func(to, msgID string) []byte
		// wantPlain and wantHTML must appear in the reply's text parts.
		wantPlain string
		wantHTML  string
	}{
		{name: "plain original", v: eas.V141, original: plainOriginal, wantPlain: "> Can we meet on Tuesday?"},
		{name: "HTML original", v: eas.V161, original: htmlOriginal, wantPlain: "> Lunch at", wantHTML: "<b>noon</b>"},
		{name: "12.1 plain original", v: eas.V121, original: plainOriginal, wantPlain: "> Can we meet on Tuesday?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSendEnv(t, tt.v, gatewayOptions{})
			ctx := context.Background()
			msgID := fmt.Sprintf("orig-%d@example.org", clientSeq.Add(1))
			itemID, _ := e.original(t, tt.original(e.user, msgID), "Meeting")
			reply := phoneMessage(e.user, "carol@example.org", "", "", "Re: Meeting", "Tuesday works for me.")
			var err error
			if tt.v.AtLeast(eas.V140) {
				err = e.phone.SmartReply(ctx, &eas.SmartReplyRequest{ClientID: newClientID(), MIME: reply,
					Source: &eas.ComposeSource{FolderID: e.inbox, ItemID: itemID}})
			} else {
				err = e.phone.SendMIME(ctx, "SmartReply", reply, easclient.Params{ItemID: itemID, CollectionID: e.inbox})
			}
			if err != nil {
				t.Fatalf("SmartReply: %v", err)
			}
			got := e.sink.Messages()
			if len(got) != 1 {
				t.Fatalf("SMTP server got %d messages, want 1", len(got))
			}
			m := got[0]
			if !slices.Equal(m.To, []string{"carol@example.org"}) {
				t.Errorf("RCPT TO %v", m.To)
			}
			plain, html := textParts(t, m.Data)
			if !strings.Contains(plain, "Tuesday works for me.") || !strings.Contains(plain, tt.wantPlain) {
				t.Errorf("plain text lacks the reply or the quote %q:\n%s", tt.wantPlain, plain)
			}
			if tt.wantHTML != "" && (!strings.Contains(html, tt.wantHTML) || !strings.Contains(html, "<blockquote")) {
				t.Errorf("HTML lacks the quoted original %q:\n%s", tt.wantHTML, html)
			}
			if got := header(t, m.Data, "In-Reply-To"); got != "<"+msgID+">" {
				t.Errorf("In-Reply-To %q, want <%s>", got, msgID)
			}
			in := e.stored(t, "INBOX")
			if len(in) != 1 || !hasFlag(in[0].flags, imap.FlagAnswered) {
				t.Errorf("original after replying: %+v, want \\Answered", in)
			}
			if n := len(e.stored(t, "Sent")); n != 0 {
				t.Errorf("%d messages in Sent without SaveInSentItems", n)
			}
		})
	}
}

// With ReplaceMime the phone's message goes out as it is, and the original
// is still flagged.
func TestSmartReplyReplaceMime(t *testing.T) {
	e := newSendEnv(t, eas.V141, gatewayOptions{})
	ctx := context.Background()
	orig := []byte("From: Carol <carol@example.org>\r\nTo: " + e.user + "\r\nSubject: Budget\r\n" +
		"Message-ID: <budget@example.org>\r\n\r\nIs the budget final?\r\n")
	itemID, _ := e.original(t, orig, "Budget")
	reply := []byte("From: " + e.user + "\r\nTo: carol@example.org\r\nSubject: Re: Budget\r\n" +
		"Date: Wed, 4 Mar 2026 10:00:00 +0100\r\nMessage-ID: <reply-budget@example.com>\r\n" +
		"In-Reply-To: <budget@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Yes, it is final.\r\n\r\n> Is the budget final?\r\n")
	err := e.phone.SmartReply(ctx, &eas.SmartReplyRequest{ClientID: newClientID(), ReplaceMime: true, MIME: reply,
		Source: &eas.ComposeSource{FolderID: e.inbox, ItemID: itemID}})
	if err != nil {
		t.Fatal(err)
	}
	got := e.sink.Messages()
	if len(got) != 1 || !bytes.Equal(got[0].Data, reply) {
		t.Fatalf("sent %d messages; want the phone's MIME unchanged:\n%s", len(got), got)
	}
	in := e.stored(t, "INBOX")
	if len(in) != 1 || !hasFlag(in[0].flags, imap.FlagAnswered) {
		t.Errorf("original after replying: %+v, want \\Answered", in)
	}
}

// A phone that lost the answer sends the same ClientId again: it hears
// success and the message goes out once.
func TestSendRetrySameClientID(t *testing.T) {
	e := newSendEnv(t, eas.V141, gatewayOptions{})
	ctx := context.Background()
	id := newClientID()
	raw := phoneMessage(e.user, "anna@example.com", "", "", "Once", "Only once, please.")
	for i := 0; i < 3; i++ {
		if err := e.send(ctx, id, raw, true); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if n := len(e.sink.Messages()); n != 1 {
		t.Fatalf("SMTP server got %d messages for one ClientId, want 1", n)
	}
	if n := len(e.stored(t, "Sent")); n != 1 {
		t.Errorf("%d copies in Sent, want 1", n)
	}
	// The ClientId is the device's: another device may use it.
	other := e.g.provisioned(t, e.user, e.pw, "send-other", eas.V141)
	if err := other.SendMail(ctx, &eas.SendMailRequest{ClientID: id, MIME: raw}); err != nil {
		t.Fatal(err)
	}
	// And a new ClientId is a new message.
	if err := e.send(ctx, newClientID(), raw, false); err != nil {
		t.Fatal(err)
	}
	if n := len(e.sink.Messages()); n != 3 {
		t.Fatalf("SMTP server got %d messages, want 3", n)
	}
}

// A refused or failed send answers with the matching status, leaves nothing
// behind and stays retryable under the same ClientId.
func TestSendFailures(t *testing.T) {
	refuse := func(stage smtptest.Stage, code int, enh smtp.EnhancedCode) func(smtptest.Stage, string) *smtp.SMTPError {
		return func(s smtptest.Stage, arg string) *smtp.SMTPError {
			if s != stage || (s == smtptest.StageRcpt && arg != "nobody@example.net") {
				return nil
			}
			return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: "refused by the test"}
		}
	}
	tests := []struct {
		name string
		v    eas.Version
		// break_ makes the upstream fail; fix_ heals it (nil: no retry).
		break_     func(e *sendEnv)
		fix_       func(t *testing.T, e *sendEnv)
		wantStatus int
	}{
		{name: "recipient refused", v: eas.V141,
			break_:     func(e *sendEnv) { e.sink.Refuse(refuse(smtptest.StageRcpt, 550, smtp.EnhancedCode{5, 1, 1})) },
			wantStatus: eas.StatusRecipientUnresolved},
		{name: "message refused", v: eas.V141,
			break_:     func(e *sendEnv) { e.sink.Refuse(refuse(smtptest.StageData, 554, smtp.EnhancedCode{5, 7, 1})) },
			wantStatus: eas.StatusMailSubmissionFailed},
		{name: "message too large", v: eas.V160,
			break_:     func(e *sendEnv) { e.sink.Refuse(refuse(smtptest.StageData, 552, smtp.EnhancedCode{5, 3, 4})) },
			wantStatus: eas.StatusAttachmentTooLarge},
		{name: "sender deferred", v: eas.V141,
			break_:     func(e *sendEnv) { e.sink.Refuse(refuse(smtptest.StageMail, 451, smtp.EnhancedCode{4, 7, 1})) },
			wantStatus: eas.StatusServerErrorRetryLater},
		{name: "login refused", v: eas.V141,
			break_:     func(e *sendEnv) { e.sink.AddUser(e.user, "not the IMAP password") },
			fix_:       func(t *testing.T, e *sendEnv) { e.sink.AddUser(e.user, e.pw) },
			wantStatus: eas.StatusMailSubmissionFailed},
		{name: "server unreachable", v: eas.V141,
			break_:     func(e *sendEnv) { e.sink.Stop() },
			fix_:       func(t *testing.T, e *sendEnv) { e.sink.Start(t) },
			wantStatus: eas.StatusServerErrorRetryLater},
		{name: "12.1 refusal is HTTP 500", v: eas.V121,
			break_:     func(e *sendEnv) { e.sink.Refuse(refuse(smtptest.StageData, 554, smtp.EnhancedCode{5, 7, 1})) },
			wantStatus: http.StatusInternalServerError},
		{name: "12.1 unreachable is HTTP 500", v: eas.V121,
			break_:     func(e *sendEnv) { e.sink.Stop() },
			fix_:       func(t *testing.T, e *sendEnv) { e.sink.Start(t) },
			wantStatus: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSendEnv(t, tt.v, gatewayOptions{})
			ctx := context.Background()
			id := newClientID()
			raw := phoneMessage(e.user, "anna@example.com", "nobody@example.net", "", "Try "+tt.name, "Hello.")
			tt.break_(e)
			err := e.send(ctx, id, raw, true)
			if tt.v.AtLeast(eas.V140) {
				var ce *easclient.ComposeError
				if !errors.As(err, &ce) || ce.Status != tt.wantStatus || ce.Command != "SendMail" {
					t.Fatalf("send: %v, want SendMail status %d", err, tt.wantStatus)
				}
			} else if !easclient.IsHTTP(err, tt.wantStatus) {
				t.Fatalf("send: %v, want HTTP %d", err, tt.wantStatus)
			}
			if n := len(e.sink.Messages()); n != 0 {
				t.Fatalf("SMTP server took %d messages", n)
			}
			if n := len(e.stored(t, "Sent")); n != 0 {
				t.Fatalf("%d messages in Sent after a failed send", n)
			}
			if tt.fix_ != nil {
				tt.fix_(t, e)
			} else {
				e.sink.Refuse(nil)
			}
			if err := e.send(ctx, id, raw, true); err != nil {
				t.Fatalf("retry with the same ClientId: %v", err)
			}
			if n := len(e.sink.Messages()); n != 1 {
				t.Fatalf("SMTP server got %d messages after the retry, want 1", n)
			}
			if n := len(e.stored(t, "Sent")); n != 1 {
				t.Errorf("%d messages in Sent after the retry, want 1", n)
			}
		})
	}
}

// Requests easgate refuses before talking to the SMTP server.
func TestSendRefused(t *testing.T) {
	e := newSendEnv(t, eas.V161, gatewayOptions{})
	ctx := context.Background()
	ok := phoneMessage(e.user, "anna@example.com", "", "", "Hello", "Hi.")
	inbox := e.inbox
	tests := []struct {
		name string
		cmd  string
		req  any
		want int
	}{
		{"no recipient", "SendMail", &eas.SendMailRequest{ClientID: newClientID(),
			MIME: phoneMessage(e.user, "", "", "", "To nobody", "Hi.")}, eas.StatusMessageHasNoRecipient},
		{"no ClientId", "SendMail", &eas.SendMailRequest{MIME: ok}, eas.StatusInvalidXML},
		{"no message", "SendMail", &eas.SendMailRequest{ClientID: newClientID()}, eas.StatusInvalidMIME},
		{"unknown AccountId", "SendMail", &eas.SendMailRequest{ClientID: newClientID(), AccountID: "7", MIME: ok}, eas.StatusInvalidAccountID},
		{"rights management template", "SendMail", &eas.SendMailRequest{ClientID: newClientID(), TemplateID: "tpl", MIME: ok}, eas.StatusIRMFeatureDisabled},
		{"reply to a missing item", "SmartReply", &eas.SmartReplyRequest{ClientID: newClientID(), MIME: ok,
			Source: &eas.ComposeSource{FolderID: inbox, ItemID: inbox + ":4242"}}, eas.StatusItemNotFound},
		{"reply to an item of another folder id", "SmartReply", &eas.SmartReplyRequest{ClientID: newClientID(), MIME: ok,
			Source: &eas.ComposeSource{FolderID: inbox, ItemID: "999:1"}}, eas.StatusItemNotFound},
		{"forward from an unknown folder", "SmartForward", &eas.SmartForwardRequest{ClientID: newClientID(), MIME: ok,
			Source: &eas.ComposeSource{LongID: "999:1"}}, eas.StatusItemNotFound},
		{"forward without a source", "SmartForward", &eas.SmartForwardRequest{ClientID: newClientID(), MIME: ok}, eas.StatusItemNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			switch r := tt.req.(type) {
			case *eas.SendMailRequest:
				err = e.phone.SendMail(ctx, r)
			case *eas.SmartReplyRequest:
				err = e.phone.SmartReply(ctx, r)
			case *eas.SmartForwardRequest:
				err = e.phone.SmartForward(ctx, r)
			}
			var ce *easclient.ComposeError
			if !errors.As(err, &ce) || ce.Status != tt.want || ce.Command != tt.cmd {
				t.Fatalf("%v, want %s status %d", err, tt.cmd, tt.want)
			}
		})
	}
	if n := e.sink.Attempts(); n != 0 {
		t.Errorf("the SMTP server saw %d attempts", n)
	}
	// A complete reply goes out even when its original is gone.
	err := e.phone.SmartReply(ctx, &eas.SmartReplyRequest{ClientID: newClientID(), MIME: ok, ReplaceMime: true,
		Source: &eas.ComposeSource{FolderID: inbox, ItemID: inbox + ":4242"}})
	if err != nil || len(e.sink.Messages()) != 1 {
		t.Fatalf("ReplaceMime reply to a missing original: %v, %d sent", err, len(e.sink.Messages()))
	}
}

// Without --smtp the phone is told the message was not sent.
func TestSendWithoutSMTP(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	c := g.provisioned(t, user, pw, "nosmtp", eas.V141)
	err := c.SendMail(context.Background(), &eas.SendMailRequest{ClientID: newClientID(),
		MIME: phoneMessage(user, "anna@example.com", "", "", "Hi", "Hi.")})
	var ce *easclient.ComposeError
	if !errors.As(err, &ce) || ce.Status != eas.StatusMailSubmissionFailed {
		t.Fatalf("%v, want status %d", err, eas.StatusMailSubmissionFailed)
	}
}
