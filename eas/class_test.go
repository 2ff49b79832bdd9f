package eas

import (
	"slices"
	"testing"

	"github.com/easgate/easgate/wbxml"
)

func TestFolderTypeClass(t *testing.T) {
	tests := []struct {
		t    FolderType
		want Class
	}{
		{FolderInbox, ClassEmail}, {FolderUserMail, ClassEmail}, {FolderDrafts, ClassEmail},
		{FolderTasks, ClassTasks}, {FolderUserTasks, ClassTasks},
		{FolderCalendar, ClassCalendar}, {FolderUserCalendar, ClassCalendar},
		{FolderContacts, ClassContacts}, {FolderUserContacts, ClassContacts}, {FolderRecipients, ClassContacts},
		{FolderNotes, ClassNotes}, {FolderUserNotes, ClassNotes},
		{FolderJournal, ""}, {FolderUnknown, ""},
	}
	for _, tc := range tests {
		if got := tc.t.Class(); got != tc.want {
			t.Errorf("FolderType(%d).Class() = %q, want %q", tc.t, got, tc.want)
		}
	}
}

// A phone's note: what it left out is kept (ghosted) unless the
// collection's Supported listed it.
func TestNoteDecodeGhosting(t *testing.T) {
	el := func(children ...*wbxml.Element) *wbxml.Element {
		return wbxml.NewElement("AirSync", "ApplicationData").Add(children...)
	}
	subject := wbxml.NewElement("Notes", "Subject").SetText("Hi")
	body := wbxml.NewElement("AirSyncBase", "Body").Add(
		wbxml.NewElement("AirSyncBase", "Type").SetText("1"), wbxml.NewElement("AirSyncBase", "Data").SetText("text"))
	tests := []struct {
		name      string
		data      *wbxml.Element
		supported []string
		subject   string
		ghosted   []string
	}{
		{"whole", el(subject, body), nil, "Hi", nil},
		{"body only", el(body), nil, "", []string{"Subject"}},
		{"nothing", nil, nil, "", []string{"Subject", "Body"}},
		{"subject only, body supported", el(subject), []string{"Body"}, "Hi", nil},
	}
	for _, tc := range tests {
		it, err := noteCodec.decode(tc.data, tc.supported, V141)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := it.Item.(*Note); n.Subject != tc.subject || !slices.Equal(it.Ghosted, tc.ghosted) {
			t.Errorf("%s: %+v ghosted %v, want subject %q ghosted %v", tc.name, n, it.Ghosted, tc.subject, tc.ghosted)
		}
	}
}
