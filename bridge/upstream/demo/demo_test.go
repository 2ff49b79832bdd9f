package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func startUpstream(t *testing.T) *Upstream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := u.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return u
}

func dialIMAP(t *testing.T, u *Upstream, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.WordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}
	c, err := imapclient.DialInsecure(u.IMAPAddr, opts)
	if err != nil {
		t.Fatalf("dial IMAP: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(u.User, u.Password).Wait(); err != nil {
		t.Fatalf("IMAP login: %v", err)
	}
	return c
}

// expected returns the seeded letters by folder, as the seed built them.
func expected(t *testing.T) map[string][]letter {
	t.Helper()
	letters, err := sampleMail(time.Now())
	if err != nil {
		t.Fatalf("sampleMail: %v", err)
	}
	byFolder := map[string][]letter{}
	for _, l := range letters {
		byFolder[l.folder] = append(byFolder[l.folder], l)
	}
	return byFolder
}

func TestSeededFolders(t *testing.T) {
	u := startUpstream(t)
	c := dialIMAP(t, u, nil)
	want := expected(t)

	if n := len(want["INBOX"]); n < 18 || n > 25 {
		t.Errorf("INBOX is seeded with %d messages, want about 20", n)
	}

	list, err := c.List("", "*", &imap.ListOptions{ReturnSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	var names []string
	for _, m := range list {
		names = append(names, m.Mailbox)
		if m.Delim != delimiter {
			t.Errorf("%s: delimiter %q, want %q", m.Mailbox, m.Delim, delimiter)
		}
		if !slices.Contains(m.Attrs, imap.MailboxAttrSubscribed) {
			t.Errorf("%s is not subscribed", m.Mailbox)
		}
	}
	slices.Sort(names)
	wantNames := []string{"Archive", "Drafts", "INBOX", "Junk", "Notes", "Projects", "Projects/Easgate", "Sent", "Trash"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("folders %v, want %v", names, wantNames)
	}

	for _, name := range wantNames {
		t.Run(name, func(t *testing.T) {
			st, err := c.Status(name, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
			if err != nil {
				t.Fatalf("STATUS: %v", err)
			}
			letters := want[name]
			if len(letters) == 0 {
				t.Fatalf("no letters seeded for %s", name)
			}
			unseen := 0
			for _, l := range letters {
				if !slices.Contains(l.flags, imap.FlagSeen) {
					unseen++
				}
			}
			if int(*st.NumMessages) != len(letters) {
				t.Errorf("%d messages, want %d", *st.NumMessages, len(letters))
			}
			if int(*st.NumUnseen) != unseen {
				t.Errorf("%d unseen, want %d", *st.NumUnseen, unseen)
			}
		})
	}
}

// parsed is what a mail client gets out of one message.
type parsed struct {
	subject     string
	from        []*mail.Address
	date        time.Time
	inReplyTo   []string
	references  []string
	texts       map[string]string // media type -> decoded text (concatenated)
	attachments map[string][]byte // filename -> content
	attachTypes map[string]string // filename -> media type
	inlines     map[string][]byte // Content-ID -> content
}

func parse(raw []byte) (*parsed, error) {
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("create reader: %w", err)
	}
	defer r.Close()
	p := &parsed{
		texts:       map[string]string{},
		attachments: map[string][]byte{},
		attachTypes: map[string]string{},
		inlines:     map[string][]byte{},
	}
	if p.subject, err = r.Header.Subject(); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	if p.from, err = r.Header.AddressList("From"); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	for _, key := range []string{"To", "Cc", "Reply-To"} {
		if _, err := r.Header.AddressList(key); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if p.date, err = r.Header.Date(); err != nil {
		return nil, fmt.Errorf("date: %w", err)
	}
	if p.inReplyTo, err = r.Header.MsgIDList("In-Reply-To"); err != nil {
		return nil, fmt.Errorf("in-reply-to: %w", err)
	}
	if p.references, err = r.Header.MsgIDList("References"); err != nil {
		return nil, fmt.Errorf("references: %w", err)
	}
	for {
		part, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("next part: %w", err)
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			return nil, fmt.Errorf("read part: %w", err)
		}
		switch h := part.Header.(type) {
		case *mail.InlineHeader:
			mt, _, err := h.ContentType()
			if err != nil {
				return nil, fmt.Errorf("inline content type: %w", err)
			}
			if cid := h.Get("Content-Id"); cid != "" {
				p.inlines[strings.Trim(cid, "<>")] = body
				continue
			}
			if !strings.HasPrefix(mt, "text/") {
				return nil, fmt.Errorf("inline %s part without Content-ID", mt)
			}
			p.texts[mt] += string(body)
		case *mail.AttachmentHeader:
			name, err := h.Filename()
			if err != nil {
				return nil, fmt.Errorf("attachment filename: %w", err)
			}
			mt, _, err := h.ContentType()
			if err != nil {
				return nil, fmt.Errorf("attachment content type: %w", err)
			}
			p.attachments[name] = body
			p.attachTypes[name] = mt
		}
	}
	return p, nil
}

// fetchAll returns every message of a folder by Message-ID with its
// INTERNALDATE and flags.
func fetchAll(t *testing.T, c *imapclient.Client, folder string) map[string]*imapclient.FetchMessageBuffer {
	t.Helper()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("select %s: %v", folder, err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	var every imap.SeqSet
	every.AddRange(1, 0) // 1:*
	msgs, err := c.Fetch(every, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, Envelope: true,
		BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		t.Fatalf("fetch %s: %v", folder, err)
	}
	byID := map[string]*imapclient.FetchMessageBuffer{}
	for _, m := range msgs {
		byID[m.Envelope.MessageID] = m
	}
	return byID
}

func TestSeededMessagesParse(t *testing.T) {
	u := startUpstream(t)
	c := dialIMAP(t, u, nil)
	all := map[string]*parsed{}
	for folder, letters := range expected(t) {
		got := fetchAll(t, c, folder)
		if len(got) != len(letters) {
			t.Errorf("%s: %d distinct Message-IDs, want %d", folder, len(got), len(letters))
		}
		for _, l := range letters {
			t.Run(folder+"/"+l.id, func(t *testing.T) {
				m := got[l.id]
				if m == nil {
					t.Fatalf("message not found in %s", folder)
				}
				raw := m.FindBodySection(&imap.FetchItemBodySection{Peek: true})
				if bytes.Contains(raw, []byte("\n")) && bytes.Count(raw, []byte("\r\n")) != bytes.Count(raw, []byte("\n")) {
					t.Errorf("message has bare LF line endings")
				}
				p, err := parse(raw)
				if err != nil {
					t.Fatalf("parse: %v\n%s", err, raw)
				}
				all[l.id] = p
				if p.subject != l.subject {
					t.Errorf("subject %q, want %q", p.subject, l.subject)
				}
				if m.Envelope.Subject != l.subject {
					t.Errorf("envelope subject %q, want %q", m.Envelope.Subject, l.subject)
				}
				wantFrom, err := mail.ParseAddress(l.from)
				if err != nil {
					t.Fatalf("letter from: %v", err)
				}
				if len(p.from) != 1 || p.from[0].Name != wantFrom.Name || p.from[0].Address != wantFrom.Address {
					t.Errorf("from %v, want %v", p.from, wantFrom)
				}
				if !p.date.Equal(m.InternalDate) {
					t.Errorf("Date %v and INTERNALDATE %v differ", p.date, m.InternalDate)
				}
				// Night hours move back by up to 12 hours.
				if age := time.Since(p.date); age < l.age-time.Minute || age > l.age+13*time.Hour {
					t.Errorf("dated %v ago, want about %v", age, l.age)
				}
				for _, f := range []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered, imap.FlagDraft} {
					if slices.Contains(m.Flags, f) != slices.Contains(l.flags, f) {
						t.Errorf("flags %v, want %v", m.Flags, l.flags)
						break
					}
				}
				if len(p.texts) == 0 {
					t.Errorf("no text part")
				}
				for mt, text := range p.texts {
					if !utf8.ValidString(text) {
						t.Errorf("%s part is not valid UTF-8 after decoding", mt)
					}
					if strings.TrimSpace(text) == "" {
						t.Errorf("%s part is empty", mt)
					}
				}
				if l.legacy != nil {
					if got, want := p.texts["text/plain"], crlf(l.legacy.text); got != want {
						t.Errorf("%s body decoded to\n%q\nwant\n%q", l.legacy.charset, got, want)
					}
				}
			})
		}
	}

	// The attachments decode to what each file type should be.
	for _, tc := range []struct {
		id, filename, mediaType string
		check                   func([]byte) error
	}{
		{"inv-2026-0413.billing@cloud.example.net", "INV-2026-0413.pdf", "application/pdf", checkPDF},
		{"contract-v3.1@demo.example.com", "service-agreement-v3.pdf", "application/pdf", checkPDF},
		{"hike-photos.1@mail.example.org", "ridge-view.jpg", "image/jpeg", func(b []byte) error {
			_, err := jpeg.Decode(bytes.NewReader(b))
			return err
		}},
		{"budget-maerz.77@mail.example.de", "Übersicht März.csv", "text/csv", contains("Büromaterial;800;655;-145\r\n")},
		{"invite-design-review.9@mail.example.org", "invite.ics", "text/calendar", contains("BEGIN:VEVENT\r\n")},
	} {
		t.Run("attachment "+tc.filename, func(t *testing.T) {
			p := all[tc.id]
			if p == nil {
				t.Fatalf("message %s not parsed", tc.id)
			}
			data, ok := p.attachments[tc.filename]
			if !ok {
				t.Fatalf("no attachment %q in %v", tc.filename, p.attachTypes)
			}
			if p.attachTypes[tc.filename] != tc.mediaType {
				t.Errorf("media type %q, want %q", p.attachTypes[tc.filename], tc.mediaType)
			}
			if err := tc.check(data); err != nil {
				t.Error(err)
			}
		})
	}

	// Inline images come with a Content-ID the HTML part refers to.
	for _, tc := range []struct{ id, cid string }{
		{"stmt-2026-11.88213@lumenbank.example.com", "lumen-logo.1@lumenbank.example.com"},
		{"order-nw-20931.ship@shop.example.net", "nw-logo@shop.example.net"},
	} {
		t.Run("inline "+tc.cid, func(t *testing.T) {
			p := all[tc.id]
			if p == nil {
				t.Fatalf("message %s not parsed", tc.id)
			}
			img, ok := p.inlines[tc.cid]
			if !ok {
				t.Fatalf("no inline part %q", tc.cid)
			}
			if _, err := png.Decode(bytes.NewReader(img)); err != nil {
				t.Errorf("inline image: %v", err)
			}
			if !strings.Contains(p.texts["text/html"], `src="cid:`+tc.cid+`"`) {
				t.Errorf("HTML part does not refer to cid:%s", tc.cid)
			}
			if p.texts["text/plain"] == "" {
				t.Errorf("no plain-text alternative")
			}
		})
	}

	// Every reply points at messages that exist, and the thread's last
	// message references the whole chain in order.
	for id, p := range all {
		for _, ref := range append(slices.Clone(p.inReplyTo), p.references...) {
			if all[ref] == nil {
				t.Errorf("%s refers to %s, which is not in the mailbox", id, ref)
			}
		}
	}
	last := all["q3-roadmap.5@mail.example.org"]
	wantChain := []string{"q3-roadmap.1@mail.example.org", "q3-roadmap.2@mail.example.org",
		"q3-roadmap.3@demo.example.com", "q3-roadmap.4@mail.example.org"}
	if last == nil || !slices.Equal(last.references, wantChain) {
		t.Errorf("thread references %v, want %v", last, wantChain)
	}
}

func checkPDF(b []byte) error {
	if !bytes.HasPrefix(b, []byte("%PDF-1.4\n")) || !bytes.HasSuffix(b, []byte("%%EOF\n")) {
		return fmt.Errorf("not a PDF: %q...", b[:min(len(b), 16)])
	}
	if utf8.Valid(b) {
		return errors.New("PDF has no binary content")
	}
	// startxref must point at the xref table, or readers reject the file.
	i := bytes.LastIndex(b, []byte("startxref\n"))
	var off int
	if _, err := fmt.Sscanf(string(b[i+len("startxref\n"):]), "%d", &off); err != nil {
		return fmt.Errorf("startxref: %w", err)
	}
	if !bytes.HasPrefix(b[off:], []byte("xref\n")) {
		return fmt.Errorf("startxref %d does not point at the xref table", off)
	}
	return nil
}

func contains(s string) func([]byte) error {
	return func(b []byte) error {
		if !bytes.Contains(b, []byte(s)) {
			return fmt.Errorf("content does not contain %q:\n%s", s, b)
		}
		return nil
	}
}

func TestSubmission(t *testing.T) {
	u := startUpstream(t)
	seeded := len(expected(t)["INBOX"])
	delivered := 0

	for _, tc := range []struct {
		name     string
		auth     sasl.Client // nil: no AUTH
		wantCode int         // 0: accepted
	}{
		{"demo user", sasl.NewPlainClient("", User, Password), 0},
		{"explicit identity", sasl.NewPlainClient(User, User, Password), 0},
		{"wrong password", sasl.NewPlainClient("", User, "not-the-password"), 535},
		{"unknown user", sasl.NewPlainClient("", "someone@example.com", Password), 535},
		{"identity of another user", sasl.NewPlainClient("other@example.com", User, Password), 535},
		{"no authentication", nil, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			subject := "Submitted by " + tc.name
			msgID := strings.ReplaceAll(tc.name, " ", "-") + "@phone.example.com"
			raw := "From: Demo User <demo@example.com>\r\n" +
				"To: Tom Becker <tom.becker@example.org>\r\n" +
				"Subject: " + subject + "\r\n" +
				"Message-ID: <" + msgID + ">\r\n" +
				"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
				"MIME-Version: 1.0\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\n" +
				"\r\n" +
				"Sent from my phone.\r\n"

			err := submit(u.SMTPAddr, tc.auth, raw)
			if tc.wantCode != 0 {
				var se *smtp.SMTPError
				if !errors.As(err, &se) || se.Code != tc.wantCode {
					t.Fatalf("submit: %v, want SMTP error %d", err, tc.wantCode)
				}
			} else if err != nil {
				t.Fatalf("submit: %v", err)
			} else {
				delivered++
			}

			c := dialIMAP(t, u, nil)
			st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
			if err != nil {
				t.Fatalf("STATUS: %v", err)
			}
			if int(*st.NumMessages) != seeded+delivered {
				t.Errorf("INBOX has %d messages, want %d", *st.NumMessages, seeded+delivered)
			}
			m := fetchAll(t, c, "INBOX")[msgID]
			if tc.wantCode != 0 {
				if m != nil {
					t.Errorf("refused message was delivered")
				}
				return
			}
			if m == nil {
				t.Fatalf("submitted message %s not in INBOX", msgID)
			}
			got := m.FindBodySection(&imap.FetchItemBodySection{Peek: true})
			if !bytes.HasSuffix(got, []byte(raw)) {
				t.Errorf("delivered message does not end with the submitted one:\n%s", got)
			}
			if !bytes.HasPrefix(got, []byte("Return-Path: <demo@example.com>\r\nReceived: ")) {
				t.Errorf("delivered message lacks trace fields:\n%s", got)
			}
			if slices.Contains(m.Flags, imap.FlagSeen) {
				t.Errorf("new message is already \\Seen")
			}
			if _, err := parse(got); err != nil {
				t.Errorf("delivered message does not parse: %v", err)
			}
		})
	}
}

func submit(addr string, auth sasl.Client, raw string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.SendMail("demo@example.com", []string{"tom.becker@example.org"}, strings.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

// A client waiting in IDLE hears about submitted mail, as a phone with push
// relies on. Several rounds, each submitting right as IDLE starts, to hit the
// moment the memory server is not yet listening for updates.
func TestSubmissionWakesIdle(t *testing.T) {
	u := startUpstream(t)
	seeded := uint32(len(expected(t)["INBOX"]))
	exists := make(chan uint32, 64)
	c := dialIMAP(t, u, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					exists <- *data.NumMessages
				}
			},
		},
	})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("select: %v", err)
	}
	for round := uint32(1); round <= 10; round++ {
		idle, err := c.Idle()
		if err != nil {
			t.Fatalf("IDLE: %v", err)
		}
		raw := fmt.Sprintf("From: demo@example.com\r\nTo: demo@example.com\r\nSubject: ping %d\r\n"+
			"Message-ID: <ping.%d@phone.example.com>\r\n\r\nping\r\n", round, round)
		if err := submit(u.SMTPAddr, sasl.NewPlainClient("", User, Password), raw); err != nil {
			t.Fatalf("submit: %v", err)
		}
		// A hang guard, not a speed requirement.
		select {
		case n := <-exists:
			if n != seeded+round {
				t.Errorf("round %d: EXISTS %d, want %d", round, n, seeded+round)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no EXISTS update while idling", round)
		}
		if err := idle.Close(); err != nil {
			t.Fatalf("close IDLE: %v", err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatalf("IDLE: %v", err)
		}
	}
}

func TestClose(t *testing.T) {
	u, err := Start(context.Background())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	c, err := imapclient.DialInsecure(u.IMAPAddr, nil)
	if err != nil {
		t.Fatalf("dial IMAP: %v", err)
	}
	defer c.Close()
	if err := u.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Open connections are dropped and nothing listens any more.
	if err := c.Noop().Wait(); err == nil {
		t.Error("IMAP connection still works after Close")
	}
	for _, addr := range []string{u.IMAPAddr, u.SMTPAddr} {
		if _, err := smtp.Dial(addr); err == nil {
			t.Errorf("%s still accepts connections", addr)
		}
	}
}

func TestStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if u, err := Start(ctx); err == nil {
		u.Close()
		t.Fatal("Start with a canceled context succeeded")
	}
}

