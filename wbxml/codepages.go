package wbxml

import "fmt"

// NumPages is the number of ActiveSync code pages (0 AirSync … 25 Find).
const NumPages = 26

// Tag identifies an element: its code page (the namespace) and its token
// within the page (0x05–0x3F).
type Tag struct {
	Page  uint8
	Token uint8
}

// Namespace returns the ActiveSync namespace name of the tag's page, such as
// "AirSync" or "Email".
func (t Tag) Namespace() string {
	if int(t.Page) >= NumPages {
		return ""
	}
	return pageNames[t.Page]
}

// Name returns the element name, or "" when the tag is not in the tables.
func (t Tag) Name() string {
	if int(t.Page) >= NumPages || t.Token >= 64 {
		return ""
	}
	return tagNames[t.Page][t.Token]
}

// Known reports whether the tag is in the code page tables.
func (t Tag) Known() bool { return t.Name() != "" }

// Legacy reports whether the tag is one the current specification dropped but
// real clients still send.
func (t Tag) Legacy() bool { return legacyTags[t] }

// String renders the tag as "Namespace:Name".
func (t Tag) String() string {
	if n := t.Name(); n != "" {
		return t.Namespace() + ":" + n
	}
	return fmt.Sprintf("page%d:0x%02X", t.Page, t.Token)
}

// PageOf returns the code page of a namespace name.
func PageOf(namespace string) (uint8, bool) {
	p, ok := pageByName[namespace]
	return p, ok
}

// PageName returns the namespace name of a code page ("" if out of range).
func PageName(page uint8) string {
	if int(page) >= NumPages {
		return ""
	}
	return pageNames[page]
}

// Lookup finds the tag of an element by namespace and name.
func Lookup(namespace, name string) (Tag, bool) {
	p, ok := pageByName[namespace]
	if !ok {
		return Tag{}, false
	}
	tok, ok := tokenByName[p][name]
	return Tag{Page: p, Token: tok}, ok
}

// MustLookup is Lookup for tags written in code; it panics on a typo, which
// tests catch at once.
func MustLookup(namespace, name string) Tag {
	t, ok := Lookup(namespace, name)
	if !ok {
		panic("wbxml: unknown tag " + namespace + ":" + name)
	}
	return t
}

// The reverse indexes are derived from the tables; they are read-only.
// They are variables with initialisers, not filled by init, so that other
// package-level variables may already look tags up.
var (
	pageByName  = buildPageIndex()
	tokenByName = buildTokenIndex()
)

func buildPageIndex() map[string]uint8 {
	m := make(map[string]uint8, NumPages)
	for p := range NumPages {
		m[pageNames[p]] = uint8(p)
	}
	return m
}

func buildTokenIndex() [NumPages]map[string]uint8 {
	var idx [NumPages]map[string]uint8
	for p := range NumPages {
		idx[p] = map[string]uint8{}
		for tok, name := range tagNames[p] {
			if name != "" {
				idx[p][name] = uint8(tok)
			}
		}
	}
	return idx
}
