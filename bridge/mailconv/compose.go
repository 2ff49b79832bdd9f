package mailconv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// Recipients returns the envelope recipients (To, Cc, Bcc, deduplicated,
// lower-cased domain) of a phone's message. A message without recipients
// gives an empty list: a 16.0 SmartForward may carry its recipients as
// Forwardees only.
func Recipients(raw []byte) ([]string, error) {
	h, _, err := splitHeader(raw)
	if err != nil {
		return nil, fmt.Errorf("reading message header: %w", err)
	}
	parser := mail.AddressParser{WordDecoder: wordDecoder(nil)}
	seen := map[string]bool{}
	out := []string{}
	for _, key := range []string{"To", "Cc", "Bcc"} {
		for _, v := range h.Values(key) {
			if strings.TrimSpace(v) == "" {
				continue
			}
			if !isValidUTF8(v) {
				v = bestEffort([]byte(v))
			}
			list, err := parser.ParseList(v)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", key, v, err)
			}
			for _, a := range list {
				addr := normalizeAddress(a.Address)
				if !seen[addr] {
					seen[addr] = true
					out = append(out, addr)
				}
			}
		}
	}
	return out, nil
}

// normalizeAddress lower-cases the domain. The local part is left as it is:
// RFC 5321 2.4 lets the receiving server tell its case apart.
func normalizeAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	return addr[:at+1] + strings.ToLower(addr[at+1:])
}

// WithoutBcc returns the message with its Bcc header removed (for the Sent
// copy), byte-identical otherwise. The copy handed to SMTP needs the same
// treatment unless the MTA is known to drop Bcc itself: the envelope
// (Recipients) is what delivers to Bcc recipients, and the others must not
// see them.
func WithoutBcc(raw []byte) []byte {
	return withoutField(raw, "Bcc")
}

// Redated gives a stored draft the moment it is sent as its Date.
func Redated(raw []byte, t time.Time) []byte {
	out := withoutField(raw, "Date")
	return append([]byte("Date: "+t.Format(time.RFC1123Z)+"\r\n"), out...)
}

// withoutField removes every header field named key, keeping the rest of
// the message byte for byte.
func withoutField(raw []byte, key string) []byte {
	h, body, err := splitHeader(raw)
	if err != nil || !h.Has(key) {
		return raw
	}
	head := raw[:len(raw)-len(body)]
	out := make([]byte, 0, len(raw))
	skipping := false
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line = head[:i+1]
		}
		head = head[len(line):]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				out = append(out, line...)
			}
			continue
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		skipping = ok && strings.EqualFold(strings.TrimSpace(string(name)), key)
		if !skipping {
			out = append(out, line...)
		}
	}
	return append(out, body...)
}

// Outgoing makes a phone's SendMail message (or a SmartReply/SmartForward
// with ReplaceMime) ready for submission: it adds Date and Message-ID when
// the phone left them out and turns bare LF line ends into CRLF. Everything
// else stays as the phone wrote it.
func Outgoing(raw []byte) ([]byte, error) {
	h, _, err := splitHeader(raw)
	if err != nil {
		return nil, fmt.Errorf("reading message header: %w", err)
	}
	var add bytes.Buffer
	if strings.TrimSpace(h.Get("Date")) == "" {
		fmt.Fprintf(&add, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	}
	if strings.TrimSpace(h.Get("Message-Id")) == "" {
		id, err := newMessageID(senderDomain(h))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&add, "Message-ID: <%s>\r\n", id)
	}
	return append(add.Bytes(), toCRLF(raw)...), nil
}

// toCRLF turns bare LF line ends into CRLF.
func toCRLF(b []byte) []byte {
	bare := false
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			bare = true
			break
		}
	}
	if !bare {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/40)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// senderDomain is the domain of the From (else Sender) address, for
// Message-IDs: go-message would use the host name, which says nothing
// about the sender and is often not even a public name.
func senderDomain(h textproto.Header) string {
	for _, key := range []string{"From", "Sender"} {
		list, _, _ := parseAddressList(h.Get(key), "")
		if len(list) > 0 {
			if at := strings.LastIndexByte(list[0].Address, '@'); at >= 0 && at < len(list[0].Address)-1 {
				return strings.ToLower(list[0].Address[at+1:])
			}
		}
	}
	return "localhost"
}

