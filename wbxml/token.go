package wbxml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// WBXML global tokens ActiveSync uses (WBXML 1.3, section 7.1).
const (
	tokSwitchPage = 0x00
	tokEnd        = 0x01
	tokStrI       = 0x03
	tokOpaque     = 0xC3

	bitContent    = 0x40
	bitAttributes = 0x80
)

// Header is the document header every ActiveSync peer writes: WBXML 1.3,
// public id 1 (unknown), charset 106 (UTF-8), empty string table.
var Header = []byte{0x03, 0x01, 0x6A, 0x00}

// Kind is the kind of a Token.
type Kind uint8

const (
	StartElement Kind = iota + 1
	EndElement
	Text
	Opaque
)

func (k Kind) String() string {
	switch k {
	case StartElement:
		return "StartElement"
	case EndElement:
		return "EndElement"
	case Text:
		return "Text"
	case Opaque:
		return "Opaque"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Token is one item of a WBXML document.
type Token struct {
	Kind Kind
	// Tag of a StartElement or EndElement.
	Tag Tag
	// Empty marks a StartElement written without content: no END follows in
	// the bytes, but the Decoder still reports an EndElement for it.
	Empty bool
	// Data of Text (without the terminating NUL) or Opaque. It aliases the
	// decoder's input: copy it to keep it beyond the input's lifetime.
	Data []byte
}

// Limits bound what a document may make the decoder do, so that a hostile
// client cannot exhaust memory or stack. A document that exceeds one fails
// with a *SyntaxError wrapping a *LimitError.
//
// MaxSize alone does not bound the memory a tree takes: an element can be a
// single byte of the document, and an Element is 64 bytes. MaxElements
// bounds that: a tree (or the ",any" trees of Unmarshal) takes about 100
// bytes per element plus its data. A server that knows the most operations
// it accepts in one request can set it lower and reject an absurd request
// before building anything big.
type Limits struct {
	// MaxSize is the largest document accepted, in bytes.
	MaxSize int
	// MaxDepth is the deepest element nesting accepted.
	MaxDepth int
	// MaxString is the longest inline string, in bytes.
	MaxString int
	// MaxOpaque is the longest opaque value, in bytes.
	MaxOpaque int
	// MaxElements is the most elements a document may hold, counting
	// every start tag (empty ones too).
	MaxElements int
}

// DefaultLimits fit every ActiveSync document a phone sends, including
// SendMail with large attachments.
var DefaultLimits = Limits{
	MaxSize:   64 << 20,
	MaxDepth:  32,
	MaxString: 64 << 20,
	MaxOpaque: 64 << 20,
	// A Sync of the largest window (512 items) holds some tens of
	// thousands of elements; a tree of a million takes about 100 MB.
	MaxElements: 1 << 20,
}

// SyntaxError reports malformed or unsupported input and where it was found.
type SyntaxError struct {
	Offset int
	Msg    string
	// Err is the cause callers may test for with errors.Is or errors.As:
	// ErrTruncated, or a *LimitError. It is nil for other malformed input.
	Err error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("wbxml: offset %d: %s", e.Offset, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// LimitError is the cause of a SyntaxError for a document that exceeds one
// of the decoder's Limits. A server can tell it apart from malformed input
// with errors.As and answer, for instance, 413 instead of 400.
type LimitError struct {
	// Limit is the name of the field of Limits that was exceeded:
	// "MaxSize", "MaxDepth", "MaxString", "MaxOpaque" or "MaxElements".
	Limit string
	// Max is the limit's value.
	Max int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("wbxml: document exceeds %s of %d", e.Limit, e.Max)
}

// ErrTruncated is wrapped by the SyntaxError of a document that ends early.
var ErrTruncated = errors.New("unexpected end of document")

// Decoder reads the tokens of a WBXML document held in memory. Documents
// come from bounded HTTP bodies, so reading from a byte slice lets Text and
// Opaque data alias the input instead of being copied.
type Decoder struct {
	data   []byte
	pos    int
	page   uint8
	limits Limits
	// open holds the tags of the elements not yet closed.
	open []Tag
	// elements counts the start tags read, for Limits.MaxElements.
	elements int
	// alloc holds the blocks the trees decoded by readElement come from.
	alloc treeAlloc
	// pendingEnd is set after an empty StartElement: its EndElement comes next.
	pendingEnd bool
	header     bool
	done       bool
	err        error
}

// NewDecoder returns a decoder for data with DefaultLimits.
func NewDecoder(data []byte) *Decoder {
	return NewDecoderLimits(data, DefaultLimits)
}

// NewDecoderLimits returns a decoder for data with the given limits; zero
// fields take the default.
func NewDecoderLimits(data []byte, l Limits) *Decoder {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultLimits.MaxSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxString <= 0 {
		l.MaxString = DefaultLimits.MaxString
	}
	if l.MaxOpaque <= 0 {
		l.MaxOpaque = DefaultLimits.MaxOpaque
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	return &Decoder{data: data, limits: l}
}

// Offset is the position of the next byte the decoder will read.
func (d *Decoder) Offset() int { return d.pos }

// Depth is the number of elements currently open.
func (d *Decoder) Depth() int { return len(d.open) }

func (d *Decoder) fail(off int, format string, args ...any) error {
	d.err = &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
	return d.err
}

// overLimit fails with a *LimitError as the cause.
func (d *Decoder) overLimit(off int, limit string, max int, format string, args ...any) error {
	d.err = &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...), Err: &LimitError{Limit: limit, Max: max}}
	return d.err
}

func (d *Decoder) truncated() error {
	d.err = &SyntaxError{Offset: len(d.data), Msg: ErrTruncated.Error(), Err: ErrTruncated}
	return d.err
}

// mbUint32 reads a WBXML multi-byte unsigned integer (big-endian base 128).
func (d *Decoder) mbUint32() (uint32, error) {
	start := d.pos
	var v uint32
	for i := 0; i < 5; i++ {
		if d.pos >= len(d.data) {
			return 0, d.truncated()
		}
		b := d.data[d.pos]
		d.pos++
		if i == 4 && (v>>25) != 0 {
			return 0, d.fail(start, "multi-byte integer overflows 32 bits")
		}
		v = v<<7 | uint32(b&0x7F)
		if b&0x80 == 0 {
			return v, nil
		}
	}
	return 0, d.fail(start, "multi-byte integer longer than 5 bytes")
}

func (d *Decoder) readHeader() error {
	if len(d.data) > d.limits.MaxSize {
		return d.overLimit(0, "MaxSize", d.limits.MaxSize, "document of %d bytes exceeds the limit of %d", len(d.data), d.limits.MaxSize)
	}
	if len(d.data) == 0 {
		return d.truncated()
	}
	if v := d.data[0]; v < 0x01 || v > 0x03 {
		return d.fail(0, "unsupported WBXML version 0x%02X", v)
	}
	d.pos = 1
	off := d.pos
	pub, err := d.mbUint32()
	if err != nil {
		return err
	}
	if pub == 0 {
		return d.fail(off, "public identifier in the string table is not supported")
	}
	off = d.pos
	cs, err := d.mbUint32()
	if err != nil {
		return err
	}
	// 0 means "unknown"; some clients write it and still send UTF-8.
	if cs != 106 && cs != 0 {
		return d.fail(off, "unsupported charset MIBenum %d (only UTF-8 is used by ActiveSync)", cs)
	}
	off = d.pos
	n, err := d.mbUint32()
	if err != nil {
		return err
	}
	if n != 0 {
		return d.fail(off, "string table of %d bytes is not supported", n)
	}
	d.header = true
	return nil
}

// Token returns the next token, or io.EOF after the root element closed.
// Errors are *SyntaxError and are sticky.
func (d *Decoder) Token() (Token, error) {
	if d.err != nil {
		return Token{}, d.err
	}
	if !d.header {
		if err := d.readHeader(); err != nil {
			return Token{}, err
		}
	}
	if d.pendingEnd {
		d.pendingEnd = false
		t := d.open[len(d.open)-1]
		d.open = d.open[:len(d.open)-1]
		if len(d.open) == 0 {
			d.done = true
		}
		return Token{Kind: EndElement, Tag: t}, nil
	}
	for {
		if d.done {
			if d.pos < len(d.data) {
				return Token{}, d.fail(d.pos, "data after the root element")
			}
			return Token{}, io.EOF
		}
		if d.pos >= len(d.data) {
			return Token{}, d.truncated()
		}
		off := d.pos
		b := d.data[d.pos]
		d.pos++
		switch b {
		case tokSwitchPage:
			if d.pos >= len(d.data) {
				return Token{}, d.truncated()
			}
			p := d.data[d.pos]
			if p >= NumPages {
				return Token{}, d.fail(off, "unknown code page %d", p)
			}
			d.pos++
			d.page = p
			continue
		case tokEnd:
			if len(d.open) == 0 {
				return Token{}, d.fail(off, "END without an open element")
			}
			t := d.open[len(d.open)-1]
			d.open = d.open[:len(d.open)-1]
			if len(d.open) == 0 {
				d.done = true
			}
			return Token{Kind: EndElement, Tag: t}, nil
		case tokStrI:
			if len(d.open) == 0 {
				return Token{}, d.fail(off, "text outside the root element")
			}
			i := bytes.IndexByte(d.data[d.pos:], 0)
			if i < 0 {
				return Token{}, d.truncated()
			}
			if i > d.limits.MaxString {
				return Token{}, d.overLimit(off, "MaxString", d.limits.MaxString, "inline string of %d bytes exceeds the limit of %d", i, d.limits.MaxString)
			}
			s := d.data[d.pos : d.pos+i : d.pos+i]
			d.pos += i + 1
			return Token{Kind: Text, Data: s}, nil
		case tokOpaque:
			if len(d.open) == 0 {
				return Token{}, d.fail(off, "opaque data outside the root element")
			}
			n, err := d.mbUint32()
			if err != nil {
				return Token{}, err
			}
			if int64(n) > int64(d.limits.MaxOpaque) {
				return Token{}, d.overLimit(off, "MaxOpaque", d.limits.MaxOpaque, "opaque data of %d bytes exceeds the limit of %d", n, d.limits.MaxOpaque)
			}
			// The length is checked against what is there before slicing, so
			// a lying length field cannot make us allocate or over-read.
			if int64(n) > int64(len(d.data)-d.pos) {
				return Token{}, d.truncated()
			}
			s := d.data[d.pos : d.pos+int(n) : d.pos+int(n)]
			d.pos += int(n)
			return Token{Kind: Opaque, Data: s}, nil
		}
		tok := b & 0x3F
		if tok < 0x05 {
			return Token{}, d.fail(off, "unsupported global token 0x%02X", b)
		}
		if b&bitAttributes != 0 {
			return Token{}, d.fail(off, "attributes are not supported (tag byte 0x%02X)", b)
		}
		t := Tag{Page: d.page, Token: tok}
		if !t.Known() {
			return Token{}, d.fail(off, "unknown token 0x%02X in code page %d (%s)", tok, d.page, pageNames[d.page])
		}
		if len(d.open) >= d.limits.MaxDepth {
			return Token{}, d.overLimit(off, "MaxDepth", d.limits.MaxDepth, "elements nested deeper than %d", d.limits.MaxDepth)
		}
		if d.elements >= d.limits.MaxElements {
			return Token{}, d.overLimit(off, "MaxElements", d.limits.MaxElements, "document has more than %d elements", d.limits.MaxElements)
		}
		d.elements++
		d.open = append(d.open, t)
		empty := b&bitContent == 0
		if empty {
			d.pendingEnd = true
		}
		return Token{Kind: StartElement, Tag: t, Empty: empty}, nil
	}
}

// Encoder writes WBXML tokens. It tracks the current code page and writes
// SWITCH_PAGE only when the page changes.
type Encoder struct {
	w      io.Writer
	buf    []byte
	page   uint8
	open   []Tag
	header bool
	// skipEnd: the last token was an empty StartElement, whose EndElement
	// (as the Decoder reports it) has no bytes of its own.
	skipEnd bool
	err     error
}

// NewEncoder returns an encoder writing to w. Call Flush or Close when
// done. With a nil w the encoder only accumulates (as Bytes and Marshal use
// it).
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w}
}

const flushAt = 32 << 10

func (e *Encoder) writeHeader() {
	if !e.header {
		e.buf = append(e.buf, Header...)
		e.header = true
	}
}

func (e *Encoder) switchPage(p uint8) {
	if p != e.page {
		e.buf = append(e.buf, tokSwitchPage, p)
		e.page = p
	}
}

func (e *Encoder) maybeFlush() {
	if len(e.buf) >= flushAt && e.w != nil {
		e.Flush()
	}
}

// StartElement opens an element. An element without content (hasContent
// false) is complete at once: do not call EndElement for it.
func (e *Encoder) StartElement(t Tag, hasContent bool) error {
	if e.err != nil {
		return e.err
	}
	if !t.Known() {
		e.err = fmt.Errorf("wbxml: cannot encode unknown tag %v", t)
		return e.err
	}
	e.writeHeader()
	e.switchPage(t.Page)
	b := t.Token
	if hasContent {
		b |= bitContent
		e.open = append(e.open, t)
	}
	e.buf = append(e.buf, b)
	e.maybeFlush()
	return e.err
}

// EndElement closes the innermost open element.
func (e *Encoder) EndElement() error {
	if e.err != nil {
		return e.err
	}
	if len(e.open) == 0 {
		e.err = errors.New("wbxml: EndElement without an open element")
		return e.err
	}
	e.open = e.open[:len(e.open)-1]
	e.buf = append(e.buf, tokEnd)
	e.maybeFlush()
	return e.err
}

// Text writes an inline string. NUL cannot be carried by STR_I, so NUL bytes
// are dropped.
func (e *Encoder) Text(s string) error {
	if e.err != nil {
		return e.err
	}
	if len(e.open) == 0 {
		e.err = errors.New("wbxml: text outside an element")
		return e.err
	}
	e.buf = append(e.buf, tokStrI)
	for {
		i := indexNUL(s)
		if i < 0 {
			break
		}
		e.buf = append(e.buf, s[:i]...)
		s = s[i+1:]
	}
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
	e.maybeFlush()
	return e.err
}

// TextBytes is Text for a byte slice.
func (e *Encoder) TextBytes(b []byte) error {
	if e.err != nil {
		return e.err
	}
	if len(e.open) == 0 {
		e.err = errors.New("wbxml: text outside an element")
		return e.err
	}
	e.buf = append(e.buf, tokStrI)
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			break
		}
		e.buf = append(e.buf, b[:i]...)
		b = b[i+1:]
	}
	e.buf = append(e.buf, b...)
	e.buf = append(e.buf, 0)
	e.maybeFlush()
	return e.err
}

