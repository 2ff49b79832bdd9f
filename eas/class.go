package eas

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/easgate/easgate/wbxml"
)

// Classes.
//
// Every item a phone syncs belongs to a class (MS-ASCMD 2.2.3.27): Email,
// Contacts, Calendar, Tasks or Notes. The class is fixed by the folder's
// type (FolderType.Class), and it decides only two things: which elements
// an item's ApplicationData holds, and which upstream store keeps it. All
// else a Sync does is the same for every class: SyncKeys and their replay,
// windows and MoreAvailable, conflicts, GetItemEstimate, Ping and the
// hanging Sync, the isolation of an item that cannot be converted.
//
// So a class plugs into the engine in two places:
//
//   - an Item type: a plain struct with wbxml tags for the class's
//     ApplicationData (Email in email.go, Note in note.go; contact.go,
//     calendar.go and task.go for the others), and
//   - a classCodec entry in classCodecs, which says how to trim an item for
//     a protocol version, how to read a phone's ApplicationData, and which
//     fields the phone may leave out of a Change (ghosting).
//
// The store side is a Session (backend.go): Folders, Changes, Pending and
// Fetch work for every class; a phone's writes go through ItemWriter, and
// what only mail has (flags, drafts, moves, attachments, search, sending)
// through the mail extension interfaces, found by type assertion. One user
// may have several upstreams (an IMAP mail store, a CardDAV and a CalDAV
// server): Combine (combine.go) makes them one Backend and one Notifier.

// Class is an item class as the Class element names it.
type Class string

// Item classes.
const (
	ClassEmail    Class = "Email"
	ClassContacts Class = "Contacts"
	ClassCalendar Class = "Calendar"
	ClassTasks    Class = "Tasks"
	ClassNotes    Class = "Notes"
)

// parseClass reads a Class element as a phone sends it; ok is false for a
// class easgate does not know (SMS, say).
func parseClass(s string) (Class, bool) {
	for _, c := range []Class{ClassEmail, ClassContacts, ClassCalendar, ClassTasks, ClassNotes} {
		if strings.EqualFold(s, string(c)) {
			return c, true
		}
	}
	return "", false
}

// Folder types of the other classes (MS-ASCMD FolderSync 2.2.3.186.3).
const (
	FolderTasks        FolderType = 7
	FolderCalendar     FolderType = 8
	FolderContacts     FolderType = 9
	FolderNotes        FolderType = 10
	FolderJournal      FolderType = 11
	FolderUserCalendar FolderType = 13
	FolderUserContacts FolderType = 14
	FolderUserTasks    FolderType = 15
	FolderUserJournal  FolderType = 16
	FolderUserNotes    FolderType = 17
)

// Class is the class of the items of a folder of type t; "" for a type
// whose items no class describes (Journal has none in EAS). The engine
// syncs a folder of such a type as mail: an IMAP folder of unknown type
// holds messages.
func (t FolderType) Class() Class {
	switch t {
	case FolderGeneric, FolderInbox, FolderDrafts, FolderDeleted, FolderSent, FolderOutbox, FolderUserMail:
		return ClassEmail
	case FolderTasks, FolderUserTasks:
		return ClassTasks
	case FolderCalendar, FolderUserCalendar:
		return ClassCalendar
	case FolderContacts, FolderUserContacts, FolderRecipients:
		return ClassContacts
	case FolderNotes, FolderUserNotes:
		return ClassNotes
	}
	return ""
}

// Item is the ApplicationData of one item of any class: *Email, *Note,
// and the types of the other classes. Its wbxml tags are its wire form.
type Item interface {
	Class() Class
}

// Class of an email is ClassEmail.
func (*Email) Class() Class { return ClassEmail }

// classCodec is what the engine knows of one class.
type classCodec struct {
	// newItem returns an empty item to decode a phone's ApplicationData into.
	newItem func() Item
	// forVersion returns the fields of it that protocol v knows, leaving it
	// unchanged. full marks a complete item (Add, Fetch) rather than a
	// Change of some fields. nil: every field goes to every version.
	forVersion func(it Item, v Version, full bool) Item
	// ghostable are the top-level elements a phone may leave out of a
	// Change without clearing them when its collection has no Supported
	// list (MS-ASCMD 2.2.3.179): what phones do not send back. With a
	// list, every element it does not name is ghosted instead. A backend
	// keeps what PhoneItem.Ghosted names and clears the rest the phone
	// left out. Empty: the class is not ghosted (mail).
	ghostable []string
	// refusesSupported: a Supported element in the collection's first
	// Sync is a protocol error (MS-ASNOTE).
	refusesSupported bool
	// minVersion is the first protocol version that has the class.
	minVersion Version
	// ghostsAllFrom is the first protocol version whose Change leaves out
	// whatever did not change (calendar and tasks: 16.0, MS-ASCAL
	// 3.1.5.3): every element left out is then ghosted. Zero: none.
	ghostsAllFrom Version
	// clientEdits, for a client known to send no Supported list, names
	// the elements it shows and sends back when set (nil: a client not
	// known): left out of a Change, those are cleared and every other
	// element is kept. A client's silence about what it cannot show must
	// not delete it.
	clientEdits func(ClientIdentity) []string

	// elemsOnce guards elems, the cache of elements().
	elemsOnce sync.Once
	elems     []string
}

