package notes

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"html"
	"io"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Apple's notes format.
//
// Apple Mail and Notes keep each note as one message in the notes mailbox:
// X-Uniform-Type-Identifier says it is a note, X-Universally-Unique-
// Identifier (an upper-case UUID) names the note across its versions, the
// Subject is its title, the Date its last change and X-Mail-Created-Date
// its creation; the body is HTML whose first line repeats the title. An
// edit is a new message with the same UUID, after which the old one is
// deleted.

// Header fields of Apple's notes.
const (
	hdrType    = "X-Uniform-Type-Identifier"
	hdrUUID    = "X-Universally-Unique-Identifier"
	hdrCreated = "X-Mail-Created-Date"
	noteType   = "com.apple.mail-note"
)

// newUUID returns a random (version 4) UUID in Apple's upper-case form.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("no randomness for a note's UUID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b[:]), nil
}

func formatUUID(b []byte) string {
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// derivedUUID names a message of the notes mailbox that has no UUID of its
// own (a note written by another tool), from the mailbox's UIDVALIDITY and
// its UID: stable while the message is, and written into the message that
// replaces it when the note is changed, so the note keeps its identity.
func derivedUUID(uidValidity, uid uint32) string {
	h := sha256.Sum256(fmt.Appendf(nil, "easgate note %d/%d", uidValidity, uid))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return formatUUID(h[:16])
}

// cleanUUID is the note id a header value gives, "" when it cannot be one
// (ServerIds are at most 64 characters, and phones echo them verbatim).
func cleanUUID(v string) string {
	v = strings.ToUpper(strings.TrimSpace(v))
	if v == "" || len(v) > 40 || strings.ContainsFunc(v, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || r == '-')
	}) {
		return ""
	}
	return v
}

// rawBody is a message's body as it is stored, with the header fields
// that say how to read it: kept verbatim when a phone changes a note but
// leaves its body out.
type rawBody struct {
	contentType string
	encoding    string
	data        []byte
}

// stored is what a change of a note keeps of the message it replaces.
type stored struct {
	subject string
	created string
	body    rawBody
}

// parseStored reads a note's message for what a change keeps.
func parseStored(raw []byte) (stored, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	th, err := textproto.ReadHeader(br)
	if err != nil {
		return stored{}, fmt.Errorf("read note header: %w", err)
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return stored{}, err
	}
	h := mail.Header{Header: message.Header{Header: th}}
	subject, err := h.Subject()
	if err != nil {
		subject = h.Get("Subject")
	}
	return stored{
		subject: subject,
		created: h.Get(hdrCreated),
		body:    rawBody{contentType: h.Get("Content-Type"), encoding: h.Get("Content-Transfer-Encoding"), data: data},
	}, nil
}

// draft is a note to be written as a message.
type draft struct {
	uuid    string
	subject string
	from    string
	// created is the X-Mail-Created-Date to keep ("" for a new note).
	created  string
	modified time.Time
	// html is the body, unless keep is set.
	html string
	keep *rawBody
}

// compose writes d in Apple's format.
func compose(d draft) ([]byte, error) {
	var h mail.Header
	h.SetDate(d.modified)
	if d.from != "" {
		h.SetAddressList("From", []*mail.Address{{Address: d.from}})
	}
	h.SetSubject(d.subject)
	if err := h.GenerateMessageIDWithHostname("easgate"); err != nil {
		return nil, err
	}
	h.Set("Mime-Version", "1.0")
	h.Set(hdrType, noteType)
	h.Set(hdrUUID, d.uuid)
	created := d.created
	if created == "" {
		created = d.modified.Format(time.RFC1123Z)
	}
	h.Set(hdrCreated, created)
	var body []byte
	if d.keep != nil {
		h.Set("Content-Type", d.keep.contentType)
		if d.keep.encoding != "" {
			h.Set("Content-Transfer-Encoding", d.keep.encoding)
		}
		body = d.keep.data
	} else {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		var b bytes.Buffer
		qp := quotedprintable.NewWriter(&b)
		if _, err := io.WriteString(qp, d.html); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
		body = b.Bytes()
	}
	var out bytes.Buffer
	if err := textproto.WriteHeader(&out, h.Header.Header); err != nil {
		return nil, fmt.Errorf("write note header: %w", err)
	}
	out.Write(body)
	return out.Bytes(), nil
}

// textHTML renders a phone's plain text as a note's HTML: a div per line,
// as Apple's Notes writes it.
func textHTML(text string) string {
	var b strings.Builder
	b.WriteString("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>")
	text = strings.ReplaceAll(strings.TrimRight(text, "\r\n"), "\r\n", "\n")
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			b.WriteString("<div><br></div>")
			continue
		}
		b.WriteString("<div>" + html.EscapeString(line) + "</div>")
	}
	b.WriteString("</body></html>")
	return b.String()
}
