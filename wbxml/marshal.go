package wbxml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Marshalling maps Go structs to documents in the spirit of encoding/xml.
//
// A field's tag is `wbxml:"[Namespace:]Name[>Child][,option…]"`. Without a
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
// ("1"/"0"), time.Time (MS-ASDTYPE dateTime), structs (elements with
// children), pointers (nil is absent), slices (repeated elements), *Element
// and Element (a raw subtree). Nil pointers are always left out.

// Name marks the root element of a struct, like encoding/xml's XMLName.
type Name struct{}

// DateTimeFormat is the MS-ASDTYPE dateTime form written for time.Time.
const DateTimeFormat = "2006-01-02T15:04:05.000Z"

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

const (
	optOmitEmpty = 1 << iota
	optEmpty
	optOpaque
	optAny
)

type fieldInfo struct {
	index  []int
	name   string // element name
	parent string // intermediate element for "Parent>Name", or ""
	// ns is the explicit namespace page, or -1 to inherit the parent's.
	ns   int
	opts int
	// tokens[p] is the token of name (and ptokens of parent) when the
	// element is on page p; 0 when the page has no such tag.
	tokens  [NumPages]uint8
	ptokens [NumPages]uint8
	fname   string
}

// tag returns the field's element tag when the enclosing element is on page.
func (f *fieldInfo) tag(page uint8) (Tag, bool) {
	p := page
	if f.ns >= 0 {
		p = uint8(f.ns)
	}
	tok := f.tokens[p]
	return Tag{Page: p, Token: tok}, tok != 0
}

func (f *fieldInfo) parentTag(page uint8) (Tag, bool) {
	p := page
	if f.ns >= 0 {
		p = uint8(f.ns)
	}
	tok := f.ptokens[p]
	return Tag{Page: p, Token: tok}, tok != 0
}

type typeInfo struct {
	root    Tag
	hasRoot bool
	fields  []fieldInfo
	anyIdx  []int
}

var (
	nameType     = reflect.TypeOf(Name{})
	timeType     = reflect.TypeOf(time.Time{})
	elementType  = reflect.TypeOf(Element{})
	elemPtrType  = reflect.TypeOf((*Element)(nil))
	elemListType = reflect.TypeOf([]*Element(nil))
)

// typeInfos caches the parsed struct tags per type. It only grows, with
// values computed from the types themselves, so sharing it is safe.
var typeInfos sync.Map

func getTypeInfo(t reflect.Type) (*typeInfo, error) {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo), nil
	}
	ti := &typeInfo{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("wbxml")
		if !ok || tag == "-" {
			continue
		}
		if sf.Type == nameType {
			ns, name, ok := strings.Cut(strings.Split(tag, ",")[0], ":")
			if !ok {
				return nil, fmt.Errorf("wbxml: %v.%s: root tag %q needs a namespace", t, sf.Name, tag)
			}
			rt, ok := Lookup(ns, name)
			if !ok {
				return nil, fmt.Errorf("wbxml: %v.%s: unknown tag %q", t, sf.Name, tag)
			}
			ti.root, ti.hasRoot = rt, true
			continue
		}
		if !sf.IsExported() {
			return nil, fmt.Errorf("wbxml: %v.%s: tagged field is not exported", t, sf.Name)
		}
		f := fieldInfo{index: sf.Index, ns: -1, fname: sf.Name}
		parts := strings.Split(tag, ",")
		for _, o := range parts[1:] {
			switch o {
			case "omitempty":
				f.opts |= optOmitEmpty
			case "empty":
				f.opts |= optEmpty
			case "opaque":
				f.opts |= optOpaque
			case "any":
				f.opts |= optAny
			default:
				return nil, fmt.Errorf("wbxml: %v.%s: unknown option %q", t, sf.Name, o)
			}
		}
		if f.opts&optAny != 0 {
			if sf.Type != elemListType {
				return nil, fmt.Errorf("wbxml: %v.%s: ,any needs []*wbxml.Element", t, sf.Name)
			}
			ti.anyIdx = sf.Index
			continue
		}
		path := parts[0]
		if ns, rest, ok := strings.Cut(path, ":"); ok {
			p, ok := PageOf(ns)
			if !ok {
				return nil, fmt.Errorf("wbxml: %v.%s: unknown namespace %q", t, sf.Name, ns)
			}
			f.ns = int(p)
			path = rest
		}
		if parent, name, ok := strings.Cut(path, ">"); ok {
			f.parent, f.name = parent, name
		} else {
			f.name = path
		}
		if f.name == "" {
			return nil, fmt.Errorf("wbxml: %v.%s: empty element name in tag %q", t, sf.Name, tag)
		}
		found := false
		for p := range NumPages {
			if f.ns >= 0 && p != f.ns {
				continue
			}
			tok, ok := tokenByName[p][f.name]
			if !ok {
				continue
			}
			if f.parent != "" {
				ptok, ok := tokenByName[p][f.parent]
				if !ok {
					continue
				}
				f.ptokens[p] = ptok
			}
			f.tokens[p] = tok
			found = true
		}
		if !found {
			return nil, fmt.Errorf("wbxml: %v.%s: no code page has element %q", t, sf.Name, tag)
		}
		if f.opts&optEmpty != 0 && sf.Type.Kind() != reflect.Bool {
			return nil, fmt.Errorf("wbxml: %v.%s: ,empty needs a bool", t, sf.Name)
		}
		ti.fields = append(ti.fields, f)
	}
	actual, _ := typeInfos.LoadOrStore(t, ti)
	return actual.(*typeInfo), nil
}

// Marshal encodes v, a struct (or pointer to one) with an XMLName field, as
// a complete document.
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

// Unmarshal decodes a document into v, a pointer to a struct with an
// XMLName field. Elements v has no field for are skipped, so that newer
// clients' additions never break decoding.
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
				return &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error()}
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
				return &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error()}
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

func (ti *typeInfo) fieldFor(tag Tag, page uint8) *fieldInfo {
	for i := range ti.fields {
		f := &ti.fields[i]
		if f.parent != "" {
			continue
		}
		if t, ok := f.tag(page); ok && t == tag {
			return f
		}
	}
	return nil
}

func (ti *typeInfo) hasParent(tag Tag, page uint8) bool {
	for i := range ti.fields {
		f := &ti.fields[i]
		if f.parent == "" {
			continue
		}
		if t, ok := f.parentTag(page); ok && t == tag {
			return true
		}
	}
	return false
}

// decodeWrapped reads the children of a "Parent>Name" wrapper element.
func (d *Decoder) decodeWrapped(start Token, v reflect.Value, ti *typeInfo, page uint8) error {
	for {
		t, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error()}
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
				return nil, &SyntaxError{Offset: d.Offset(), Msg: ErrTruncated.Error()}
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