// classCodecs is the table of classes the engine serves.
var classCodecs = map[Class]*classCodec{
	ClassEmail: {
		newItem: func() Item { return &Email{} },
		forVersion: func(it Item, v Version, full bool) Item {
			e := it.(*Email)
			if e == nil {
				e = &Email{}
			}
			return emailForVersion(e, v, full)
		},
	},
	ClassNotes:    noteCodec,
	ClassContacts: contactCodec,
	ClassCalendar: calendarCodec,
	ClassTasks:    taskCodec,
}

// codecFor returns the codec of class c, or an error for a class the
// engine does not serve.
func codecFor(c Class) (*classCodec, error) {
	if cc, ok := classCodecs[c]; ok {
		return cc, nil
	}
	return nil, fmt.Errorf("eas: class %q not served", c)
}

// encode returns it as version v shows it; a nil item encodes as an empty
// ApplicationData of the codec's class.
func (cc *classCodec) encode(it Item, v Version, full bool) Item {
	if it == nil {
		it = cc.newItem()
	}
	if cc.forVersion == nil {
		return it
	}
	return cc.forVersion(it, v, full)
}

// PhoneItem is an item as a phone sent it in a Sync Add or Change.
type PhoneItem struct {
	Item Item
	// Ghosted are the ghostable fields the phone left out: the backend
	// keeps what it has for them instead of clearing them.
	Ghosted []string
}

// sender is what decides how a phone's ApplicationData reads: the
// protocol version it speaks, the Supported list of its collection, and
// the client it is.
type sender struct {
	version   Version
	supported []string
	client    ClientIdentity
}

// decode reads the ApplicationData a client not known sent; see
// decodeFrom.
func (cc *classCodec) decode(data *wbxml.Element, supported []string, v Version) (PhoneItem, error) {
	return cc.decodeFrom(data, sender{version: v, supported: supported})
}

// decodeFrom reads the ApplicationData (nil: none) a phone sent.
// The elements its collection's Supported listed are cleared when a
// Change leaves them out rather than kept, and every element the list
// does not name is ghosted (MS-ASCMD 2.2.3.179; the spec's example lists
// only JobTitle and OfficeLocation, so a phone's Change then carries
// little else). Without a list, or with an empty one, MS-ASCMD would
// clear whatever a Change leaves out, but phones that send none (iOS)
// leave out what they do not show, and clearing it would lose data: a
// client whose fields are known (clientEdits) has every other element
// kept, any other client the codec's ghostable ones.
func (cc *classCodec) decodeFrom(data *wbxml.Element, from sender) (PhoneItem, error) {
	it := cc.newItem()
	if data != nil {
		if err := decodeElement(data, it); err != nil {
			return PhoneItem{}, fmt.Errorf("decode %s item: %w", it.Class(), err)
		}
	}
	ghostable := cc.ghostableFrom(from)
	if len(ghostable) == 0 {
		return PhoneItem{Item: it}, nil
	}
	sent := map[string]bool{}
	if data != nil {
		for _, c := range data.Children {
			sent[c.Name()] = true
		}
	}
	return PhoneItem{Item: it, Ghosted: ghosted(ghostable, sent)}, nil
}

// ghostableFrom are the elements a Change from the sender may leave out
// without clearing them (see decodeFrom). What its Supported list names is
// never among them, except from the version on that ghosts all.
func (cc *classCodec) ghostableFrom(from sender) []string {
	switch {
	case len(cc.ghostable) == 0:
		return nil
	case cc.ghostsAllFrom != 0 && from.version.AtLeast(cc.ghostsAllFrom):
		return cc.elements()
	case len(from.supported) > 0 && cc.refusesSupported:
		return without(cc.ghostable, from.supported)
	case len(from.supported) > 0:
		return without(cc.elements(), from.supported)
	}
	if cc.clientEdits != nil {
		if edits := cc.clientEdits(from.client); edits != nil {
			return without(cc.elements(), edits)
		}
	}
	return cc.ghostable
}

// without is list less the elements in drop, as a new slice.
func without(list, drop []string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(f string) bool { return slices.Contains(drop, f) })
}

// elements are the top-level elements of the codec's item type. They are
// read from its tags once: a Change of any ghosted class may need them.
func (cc *classCodec) elements() []string {
	cc.elemsOnce.Do(func() { cc.elems = itemElements(cc.newItem()) })
	return cc.elems
}

// ghosted are the elements of ghostable not in sent.
func ghosted(ghostable []string, sent map[string]bool) []string {
	var out []string
	for _, f := range ghostable {
		if !sent[f] {
			out = append(out, f)
		}
	}
	return out
}

// itemElements lists the top-level elements of an item type, by the
// wbxml tags of its fields.
func itemElements(it Item) []string {
	t := reflect.TypeOf(it).Elem()
	var out []string
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("wbxml"), ",")
		if _, name, ok := strings.Cut(tag, ":"); ok {
			tag = name
		}
		if tag != "" && tag != "-" && !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	return out
}

// supportedNames lists the elements of a Supported element.
func supportedNames(e *wbxml.Element) []string {
	out := make([]string, 0, len(e.Children))
	for _, c := range e.Children {
		out = append(out, c.Name())
	}
	return out
}
