package calconv

import "testing"

func TestCollectionZone(t *testing.T) {
	tests := []struct {
		name, text, want string // want "": no zone
	}{
		{"IANA TZID", "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n", "Europe/Berlin"},
		{"Thunderbird prefix", "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:/mozilla.org/20050126_1/Asia/Tokyo\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n", "Asia/Tokyo"},
		{"Windows id", "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Pacific Standard Time\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n", "America/Los_Angeles"},
		{"unknown TZID without rules", "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Somewhere\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n", ""},
		{"no VTIMEZONE", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", ""},
		{"not iCalendar", "Europe/Berlin", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := CollectionZone(tt.text)
			got := ""
			if ok {
				got = l.String()
			}
			if got != tt.want {
				t.Errorf("zone %q, want %q", got, tt.want)
			}
		})
	}
}