func newMessageID(domain string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a Message-ID: %w", err)
	}
	return hex.EncodeToString(b[:]) + "@" + domain, nil
}

// Reply builds the outgoing message for SmartReply: the phone's message
// with the original's text quoted below the phone's text (plain and HTML
// alternatives handled; "On <date>, <from> wrote:" header),
// In-Reply-To/References set from the original when missing.
func Reply(phone, original []byte) (out []byte, err error) {
	defer recoverCompose("reply", &err)
	return reply(phone, original)
}

func reply(phone, original []byte) ([]byte, error) {
	pm, err := readPhoneMessage(phone)
	if err != nil {
		return nil, err
	}
	om := readOriginal(original)
	oh := om.root.header

	attribution := "On " + originalDate(oh) + ", " + originalFrom(oh) + " wrote:"
	plain := strings.TrimRight(pm.body.text(), "\r\n") + "\r\n\r\n" + attribution + "\r\n" + quote(om.body.text())
	var htmlDoc string
	if pm.body.hasHTML || om.body.hasHTML {
		htmlDoc = appendHTML(pm.body.document(),
			"<br><div>"+html.EscapeString(attribution)+"</div>"+
				`<blockquote type="cite" style="margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex">`+
				om.body.htmlFragment()+"</blockquote>")
	}

	var extra []field
	if strings.TrimSpace(pm.root.header.Get("In-Reply-To")) == "" || strings.TrimSpace(pm.root.header.Get("References")) == "" {
		ids := msgIDs(oh.Get("Message-Id"))
		if len(ids) > 0 {
			id := ids[0]
			if strings.TrimSpace(pm.root.header.Get("In-Reply-To")) == "" {
				extra = append(extra, field{"In-Reply-To", "<" + id + ">"})
			}
			if strings.TrimSpace(pm.root.header.Get("References")) == "" {
				refs := msgIDs(oh.Get("References"))
				if len(refs) == 0 {
					refs = msgIDs(oh.Get("In-Reply-To"))
				}
				extra = append(extra, field{"References", "<" + strings.Join(append(refs, id), "> <") + ">"})
			}
		}
	}
	return pm.assemble(plain, htmlDoc, nil, extra)
}

// Forward builds the outgoing message for SmartForward: the phone's message
// plus the original's body (as a forwarded block) and all the original's
// attachments (inline images included) copied as MIME parts without
// re-encoding: the attachment parts' headers and encoded bodies appear
// byte-for-byte in the output. A detached S/MIME or PGP signature is not
// copied: it signed the original's structure, which the forward does not
// keep, and would only show as a broken file.
func Forward(phone, original []byte) (out []byte, err error) {
	defer recoverCompose("forward", &err)
	return forward(phone, original)
}

func forward(phone, original []byte) ([]byte, error) {
	pm, err := readPhoneMessage(phone)
	if err != nil {
		return nil, err
	}
	om := readOriginal(original)
	oh := om.root.header
	fb := headerCharset(om.root)

	headerText := func(key string) string { return oneLine(decodeWords(oh.Get(key), fb)) }
	addressText := func(key string) string {
		list, bad, _ := parseAddressList(oh.Get(key), fb)
		return formatAddressList(list, bad, ", ")
	}
	lines := []string{"---------- Forwarded message ----------", "From: " + addressText("From")}
	if d := strings.TrimSpace(oh.Get("Date")); d != "" {
		lines = append(lines, "Date: "+originalDate(oh))
	}
	lines = append(lines, "Subject: "+headerText("Subject"))
	if to := addressText("To"); to != "" {
		lines = append(lines, "To: "+to)
	}
	if cc := addressText("Cc"); cc != "" {
		lines = append(lines, "Cc: "+cc)
	}
	plain := strings.TrimRight(pm.body.text(), "\r\n") + "\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n" + om.body.text()
	var htmlDoc string
	if pm.body.hasHTML || om.body.hasHTML {
		escaped := make([]string, len(lines))
		for i, l := range lines {
			escaped[i] = html.EscapeString(l)
		}
		htmlDoc = appendHTML(pm.body.document(),
			"<br><div>"+strings.Join(escaped, "<br>\r\n")+"</div><br>\r\n"+om.body.htmlFragment())
	}

	var copied []*node
	for _, n := range attachmentParts(om.root, om.used) {
		switch n.mediaType {
		case "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature":
			continue
		}
		copied = append(copied, n)
	}
	return pm.assemble(plain, htmlDoc, copied, nil)
}

