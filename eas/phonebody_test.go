package eas

import (
	"strings"
	"testing"
)

// A phone's body as long as the collection's TruncationSize (or up to 3
// bytes short: a cut ends at a character boundary) may be the cut copy it
// was sent; a shorter one is all it had.
func TestMarkCutBodies(t *testing.T) {
	prefs := func(ps ...BodyPreference) BodyOptions { return BodyOptions{Preferences: ps} }
	tests := []struct {
		name string
		item func(b *Body) Item
		opt  BodyOptions
		data string
		want bool
	}{
		{"contact at the limit", func(b *Body) Item { return &Contact{Body: b} }, prefs(BodyPreference{Type: BodyPlain, TruncationSize: 10}), "0123456789", true},
		{"contact cut before a 3-byte character", func(b *Body) Item { return &Contact{Body: b} }, prefs(BodyPreference{Type: BodyPlain, TruncationSize: 10}), "01234567", true},
		{"contact shorter", func(b *Body) Item { return &Contact{Body: b} }, prefs(BodyPreference{Type: BodyPlain, TruncationSize: 10}), "012345", false},
		{"no TruncationSize", func(b *Body) Item { return &Task{Body: b} }, prefs(BodyPreference{Type: BodyPlain}), strings.Repeat("x", 500), false},
		{"no preferences", func(b *Body) Item { return &Note{Body: b} }, BodyOptions{}, strings.Repeat("x", 500), false},
		{"HTML note by its type's preference", func(b *Body) Item { b.Type = BodyHTML; return &Note{Body: b} },
			prefs(BodyPreference{Type: BodyPlain, TruncationSize: 1000}, BodyPreference{Type: BodyHTML, TruncationSize: 20}), strings.Repeat("x", 20), true},
		{"event exception", func(b *Body) Item {
			return &Calendar{Exceptions: &Exceptions{Exception: []Exception{{Body: b}}}}
		}, prefs(BodyPreference{Type: BodyPlain, TruncationSize: 5}), "12345", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Body{Type: BodyPlain, Data: tt.data}
			markCutBodies(tt.item(b), tt.opt)
			if b.Truncated != tt.want {
				t.Errorf("Truncated %v, want %v", b.Truncated, tt.want)
			}
		})
	}
}

func TestBodyCutCopyOf(t *testing.T) {
	const stored = "first line\r\nsecond line"
	for _, tc := range []struct {
		name string
		b    *Body
		want bool
	}{
		{"no body", nil, false},
		{"cut copy", &Body{Type: BodyPlain, Truncated: true, Data: "first line\r\nsec"}, true},
		{"cut copy, LF", &Body{Type: BodyPlain, Truncated: true, Data: "first line\nsec"}, true},
		{"cut copy as HTML", &Body{Type: BodyHTML, Truncated: true, Data: "<p>first line</p>"}, true},
		{"not marked: the user's edit", &Body{Type: BodyPlain, Data: "first line"}, false},
		{"whole text", &Body{Type: BodyPlain, Truncated: true, Data: stored}, false},
		{"empty", &Body{Type: BodyPlain, Truncated: true}, false},
		{"another start", &Body{Type: BodyPlain, Truncated: true, Data: "second"}, false},
	} {
		if got := tc.b.CutCopyOf(stored); got != tc.want {
			t.Errorf("%s: CutCopyOf = %v, want %v", tc.name, got, tc.want)
		}
	}
}
