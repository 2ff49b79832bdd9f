package calconv

import (
	"strings"
	"testing"
)

func TestAddMissingTimezones(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		added bool
		want  []string
	}{
		{"IANA zone without definition", "DTSTART;TZID=Europe/Berlin:20270301T090000", true, []string{"TZID:Europe/Berlin", "BEGIN:DAYLIGHT"}},
		{"defined already", "DTSTART;TZID=Custom:20270301T090000", false, []string{"TZID:Custom"}},
		{"unknown name left alone", "DTSTART;TZID=Mars/Olympus:20270301T090000", false, nil},
		{"UTC", "DTSTART:20270301T090000Z", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tz := ""
			if strings.Contains(tt.in, "Custom") {
				tz = "BEGIN:VTIMEZONE\r\nTZID:Custom\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
			}
			src := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" + tz + "BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n" + tt.in + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
			cal, err := Decode([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if got := AddMissingTimezones(cal); got != tt.added {
				t.Errorf("added %v, want %v", got, tt.added)
			}
			out, _ := Encode(cal)
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if n := strings.Count(string(out), "BEGIN:VTIMEZONE"); n > 1 {
				t.Errorf("%d VTIMEZONEs", n)
			}
		})
	}
}
