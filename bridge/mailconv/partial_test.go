package mailconv

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand"
	"mime/quotedprintable"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding/japanese"

	"github.com/easgate/easgate/eas"
)

// TestDecodeTextPrefix cuts encoded text parts after every byte and checks
// that what decodes is always the beginning of what the whole part decodes
// to, in valid UTF-8: no base64 quantum, quoted-printable escape or soft
// break, multi-byte character or ISO-2022-JP escape sequence is split.
func TestDecodeTextPrefix(t *testing.T) {
	jp := strings.Repeat("日本語のテキスト、ＡＢＣ abc 漢字かな交じり文。\n", 30)
	mixed := strings.Repeat("Grüße aus Köln — ça coûte 5 €, naïve café 🎉 ok.\n", 40)
	long := strings.Repeat("Sehr lange Zeile ohne Umbruch: äöü ß é 😀 ", 120)
	iso2022 := func(s string) []byte {
		b, err := japanese.ISO2022JP.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sjis := func(s string) []byte {
		b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name, cte, charset string
		body               []byte // decoded, in charset
		want               string // UTF-8
	}{
		{"qp utf-8 soft breaks", "quoted-printable", "utf-8", []byte(mixed + long), mixed + long},
		{"qp one long line", "quoted-printable", "utf-8", []byte(long), long},
		{"base64 utf-8", "base64", "utf-8", []byte(mixed), mixed},
		{"base64 long line", "base64", "utf-8", []byte(long), long},
		{"8bit utf-8", "8bit", "utf-8", []byte(jp + mixed), jp + mixed},
		{"8bit one long line", "8bit", "utf-8", []byte(long), long},
		{"iso-2022-jp 7bit", "7bit", "iso-2022-jp", iso2022(jp), jp},
		{"iso-2022-jp base64", "base64", "iso-2022-jp", iso2022(jp), jp},
		{"iso-2022-jp qp", "quoted-printable", "iso-2022-jp", iso2022(jp), jp},
		{"shift_jis base64", "base64", "shift_jis", sjis(jp), jp},
		{"shift_jis 8bit", "8bit", "shift_jis", sjis(jp), jp},
		{"windows-1252 qp", "quoted-printable", "windows-1252", []byte("caf\xe9 na\xefve \x80 5\n caf\xe9 \x93quoted\x94\n"), "café naïve € 5\n café “quoted”\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := encodeBody(t, tc.cte, tc.body)
			h := textproto.Header{}
			h.Set("Content-Transfer-Encoding", tc.cte)
			full := &node{header: h, params: map[string]string{"charset": tc.charset}, raw: enc}
			whole, err := decodeText(full)
			if err != nil || whole != strings.ReplaceAll(tc.want, "\n", "\r\n") && whole != tc.want {
				t.Fatalf("whole part decodes to %.80q (%v), want %.80q", whole, err, tc.want)
			}
			longest := 0
			for l := 1; l < len(enc); l++ {
				n := &node{header: h, params: full.params, raw: enc[:l], partial: true, encSize: int64(len(enc))}
				text, rest, err := decodeTextPrefix(n)
				if errors.Is(err, ErrNeedMore) {
					continue
				}
				if err != nil {
					t.Fatalf("cut at %d: %v", l, err)
				}
				if !utf8.ValidString(text) || !strings.HasPrefix(whole, text) {
					t.Fatalf("cut at %d of %d: %.60q... is not the beginning of the part (ends %q)", l, len(enc), text, text[max(0, len(text)-20):])
				}
				if rest < 0 {
					t.Fatalf("cut at %d: rest %d", l, rest)
				}
				longest = max(longest, len(text))
			}
			// A cut near the end yields nearly all of it.
			if len(whole)-longest > 400 {
				t.Errorf("longest prefix %d of %d bytes", longest, len(whole))
			}
		})
	}
}