func recoverCompose(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("building %s: internal error: %v", what, r)
	}
}

// parsedMessage is a message read for composing.
type parsedMessage struct {
	root *node
	body content
	used map[*node]bool
}

// readPhoneMessage reads the phone's part of a SmartReply/SmartForward.
// Broken structure is an error: sending a garbled message is worse than
// telling the phone it failed.
func readPhoneMessage(raw []byte) (*parsedMessage, error) {
	p := &parser{}
	root := p.parse(raw, "", 0)
	if err := p.err(); err != nil {
		return nil, fmt.Errorf("reading the phone's message: %w", err)
	}
	br := &bodyReader{used: map[*node]bool{}}
	return &parsedMessage{root: root, body: br.read(root), used: br.used}, nil
}

// readOriginal reads the message replied to or forwarded. It is quoted as
// far as it can be read: a damaged original must not stop the reply.
func readOriginal(raw []byte) *parsedMessage {
	p := &parser{}
	root := p.parse(raw, "", 0)
	br := &bodyReader{used: map[*node]bool{}}
	return &parsedMessage{root: root, body: br.read(root), used: br.used}
}

func originalDate(h textproto.Header) string {
	v := strings.TrimSpace(h.Get("Date"))
	if t, err := parseDate(v); err == nil {
		return t.Format("Mon, 2 Jan 2006 15:04 -0700")
	}
	return oneLine(v)
}

func originalFrom(h textproto.Header) string {
	list, bad, _ := parseAddressList(h.Get("From"), "")
	switch {
	case len(list) > 0 && list[0].Name != "":
		return list[0].Name + " <" + list[0].Address + ">"
	case len(list) > 0:
		return list[0].Address
	case len(bad) > 0:
		return bad[0]
	}
	return "unknown sender"
}

