package wbxml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Element is a node of a decoded document: a tag with either children or
// data. ActiveSync never mixes text and child elements; when a document
// does, the data is kept and the children follow it on re-encoding.
type Element struct {
	Tag      Tag
	Children []*Element
	// Data is the element's text or opaque value. nil means the element had
	// no content; an empty non-nil slice means an empty string was written.
	Data []byte
	// Opaque tells that Data was (or is to be) written as OPAQUE.
	Opaque bool
}

// NewElement returns an element for a tag given by namespace and name. It
// panics on an unknown tag, which is a programming error.
func NewElement(namespace, name string) *Element {
	return &Element{Tag: MustLookup(namespace, name)}
}

// Text returns the element's data as a string.
func (e *Element) Text() string { return string(e.Data) }

// Namespace and Name of the element's tag.
func (e *Element) Namespace() string { return e.Tag.Namespace() }
func (e *Element) Name() string      { return e.Tag.Name() }

// Child returns the first child with the given name in the element's own
// namespace, or nil.
func (e *Element) Child(name string) *Element {
	for _, c := range e.Children {
		if c.Tag.Page == e.Tag.Page && c.Tag.Name() == name {
			return c
		}
	}
	return nil
}

// ChildNS returns the first child with the given namespace and name, or nil.
func (e *Element) ChildNS(namespace, name string) *Element {
	for _, c := range e.Children {
		if c.Tag.Name() == name && c.Tag.Namespace() == namespace {
			return c
		}
	}
	return nil
}

// Add appends children and returns e, so trees can be built inline.
func (e *Element) Add(children ...*Element) *Element {
	e.Children = append(e.Children, children...)
	return e
}

// SetText sets e's data to s and returns e.
func (e *Element) SetText(s string) *Element {
	e.Data = []byte(s)
	e.Opaque = false
	return e
}

// Equal reports whether two trees are the same: same tags, data, opaque
// flags and children in the same order.
func (e *Element) Equal(o *Element) bool {
	if e == nil || o == nil {
		return e == o
	}
	if e.Tag != o.Tag || e.Opaque != o.Opaque || !bytes.Equal(e.Data, o.Data) ||
		(e.Data == nil) != (o.Data == nil) || len(e.Children) != len(o.Children) {
		return false
	}
	for i := range e.Children {
		if !e.Children[i].Equal(o.Children[i]) {
			return false
		}
	}
	return true
}

// Parse decodes a whole document into a tree with DefaultLimits.
func Parse(data []byte) (*Element, error) {
	return ParseLimits(data, DefaultLimits)
}

// ParseLimits decodes a whole document into a tree with the given limits.
// Data in the tree is copied out of data into a few shared blocks, so
// holding on to one element's data keeps its block (up to 32 KB) alive.
// The tree takes a small multiple of the document's size in memory: about
// 100 bytes per element plus the data.
func ParseLimits(data []byte, l Limits) (*Element, error) {
	d := NewDecoderLimits(data, l)
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	if t.Kind != StartElement {
		return nil, &SyntaxError{Offset: d.Offset(), Msg: "document does not start with an element"}
	}
	root, err := d.readElement(t)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		if err == nil {
			err = &SyntaxError{Offset: d.Offset(), Msg: "data after the root element"}
		}
		return nil, err
	}
	return root, nil
}

// ReadElement reads the element whose StartElement token start was just
// returned by Token, with all its content, into a tree.
func (d *Decoder) ReadElement(start Token) (*Element, error) {
	return d.readElement(start)
}

// readElement is iterative so that nesting depth never grows the Go stack
// beyond what Limits.MaxDepth already bounds.
func (d *Decoder) readElement(start Token) (*Element, error) {
	a := &d.alloc
	root := a.element(start.Tag, d.remaining())
	// The stack is the decoder's, reused by every tree it reads.
	stack := append(a.stack[:0], root)
	defer func() { a.stack = stack[:0] }()
	for len(stack) > 0 {
		t, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error(), Err: ErrTruncated}
			}
			return nil, err
		}
		cur := stack[len(stack)-1]
		switch t.Kind {
		case StartElement:
			c := a.element(t.Tag, d.remaining())
			cur.Children = append(cur.Children, c)
			stack = append(stack, c)
		case EndElement:
			stack = stack[:len(stack)-1]
		case Text, Opaque:
			if cur.Data == nil {
				cur.Data = a.bytes(t.Data, d.remaining())
			} else {
				// A second run of data in one element is rare; the
				// capped slice makes append copy it out of the arena.
				cur.Data = append(cur.Data, t.Data...)
			}
			cur.Opaque = cur.Opaque || t.Kind == Opaque
		}
	}
	return root, nil
}