// Opaque writes binary data.
func (e *Encoder) Opaque(b []byte) error {
	if e.err != nil {
		return e.err
	}
	if len(e.open) == 0 {
		e.err = errors.New("wbxml: opaque data outside an element")
		return e.err
	}
	if uint64(len(b)) > 0xFFFFFFFF {
		e.err = errors.New("wbxml: opaque data longer than 4 GiB")
		return e.err
	}
	e.buf = append(e.buf, tokOpaque)
	e.buf = appendMbUint32(e.buf, uint32(len(b)))
	e.buf = append(e.buf, b...)
	e.maybeFlush()
	return e.err
}

// EncodeToken writes one token as the Decoder returns them. An empty
// StartElement's EndElement must still be passed; it writes nothing.
func (e *Encoder) EncodeToken(t Token) error {
	switch t.Kind {
	case StartElement:
		e.skipEnd = t.Empty
		return e.StartElement(t.Tag, !t.Empty)
	case EndElement:
		if e.skipEnd {
			e.skipEnd = false
			return e.err
		}
		return e.EndElement()
	case Text:
		e.skipEnd = false
		return e.TextBytes(t.Data)
	case Opaque:
		e.skipEnd = false
		return e.Opaque(t.Data)
	}
	return fmt.Errorf("wbxml: cannot encode token kind %v", t.Kind)
}

// Flush writes buffered output to the underlying writer.
func (e *Encoder) Flush() error {
	if e.err != nil {
		return e.err
	}
	if e.w == nil || len(e.buf) == 0 {
		return nil
	}
	_, err := e.w.Write(e.buf)
	e.buf = e.buf[:0]
	if err != nil {
		e.err = fmt.Errorf("wbxml: write: %w", err)
	}
	return e.err
}

// Close checks that every element was closed and flushes.
func (e *Encoder) Close() error {
	if e.err == nil && len(e.open) != 0 {
		e.err = fmt.Errorf("wbxml: %d elements left open", len(e.open))
	}
	return e.Flush()
}

func appendMbUint32(b []byte, v uint32) []byte {
	var tmp [5]byte
	i := len(tmp) - 1
	tmp[i] = byte(v & 0x7F)
	v >>= 7
	for v != 0 {
		i--
		tmp[i] = byte(v&0x7F) | 0x80
		v >>= 7
	}
	return append(b, tmp[i:]...)
}

func indexNUL(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}
