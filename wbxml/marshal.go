package wbxml

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Name marks the root element of a struct, like encoding/xml's XMLName.
type Name struct{}

// DateTimeFormat is the MS-ASDTYPE dateTime form written for time.Time.
const DateTimeFormat = "2006-01-02T15:04:05.000Z"

// Marshal encodes v, a struct (or pointer to one) with an XMLName field, as
// a complete document.
//
// Marshal maps Go structs to documents in the spirit of encoding/xml. A
// field's tag is `wbxml:"[Namespace:]Name[>Child][,option…]"`. Without a
// namespace the field's element is in the namespace of the enclosing
// element. "Folders>Folder" puts each value in a Folder element inside one
// Folders element. Options:
//
//	omitempty  leave the element out when the value is the zero value
//	empty      (bool) true is an empty tag (<GetChanges/>), false is absent;
//	           decoding accepts presence, "1" and "0"
//	opaque     (string) write as OPAQUE instead of an inline string
//	any        ([]*Element) collect child elements no other field takes
//
// A root struct names its element with a field `XMLName Name` tagged
// `wbxml:"Namespace:Name"`. Untagged fields and fields tagged "-" are
// ignored (unlike encoding/xml, names are never guessed from field names).
//
// Values: string (text), []byte (opaque), integers (decimal text), bool
// ("1"/"0"), time.Time (MS-ASDTYPE dateTime, written as DateTimeFormat),
// structs (elements with children), pointers (nil is absent), slices
// (repeated elements), *Element and Element (a raw subtree). Nil pointers
// are always left out.
func Marshal(v any) ([]byte, error) {
	return MarshalAppend(nil, v)
}

// MarshalAppend is Marshal appending the document to dst, so that a caller
// can reuse one buffer for many documents.
func MarshalAppend(dst []byte, v any) ([]byte, error) {
	enc := &Encoder{buf: dst}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return enc.buf, nil
}

// Encode writes v as an element; v's XMLName gives its tag.
func (enc *Encoder) Encode(v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return errors.New("wbxml: Encode of nil pointer")
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("wbxml: Encode of %v: want a struct", rv.Type())
	}
	ti, err := getTypeInfo(rv.Type())
	if err != nil {
		return err
	}
	if !ti.hasRoot {
		return fmt.Errorf("wbxml: %v has no XMLName field naming its element", rv.Type())
	}
	return enc.encodeStruct(ti.root, rv, ti)
}

// EncodeElement writes v as an element with the given tag.
func (enc *Encoder) EncodeElement(tag Tag, v any) error {
	return enc.encodeValue(tag, reflect.ValueOf(v), 0)
}

func (enc *Encoder) encodeStruct(tag Tag, v reflect.Value, ti *typeInfo) error {
	content := structHasContent(v, ti, tag.Page)
	if err := enc.StartElement(tag, content); err != nil {
		return err
	}
	if !content {
		return nil
	}
	for i := range ti.fields {
		f := &ti.fields[i]
		fv := v.FieldByIndex(f.index)
		if omitted(fv, f.opts) {
			continue
		}
		t, ok := f.tag(tag.Page)
		if !ok {
			return fmt.Errorf("wbxml: field %s: no element %q in namespace %s", f.fname, f.name, tag.Namespace())
		}
		if f.parent != "" {
			pt, _ := f.parentTag(tag.Page)
			if err := enc.StartElement(pt, true); err != nil {
				return err
			}
		}
		if err := enc.encodeValue(t, fv, f.opts); err != nil {
			return err
		}
		if f.parent != "" {
			if err := enc.EndElement(); err != nil {
				return err
			}
		}
	}
	if ti.anyIdx != nil {
		for _, e := range v.FieldByIndex(ti.anyIdx).Interface().([]*Element) {
			if e != nil {
				if err := enc.WriteElement(e); err != nil {
					return err
				}
			}
		}
	}
	return enc.EndElement()
}

func structHasContent(v reflect.Value, ti *typeInfo, page uint8) bool {
	for i := range ti.fields {
		f := &ti.fields[i]
		if _, ok := f.tag(page); ok && !omitted(v.FieldByIndex(f.index), f.opts) {
			return true
		}
	}
	if ti.anyIdx != nil {
		for _, e := range v.FieldByIndex(ti.anyIdx).Interface().([]*Element) {
			if e != nil {
				return true
			}
		}
	}
	return false
}

// omitted tells whether a field's value produces no element at all.
func omitted(v reflect.Value, opts int) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice:
		if v.Type() == reflect.TypeOf([]byte(nil)) {
			return opts&optOmitEmpty != 0 && v.Len() == 0
		}
		return v.Len() == 0
	case reflect.Bool:
		if opts&optEmpty != 0 {
			return !v.Bool()
		}
	}
	if opts&optOmitEmpty != 0 {
		if v.Type() == timeType {
			return v.Interface().(time.Time).IsZero()
		}
		return v.IsZero()
	}
	return false
}

func (enc *Encoder) textElement(tag Tag, s string, opaque bool) error {
	if s == "" {
		return enc.StartElement(tag, false)
	}
	if err := enc.StartElement(tag, true); err != nil {
		return err
	}
	var err error
	if opaque {
		err = enc.Opaque([]byte(s))
	} else {
		err = enc.Text(s)
	}
	if err != nil {
		return err
	}
	return enc.EndElement()
}

func (enc *Encoder) encodeValue(tag Tag, v reflect.Value, opts int) error {
	if !v.IsValid() {
		return nil
	}
	switch v.Type() {
	case elemPtrType:
		if v.IsNil() {
			return nil
		}
		e := *v.Interface().(*Element)
		e.Tag = tag
		return enc.WriteElement(&e)
	case elementType:
		e := v.Interface().(Element)
		e.Tag = tag
		return enc.WriteElement(&e)
	case timeType:
		return enc.textElement(tag, v.Interface().(time.Time).UTC().Format(DateTimeFormat), false)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return enc.encodeValue(tag, v.Elem(), opts)
	case reflect.Struct:
		ti, err := getTypeInfo(v.Type())
		if err != nil {
			return err
		}
		return enc.encodeStruct(tag, v, ti)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := v.Bytes()
			if len(b) == 0 {
				return enc.StartElement(tag, false)
			}
			if err := enc.StartElement(tag, true); err != nil {
				return err
			}
			if err := enc.Opaque(b); err != nil {
				return err
			}
			return enc.EndElement()
		}
		for i := 0; i < v.Len(); i++ {
			if err := enc.encodeValue(tag, v.Index(i), opts&^optOmitEmpty); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		return enc.textElement(tag, v.String(), opts&optOpaque != 0)
	case reflect.Bool:
		if opts&optEmpty != 0 {
			if v.Bool() {
				return enc.StartElement(tag, false)
			}
			return nil
		}
		if v.Bool() {
			return enc.textElement(tag, "1", false)
		}
		return enc.textElement(tag, "0", false)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return enc.textElement(tag, strconv.FormatInt(v.Int(), 10), false)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return enc.textElement(tag, strconv.FormatUint(v.Uint(), 10), false)
	}
	return fmt.Errorf("wbxml: cannot encode %v", v.Type())
}
