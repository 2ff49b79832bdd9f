package mailconv

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
)

var benchWords = strings.Fields(`the quarterly numbers look better than expected and the team
	delivered every milestone on time although the supplier in Rotterdam still owes us two
	shipments of parts for the Munich plant which we need before the end of the month`)

// htmlMessage builds a newsletter-like multipart/alternative message whose
// HTML part is about size bytes.
func htmlMessage(size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var html, plain strings.Builder
	html.WriteString("<html><head><style>p{font-family:Arial;color:#333}</style></head><body><table width=\"600\">")
	for html.Len() < size {
		var para []string
		for i := 0; i < 40+rng.IntN(40); i++ {
			para = append(para, benchWords[rng.IntN(len(benchWords))])
		}
		text := strings.Join(para, " ")
		fmt.Fprintf(&html, "<tr><td><p>%s <a href=\"https://example.com/a/%d\">read more</a> &euro; %d,00</p></td></tr>\n", text, rng.IntN(1e6), rng.IntN(500))
		plain.WriteString(text + "\n\n")
	}
	html.WriteString("</table></body></html>\n")

	var b bytes.Buffer
	b.WriteString("From: \"Example News\" <news@example.com>\r\nTo: anna@example.org\r\nSubject: Weekly digest\r\n" +
		"Date: Mon, 06 Apr 2026 07:00:00 +0000\r\nMessage-ID: <digest-2026-14@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n")
	for _, p := range []struct{ ct, text string }{{"text/plain", plain.String()}, {"text/html", html.String()}} {
		b.WriteString("--alt\r\nContent-Type: " + p.ct + "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(strings.ReplaceAll(p.text, "\n", "\r\n")))
		w.Close()
		b.WriteString("\r\n")
	}
	b.WriteString("--alt--\r\n")
	return b.Bytes()
}

// attachmentMessage builds a message of about size bytes: a short text and
// HTML body and three base64 attachments.
func attachmentMessage(size int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	b.WriteString("From: Priya Raman <priya.raman@corp.example.com>\r\nTo: anna@example.org\r\nSubject: Scans\r\n" +
		"Date: Mon, 06 Apr 2026 09:00:00 +0000\r\nMessage-ID: <scans-1@corp.example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n" +
		"Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Here are the scans.\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Here are the scans.</p>\r\n--alt--\r\n")
	names := []string{"contract.pdf", "site-photo.jpg", "drawings.zip"}
	each := size / len(names) * 3 / 4 // base64 grows by 4/3
	for _, name := range names {
		data := make([]byte, each)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(data)
		fmt.Fprintf(&b, "\r\n--mix\r\nContent-Type: application/octet-stream; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", name, name)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
	}
	b.WriteString("\r\n--mix--\r\n")
	return b.Bytes()
}

func BenchmarkConvert(b *testing.B) {
	// What AOSP asks for on a Sync.
	opt := Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 200000}}}}
	for _, bc := range []struct {
		name string
		raw  []byte
	}{
		{"html-50KB", htmlMessage(50 << 10)},
		{"attachments-5MB", attachmentMessage(5 << 20)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := Convert(bc.raw, opt); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.raw)))
			b.ReportAllocs()
			for b.Loop() {
				Convert(bc.raw, opt)
			}
		})
	}
}

func BenchmarkAttachment5MB(b *testing.B) {
	raw := attachmentMessage(5 << 20)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Attachment(raw, "4"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchmarkMessages(t *testing.T) {
	// The benchmarks measure what they claim to: the messages convert
	// cleanly and have the intended shape.
	h := htmlMessage(50 << 10)
	e, err := Convert(h, Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML}}}})
	if err != nil || e.Body.Type != eas.BodyHTML || e.Body.EstimatedDataSize < 50<<10 || e.Attachments != nil {
		t.Errorf("html message: %v, body %d bytes of type %d", err, e.Body.EstimatedDataSize, e.Body.Type)
	}
	a := attachmentMessage(5 << 20)
	e, err = Convert(a, Options{})
	if err != nil || len(a) < 5<<20-1000 || e.Attachments == nil || len(e.Attachments.Attachment) != 3 {
		t.Fatalf("attachment message of %d bytes: %v, %+v", len(a), err, e.Attachments)
	}
	for _, at := range e.Attachments.Attachment {
		if at.EstimatedDataSize != (5<<20)/3*3/4 {
			t.Errorf("%s: %d bytes", at.DisplayName, at.EstimatedDataSize)
		}
	}
}
