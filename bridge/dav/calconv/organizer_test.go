package calconv

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
)

const organizedICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
	"BEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n" +
	"SUMMARY:Plan\r\nSEQUENCE:2\r\nORGANIZER:mailto:%s\r\n%sEND:VEVENT\r\nEND:VCALENDAR\r\n"

func TestOrganized(t *testing.T) {
	const two = "ATTENDEE:mailto:a@example.com\r\nATTENDEE;CN=B:MAILTO:b@example.com\r\nATTENDEE:mailto:me@example.com\r\n"
	tests := []struct {
		name      string
		organizer string
		attendees string
		want      []string
	}{
		{"user organizes", "me@example.com", two, []string{"a@example.com", "b@example.com"}},
		{"organizer case differs", "ME@example.com", two, []string{"a@example.com", "b@example.com"}},
		{"someone else organizes", "a@example.com", two, nil},
		{"nobody invited", "me@example.com", "", nil},
		{"only the user", "me@example.com", "ATTENDEE:mailto:me@example.com\r\n", nil},
		{"attendee twice", "me@example.com", "ATTENDEE:mailto:a@example.com\r\nATTENDEE:mailto:A@example.com\r\n", []string{"a@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cal, err := Decode([]byte(strings.ReplaceAll(strings.Replace(organizedICS, "%s", tt.organizer, 1), "%s", tt.attendees)))
			if err != nil {
				t.Fatal(err)
			}
			if got := Organized(cal, "me@example.com"); !slices.Equal(got, tt.want) {
				t.Errorf("Organized = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRequestAndCancel(t *testing.T) {
	src := strings.ReplaceAll(strings.Replace(organizedICS, "%s", "me@example.com", 1), "%s", "ATTENDEE:mailto:a@example.com\r\n")
	cal, err := Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		out      string
		has, not []string
	}{
		{"request", encoded(t, Request(cal)), []string{"METHOD:REQUEST", "UID:m1", "SEQUENCE:2", "ORGANIZER:mailto:me@example.com", "ATTENDEE:mailto:a@example.com"}, []string{"STATUS:CANCELLED"}},
		{"cancel", encoded(t, Cancel(cal, testOptions(t))), []string{"METHOD:CANCEL", "UID:m1", "SEQUENCE:3", "STATUS:CANCELLED", "ATTENDEE:mailto:a@example.com"}, []string{"SEQUENCE:2"}},
		{"stored object unchanged", encoded(t, cal), []string{"SEQUENCE:2"}, []string{"METHOD", "STATUS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.has {
				if !strings.Contains(tt.out, s) {
					t.Errorf("missing %q in\n%s", s, tt.out)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(tt.out, s) {
					t.Errorf("unexpected %q in\n%s", s, tt.out)
				}
			}
		})
	}
}

// MeetingResponse answers only a meeting the user was invited to: an
// appointment or a meeting the user organizes is refused (Status 2), and
// left as it was.
func TestSetPartStatNeedsAnInvitation(t *testing.T) {
	o := testOptions(t)
	tests := []struct {
		name, file string
		ok         bool
	}{
		{"invited", "google-attendees.ics", true},
		{"organized by the user", "outlook-meeting-organizer.ics", false},
		{"appointment", "apple-sydney.ics", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cal := loadICS(t, tt.file)
			before := encoded(t, cal)
			_, err := SetPartStat(cal, "me@example.com", "ACCEPTED", "", o)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, eas.ErrInvalidItem) || errors.Is(err, eas.ErrNotRecurring) {
				t.Errorf("err %v, want ErrInvalidItem", err)
			}
			if encoded(t, cal) != before {
				t.Error("the event changed")
			}
		})
	}
}
