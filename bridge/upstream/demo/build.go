package demo

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding"
)

// demoAddress is how the demo user appears in sample mail.
const demoAddress = "Demo User <" + User + ">"

// field is one header field; headers are lists so that the rendered order
// reads like mail written by a real client. go-message folds long values.
type field struct{ key, value string }

// part is one MIME entity of a sample message.
type part struct {
	fields []field // Content-* fields
	body   []byte  // decoded content of a leaf
	parts  []part  // children of a multipart
}

// letter describes one sample message and where it is filed.
type letter struct {
	folder string
	// age is how long before the demo starts the message was sent; dates
	// are relative so that the mailbox always looks current.
	age   time.Duration
	zone  *time.Location // the sender's zone for the Date field; UTC if nil
	flags []imap.Flag

	from    string
	to      []string // the demo user if empty
	cc      []string
	replyTo string
	subject string
	id      string // Message-ID without angle brackets
	// inReplyTo and references are Message-IDs without angle brackets.
	inReplyTo  string
	references []string
	extra      []field // further fields, after the standard ones

	body part

	// legacy, when set, replaces body: the message is a single text/plain
	// part in a pre-Unicode charset, with subject and display names encoded
	// in that charset too, as older mail clients send it.
	legacy *legacyText
}

type legacyText struct {
	charset  string // IANA name, as written in the message
	encoding encoding.Encoding
	cte      string // Content-Transfer-Encoding: 7bit, 8bit, quoted-printable or base64
	text     string
}

func textPart(subtype, text string) part {
	body := crlf(text)
	cte := "quoted-printable"
	if isPlain7bit(body) {
		cte = "7bit"
	}
	return part{
		fields: []field{
			{"Content-Type", mime.FormatMediaType("text/"+subtype, map[string]string{"charset": "utf-8"})},
			{"Content-Transfer-Encoding", cte},
		},
		body: []byte(body),
	}
}

func plain(text string) part { return textPart("plain", text) }
func html(text string) part  { return textPart("html", text) }

func multipart(subtype string, parts ...part) part {
	return part{
		fields: []field{{"Content-Type", "multipart/" + subtype}},
		parts:  parts,
	}
}

func attachment(contentType, filename string, data []byte) part {
	return part{
		fields: []field{
			{"Content-Type", mime.FormatMediaType(contentType, map[string]string{"name": filename})},
			{"Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename})},
			{"Content-Transfer-Encoding", "base64"},
		},
		body: data,
	}
}

// inline is a part shown in the body, such as an image an HTML part refers
// to as cid:contentID.
func inline(contentType, filename, contentID string, data []byte) part {
	return part{
		fields: []field{
			{"Content-Type", mime.FormatMediaType(contentType, map[string]string{"name": filename})},
			{"Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": filename})},
			{"Content-ID", "<" + contentID + ">"},
			{"Content-Transfer-Encoding", "base64"},
		},
		body: data,
	}
}

// render writes the message as it would arrive, dated now-age.
func (l *letter) render(now time.Time) ([]byte, error) {
	zone := l.zone
	if zone == nil {
		zone = time.UTC
	}
	var fields []field
	var h mail.Header
	h.SetDate(l.date(now).In(zone))
	fields = append(fields, field{"Date", h.Get("Date")})

	addr := func(key string, list []string) error {
		if len(list) == 0 {
			return nil
		}
		var v []string
		for _, s := range list {
			a, err := mail.ParseAddress(s)
			if err != nil {
				return fmt.Errorf("%s %q: %w", key, s, err)
			}
			if l.legacy != nil && !isPlain7bit(a.Name) {
				name, err := legacyWords(l.legacy.charset, l.legacy.encoding, a.Name)
				if err != nil {
					return fmt.Errorf("%s %q: %w", key, s, err)
				}
				v = append(v, name+" <"+a.Address+">")
				continue
			}
			v = append(v, a.String())
		}
		fields = append(fields, field{key, strings.Join(v, ", ")})
		return nil
	}
	to := l.to
	if len(to) == 0 {
		to = []string{demoAddress}
	}
	if err := addr("From", []string{l.from}); err != nil {
		return nil, err
	}
	if l.replyTo != "" {
		if err := addr("Reply-To", []string{l.replyTo}); err != nil {
			return nil, err
		}
	}
	if err := addr("To", to); err != nil {
		return nil, err
	}
	if err := addr("Cc", l.cc); err != nil {
		return nil, err
	}
	subject := mime.QEncoding.Encode("utf-8", l.subject)
	if l.legacy != nil {
		var err error
		if subject, err = legacyWords(l.legacy.charset, l.legacy.encoding, l.subject); err != nil {
			return nil, fmt.Errorf("subject %q: %w", l.subject, err)
		}
	}
	fields = append(fields, field{"Subject", subject})
	fields = append(fields, field{"Message-ID", "<" + l.id + ">"})
	if l.inReplyTo != "" {
		fields = append(fields, field{"In-Reply-To", "<" + l.inReplyTo + ">"})
	}
	if len(l.references) > 0 {
		fields = append(fields, field{"References", "<" + strings.Join(l.references, "> <") + ">"})
	}
	fields = append(fields, l.extra...)
	fields = append(fields, field{"MIME-Version", "1.0"})

	var buf bytes.Buffer
	if l.legacy != nil {
		if err := l.legacy.write(&buf, fields); err != nil {
			return nil, fmt.Errorf("message %s: %w", l.id, err)
		}
		return buf.Bytes(), nil
	}

	top := l.body
	top.fields = append(fields, top.fields...)
	boundaries := 0
	w, err := message.CreateWriter(&buf, top.header(l.id, &boundaries))
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", l.id, err)
	}
	if err := top.writeContent(w, l.id, &boundaries); err != nil {
		return nil, fmt.Errorf("message %s: %w", l.id, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("message %s: %w", l.id, err)
	}
	return buf.Bytes(), nil
}