func encodeBody(t testing.TB, cte string, b []byte) []byte {
	var out bytes.Buffer
	switch cte {
	case "base64":
		s := base64.StdEncoding.EncodeToString(b)
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		out.WriteString(s + "\r\n")
	case "quoted-printable":
		w := quotedprintable.NewWriter(&out)
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		w.Close()
	default:
		out.Write(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
	}
	return out.Bytes()
}

// localOutline makes the outline a server would report from the parser's
// tree (the parts agree with Dovecot's, see TestPartPathsMatchDovecot).
func localOutline(n *node) *Structure {
	s := &Structure{Type: n.mediaType, Params: n.params, Disposition: n.disposition, DispParams: n.dispParams, Encoding: n.cte(), Size: int64(len(n.raw))}
	for _, c := range n.children {
		s.Children = append(s.Children, localOutline(c))
	}
	if n.embedded != nil {
		s.Message = localOutline(n.embedded)
	}
	return s
}

// localPieces answers a plan from the parsed message.
func localPieces(t testing.TB, raw []byte, root *node, plan Plan) *Pieces {
	p := &Pieces{Size: int64(len(raw)), Data: map[Section][]byte{}}
	header := func(h textproto.Header) []byte {
		var b bytes.Buffer
		if err := textproto.WriteHeader(&b, h); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, s := range plan.Sections {
		if s.Part == "" {
			switch s.Kind {
			case SectionHeader:
				p.Data[s] = header(root.header)
			case SectionBody:
				p.Data[s] = cutTo(raw, s.Len)
			}
			continue
		}
		var n *node
		walk(root, func(c *node) bool {
			if n == nil && c.path == s.Part && (s.Kind == SectionMIME || !c.isMultipart()) {
				n = c
			}
			return n == nil
		})
		if n == nil {
			continue
		}
		switch s.Kind {
		case SectionMIME:
			p.Data[s] = header(n.header)
		case SectionHeader:
			p.Data[s] = header(n.embedded.header)
		case SectionBody:
			p.Data[s] = cutTo(n.raw, s.Len)
		}
	}
	return p
}

func cutTo(b []byte, n int64) []byte {
	if n > 0 && int64(len(b)) > n {
		return b[:n]
	}
	return b
}

// bodyCases are the BodyOptions phones send.
var bodyCases = []struct {
	name string
	opt  eas.BodyOptions
}{
	{"none", eas.BodyOptions{}},
	{"html 5120", eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 5120}}}},
	{"plain 5120 preview", eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 5120, Preview: 200}}}},
	{"plain 200k", eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 200 << 10}}}},
	{"plain 100 preview 255", eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 100, Preview: 255}}}},
	{"html all-or-none then plain", eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 512, AllOrNone: true}, {Type: eas.BodyPlain, TruncationSize: 2048}}}},
	{"html all-or-none only", eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 512, AllOrNone: true}}}},
	{"mime whole", eas.BodyOptions{MIMESupport: 2, Preferences: []eas.BodyPreference{{Type: eas.BodyMIME}}}},
	{"mime 4096", eas.BodyOptions{MIMESupport: 2, Preferences: []eas.BodyPreference{{Type: eas.BodyMIME, TruncationSize: 4096}, {Type: eas.BodyHTML, TruncationSize: 1024}}}},
	{"mime 4096 preview", eas.BodyOptions{MIMESupport: 2, MIMETruncation: 4096, Preferences: []eas.BodyPreference{{Type: eas.BodyMIME, Preview: 100}}}},
	{"smime only", eas.BodyOptions{MIMESupport: 1, Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 4096}, {Type: eas.BodyMIME}}}},
}

// convertLocally converts raw as a backend reading pieces would, planning
// even for small messages. whole reports that the plan fell back to the
// whole message.
func convertLocally(t testing.TB, raw []byte, opt Options) (e *eas.Email, whole bool, err error) {
	p := &parser{}
	root := p.parse(raw, "", 0)
	if p.err() != nil {
		// Broken MIME: a server's outline of it is its own reading (see
		// the Dovecot test); the local one proves nothing.
		return nil, true, nil
	}
	s := localOutline(root)
	po := PlanOptions{WholeBelow: -1}
	for range 2 {
		plan := PlanFetch(s, int64(len(raw)), opt.Body, po)
		if plan.Whole {
			return nil, true, nil
		}
		e, err = ConvertPieces(s, localPieces(t, raw, root, plan), opt)
		if errors.Is(err, ErrNeedMore) && !po.Full {
			po.Full = true
			continue
		}
		if errors.Is(err, ErrNeedWhole) || errors.Is(err, ErrNeedMore) {
			return nil, true, nil
		}
		return e, false, err
	}
	return nil, true, nil
}