// quote prefixes every line with "> " (">" before an already quoted line,
// as mail readers do).
func quote(text string) string {
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	lines := strings.Split(text, "\n")
	var b strings.Builder
	b.Grow(len(text) + 3*len(lines))
	for _, l := range lines {
		switch {
		case l == "":
			b.WriteString(">")
		case l[0] == '>':
			b.WriteString(">")
		default:
			b.WriteString("> ")
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

type field struct{ key, value string }

// outPart is one entity of an outgoing message: a generated text part, a
// part copied verbatim, or a multipart of those.
type outPart struct {
	header textproto.Header
	body   []byte
	// mediaType of a multipart; its parts follow.
	mediaType string
	parts     []*outPart
}

// assemble writes the outgoing message: the phone's header fields (its
// Content-* fields replaced), the new text as plain or plain+HTML
// alternatives, the phone's own attachments and the copied parts.
func (pm *parsedMessage) assemble(plain, htmlDoc string, copied []*node, extra []field) ([]byte, error) {
	text := textPart("text/plain", plain)
	if htmlDoc != "" {
		text = &outPart{mediaType: "multipart/alternative", parts: []*outPart{text, textPart("text/html", htmlDoc)}}
	}

	var inline, attached []*outPart
	cids := map[string]bool{}
	if htmlDoc != "" {
		for _, m := range cidRef.FindAllStringSubmatch(htmlDoc, -1) {
			cids[strings.ToLower(m[1])] = true
		}
	}
	for _, n := range append(attachmentParts(pm.root, pm.used), copied...) {
		p := verbatim(n)
		if id := contentID(n); id != "" && cids[strings.ToLower(id)] {
			inline = append(inline, p)
		} else {
			attached = append(attached, p)
		}
	}
	top := text
	if len(inline) > 0 {
		top = &outPart{mediaType: "multipart/related", parts: append([]*outPart{top}, inline...)}
	}
	if len(attached) > 0 {
		top = &outPart{mediaType: "multipart/mixed", parts: append([]*outPart{top}, attached...)}
	}
	if err := top.prepare(); err != nil {
		return nil, err
	}

	h := pm.root.header
	var buf bytes.Buffer
	fields := h.Fields()
	for fields.Next() {
		if strings.HasPrefix(strings.ToLower(fields.Key()), "content-") || strings.EqualFold(fields.Key(), "Mime-Version") {
			continue
		}
		raw, err := fields.Raw()
		if err != nil {
			return nil, fmt.Errorf("copying header %s: %w", fields.Key(), err)
		}
		buf.Write(toCRLF(raw))
	}
	if strings.TrimSpace(h.Get("Date")) == "" {
		extra = append(extra, field{"Date", time.Now().Format(time.RFC1123Z)})
	}
	if strings.TrimSpace(h.Get("Message-Id")) == "" {
		id, err := newMessageID(senderDomain(h))
		if err != nil {
			return nil, err
		}
		extra = append(extra, field{"Message-ID", "<" + id + ">"})
	}
	extra = append(extra, field{"MIME-Version", "1.0"})
	for _, f := range extra {
		if err := writeField(&buf, f.key, f.value); err != nil {
			return nil, err
		}
	}
	// The top entity's own Content-* fields end the header.
	own := top.header.Fields()
	for own.Next() {
		raw, err := own.Raw()
		if err != nil {
			return nil, fmt.Errorf("writing header %s: %w", own.Key(), err)
		}
		buf.Write(raw)
	}
	buf.WriteString("\r\n")
	if err := top.writeBody(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeField writes one header field, folded by go-message, with the
// field name spelled as given ("MIME-Version", not go-message's canonical
// "Mime-Version").
func writeField(w *bytes.Buffer, key, value string) error {
	var h textproto.Header
	h.Add(key, value)
	raw, err := h.Raw(key)
	if err != nil {
		return fmt.Errorf("writing header %s: %w", key, err)
	}
	w.WriteString(key)
	w.Write(raw[len(key):])
	return nil
}

// textPart is a UTF-8 text part in quoted-printable, which keeps every
// line under the 998-byte limit of RFC 5322 whatever the text.
func textPart(mediaType, text string) *outPart {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	io.WriteString(w, text)
	w.Close()
	p := &outPart{body: b.Bytes()}
	p.header.Add("Content-Transfer-Encoding", "quoted-printable")
	p.header.Add("Content-Type", mediaType+"; charset=utf-8")
	return p
}

// verbatim is a part copied with its header fields and encoded body as
// they are. A message's top-level entity brings only its Content-* fields:
// its From, To and the rest belong to the message, not to the part.
func verbatim(n *node) *outPart {
	p := &outPart{}
	copyFields(&p.header, n.header, func(key string) bool {
		return n.root && !strings.HasPrefix(strings.ToLower(key), "content-")
	})
	p.body = n.raw
	if n.cte() != "binary" {
		p.body = toCRLF(n.raw)
	}
	return p
}

// copyFields adds the fields of src that skip does not name to dst, as they
// were written (CRLF line ends), in their order.
func copyFields(dst *textproto.Header, src textproto.Header, skip func(key string) bool) {
	var raws [][]byte
	f := src.Fields()
	for f.Next() {
		if skip(f.Key()) {
			continue
		}
		if raw, err := f.Raw(); err == nil {
			raws = append(raws, toCRLF(raw))
		}
	}
	// AddRaw puts each field first.
	for i := len(raws) - 1; i >= 0; i-- {
		dst.AddRaw(raws[i])
	}
}

// prepare gives every multipart a boundary and its Content-Type.
func (p *outPart) prepare() error {
	if p.mediaType == "" {
		return nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("making a boundary: %w", err)
	}
	boundary := "=_" + hex.EncodeToString(b[:])
	p.header.Set("Content-Type", mime.FormatMediaType(p.mediaType, map[string]string{"boundary": boundary}))
	p.body = []byte(boundary)
	for _, c := range p.parts {
		if err := c.prepare(); err != nil {
			return err
		}
	}
	return nil
}

func (p *outPart) writeBody(w io.Writer) error {
	if p.mediaType == "" {
		_, err := w.Write(p.body)
		return err
	}
	mw := textproto.NewMultipartWriter(w)
	if err := mw.SetBoundary(string(p.body)); err != nil {
		return fmt.Errorf("multipart boundary: %w", err)
	}
	for _, c := range p.parts {
		pw, err := mw.CreatePart(c.header)
		if err != nil {
			return fmt.Errorf("writing part: %w", err)
		}
		if err := c.writeBody(pw); err != nil {
			return err
		}
	}
	if err := mw.Close(); err != nil {
		return fmt.Errorf("closing multipart: %w", err)
	}
	return nil
}