// date is when the letter was sent: age before now, moved back into the
// sender's evening if that would be a night hour where they live (only for
// letters with a zone: people, not machines). Moving only ever goes back, by
// at most 12 hours, so a reply at least that much younger than what it
// answers stays after it.
func (l *letter) date(now time.Time) time.Time {
	t := now.Add(-l.age).Truncate(time.Second)
	if l.zone == nil {
		return t
	}
	switch h := t.In(l.zone).Hour(); {
	case h < 8:
		t = t.Add(-time.Duration(h+5) * time.Hour)
	case h >= 20:
		t = t.Add(-time.Duration(h-19) * time.Hour)
	}
	return t
}

// header builds the go-message header of p. go-message writes fields last
// to first, hence the reversed order. Multiparts get a boundary derived from
// the Message-ID so that a message renders the same every time.
func (p part) header(id string, boundaries *int) message.Header {
	var h message.Header
	for i := len(p.fields) - 1; i >= 0; i-- {
		f := p.fields[i]
		v := f.value
		if f.key == "Content-Type" && strings.HasPrefix(v, "multipart/") {
			*boundaries++
			v = mime.FormatMediaType(v, map[string]string{
				"boundary": fmt.Sprintf("=_demo_%08x_%d", crc32.ChecksumIEEE([]byte(id)), *boundaries),
			})
		}
		h.Add(f.key, v)
	}
	return h
}

func (p part) writeContent(w *message.Writer, id string, boundaries *int) error {
	if len(p.parts) == 0 {
		_, err := w.Write(p.body)
		return err
	}
	for _, c := range p.parts {
		cw, err := w.CreatePart(c.header(id, boundaries))
		if err != nil {
			return err
		}
		if err := c.writeContent(cw, id, boundaries); err != nil {
			return err
		}
		if err := cw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// write renders a single-part legacy-charset message. go-message's writer
// only takes UTF-8 text, so the body is converted and encoded here.
func (t *legacyText) write(buf *bytes.Buffer, fields []field) error {
	body, err := t.encoding.NewEncoder().String(crlf(t.text))
	if err != nil {
		return fmt.Errorf("encode body as %s: %w", t.charset, err)
	}
	fields = append(fields,
		field{"Content-Type", mime.FormatMediaType("text/plain", map[string]string{"charset": t.charset})},
		field{"Content-Transfer-Encoding", t.cte},
	)
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].key, fields[i].value)
	}
	if err := textproto.WriteHeader(buf, h); err != nil {
		return err
	}
	switch t.cte {
	case "7bit", "8bit":
		buf.WriteString(body)
	case "quoted-printable":
		w := quotedprintable.NewWriter(buf)
		if _, err := w.Write([]byte(body)); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	case "base64":
		enc := base64.StdEncoding.EncodeToString([]byte(body))
		for len(enc) > 76 {
			buf.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		buf.WriteString(enc + "\r\n")
	default:
		return fmt.Errorf("unknown transfer encoding %q", t.cte)
	}
	return nil
}

// legacyWords encodes s as RFC 2047 words in charset. Each word is encoded on
// its own, because in a stateful charset like ISO-2022-JP a word split in the
// middle of an escape sequence would not decode.
func legacyWords(charset string, enc encoding.Encoding, s string) (string, error) {
	if isPlain7bit(s) {
		return s, nil
	}
	// Eight characters stay within the 75-byte limit of an encoded word
	// even for two-byte charsets with escape sequences.
	const perWord = 8
	var words []string
	runes := []rune(s)
	for len(runes) > 0 {
		n := min(perWord, len(runes))
		chunk, err := enc.NewEncoder().String(string(runes[:n]))
		if err != nil {
			return "", fmt.Errorf("encode %q as %s: %w", string(runes[:n]), charset, err)
		}
		// Not mime.BEncoding: it leaves an all-ASCII chunk bare, and a bare
		// word next to encoded ones gains a space when decoded.
		words = append(words, "=?"+charset+"?B?"+base64.StdEncoding.EncodeToString([]byte(chunk))+"?=")
		runes = runes[n:]
	}
	return strings.Join(words, " "), nil
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// isPlain7bit reports whether s can go as 7bit: ASCII without control
// characters and no line longer than 78 characters.
func isPlain7bit(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if utf8.RuneCountInString(line) > 78 {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x7f || (c < 0x20 && c != '\r' && c != '\n' && c != '\t') {
			return false
		}
	}
	return true
}
