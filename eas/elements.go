package eas

import (
	"bytes"
	"fmt"

	"github.com/easgate/easgate/wbxml"
)

// decodeElement decodes a tree into v (a pointer to a struct), as if the
// element had been read from the wire.
func decodeElement(e *wbxml.Element, v any) error {
	b, err := e.Bytes()
	if err != nil {
		return err
	}
	d := wbxml.NewDecoder(b)
	t, err := d.Token()
	if err != nil {
		return err
	}
	return d.DecodeElement(t, v)
}

// toElement encodes v as an element with the given tag and returns the tree.
func toElement(tag wbxml.Tag, v any) (*wbxml.Element, error) {
	var buf bytes.Buffer
	enc := wbxml.NewEncoder(&buf)
	if err := enc.EncodeElement(tag, v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return wbxml.Parse(buf.Bytes())
}

var tagApplicationData = wbxml.MustLookup("AirSync", "ApplicationData")

// emailElements renders an item's fields as the children of a container
// other than ApplicationData (ItemOperations and Search Properties).
func emailElements(e *Email) ([]*wbxml.Element, error) {
	el, err := toElement(tagApplicationData, e)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return el.Children, nil
}

// emailFromElements reads item fields out of a container's children.
func emailFromElements(children []*wbxml.Element) (*Email, error) {
	var e Email
	if err := decodeElement(&wbxml.Element{Tag: tagApplicationData, Children: children}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}