// Replies are dated after what they answer whatever the time of day the demo
// starts at, and people do not write at night.
func TestSampleDates(t *testing.T) {
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	letters, err := sampleMail(base)
	if err != nil {
		t.Fatalf("sampleMail: %v", err)
	}
	for h := range 24 {
		now := base.Add(time.Duration(h)*time.Hour + 17*time.Minute)
		t.Run(now.Format("15:04"), func(t *testing.T) {
			dates := map[string]time.Time{}
			for _, l := range letters {
				dates[l.id] = l.date(now)
				if d := l.date(now); d.After(now) {
					t.Errorf("%s dated in the future: %v", l.id, d)
				}
				if l.zone != nil {
					if lh := l.date(now).In(l.zone).Hour(); lh < 8 || lh >= 20 {
						t.Errorf("%s sent at %d:xx local time", l.id, lh)
					}
				}
			}
			for _, l := range letters {
				for _, ref := range append([]string{l.inReplyTo}, l.references...) {
					if ref == "" {
						continue
					}
					orig, ok := dates[ref]
					if !ok {
						t.Errorf("%s refers to unknown %s", l.id, ref)
					} else if !orig.Before(dates[l.id]) {
						t.Errorf("%s (%v) is not after %s (%v)", l.id, dates[l.id], ref, orig)
					}
				}
			}
		})
	}
}
