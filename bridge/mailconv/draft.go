package mailconv

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime"
	"net/mail"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/easgate/easgate/eas/htmltext"
)

// CheckMessage reports why raw cannot be stored as a message a phone
// wrote whole (a draft with a MIME body): a header that does not parse or
// is empty, or a MIME structure that does not. Unknown charsets and
// transfer encodings are the reader's concern, not an error.
func CheckMessage(raw []byte) error {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return fmt.Errorf("read message: %w", err)
	}
	if e.Header.Len() == 0 {
		return fmt.Errorf("message without a header")
	}
	return e.Walk(func(_ []int, _ *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return fmt.Errorf("read MIME part: %w", err)
		}
		return nil
	})
}

// Draft is a draft as a phone writes it with EAS 16.0 drafts sync: the
// fields it set, over the draft it replaces, if any.
type Draft struct {
	// From is the account's address; a draft is always from its owner.
	From string
	// To, Cc, Bcc and Subject replace the base draft's when not "".
	To, Cc, Bcc, Subject string
	// Importance 0 low, 1 normal, 2 high; nil keeps the base's.
	Importance *int
	// Body replaces the base's text when not nil.
	Body *DraftBody
	// Attach are new attachments, placed after the base's.
	Attach []NewAttachment
	// Drop names attachments of the base to leave out, by part number.
	Drop []string
}

// DraftBody is a draft's text, plain or HTML.
type DraftBody struct {
	HTML bool
	Text string
}

// NewAttachment is an attachment a phone adds to a draft.
type NewAttachment struct {
	Name, ContentType, ContentID, ContentLocation string
	Inline                                        bool
	Data                                          []byte
}

// ComposeDraft writes d as a message. base is the draft it replaces (nil
// for a new one): its header fields (In-Reply-To and References of a
// reply among them), text and attachments stay unless d changes them. It
// returns the message and the part number of each of d.Attach in it.
//
// Every attachment, kept or new, is a direct part of one multipart/mixed
// after the text, so the part numbers are known before anything is parsed.
func ComposeDraft(base []byte, d Draft) (msg []byte, parts []string, err error) {
	defer recoverCompose("draft", &err)
	return composeDraft(base, d)
}

