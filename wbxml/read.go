package wbxml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// dateLayouts are the dateTime forms accepted when decoding: the
// specification's own, without milliseconds, the compact form some calendar
// fields use, and RFC 3339 with an offset.
var dateLayouts = []string{
	DateTimeFormat,
	"2006-01-02T15:04:05Z",
	"20060102T150405Z",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.000",
	"2006-01-02T15:04:05",
}

// ParseDateTime reads an MS-ASDTYPE dateTime value.
func ParseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("wbxml: invalid dateTime %q", s)
}

// Unmarshal decodes a document into v, a pointer to a struct with an
// XMLName field. Fields map to elements by the struct tags Marshal
// describes. Elements v has no field for are skipped, so that newer
// clients' additions never break decoding. Values are read leniently:
// surrounding space is ignored in numbers, booleans and dates, an empty
// element is true for a bool and zero for a number, and dates are accepted
// in the forms ParseDateTime reads.
func Unmarshal(data []byte, v any) error {
	return UnmarshalLimits(data, v, DefaultLimits)
}

// UnmarshalLimits is Unmarshal with decoder limits.
func UnmarshalLimits(data []byte, v any, l Limits) error {
	d := NewDecoderLimits(data, l)
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		if err == nil {
			err = &SyntaxError{Offset: d.Offset(), Msg: "data after the root element"}
		}
		return err
	}
	return nil
}

// UnmarshalError reports a document that is well-formed WBXML but does not
// fit the Go type: a wrong root element or a value that does not parse.
type UnmarshalError struct {
	Offset int
	Msg    string
}

func (e *UnmarshalError) Error() string {
	return fmt.Sprintf("wbxml: offset %d: %s", e.Offset, e.Msg)
}

// Decode reads the next element into v, a pointer to a struct with an
// XMLName field.
func (d *Decoder) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("wbxml: Decode needs a non-nil pointer")
	}
	rv = rv.Elem()
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("wbxml: Decode into %v: want a struct", rv.Type())
	}
	ti, err := getTypeInfo(rv.Type())
	if err != nil {
		return err
	}
	off := d.Offset()
	t, err := d.Token()
	if err != nil {
		return err
	}
	if t.Kind != StartElement {
		return &UnmarshalError{Offset: off, Msg: fmt.Sprintf("expected an element, got %v", t.Kind)}
	}
	if ti.hasRoot && t.Tag != ti.root {
		return &UnmarshalError{Offset: off, Msg: fmt.Sprintf("expected <%v>, got <%v>", ti.root, t.Tag)}
	}
	return d.decodeStruct(t, rv, ti)
}

// DecodeElement decodes the element that start opened into v (a pointer).
func (d *Decoder) DecodeElement(start Token, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("wbxml: DecodeElement needs a non-nil pointer")
	}
	return d.decodeValue(start, rv.Elem(), 0)
}

// Skip consumes the rest of the element whose StartElement was just read.
func (d *Decoder) Skip() error {
	depth := 1
	for depth > 0 {
		t, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error(), Err: ErrTruncated}
			}
			return err
		}
		switch t.Kind {
		case StartElement:
			depth++
		case EndElement:
			depth--
		}
	}
	return nil
}

func (d *Decoder) decodeStruct(start Token, v reflect.Value, ti *typeInfo) error {
	page := start.Tag.Page
	for {
		t, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error(), Err: ErrTruncated}
			}
			return err
		}
		switch t.Kind {
		case EndElement:
			return nil
		case Text, Opaque:
			continue // text beside children carries nothing for a struct
		}
		if f := ti.fieldFor(t.Tag, page); f != nil {
			if err := d.decodeValue(t, v.FieldByIndex(f.index), f.opts); err != nil {
				return err
			}
			continue
		}
		if ti.hasParent(t.Tag, page) {
			if err := d.decodeWrapped(t, v, ti, page); err != nil {
				return err
			}
			continue
		}
		if ti.anyIdx != nil {
			e, err := d.readElement(t)
			if err != nil {
				return err
			}
			fv := v.FieldByIndex(ti.anyIdx)
			fv.Set(reflect.Append(fv, reflect.ValueOf(e)))
			continue
		}
		if err := d.Skip(); err != nil {
			return err
		}
	}
}