// samePieces compares the item made of pieces with the one made of the
// whole message: equal, but for the estimated size of a cut body and
// attachments taken as inline in a cut HTML body.
func samePieces(t *testing.T, want, got *eas.Email) {
	t.Helper()
	w, g := *want, *got
	if w.Body != nil && g.Body != nil && g.Body.Truncated && w.Body.Truncated {
		wb, gb := *w.Body, *g.Body
		lo, hi := wb.EstimatedDataSize/3, wb.EstimatedDataSize*3
		if gb.EstimatedDataSize < lo || gb.EstimatedDataSize > hi || gb.EstimatedDataSize <= int64(len(gb.Data)) {
			t.Errorf("EstimatedDataSize %d, whole message gives %d", gb.EstimatedDataSize, wb.EstimatedDataSize)
		}
		gb.EstimatedDataSize = wb.EstimatedDataSize
		w.Body, g.Body = &wb, &gb
	}
	if w.Attachments != nil && g.Attachments != nil && len(w.Attachments.Attachment) == len(g.Attachments.Attachment) {
		wa := append([]eas.Attachment(nil), w.Attachments.Attachment...)
		for i := range wa {
			// Sizes of base64 parts are estimated from their stored
			// size: off by the padding, or more for other line lengths.
			if d := g.Attachments.Attachment[i].EstimatedDataSize - wa[i].EstimatedDataSize; d >= -2-wa[i].EstimatedDataSize/100 && d <= 2+wa[i].EstimatedDataSize/100 {
				wa[i].EstimatedDataSize = g.Attachments.Attachment[i].EstimatedDataSize
			}
			if g.Attachments.Attachment[i].IsInline && !wa[i].IsInline && wa[i].ContentID != "" {
				wa[i].IsInline = true
			}
		}
		w.Attachments = &eas.Attachments{Attachment: wa}
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("items differ\nwhole:  %s\npieces: %s", dumpEmail(&w), dumpEmail(&g))
	}
}

func dumpEmail(e *eas.Email) string {
	c := *e
	s := fmt.Sprintf("%+v", c)
	if c.Body != nil {
		b := *c.Body
		if len(b.Data) > 200 {
			b.Data = fmt.Sprintf("%.100q...%q (%d bytes)", b.Data, b.Data[len(b.Data)-60:], len(b.Data))
		}
		s += fmt.Sprintf("\n  body %+v", b)
	}
	if c.Attachments != nil {
		s += fmt.Sprintf("\n  attachments %+v", c.Attachments.Attachment)
	}
	return s
}

// TestConvertPiecesMatchesConvert converts the corpus and large generated
// messages from pieces, for every kind of body a phone asks for, and
// compares with converting the whole message.
func TestConvertPiecesMatchesConvert(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string][]byte{}
	for _, f := range files {
		msgs[filepath.Base(f)] = readCorpus(t, filepath.Base(f))
	}
	for name, raw := range largeMessages(t) {
		msgs[name] = raw
	}
	partial := 0
	for name, raw := range msgs {
		for _, bc := range bodyCases {
			t.Run(name+"/"+bc.name, func(t *testing.T) {
				opt := Options{Body: bc.opt, Received: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
				want, werr := Convert(raw, opt)
				got, whole, gerr := convertLocally(t, raw, opt)
				if whole {
					return
				}
				if (werr == nil) != (gerr == nil) {
					t.Errorf("errors differ: whole %v, pieces %v", werr, gerr)
				}
				if got.Body != nil && got.Body.Truncated {
					partial++
				}
				samePieces(t, want, got)
			})
		}
	}
	if partial == 0 {
		t.Error("no body was cut")
	}
}