// remaining is the number of input bytes not yet read. Every element still
// to come takes at least one of them, and all data still to come is in
// them, which bounds what the tree can still need.
func (d *Decoder) remaining() int { return len(d.data) - d.pos }

// treeAlloc hands out the elements and data of the trees a Decoder builds
// from a few large blocks instead of one allocation each, which makes
// decoding a large document several times cheaper. It belongs to the
// Decoder, not to one tree, so that a document holding many small trees
// (the operations of an ItemOperations or a Sync kept with ",any") shares
// blocks instead of starting a block per operation; and no block is made
// larger than what the rest of the input can fill, so a small document
// gets small blocks. Every slice it returns has its capacity capped, so
// that appending to one never writes into another.
type treeAlloc struct {
	elems []Element
	data  []byte
	stack []*Element
}

const (
	elemBlock = 64
	dataBlock = 32 << 10
	// restUnknown stands for the rest of an input whose size is not known
	// (ParseXML reads a stream): blocks take their full size.
	restUnknown = 1 << 30
)

// element returns a new element. rest is the number of input bytes after
// its tag, so at most rest more elements can follow it.
func (a *treeAlloc) element(t Tag, rest int) *Element {
	if len(a.elems) == cap(a.elems) {
		a.elems = make([]Element, 0, min(elemBlock, rest+1))
	}
	a.elems = append(a.elems, Element{Tag: t})
	return &a.elems[len(a.elems)-1]
}

// bytes returns a copy of b, never nil. rest is the number of input bytes
// after b, which hold all data still to come.
func (a *treeAlloc) bytes(b []byte, rest int) []byte {
	if len(b) > dataBlock/4 {
		return append(make([]byte, 0, len(b)), b...)
	}
	if a.data == nil || len(b) > cap(a.data)-len(a.data) {
		a.data = make([]byte, 0, min(dataBlock, len(b)+rest))
	}
	start := len(a.data)
	a.data = append(a.data, b...)
	return a.data[start:len(a.data):len(a.data)]
}

// Bytes encodes the tree as a complete document.
func (e *Element) Bytes() ([]byte, error) {
	return e.AppendBytes(nil)
}

// AppendBytes is Bytes appending the document to dst.
func (e *Element) AppendBytes(dst []byte) ([]byte, error) {
	// Without a writer the encoder keeps everything in its buffer, which
	// saves copying the document into a second one.
	enc := &Encoder{buf: dst}
	if err := enc.WriteElement(e); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return enc.buf, nil
}

// WriteElement encodes a tree. An element with neither data nor children is
// written as an empty tag.
func (enc *Encoder) WriteElement(e *Element) error {
	if e == nil {
		return errors.New("wbxml: nil element")
	}
	type frame struct {
		e    *Element
		next int
	}
	stack := []frame{{e: e, next: -1}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next == -1 {
			content := f.e.Data != nil || len(f.e.Children) > 0
			if err := enc.StartElement(f.e.Tag, content); err != nil {
				return err
			}
			if !content {
				stack = stack[:len(stack)-1]
				continue
			}
			if f.e.Data != nil {
				var err error
				if f.e.Opaque {
					err = enc.Opaque(f.e.Data)
				} else {
					err = enc.TextBytes(f.e.Data)
				}
				if err != nil {
					return err
				}
			}
			f.next = 0
		}
		if f.next < len(f.e.Children) {
			c := f.e.Children[f.next]
			f.next++
			if c == nil {
				return fmt.Errorf("wbxml: nil child of %v", f.e.Tag)
			}
			stack = append(stack, frame{e: c, next: -1})
			continue
		}
		if err := enc.EndElement(); err != nil {
			return err
		}
		stack = stack[:len(stack)-1]
	}
	return enc.err
}
