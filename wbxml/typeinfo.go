package wbxml

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

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
