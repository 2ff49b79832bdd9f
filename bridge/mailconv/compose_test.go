package mailconv

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
)

func TestRecipients(t *testing.T) {
	for _, tc := range []struct {
		name    string
		msg     string
		want    []string
		wantErr bool
	}{
		{name: "To, Cc with a group, Bcc; duplicates and domain case",
			msg: string(readCorpus(t, "37-phone-sendmail-bcc.eml")),
			want: []string{"martin.keller@example.com", "team@example.org", "jordan.lee@example.net",
				"sabine.koch@example.de", "markus.vogel@example.org", "boss@example.org", "audit@example.org"}},
		{name: "encoded names and several To fields",
			msg:  "From: a@example.org\r\nTo: =?utf-8?q?J=C3=B6rg?= <Joerg@Example.ORG>\r\nTo: b@example.org\r\nSubject: x\r\n\r\nhi\r\n",
			want: []string{"Joerg@example.org", "b@example.org"}},
		{name: "undisclosed recipients only",
			msg:  "From: a@example.org\r\nTo: undisclosed-recipients:;\r\nSubject: x\r\n\r\nhi\r\n",
			want: []string{}},
		{name: "no recipient fields",
			msg:  "From: a@example.org\r\nSubject: x\r\n\r\nhi\r\n",
			want: []string{}},
		{name: "unparsable To",
			msg:     "From: a@example.org\r\nTo: Bob <bob@example.org\r\nSubject: x\r\n\r\nhi\r\n",
			wantErr: true},
		{name: "broken header",
			msg:     " folded first line\r\nTo: b@example.org\r\n\r\nhi\r\n",
			wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Recipients([]byte(tc.msg))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !slices.Equal(got, tc.want) {
				t.Errorf("Recipients = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithoutBcc(t *testing.T) {
	raw := readCorpus(t, "37-phone-sendmail-bcc.eml")
	want := bytes.Replace(raw, []byte("Bcc: boss@example.org,\r\n\taudit@example.org\r\n"), nil, 1)
	if bytes.Equal(want, raw) {
		t.Fatal("test message has no Bcc field")
	}
	if got := WithoutBcc(raw); !bytes.Equal(got, want) {
		t.Errorf("WithoutBcc:\n%s\nwant\n%s", got, want)
	}

	for _, tc := range []struct{ name, in, want string }{
		{"no Bcc: unchanged",
			"From: a@example.org\r\nTo: b@example.org\r\n\r\nBcc: in the body stays\r\n",
			"From: a@example.org\r\nTo: b@example.org\r\n\r\nBcc: in the body stays\r\n"},
		{"LF line ends and two Bcc fields, lower case",
			"From: a@example.org\nbcc: c@example.org\nTo: b@example.org\nBCC : d@example.org,\n e@example.org\nSubject: s\n\nBcc: body\n",
			"From: a@example.org\nTo: b@example.org\nSubject: s\n\nBcc: body\n"},
		{"Bcc last, empty body",
			"From: a@example.org\r\nBcc: c@example.org\r\n\r\n",
			"From: a@example.org\r\n\r\n"},
	} {
		if got := WithoutBcc([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestOutgoing(t *testing.T) {
	raw := readCorpus(t, "37-phone-sendmail-bcc.eml")
	out, err := Outgoing(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(out, raw) {
		t.Fatal("the phone's message is not kept byte for byte")
	}
	added := string(out[:len(out)-len(raw)])
	m := regexp.MustCompile(`^Date: (.+)\r\nMessage-ID: <[0-9a-f]{32}@example\.org>\r\n$`).FindStringSubmatch(added)
	if m == nil {
		t.Fatalf("added fields %q", added)
	}
	if d, err := mail.ParseDate(m[1]); err != nil || time.Since(d) > time.Hour {
		t.Errorf("Date %q: %v", m[1], err)
	}

	complete := readCorpus(t, "36-phone-smartforward-ios.eml")
	if out, _ := Outgoing(complete); !bytes.Equal(out, complete) {
		t.Errorf("a message with Date and Message-ID changed")
	}
	lf := []byte("Date: Tue, 7 Apr 2026 12:01:33 +0200\nMessage-ID: <x@example.org>\nFrom: a@example.org\n\nline 1\nline 2\r\n")
	if out, _ := Outgoing(lf); string(out) != "Date: Tue, 7 Apr 2026 12:01:33 +0200\r\nMessage-ID: <x@example.org>\r\nFrom: a@example.org\r\n\r\nline 1\r\nline 2\r\n" {
		t.Errorf("LF message: %q", out)
	}
	if out, _ := Outgoing([]byte("Subject: no sender\r\n\r\nx\r\n")); !regexp.MustCompile(`Message-ID: <[0-9a-f]{32}@localhost>`).Match(out) {
		t.Errorf("without From: %q", out)
	}
}

// parsedPart is one leaf of a message read back with go-message.
type parsedPart struct {
	contentType string
	filename    string
	contentID   string
	body        []byte
}

// readBack parses a message with go-message, as a mail client would.
func readBack(t *testing.T, raw []byte) (gomail.Header, []parsedPart) {
	t.Helper()
	r, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("go-message cannot read the result: %v", err)
	}
	var parts []parsedPart
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading part: %v", err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("reading part body: %v", err)
		}
		var pp parsedPart
		switch h := p.Header.(type) {
		case *gomail.AttachmentHeader:
			pp.contentType, _, _ = h.ContentType()
			pp.filename, _ = h.Filename()
			pp.contentID = h.Get("Content-Id")
		case *gomail.InlineHeader:
			pp.contentType, _, _ = h.ContentType()
			pp.contentID = h.Get("Content-Id")
		}
		pp.body = body
		parts = append(parts, pp)
	}
	return r.Header, parts
}

// checkWireFormat asserts RFC 5322 line rules: CRLF only, lines of at most
// 998 bytes.
func checkWireFormat(t *testing.T, raw []byte) {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d has %d bytes", i+1, len(line))
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
	}
}

func textOf(t *testing.T, parts []parsedPart, contentType string) string {
	t.Helper()
	var out []string
	for _, p := range parts {
		if p.contentType == contentType && p.filename == "" {
			out = append(out, string(p.body))
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d %s parts, want 1", len(out), contentType)
	}
	return out[0]
}

func TestReplyPlain(t *testing.T) {
	out, err := Reply(readCorpus(t, "35-phone-smartreply-android.eml"), readCorpus(t, "01-plain-ascii.eml"))
	if err != nil {
		t.Fatal(err)
	}
	checkWireFormat(t, out)
	h, parts := readBack(t, out)
	for key, want := range map[string]string{
		"From":        `"Anna Schmidt" <anna@example.org>`,
		"To":          `"Martin Keller" <martin.keller@example.com>`,
		"In-Reply-To": "<20260303081402.GA19311@example.com>",
		"References":  "<20260303081402.GA19311@example.com>",
		"Subject":     "Re: Server maintenance on Saturday",
	} {
		got := h.Get(key)
		if key == "From" || key == "To" {
			l, _ := h.AddressList(key)
			got = formatAddressList(l, nil, ", ")
		}
		if got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if id, _ := h.MessageID(); !strings.HasSuffix(id, "@example.org") || len(id) < 20 {
		t.Errorf("Message-ID %q", id)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Hour {
		t.Errorf("Date %v: %v", d, err)
	}
	if len(parts) != 1 {
		t.Fatalf("%d parts, want a single text/plain", len(parts))
	}
	text := textOf(t, parts, "text/plain")
	want := "Thanks Martin, I'll tell the team. Grüße, Anna\r\n\r\n" +
		"On Tue, 3 Mar 2026 09:14 +0100, Martin Keller <martin.keller@example.com> wrote:\r\n" +
		"> Hi Anna,\r\n>\r\n> the file server will be down on Saturday between 06:00 and 08:00\r\n"
	if !strings.HasPrefix(text, want) {
		t.Errorf("text:\n%s\nwant it to start with\n%s", text, want)
	}
	if !strings.HasSuffix(text, "> -- \r\n> Martin Keller, IT operations\r\n") {
		t.Errorf("text does not end with the quoted signature:\n%q", text)
	}
}

func TestReplyHTML(t *testing.T) {
	out, err := Reply(readCorpus(t, "36-phone-smartforward-ios.eml"), readCorpus(t, "02-alternative-utf8.eml"))
	if err != nil {
		t.Fatal(err)
	}
	checkWireFormat(t, out)
	h, parts := readBack(t, out)
	if id, _ := h.MessageID(); id != "7B8C9D0E-1F2A-4B3C-9D4E-5F6A7B8C9D0E@example.org" {
		t.Errorf("the phone's Message-ID was not kept: %q", id)
	}
	if got := h.Get("In-Reply-To"); got != "<b3c1e7a2-5d0f-4c8e-9a61-2f7d4e8c1b90@example.de>" {
		t.Errorf("In-Reply-To = %q", got)
	}
	if ct, _, _ := h.ContentType(); ct != "multipart/alternative" {
		t.Errorf("Content-Type = %s, want multipart/alternative", ct)
	}
	plain := textOf(t, parts, "text/plain")
	for _, s := range []string{"FYI – the report and the slides.",
		"On Wed, 4 Mar 2026 17:42 +0100, Sören Müller <soeren.mueller@example.de> wrote:",
		"> vielen Dank für die schönen Fotos vom Wochenende. Die Aussicht vom Gipfel war wirklich großartig"} {
		if !strings.Contains(plain, s) {
			t.Errorf("plain part lacks %q:\n%s", s, plain)
		}
	}
	html := textOf(t, parts, "text/html")
	for _, s := range []string{`<div dir="ltr">FYI – the report and the slides.</div>`,
		"<blockquote", "wirklich <b>großartig</b>", "wrote:</div>"} {
		if !strings.Contains(html, s) {
			t.Errorf("HTML part lacks %q:\n%s", s, html)
		}
	}
	if strings.Index(html, "FYI") > strings.Index(html, "<blockquote") || strings.Count(html, "</body>") != 1 {
		t.Errorf("quote is not below the phone's text in one document:\n%s", html)
	}
}

func TestReplyKeepsThreadHeaders(t *testing.T) {
	phone := readCorpus(t, "21-reply-references.eml")
	out, err := Reply(phone, readCorpus(t, "01-plain-ascii.eml"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := readBack(t, out)
	if v := h.Values("In-Reply-To"); len(v) != 1 || v[0] != "<0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d@example.org>" {
		t.Errorf("In-Reply-To = %q, want the phone's", v)
	}
	if v := h.Values("References"); len(v) != 1 || !strings.HasPrefix(v[0], "<1f2e3d4c-5b6a-4789-9a0b-1c2d3e4f5a6b@example.de>") {
		t.Errorf("References = %q, want the phone's", v)
	}
	if v := h.Values("Message-Id"); len(v) != 1 {
		t.Errorf("Message-ID fields %q", v)
	}

	// A reply to a reply continues the original's References.
	out, err = Reply(readCorpus(t, "35-phone-smartreply-android.eml"), phone)
	if err != nil {
		t.Fatal(err)
	}
	h, _ = readBack(t, out)
	refs, _ := h.MsgIDList("References")
	want := []string{"1f2e3d4c-5b6a-4789-9a0b-1c2d3e4f5a6b@example.de",
		"FR2P281MB1234ABCDEF0123456789ABCDEF012345@FR2P281MB1234.DEUP281.PROD.OUTLOOK.COM",
		"0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d@example.org",
		"e5f6a7b8-c9d0-41e2-a3b4-c5d6e7f8a9b0@example.de"}
	if !slices.Equal(refs, want) {
		t.Errorf("References = %q, want %q", refs, want)
	}
}

// sourceParts splits a message on a boundary the way a reader of the
// source would: each element is a part's header and encoded body exactly as
// they stand in the file.
func sourceParts(raw []byte, boundary string) [][]byte {
	segs := bytes.Split(raw, []byte("\r\n--"+boundary))
	var out [][]byte
	for _, s := range segs[1:] {
		if bytes.HasPrefix(s, []byte("--")) {
			break
		}
		out = append(out, bytes.TrimPrefix(s, []byte("\r\n")))
	}
	return out
}

func TestForwardCopiesAttachmentsVerbatim(t *testing.T) {
	for _, tc := range []struct {
		name, phone, original string
		// boundary of the original's parts that hold the attachments and
		// how many of those parts are attachments.
		boundary  string
		verbatim  int
		wantFiles map[string]string // decoded SHA-256 -> file name ("" inline)
		wantText  []string
		wantHTML  []string
		notCopied []string
	}{
		{
			name: "attachments", phone: "36-phone-smartforward-ios.eml", original: "05-outlook-attachments.eml",
			boundary: "_004_DB9PR07MB7081A1B2C3D4E5F6A7B8C9D0E1F2A3B4DB9PR07MB7081eurp_", verbatim: 3,
			wantFiles: map[string]string{shaReportPDF: "Q3 report.pdf", shaBudgetCSV: "budget.csv", shaDeckZip: "Monday slides.pptx"},
			wantText: []string{"FYI – the report and the slides.", "---------- Forwarded message ----------",
				`From: "Priya Raman" <priya.raman@corp.example.com>`, "Subject: Q3 report, budget and slides",
				`Cc: "Anna Schmidt" <anna@example.org>`, "please find attached the Q3 report"},
			wantHTML: []string{`<div dir="ltr">FYI – the report and the slides.</div>`, `<p class="MsoNormal">Hello all,<o:p></o:p></p>`},
		},
		{
			name: "inline image", phone: "36-phone-smartforward-ios.eml", original: "04-inline-image-apple.eml",
			boundary: "Apple-Mail=_1F2E3D4C-5B6A-4978-8695-A4B3C2D1E0F9", verbatim: 1,
			wantFiles: map[string]string{shaLogoPNG: ""},
			wantText:  []string{"here is the new logo for the conference badge"},
			wantHTML:  []string{`src="cid:0B6E2E3C-9D41-4C55-8F3B-77A1C2D3E4F5@example.org"`},
		},
		{
			name: "attached messages", phone: "35-phone-smartreply-android.eml", original: "15-attached-messages.eml",
			boundary: "------------outer5Xq9Lm2", verbatim: 2,
			wantFiles: map[string]string{shaUrlaubEML: "Urlaubsfotos.eml", shaLunchEML: ""},
			wantText:  []string{"Thanks Martin", "Anna, see the two messages below."},
		},
		{
			name: "signed original: the signature is not copied", phone: "35-phone-smartreply-android.eml", original: "16-smime-signed.eml",
			wantFiles: map[string]string{},
			wantText:  []string{"the signed contract is in the shared folder now."},
			notCopied: []string{"smime.p7s", "pkcs7-signature"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			original := readCorpus(t, tc.original)
			out, err := Forward(readCorpus(t, tc.phone), original)
			if err != nil {
				t.Fatal(err)
			}
			checkWireFormat(t, out)

			if tc.boundary != "" {
				copied := 0
				for _, p := range sourceParts(original, tc.boundary) {
					if !bytes.Contains(p, []byte("\r\nContent-Transfer-Encoding: base64")) &&
						!bytes.HasPrefix(p, []byte("Content-Type: message/rfc822")) &&
						!bytes.Contains(p, []byte("Content-Type: image/")) {
						continue
					}
					if !bytes.Contains(out, p) {
						t.Errorf("part not copied byte for byte:\n%.300s", p)
					}
					copied++
				}
				if copied != tc.verbatim {
					t.Errorf("checked %d source parts, want %d", copied, tc.verbatim)
				}
			}
			for _, s := range tc.notCopied {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("output contains %q", s)
				}
			}

			_, parts := readBack(t, out)
			got := map[string]string{}
			for _, p := range parts {
				if p.contentType == "text/plain" || p.contentType == "text/html" {
					if p.filename == "" {
						continue
					}
				}
				got[sha(p.body)] = p.filename
			}
			if len(got) != len(tc.wantFiles) {
				t.Errorf("%d attachments, want %d: %v", len(got), len(tc.wantFiles), got)
			}
			for hash, name := range tc.wantFiles {
				gotName, ok := got[hash]
				if !ok {
					t.Errorf("no attachment with SHA-256 %s (%s)", hash, name)
				} else if name != "" && gotName != name {
					t.Errorf("attachment %s named %q, want %q", hash, gotName, name)
				}
			}
			plain := textOf(t, parts, "text/plain")
			for _, s := range tc.wantText {
				if !strings.Contains(plain, s) {
					t.Errorf("plain part lacks %q:\n%s", s, plain)
				}
			}
			if len(tc.wantHTML) > 0 {
				html := textOf(t, parts, "text/html")
				for _, s := range tc.wantHTML {
					if !strings.Contains(html, s) {
						t.Errorf("HTML part lacks %q:\n%s", s, html)
					}
				}
			}
		})
	}
}

func TestForwardStructure(t *testing.T) {
	// The inline image must sit in a multipart/related with the HTML that
	// refers to it, or readers show it as a loose attachment.
	out, err := Forward(readCorpus(t, "36-phone-smartforward-ios.eml"), readCorpus(t, "04-inline-image-apple.eml"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := readBack(t, out)
	ct, params, _ := h.ContentType()
	if ct != "multipart/related" {
		t.Fatalf("top-level %s, want multipart/related", ct)
	}
	body := out[bytes.Index(out, []byte("\r\n\r\n"))+4:]
	parts := sourceParts(append([]byte("\r\n"), body...), params["boundary"])
	if len(parts) != 2 || !bytes.HasPrefix(parts[0], []byte("Content-Type: multipart/alternative;")) ||
		!bytes.Contains(parts[1], []byte("Content-Id: <0B6E2E3C-9D41-4C55-8F3B-77A1C2D3E4F5@example.org>")) {
		t.Errorf("related parts:\n%q", parts)
	}
	for _, key := range []string{"Mime-Version", "Date", "Message-Id", "Subject", "To", "From"} {
		if n := len(h.Values(key)); n != 1 {
			t.Errorf("%d %s fields", n, key)
		}
	}
	if v := h.Get("X-Mailer"); v != "iPhone Mail (22D82)" {
		t.Errorf("X-Mailer = %q, want the phone's header kept", v)
	}
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "multipart/related" {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
}

func TestComposeRejectsBrokenPhoneMessage(t *testing.T) {
	broken := []byte("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--y\r\nnothing\r\n")
	if _, err := Reply(broken, readCorpus(t, "01-plain-ascii.eml")); err == nil {
		t.Error("Reply accepted a phone message without parts")
	}
	if _, err := Forward(broken, readCorpus(t, "01-plain-ascii.eml")); err == nil {
		t.Error("Forward accepted a phone message without parts")
	}
	// A damaged original is quoted as far as it can be read.
	out, err := Forward(readCorpus(t, "35-phone-smartreply-android.eml"), readCorpus(t, "25-broken-boundary.eml"))
	if err != nil || !bytes.Contains(out, []byte("Scanned document attached.")) {
		t.Errorf("forward of a damaged original: %v\n%s", err, out)
	}
}

func TestRedated(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct{ name, in, want string }{
		{"folded old Date replaced",
			"Date: Mon, 2 Nov 2026\r\n 08:00:00 +0000\r\nSubject: x\r\n\r\nDate: in the body stays\r\n",
			"Date: Thu, 26 Nov 2026 09:30:00 +0000\r\nSubject: x\r\n\r\nDate: in the body stays\r\n"},
		{"no Date",
			"Subject: x\r\n\r\nbody\r\n",
			"Date: Thu, 26 Nov 2026 09:30:00 +0000\r\nSubject: x\r\n\r\nbody\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Redated([]byte(tc.in), at)); got != tc.want {
				t.Errorf("Redated:\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
