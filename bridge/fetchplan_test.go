package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand"
	"mime/quotedprintable"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
)

// countingProxy forwards TCP connections to target and counts the bytes
// that flow from target to the client.
type countingProxy struct {
	ln     net.Listener
	target string
	down   atomic.Int64
	wg     sync.WaitGroup
}

func newCountingProxy(t testing.TB, target string) *countingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }

func (p *countingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(s, c)
			s.Close()
		}()
		go func() {
			defer p.wg.Done()
			n, _ := io.Copy(countWriter{c, &p.down}, s)
			_ = n
			c.Close()
		}()
	}
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (w countWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// mailGen makes realistic messages: text and HTML alternatives, some with
// an attachment.
type mailGen struct{ rng *rand.Rand }

var genWords = []string{"Grüße", "meeting", "café", "naïve", "the", "report", "quarterly", "a", "über",
	"résumé", "budget", "and", "of", "to", "please", "review", "attached", "日本語", "€", "thanks"}

func (g *mailGen) text(n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(genWords[g.rng.Intn(len(genWords))])
		if g.rng.Intn(14) == 0 {
			b.WriteString(".\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func (g *mailGen) html(text string) string {
	var b strings.Builder
	b.WriteString("<html><head><style>p { font-family: Arial; margin: 0 }</style></head><body>\n")
	for _, para := range strings.Split(text, "\n") {
		fmt.Fprintf(&b, "<p style=\"color:#333\">%s</p>\n", para)
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func b64lines(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	b.Grow(len(s) + len(s)/76*2 + 2)
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteString("\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}

// message makes message i with textSize bytes of text (and its HTML) and,
// when attach > 0, an attachment of attach bytes.
func (g *mailGen) message(i, textSize, attach int, date time.Time) []byte {
	text := g.text(textSize)
	var b strings.Builder
	fmt.Fprintf(&b, "From: Anna Schmidt <anna@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: Report %d\r\n", i)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <gen%d@example.org>\r\nMIME-Version: 1.0\r\n", date.Format(time.RFC1123Z), i)
	alt := "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(text) +
		"\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(g.html(text)) +
		"\r\n--alt--\r\n"
	if attach == 0 {
		b.WriteString(alt)
		return []byte(b.String())
	}
	blob := make([]byte, attach)
	g.rng.Read(blob)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n")
	b.WriteString(alt)
	fmt.Fprintf(&b, "\r\n--mix\r\nContent-Type: application/pdf; name=\"report-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n", i)
	fmt.Fprintf(&b, "Content-Disposition: attachment; filename=\"report-%d.pdf\"\r\n\r\n", i)
	b.WriteString(b64lines(blob))
	b.WriteString("\r\n--mix--\r\n")
	return []byte(b.String())
}

// folderSize is the sum of the RFC822.SIZE of the messages of INBOX.
func folderSize(t testing.TB, srv *dovecottest.Server) int64 {
	c := srv.Dial(t, testUser, testPass)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{RFC822Size: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, m := range msgs {
		n += m.RFC822Size
	}
	return n
}

// syncFolder runs an initial sync of INBOX with body options and returns
// every Add.
func syncFolder(t testing.TB, mb *Mailbox, body eas.BodyOptions, window int) []eas.ItemChange {
	p := newPhone("INBOX")
	p.window = window
	var adds []eas.ItemChange
	for i := 0; ; i++ {
		q := p.query()
		q.Body = body
		cs, err := mb.Changes(context.Background(), q)
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		p.known.apply(t, cs)
		p.cursor = cs.Cursor
		for _, ch := range cs.Changes {
			if ch.Kind == eas.ChangeAdd {
				adds = append(adds, ch)
			}
		}
		if !cs.More {
			return adds
		}
		if i > 1000 {
			t.Fatal("sync does not end")
		}
	}
}

// TestSyncReadsOnlyWhatIsAsked syncs 200 messages with a 1 MB attachment
// each for a phone that wants 5 KB of HTML, through a proxy that counts
// what Dovecot sends: under 5% of the folder, and every item complete.
func TestSyncReadsOnlyWhatIsAsked(t *testing.T) {
	const n, distinct = 200, 10
	srv := dovecottest.New(t, dovecottest.Options{})
	srv.AddUser(t, testUser, testPass)
	g := &mailGen{rng: rand.New(rand.NewSource(17))}
	base := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	msgs := make([]msg, distinct)
	for i := range msgs {
		d := base.Add(time.Duration(i) * time.Hour)
		msgs[i] = msg{raw: g.message(i, 20<<10, 1<<20, d), date: d}
	}
	c := srv.Dial(t, testUser, testPass)
	appendAll(t, c, "INBOX", msgs)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for have := distinct; have < n; have += min(have, n-have) {
		var set imap.SeqSet
		set.AddRange(1, uint32(min(have, n-have)))
		if _, err := c.Copy(set, "INBOX").Wait(); err != nil {
			t.Fatal(err)
		}
	}
	total := folderSize(t, srv)

	proxy := newCountingProxy(t, srv.Addr())
	u := &upstream{dovecot: srv, addr: proxy.addr(), user: testUser, pass: testPass}
	u.b = newTestBackend(t, u.addr, Config{})
	mb := u.open(t)
	body := eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 5120}}}
	adds := syncFolder(t, mb, body, 100)
	read := proxy.down.Load()
	t.Logf("read %d bytes from Dovecot for a folder of %d bytes (%.2f%%)", read, total, 100*float64(read)/float64(total))
	if len(adds) != n {
		t.Fatalf("%d adds, want %d", len(adds), n)
	}
	if read*20 >= total {
		t.Errorf("read %d bytes of %d, not under 5%%", read, total)
	}
	for _, a := range adds {
		e := asEmail(a.Item)
		if a.Err != nil || e == nil || e.Body == nil {
			t.Fatalf("%s: %v %+v", a.ServerID, a.Err, e)
		}
		b := e.Body
		if b.Type != eas.BodyHTML || !b.Truncated || len(b.Data) > 5120 || len(b.Data) < 4000 || !utf8.ValidString(b.Data) ||
			!strings.HasPrefix(b.Data, "<html><head><style>") || b.EstimatedDataSize <= 5120 {
			t.Fatalf("%s: body %d bytes of %d, truncated %v: %.80q", a.ServerID, len(b.Data), b.EstimatedDataSize, b.Truncated, b.Data)
		}
		if e.Attachments == nil || len(e.Attachments.Attachment) != 1 {
			t.Fatalf("%s: attachments %+v", a.ServerID, e.Attachments)
		}
		at := e.Attachments.Attachment[0]
		if at.EstimatedDataSize < 1<<20-2 || at.EstimatedDataSize > 1<<20+2 || !strings.HasPrefix(at.DisplayName, "report-") || at.IsInline || !strings.Contains(at.FileReference, ":2:INBOX") {
			t.Fatalf("%s: attachment %+v", a.ServerID, at)
		}
	}
}

// TestPlannedFetchMatchesWhole converts large messages of several shapes
// through the planned fetch and through a whole-message fetch from the
// same Dovecot folder: the items agree but for the estimated size of a cut
// body.
func TestPlannedFetchMatchesWhole(t *testing.T) {
	ctx := context.Background()
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	g := &mailGen{rng: rand.New(rand.NewSource(5))}
	now := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	var msgs []msg
	for i, shape := range []struct{ text, attach int }{{40 << 10, 0}, {3 << 10, 300 << 10}, {60 << 10, 200 << 10}, {300, 100 << 10}} {
		msgs = append(msgs, msg{raw: g.message(i, shape.text, shape.attach, now), date: now, flags: []imap.Flag{imap.FlagSeen}})
	}
	uids := appendAll(t, c, "INBOX", msgs)
	mb := u.open(t)
	conn, err := mb.conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := conn.selectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []eas.BodyOptions{
		{},
		{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 5120}}},
		{Preferences: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 200 << 10, Preview: 100}}},
		{Preferences: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 1024, AllOrNone: true}, {Type: eas.BodyHTML, TruncationSize: 2048}}},
		{MIMESupport: 2, Preferences: []eas.BodyPreference{{Type: eas.BodyMIME, TruncationSize: 10000}}},
		{MIMESupport: 2, Preferences: []eas.BodyPreference{{Type: eas.BodyMIME}}},
	} {
		planned, err := conn.fetchItems(ctx, "INBOX", sel.UIDValidity, uids, body)
		if err != nil {
			t.Fatal(err)
		}
		whole := map[imap.UID]*item{}
		if err := conn.fetchItemsOnce(ctx, "INBOX", sel.UIDValidity, uids, body, whole); err != nil {
			t.Fatal(err)
		}
		for _, uid := range uids {
			p, w := planned[uid], whole[uid]
			if p == nil || w == nil || p.err != nil || w.err != nil {
				t.Fatalf("%+v: uid %d: planned %+v, whole %+v", body, uid, p, w)
			}
			pe, we := *p.email, *w.email
			if pe.Body != nil && we.Body != nil && pe.Body.Truncated && we.Body.Truncated {
				pb := *pe.Body
				if pb.EstimatedDataSize < we.Body.EstimatedDataSize/2 || pb.EstimatedDataSize > we.Body.EstimatedDataSize*2 {
					t.Errorf("%+v: uid %d: EstimatedDataSize %d, whole %d", body, uid, pb.EstimatedDataSize, we.Body.EstimatedDataSize)
				}
				pb.EstimatedDataSize = we.Body.EstimatedDataSize
				pe.Body = &pb
			}
			if pe.Attachments != nil && we.Attachments != nil && len(pe.Attachments.Attachment) == len(we.Attachments.Attachment) {
				// Sizes of base64 parts are estimated from their stored
				// size: off by the padding.
				pa := append([]eas.Attachment(nil), pe.Attachments.Attachment...)
				for i, a := range we.Attachments.Attachment {
					if d := pa[i].EstimatedDataSize - a.EstimatedDataSize; d >= -2-a.EstimatedDataSize/100 && d <= 2+a.EstimatedDataSize/100 {
						pa[i].EstimatedDataSize = a.EstimatedDataSize
					}
				}
				pe.Attachments = &eas.Attachments{Attachment: pa}
			}
			if !reflect.DeepEqual(pe, we) {
				t.Errorf("%+v: uid %d differs\nplanned %+v\n  body %+v\nwhole   %+v\n  body %+v", body, uid, pe, pe.Body, we, we.Body)
			}
		}
	}
}
