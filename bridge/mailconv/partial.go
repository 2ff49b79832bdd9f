package mailconv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/easgate/easgate/eas"
)

// ErrNeedMore says that the body parts read were too short for the body the
// phone asked for (HTML that renders to little text): read them whole
// (PlanFetch with full) and convert again.
var ErrNeedMore = errors.New("body parts read too short")

// ErrNeedWhole says that the pieces do not fit the outline (a server whose
// BODYSTRUCTURE disagrees with the part headers, broken MIME): read the
// whole message and use Convert.
var ErrNeedWhole = errors.New("message outline unusable")

// Pieces are the sections of a Plan as read, and what the backend knows of
// the message without reading it.
type Pieces struct {
	// Size is the size of the whole message (IMAP RFC822.SIZE).
	Size int64
	// Data holds the bytes of each section read; a missing section was
	// not sent.
	Data map[Section][]byte
}

// ConvertPieces converts a message from its outline and the pieces of
// PlanFetch(s, p.Size, opt.Body, ...) read. The item is the one Convert
// makes of the whole message, but for a cut body's EstimatedDataSize (an
// estimate from the part sizes) and inline flags of attachments that only
// the cut-off HTML refers to. An error wrapping ErrNeedMore or
// ErrNeedWhole asks for more; any other error is a partial conversion, as
// with Convert.
func ConvertPieces(s *Structure, p *Pieces, opt Options) (email *eas.Email, err error) {
	defer func() {
		if r := recover(); r != nil {
			email, err = nil, fmt.Errorf("converting message outline: internal error: %v: %w", r, ErrNeedWhole)
		}
	}()
	b := &builder{p: p}
	hdr, ok := p.Data[Section{Kind: SectionHeader}]
	if !ok {
		return nil, fmt.Errorf("header not read: %w", ErrNeedWhole)
	}
	h, err := readHeader(hdr)
	if err != nil {
		return nil, fmt.Errorf("top-level header: %v: %w", err, ErrNeedWhole)
	}
	root := b.entity(s, h, "", true, 0)
	if b.err != nil {
		return nil, b.err
	}
	var mimeRaw []byte
	for sec, data := range p.Data {
		if sec.Kind == SectionBody && sec.Part == "" {
			mimeRaw = data
		}
	}
	return convertTree(root, source{raw: mimeRaw, size: p.Size}, opt)
}

func readHeader(b []byte) (textproto.Header, error) {
	if !bytes.HasSuffix(b, []byte("\n")) {
		b = append(b, '\r', '\n')
	}
	if !bytes.HasSuffix(b, []byte("\n\r\n")) && !bytes.HasSuffix(b, []byte("\n\n")) {
		b = append(b, '\r', '\n')
	}
	return textproto.ReadHeader(bufio.NewReader(bytes.NewReader(b)))
}

// builder makes a node tree from an outline and the pieces read.
type builder struct {
	p   *Pieces
	err error
}

func (b *builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format+": %w", append(args, ErrNeedWhole)...)
	}
}

// entity mirrors parser.entity for the entity numbered num whose header is
// h: the header decides the type, and it must agree with the outline.
func (b *builder) entity(s *Structure, h textproto.Header, num string, root bool, depth int) *node {
	n := &node{header: h, root: root}
	n.mediaType, n.params = contentType(h)
	n.disposition, n.dispParams = contentDisposition(h)
	if n.mediaType != s.Type {
		b.fail("part %s is %s in its header but %s in the outline", displayNum(num), n.mediaType, s.Type)
		return n
	}
	if strings.HasPrefix(n.mediaType, "multipart/") {
		n.path = num
		for i, c := range s.Children {
			n.children = append(n.children, b.entity(c, b.mimeHeader(join(num, i+1)), join(num, i+1), false, depth+1))
		}
		return n
	}
	n.path = num
	if root {
		n.path = join(num, 1)
	}
	if isMessageType(n.mediaType) {
		n.kept = true
		n.size = b.decodedSize(s, n.path)
		hdr, ok := b.p.Data[Section{Kind: SectionHeader, Part: n.path}]
		eh, err := readHeader(hdr)
		if !ok || err != nil || s.Message == nil {
			b.fail("attached message %s: header not read", n.path)
			return n
		}
		n.embedded = outlineNode(s.Message, eh, n.path)
		return n
	}
	if raw, ok := b.body(n.path); ok {
		n.raw, n.kept, n.size = raw, true, -1
		if cteName(n.cte()) != cteName(s.Encoding) {
			b.fail("part %s is %s in its header but %s in the outline", n.path, n.cte(), s.Encoding)
		}
		if int64(len(raw)) < s.Size {
			n.partial, n.encSize = true, s.Size
			n.size = b.decodedSize(s, n.path)
		}
		return n
	}
	n.absent = true
	n.size = b.decodedSize(s, n.path)
	return n
}

func (b *builder) mimeHeader(part string) textproto.Header {
	raw, ok := b.p.Data[Section{Kind: SectionMIME, Part: part}]
	if !ok {
		b.fail("MIME header of part %s not read", part)
		return textproto.Header{}
	}
	if len(raw) == 0 {
		// Not even the empty line that ends a header: the server made
		// the part up for a multipart whose boundary it did not find
		// (Dovecot), which the parser reads as text instead.
		b.fail("part %s has no header at all", part)
		return textproto.Header{}
	}
	h, err := readHeader(raw)
	if err != nil {
		b.fail("MIME header of part %s: %v", part, err)
	}
	return h
}

