package mailconv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strconv"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Limits that keep a hostile message from costing unbounded time or stack.
// Dovecot refuses to look deeper than about 100 levels; real mail never
// comes close to either limit.
const (
	maxDepth = 64
	maxParts = 10000
)

// node is one MIME entity, numbered the way IMAP numbers body sections
// (RFC 3501 6.4.5): the parts of a multipart are 1, 2, ... below the
// multipart's own number; the body of a non-multipart message is "1" below
// the message's number; the parts of an embedded message/rfc822 are numbered
// below the number of the message/rfc822 part itself.
type node struct {
	// path is the IMAP section number. It is "" only for a top-level
	// multipart, which has no number of its own.
	path        string
	header      textproto.Header
	mediaType   string
	params      map[string]string
	disposition string
	dispParams  map[string]string
	// root is true for the header-carrying entity of a message (the top
	// level or an embedded message/rfc822).
	root     bool
	children []*node
	// embedded is the parsed content of a message/rfc822 part.
	embedded *node
	// raw is the transfer-encoded body of a leaf, kept when the parse asked
	// for it (and always for message/rfc822 parts).
	raw  []byte
	kept bool
	// size is the decoded size estimate of a leaf in bytes; -1 until
	// decodedSize computes it for a kept leaf.
	size int64
	// broken marks a multipart whose parts could not be found; it is then
	// read as text.
	broken bool
	// partial marks a leaf of which raw is only the beginning of encSize
	// encoded octets; absent one whose body was not read at all (both
	// only in trees that ConvertPieces builds).
	partial bool
	absent  bool
	encSize int64
}

// decodedSize is the decoded size estimate of a leaf. Kept leaves are
// measured only when asked: most are body text, whose size nobody needs.
func (n *node) decodedSize() int64 {
	if n.size < 0 {
		n.size = decodedSize(n.cte(), bytes.NewReader(n.raw))
	}
	return n.size
}

func (n *node) isMultipart() bool {
	return strings.HasPrefix(n.mediaType, "multipart/") && !n.broken
}

func (n *node) isMessage() bool {
	return n.embedded != nil
}

func (n *node) cte() string {
	return strings.ToLower(strings.TrimSpace(n.header.Get("Content-Transfer-Encoding")))
}

// filename is the attachment file name from Content-Disposition or, failing
// that, the Content-Type name parameter.
func (n *node) filename() string {
	if f := n.dispParams["filename"]; f != "" {
		return f
	}
	return n.params["name"]
}

// parser builds the node tree of one message.
type parser struct {
	// keep decides which leaves keep their raw body; the others are only
	// measured. nil keeps everything.
	keep  func(n *node) bool
	parts int
	errs  []error
}

func (p *parser) fail(err error) {
	if len(p.errs) < 20 {
		p.errs = append(p.errs, err)
	}
}

func (p *parser) err() error {
	return errors.Join(p.errs...)
}

// parse reads a whole message. It always returns a root node; problems are
// collected in p.errs.
func (p *parser) parse(raw []byte, prefix string, depth int) *node {
	h, body, err := splitHeader(raw)
	if err != nil {
		p.fail(err)
	}
	return p.entity(h, nil, body, prefix, true, depth)
}

// splitHeader reads the header of raw and returns it with the body that
// follows, without copying the body.
func splitHeader(raw []byte) (textproto.Header, []byte, error) {
	rd := bytes.NewReader(raw)
	// Size the buffer to the header: most messages are small, and a 4 KiB
	// buffer per entity was a large part of what converting one cost.
	// Only the first 4 KiB are searched: a longer header gets the full
	// buffer anyway, and a message without a blank line is not scanned
	// to its end twice.
	size := 4096
	head := raw[:min(len(raw), size)]
	if i := bytes.Index(head, []byte("\n\r\n")); i >= 0 && i+3 < size {
		size = max(i+3, 64)
	} else if i := bytes.Index(head, []byte("\n\n")); i >= 0 && i+2 < size {
		size = max(i+2, 64)
	}
	br := bufio.NewReaderSize(rd, size)
	h, err := textproto.ReadHeader(br)
	if err == nil {
		consumed := len(raw) - rd.Len() - br.Buffered()
		return h, raw[consumed:], nil
	}
	// Best effort: keep the fields read so far and start the body after
	// the first empty line, where a reader would expect it.
	err = fmt.Errorf("reading header: %w", err)
	if i := bytes.Index(raw, []byte("\n\r\n")); i >= 0 {
		return h, raw[i+3:], err
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return h, raw[i+2:], err
	}
	return h, nil, err
}

func join(prefix string, i int) string {
	if prefix == "" {
		return strconv.Itoa(i)
	}
	return prefix + "." + strconv.Itoa(i)
}