func composeDraft(base []byte, d Draft) ([]byte, []string, error) {
	var parts []string
	var pm *parsedMessage
	if base != nil {
		pm = readOriginal(base)
	}

	var h textproto.Header
	if pm != nil {
		// The base's own fields, minus those rewritten below.
		copyFields(&h, pm.root.header, draftOwnField)
	}
	from, err := mail.ParseAddress(d.From)
	if err != nil {
		from = &mail.Address{Address: d.From}
	}
	setAddresses(&h, "From", []*mail.Address{from})
	for _, f := range []struct{ key, value string }{{"To", d.To}, {"Cc", d.Cc}, {"Bcc", d.Bcc}} {
		if strings.TrimSpace(f.value) == "" {
			continue
		}
		list, bad, _ := parseAddressList(f.value, "")
		if len(bad) > 0 || len(list) == 0 {
			return nil, nil, fmt.Errorf("%s: %q is not a list of addresses", f.key, f.value)
		}
		setAddresses(&h, f.key, list)
	}
	if d.Subject != "" {
		h.Del("Subject")
		h.Set("Subject", mime.QEncoding.Encode("utf-8", d.Subject))
	}
	if d.Importance != nil {
		h.Del("Importance")
		h.Del("X-Priority")
		switch *d.Importance {
		case 0:
			h.Set("Importance", "low")
		case 2:
			h.Set("Importance", "high")
		}
	}
	h.Set("Date", time.Now().Format(time.RFC1123Z))
	id, err := newMessageID(senderDomain(h))
	if err != nil {
		return nil, nil, err
	}
	h.Set("Message-Id", "<"+id+">")
	h.Set("Mime-Version", "1.0")

	var text *outPart
	switch {
	case d.Body != nil && d.Body.HTML:
		text = &outPart{mediaType: "multipart/alternative", parts: []*outPart{
			textPart("text/plain", htmltext.ToText(d.Body.Text)), textPart("text/html", d.Body.Text)}}
	case d.Body != nil:
		text = textPart("text/plain", d.Body.Text)
	case pm != nil && pm.body.hasHTML:
		text = &outPart{mediaType: "multipart/alternative", parts: []*outPart{
			textPart("text/plain", pm.body.text()), textPart("text/html", pm.body.html)}}
	case pm != nil:
		text = textPart("text/plain", pm.body.text())
	default:
		text = textPart("text/plain", "")
	}

	var atts []*outPart
	if pm != nil {
		drop := map[string]bool{}
		for _, p := range d.Drop {
			drop[p] = true
		}
		for _, n := range attachmentParts(pm.root, pm.used) {
			if !drop[n.path] {
				atts = append(atts, verbatim(n))
			}
		}
	}
	for _, a := range d.Attach {
		parts = append(parts, strconv.Itoa(len(atts)+2))
		atts = append(atts, attachmentPart(a))
	}
	top := text
	if len(atts) > 0 {
		top = &outPart{mediaType: "multipart/mixed", parts: append([]*outPart{text}, atts...)}
	}
	if err := top.prepare(); err != nil {
		return nil, nil, err
	}
	own := top.header.Fields()
	for own.Next() {
		h.Set(own.Key(), own.Value())
	}

	var buf bytes.Buffer
	if err := textproto.WriteHeader(&buf, h); err != nil {
		return nil, nil, fmt.Errorf("writing the header: %w", err)
	}
	if err := top.writeBody(&buf); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), parts, nil
}

// draftOwnField tells the fields ComposeDraft always writes itself.
func draftOwnField(key string) bool {
	k := strings.ToLower(key)
	return strings.HasPrefix(k, "content-") || k == "mime-version" || k == "date" || k == "message-id" || k == "from"
}

// setAddresses sets an address field, display names encoded.
func setAddresses(h *textproto.Header, key string, list []*mail.Address) {
	s := make([]string, len(list))
	for i, a := range list {
		s[i] = a.String()
	}
	h.Del(key)
	h.Set(key, strings.Join(s, ", "))
}

// attachmentPart is a new attachment in base64.
func attachmentPart(a NewAttachment) *outPart {
	ct := a.ContentType
	if _, _, err := mime.ParseMediaType(ct); ct == "" || err != nil {
		ct = mime.TypeByExtension(path.Ext(a.Name))
		if ct == "" {
			ct = "application/octet-stream"
		}
	}
	mt, params, _ := mime.ParseMediaType(ct)
	if a.Name != "" {
		params["name"] = a.Name
	}
	p := &outPart{}
	p.header.Set("Content-Type", mime.FormatMediaType(mt, params))
	disp := "attachment"
	if a.Inline {
		disp = "inline"
	}
	if a.Name != "" {
		disp = mime.FormatMediaType(disp, map[string]string{"filename": a.Name})
	}
	p.header.Set("Content-Disposition", disp)
	if a.ContentID != "" {
		p.header.Set("Content-Id", "<"+strings.Trim(a.ContentID, "<>")+">")
	}
	if a.ContentLocation != "" {
		p.header.Set("Content-Location", a.ContentLocation)
	}
	p.header.Set("Content-Transfer-Encoding", "base64")
	enc := base64.StdEncoding.EncodeToString(a.Data)
	var b bytes.Buffer
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n")
	p.body = b.Bytes()
	return p
}

// MessageID returns the Message-ID field of raw, "" when it has none.
func MessageID(raw []byte) (string, error) {
	h, _, err := splitHeader(raw)
	if err != nil {
		return "", fmt.Errorf("reading message header: %w", err)
	}
	return strings.TrimSpace(h.Get("Message-Id")), nil
}
