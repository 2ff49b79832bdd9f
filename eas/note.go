package eas

import "time"

// Note is the ApplicationData of a Notes-class item (MS-ASNOTE, 14.0 and
// later).
type Note struct {
	Subject string `wbxml:"Notes:Subject,omitempty"`
	Body    *Body  `wbxml:"AirSyncBase:Body,omitempty"`
	// MessageClass is IPM.StickyNote or IPM.StickyNote.<something>.
	MessageClass     string          `wbxml:"Notes:MessageClass,omitempty"`
	LastModifiedDate time.Time       `wbxml:"Notes:LastModifiedDate,omitempty"`
	Categories       *NoteCategories `wbxml:"Notes:Categories,omitempty"`
}

// NoteCategories are a note's categories; an empty, present element
// clears them.
type NoteCategories struct {
	Category []string `wbxml:"Notes:Category"`
}

// Class of a note is ClassNotes.
func (*Note) Class() Class { return ClassNotes }

// noteCodec: a phone's Change carries the whole note, but MS-ASNOTE lets
// it leave out Subject and Body without clearing them; Categories left out
// are cleared.
var noteCodec = &classCodec{
	newItem:          func() Item { return &Note{} },
	ghostable:        []string{"Subject", "Body"},
	refusesSupported: true,
	minVersion:       V140,
	forVersion: func(it Item, v Version, full bool) Item {
		n := *it.(*Note)
		if full && n.MessageClass == "" {
			n.MessageClass = "IPM.StickyNote"
		}
		if n.Body != nil && n.Body.Preview != "" && !v.AtLeast(V140) {
			b := *n.Body
			b.Preview = ""
			n.Body = &b
		}
		return &n
	},
}