// largeMessages are messages whose text parts are worth cutting.
func largeMessages(t testing.TB) map[string][]byte {
	rng := rand.New(rand.NewSource(1))
	words := []string{"Grüße", "meeting", "café", "naïve", "日本語", "€", "the", "report", "😀", "quarterly", "a", "über", "résumé"}
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(words[rng.Intn(len(words))])
			if rng.Intn(12) == 0 {
				b.WriteString("\n")
			} else {
				b.WriteByte(' ')
			}
		}
		return b.String()
	}
	html := func(n int) string {
		var b strings.Builder
		b.WriteString("<html><head><style>p{margin:0}</style></head><body>")
		for b.Len() < n {
			fmt.Fprintf(&b, "<p class=\"x\"><b>%s</b> <a href=\"https://example.com/%d\">link</a> %s</p>", text(40), rng.Intn(1000), text(200))
			if rng.Intn(3) == 0 {
				b.WriteString("\n")
			}
		}
		b.WriteString("</body></html>")
		return b.String()
	}
	blob := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	part := func(typ, cte string, body []byte, extra string) string {
		return fmt.Sprintf("Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n%s\r\n%s", typ, cte, extra, encodeBody(t, cte, body))
	}
	msg := func(typ, extra string, parts ...string) []byte {
		var b strings.Builder
		b.WriteString("From: Anna <anna@example.com>\r\nTo: Bob <bob@example.com>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= large\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\nMessage-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\n")
		if len(parts) == 0 {
			b.WriteString(extra)
			return []byte(b.String())
		}
		fmt.Fprintf(&b, "Content-Type: %s; boundary=\"b-%s\"\r\n\r\n", typ, typ[10:])
		for _, p := range parts {
			fmt.Fprintf(&b, "--b-%s\r\n%s\r\n", typ[10:], p)
		}
		fmt.Fprintf(&b, "--b-%s--\r\n", typ[10:])
		return []byte(b.String())
	}
	jis, _ := japanese.ISO2022JP.NewEncoder().Bytes([]byte(strings.Repeat("日本語のメールです。添付ファイルをご確認ください。\n", 2000)))
	alt := func(plain, htm string) string {
		return "Content-Type: multipart/alternative; boundary=\"b-inner\"\r\n\r\n--b-inner\r\n" +
			part("text/plain; charset=utf-8", "quoted-printable", []byte(plain), "") + "\r\n--b-inner\r\n" +
			part("text/html; charset=utf-8", "quoted-printable", []byte(htm), "") + "\r\n--b-inner--\r\n"
	}
	pdf := part("application/pdf; name=\"report.pdf\"", "base64", blob(1<<20), "Content-Disposition: attachment; filename=\"report.pdf\"\r\n")
	img := part("image/png; name=\"logo.png\"", "base64", blob(40<<10), "Content-ID: <logo@x>\r\nContent-Disposition: inline; filename=\"logo.png\"\r\n")
	return map[string][]byte{
		"alternative-with-pdf": msg("multipart/mixed", "", alt(text(60<<10), html(90<<10)), pdf),
		"related-html-base64": msg("multipart/mixed", "",
			"Content-Type: multipart/related; boundary=\"b-rel\"\r\n\r\n--b-rel\r\n"+
				part("text/html; charset=utf-8", "base64", []byte(html(50<<10)+`<img src="cid:logo@x">`), "")+"\r\n--b-rel\r\n"+img+"\r\n--b-rel--\r\n", pdf),
		"plain-8bit-single": msg("", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+text(300<<10)),
		"html-one-line":     msg("", "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+strings.ReplaceAll(html(100<<10), "\n", "")),
		"iso-2022-jp-7bit":  msg("multipart/mixed", "", part("text/plain; charset=iso-2022-jp", "7bit", jis, ""), pdf),
		"flowed":            msg("multipart/mixed", "", part("text/plain; charset=utf-8; format=flowed; delsp=yes", "quoted-printable", []byte(strings.ReplaceAll(text(40<<10), "\n", " \n")), ""), pdf),
		"two-inline-texts": msg("multipart/mixed", "", part("text/plain; charset=utf-8", "base64", []byte(text(30<<10)), ""),
			part("text/html; charset=utf-8", "quoted-printable", []byte(html(20<<10)), ""), pdf),
		"html-only-with-attachment": msg("multipart/mixed", "", part("text/html; charset=windows-1252", "quoted-printable", []byte("<html><head><meta charset=\"windows-1252\"></head><body>"+strings.Repeat("<div style=\"font-family:Arial;color:#333;padding:4px\">caf\xe9 \x80 5</div>\n", 3000)+"</body></html>"), ""), pdf),
	}
}

// TestWrongOutline gives ConvertPieces outlines that lie about the message:
// the message is then read whole, never converted from wrong pieces.
func TestWrongOutline(t *testing.T) {
	raw := largeMessages(t)["alternative-with-pdf"]
	p := &parser{}
	root := p.parse(raw, "", 0)
	body := eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 5120}}}
	cases := []struct {
		name  string
		lie   func(s *Structure)
		whole bool // refused by PlanFetch already
	}{
		{"attachment said to be html", func(s *Structure) { s.Children[1].Type = "text/html" }, false},
		{"text said to be an image", func(s *Structure) { s.Children[0].Children[1].Type = "image/png" }, false},
		{"wrong encoding", func(s *Structure) { s.Children[0].Children[1].Encoding = "base64" }, false},
		{"part made up", func(s *Structure) {
			s.Children = append(s.Children, &Structure{Type: "text/plain", Encoding: "7bit"})
		}, false},
		{"multipart without parts", func(s *Structure) { s.Children[0].Children = nil }, true},
		{"multipart without boundary", func(s *Structure) { s.Params = map[string]string{} }, true},
		{"top level an attached message", func(s *Structure) { s.Type = "message/rfc822" }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Pieces come from the true message, planned on the lie.
			s := localOutline(root)
			tc.lie(s)
			plan := PlanFetch(s, int64(len(raw)), body, PlanOptions{WholeBelow: -1})
			if plan.Whole != tc.whole {
				t.Fatalf("plan whole %v, want %v", plan.Whole, tc.whole)
			}
			if plan.Whole {
				return
			}
			if _, err := ConvertPieces(s, localPieces(t, raw, root, plan), Options{Body: body}); !errors.Is(err, ErrNeedWhole) {
				t.Errorf("ConvertPieces: %v, want ErrNeedWhole", err)
			}
		})
	}
	if plan := PlanFetch(nil, 1<<20, body, PlanOptions{}); !plan.Whole {
		t.Error("no outline: not read whole")
	}
}
