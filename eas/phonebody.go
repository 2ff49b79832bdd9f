package eas

import (
	"strings"

	"github.com/easgate/easgate/eas/htmltext"
)

// Text is a phone's body as the plain text a store of text (a vCard NOTE,
// an iCalendar DESCRIPTION) keeps: HTML read as text, with LF line ends.
func (b *Body) Text() string {
	if b == nil {
		return ""
	}
	s := b.Data
	if b.Type == BodyHTML {
		// Outlook writes HTML; the user means its text.
		s = htmltext.ToText(s)
	}
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// CutCopyOf reports whether b, read as text (Text), is the copy of stored
// a phone was sent cut to its TruncationSize (markCutBodies): marked
// Truncated, not empty, and a shorter start of stored. A store keeps
// stored then, or the phone's edit of another field would cut the text.
func (b *Body) CutCopyOf(stored string) bool {
	if b == nil || !b.Truncated {
		return false
	}
	s, old := b.Text(), strings.ReplaceAll(stored, "\r\n", "\n")
	return s != "" && len(s) < len(old) && strings.HasPrefix(old, s)
}

// markCutBodies flags the bodies of a phone's Change that may be the copy
// it was sent, cut to the collection's TruncationSize: phones send a body
// back as they hold it with an edit of any other field, and a store that
// wrote it would cut the text. A store keeps the text such a body is the
// start of. An unflagged body is all the phone was sent, so a shorter one
// is the user's edit.
func markCutBodies(it Item, o BodyOptions) {
	for _, b := range itemBodies(it) {
		if b == nil || b.Data == "" {
			continue
		}
		// A cut ends at a character boundary, up to 3 bytes short.
		if limit := truncationFor(o, b.Type); limit > 0 && len(b.Data)+3 >= int(limit) {
			b.Truncated = true
		}
	}
}

// truncationFor is the TruncationSize a body of type t was sent with: that
// of its type's preference, else of the plain-text one, else of the first.
func truncationFor(o BodyOptions, t int) uint32 {
	for _, want := range []int{t, BodyPlain} {
		for _, p := range o.Preferences {
			if p.Type == want {
				return p.TruncationSize
			}
		}
	}
	if len(o.Preferences) > 0 {
		return o.Preferences[0].TruncationSize
	}
	return 0
}

// itemBodies are the bodies of a phone's item of a class other than mail.
func itemBodies(it Item) []*Body {
	switch it := it.(type) {
	case *Contact:
		return []*Body{it.Body}
	case *Task:
		return []*Body{it.Body}
	case *Note:
		return []*Body{it.Body}
	case *Calendar:
		out := []*Body{it.Body}
		if it.Exceptions != nil {
			for i := range it.Exceptions.Exception {
				out = append(out, it.Exceptions.Exception[i].Body)
			}
		}
		return out
	}
	return nil
}