// entity builds the node of one entity whose body is either in body or, if
// r is not nil, still to be read from r. num is the section number the
// entity has (for a message root: the number of the message itself).
func (p *parser) entity(h textproto.Header, r io.Reader, body []byte, num string, root bool, depth int) *node {
	n := &node{header: h, root: root}
	n.mediaType, n.params = contentType(h)
	n.disposition, n.dispParams = contentDisposition(h)

	if strings.HasPrefix(n.mediaType, "multipart/") {
		if r != nil {
			var err error
			body, err = io.ReadAll(r)
			if err != nil {
				p.fail(fmt.Errorf("%s: %w", displayNum(num), err))
			}
		}
		n.path = num
		if depth < maxDepth {
			p.multipart(n, body, num, depth)
		} else {
			p.fail(fmt.Errorf("%s: MIME nesting deeper than %d", displayNum(num), maxDepth))
		}
		if len(n.children) > 0 {
			return n
		}
		// A multipart without parts (a wrong boundary, a cut message) is
		// shown as text so the reader still sees something.
		n.broken = true
		r = nil
	}

	if root {
		n.path = join(num, 1)
	} else {
		n.path = num
	}

	if isMessageType(n.mediaType) && depth < maxDepth {
		raw := body
		if r != nil {
			var err error
			raw, err = io.ReadAll(r)
			if err != nil {
				p.fail(fmt.Errorf("part %s: %w", n.path, err))
			}
		}
		n.raw, n.kept = raw, true
		inner, err := decodeTransfer(n.cte(), raw)
		if err != nil {
			p.fail(fmt.Errorf("part %s: %w", n.path, err))
		}
		n.size = int64(len(inner))
		n.embedded = p.parse(inner, n.path, depth+1)
		return n
	}

	keep := p.keep == nil || p.keep(n)
	switch {
	case r == nil:
		n.raw, n.kept, n.size = body, true, -1
	case keep:
		raw, err := io.ReadAll(r)
		if err != nil {
			p.fail(fmt.Errorf("part %s: %w", n.path, err))
		}
		n.raw, n.kept, n.size = raw, true, -1
	default:
		n.size = decodedSize(n.cte(), r)
	}
	return n
}

func (p *parser) multipart(n *node, body []byte, num string, depth int) {
	boundary := n.params["boundary"]
	if boundary == "" {
		p.fail(fmt.Errorf("%s %s without boundary", n.mediaType, displayNum(num)))
		return
	}
	mr := textproto.NewMultipartReader(bytes.NewReader(body), boundary)
	for i := 1; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			switch {
			case i == 1:
				err = fmt.Errorf("no part with boundary %q: %w", boundary, err)
			case strings.Contains(err.Error(), "EOF"):
				err = fmt.Errorf("message ends before the closing boundary: %w", err)
			}
			p.fail(fmt.Errorf("%s %s: %w", n.mediaType, displayNum(num), err))
			return
		}
		p.parts++
		if p.parts > maxParts {
			p.fail(fmt.Errorf("more than %d MIME parts", maxParts))
			return
		}
		n.children = append(n.children, p.entity(part.Header, part, nil, join(num, i), false, depth+1))
	}
}

// displayNum names a multipart in errors; the top level has no number.
func displayNum(num string) string {
	if num == "" {
		return "(top level)"
	}
	return "part " + num
}

func isMessageType(t string) bool {
	return t == "message/rfc822" || t == "message/global"
}

// walk calls fn for n and every node below it, embedded messages included,
// in section order. fn returns false to skip a node's descendants.
func walk(n *node, fn func(*node) bool) {
	if !fn(n) {
		return
	}
	for _, c := range n.children {
		walk(c, fn)
	}
	if n.embedded != nil {
		walk(n.embedded, fn)
	}
}

// find returns the leaf or message/rfc822 part numbered path, or nil.
func find(root *node, path string) *node {
	var found *node
	walk(root, func(n *node) bool {
		if found != nil {
			return false
		}
		if n.path == path && !n.isMultipart() {
			found = n
			return false
		}
		// Prune branches that cannot hold path.
		return n.path == "" || path == n.path || strings.HasPrefix(path, n.path+".")
	})
	return found
}

// base64Alphabet is 1 for the bytes that carry base64 data.
var base64Alphabet = func() (t [256]uint8) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = 1
	}
	return t
}()

// decodedSize estimates the decoded size of a transfer-encoded body without
// keeping it.
func decodedSize(cte string, r io.Reader) int64 {
	switch cte {
	case "base64":
		var buf [4096]byte
		var chars int64
		for {
			n, err := r.Read(buf[:])
			for _, c := range buf[:n] {
				chars += int64(base64Alphabet[c])
			}
			if err != nil {
				break
			}
		}
		return chars * 3 / 4
	case "quoted-printable":
		n, _ := io.Copy(io.Discard, quotedprintable.NewReader(r))
		return n
	default:
		n, _ := io.Copy(io.Discard, r)
		return n
	}
}