// decodeWrapped reads the children of a "Parent>Name" wrapper element.
func (d *Decoder) decodeWrapped(start Token, v reflect.Value, ti *typeInfo, page uint8) error {
	for {
		t, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error(), Err: ErrTruncated}
			}
			return err
		}
		switch t.Kind {
		case EndElement:
			return nil
		case Text, Opaque:
			continue
		}
		var match *fieldInfo
		for i := range ti.fields {
			f := &ti.fields[i]
			if f.parent == "" {
				continue
			}
			pt, _ := f.parentTag(page)
			ct, _ := f.tag(page)
			if pt == start.Tag && ct == t.Tag {
				match = f
				break
			}
		}
		if match == nil {
			if err := d.Skip(); err != nil {
				return err
			}
			continue
		}
		if err := d.decodeValue(t, v.FieldByIndex(match.index), match.opts); err != nil {
			return err
		}
	}
}

// readText collects the text and opaque data of the element start opened,
// skipping any child elements. It returns nil for an element with no data.
func (d *Decoder) readText(start Token) ([]byte, error) {
	var data []byte
	depth := 1
	for depth > 0 {
		t, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error(), Err: ErrTruncated}
			}
			return nil, err
		}
		switch t.Kind {
		case StartElement:
			depth++
		case EndElement:
			depth--
		case Text, Opaque:
			if depth == 1 {
				if data == nil {
					data = t.Data
				} else {
					data = append(append([]byte(nil), data...), t.Data...)
				}
			}
		}
	}
	return data, nil
}

func (d *Decoder) decodeValue(start Token, v reflect.Value, opts int) error {
	off := d.Offset()
	switch v.Type() {
	case elemPtrType:
		e, err := d.readElement(start)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(e))
		return nil
	case elementType:
		e, err := d.readElement(start)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(*e))
		return nil
	case timeType:
		b, err := d.readText(start)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			v.Set(reflect.ValueOf(time.Time{}))
			return nil
		}
		tm, err := ParseDateTime(string(b))
		if err != nil {
			return &UnmarshalError{Offset: off, Msg: fmt.Sprintf("<%v>: %v", start.Tag, err)}
		}
		v.Set(reflect.ValueOf(tm))
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.decodeValue(start, v.Elem(), opts)
	case reflect.Struct:
		ti, err := getTypeInfo(v.Type())
		if err != nil {
			return err
		}
		return d.decodeStruct(start, v, ti)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b, err := d.readText(start)
			if err != nil {
				return err
			}
			v.SetBytes(append([]byte{}, b...))
			return nil
		}
		n := v.Len()
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		return d.decodeValue(start, v.Index(n), opts)
	}
	b, err := d.readText(start)
	if err != nil {
		return err
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(string(b))
		return nil
	case reflect.Bool:
		s := strings.TrimSpace(string(b))
		switch s {
		case "", "1", "true", "TRUE", "True":
			// An empty element is true: <GetChanges/>, <MoreAvailable/>.
			v.SetBool(true)
		case "0", "false", "FALSE", "False":
			v.SetBool(false)
		default:
			return &UnmarshalError{Offset: off, Msg: fmt.Sprintf("<%v>: invalid boolean %q", start.Tag, s)}
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s := strings.TrimSpace(string(b))
		if s == "" {
			v.SetInt(0)
			return nil
		}
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return &UnmarshalError{Offset: off, Msg: fmt.Sprintf("<%v>: invalid integer %q", start.Tag, s)}
		}
		v.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s := strings.TrimSpace(string(b))
		if s == "" {
			v.SetUint(0)
			return nil
		}
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return &UnmarshalError{Offset: off, Msg: fmt.Sprintf("<%v>: invalid unsigned integer %q", start.Tag, s)}
		}
		v.SetUint(n)
		return nil
	}
	return fmt.Errorf("wbxml: cannot decode into %v", v.Type())
}