// body is the beginning of a part's body as read.
func (b *builder) body(part string) ([]byte, bool) {
	for sec, data := range b.p.Data {
		if sec.Kind == SectionBody && sec.Part == part {
			return data, true
		}
	}
	return nil, false
}

// decodedSize estimates the size of a part after transfer decoding from
// its stored size: base64 in lines of 76 characters and CRLF, 4
// characters for 3 bytes (off by the padding, at most 2 bytes, from what
// decodedSize counts in the whole message). Quoted-printable is taken as
// it is stored. (IMAP BINARY.SIZE would be exact, but Dovecot 2.3 answers
// it for some quoted-printable parts with a wrapped-around negative number
// that imapclient cannot parse, losing the connection.)
func (b *builder) decodedSize(s *Structure, part string) int64 {
	if strings.ToLower(strings.TrimSpace(s.Encoding)) != "base64" {
		return s.Size
	}
	lines := (s.Size + 77) / 78
	return max(s.Size-2*lines, 0) * 3 / 4
}

// outlineNode makes the nodes of an attached message from its outline: only
// the types are needed there (the file name of the attachment, the charset
// of its header).
func outlineNode(s *Structure, h textproto.Header, num string) *node {
	n := &node{header: h, root: true, mediaType: s.Type, params: s.Params, kept: true, size: s.Size}
	if n.params == nil {
		n.params = map[string]string{}
	}
	var fill func(n *node, s *Structure, num string)
	fill = func(n *node, s *Structure, num string) {
		n.path = num
		for i, c := range s.Children {
			cn := &node{mediaType: c.Type, params: c.Params, size: c.Size}
			if cn.params == nil {
				cn.params = map[string]string{}
			}
			fill(cn, c, join(num, i+1))
			n.children = append(n.children, cn)
		}
	}
	fill(n, s, num)
	if len(s.Children) == 0 {
		n.path = join(num, 1)
	}
	return n
}

// decodeTextPrefix decodes the beginning of a text part that was read only
// in part. It cuts where the full part's decoding would agree: after the
// last whole base64 quantum or quoted-printable line, then after the last
// line end (or, in charsets where they cannot be inside a character, the
// last space or '>') of the decoded bytes, so that no character, escape
// sequence or flowed line is split. rest estimates the decoded text the
// part has beyond the cut.
func decodeTextPrefix(n *node) (text string, rest int64, err error) {
	raw := n.raw
	switch n.cte() {
	case "base64":
		raw = raw[:base64Cut(raw)]
	case "quoted-printable":
		raw = raw[:bytes.LastIndexByte(raw, '\n')+1]
	case "", "7bit", "8bit", "binary":
	default:
		return "", 0, fmt.Errorf("part %s: cut in unknown encoding %q: %w", n.path, n.cte(), ErrNeedMore)
	}
	b, err := decodeTransfer(n.cte(), raw)
	if err != nil {
		return "", 0, fmt.Errorf("part %s: %v: %w", n.path, err, ErrNeedMore)
	}
	cut := safeCut(b, n.params["charset"])
	if cut <= 0 {
		return "", 0, fmt.Errorf("part %s: no place to cut: %w", n.path, ErrNeedMore)
	}
	text, err = toUTF8(b[:cut], n.params["charset"])
	// The encoded octets used, in proportion to the decoded bytes kept.
	used := max(int64(len(raw))*int64(cut)/int64(max(len(b), 1)), 1)
	rest = (n.encSize - used) * int64(len(text)) / used
	return text, max(rest, 0), err
}

// base64Cut is the length of the longest prefix of raw that holds whole
// 4-character quanta.
func base64Cut(raw []byte) int {
	chars, cut := 0, 0
	for i, c := range raw {
		if c == '=' {
			return len(raw)
		}
		if base64Alphabet[c] == 1 {
			chars++
			if chars%4 == 0 {
				cut = i + 1
			}
		}
	}
	return cut
}

// safeCut is where decoded text in charset cs may be cut without splitting
// a character: after the last line end; in charsets whose multi-byte
// characters never hold bytes below 0x40, after the last space or '>' too
// (HTML on one long line). Stateful ISO-2022 charsets return to ASCII
// before each line end (RFC 1468), so only line ends are safe there.
func safeCut(b []byte, cs string) int {
	cs = normCharset(cs)
	if strings.HasPrefix(cs, "iso-2022") || strings.HasPrefix(cs, "hz") {
		return bytes.LastIndexByte(b, '\n') + 1
	}
	return bytes.LastIndexAny(b, "\n >") + 1
}

// source is the raw message for a MIME body: raw may be only the
// beginning of a message of size octets.
type source struct {
	raw  []byte
	size int64
}

func (s source) cut() bool { return int64(len(s.raw)) < s.size }

// cteName normalizes a Content-Transfer-Encoding for comparison; none is
// 7bit (RFC 2045 6.1).
func cteName(cte string) string {
	cte = strings.ToLower(strings.TrimSpace(cte))
	if cte == "" {
		return "7bit"
	}
	return cte
}
