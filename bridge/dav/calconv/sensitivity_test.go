package calconv

import (
	"strings"
	"testing"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/eas"
)

// reparse sends cal through its text form, as a store and fetch would.
func reparse(t *testing.T, cal *ical.Calendar) *ical.Calendar {
	t.Helper()
	b, err := Encode(cal)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSensitivityRoundTrip: every Sensitivity a phone sets, on an Add and
// on a later Change to any other value, comes back as the phone sent it,
// while other clients see the nearest CLASS.
func TestSensitivityRoundTrip(t *testing.T) {
	o := testOptions(t)
	class := []string{"", "PRIVATE", "PRIVATE", "CONFIDENTIAL"}
	event := func(t *testing.T, cal *ical.Calendar, s int) (*ical.Calendar, int) {
		t.Helper()
		in := &eas.Calendar{Subject: ptr("Call"), TimeZone: aospBlob(t, "Europe/Berlin"), StartTime: "20261214T150000Z", EndTime: "20261214T153000Z", Sensitivity: ptr(s)}
		cal, err := ApplyEvent(cal, in, o)
		if err != nil {
			t.Fatal(err)
		}
		cal = reparse(t, cal)
		got, err := EventToEAS(cal, o)
		if err != nil {
			t.Fatal(err)
		}
		return cal, deref(got.Sensitivity)
	}
	task := func(t *testing.T, cal *ical.Calendar, s int) (*ical.Calendar, int) {
		t.Helper()
		cal, err := ApplyTask(cal, &eas.Task{Subject: ptr("Call back"), Sensitivity: ptr(s)}, "", o)
		if err != nil {
			t.Fatal(err)
		}
		cal = reparse(t, cal)
		got, err := TodoToEAS(cal, o)
		if err != nil {
			t.Fatal(err)
		}
		return cal, deref(got.Sensitivity)
	}
	for kind, apply := range map[string]func(*testing.T, *ical.Calendar, int) (*ical.Calendar, int){"event": event, "task": task} {
		for from := 0; from <= 3; from++ {
			for to := 0; to <= 3; to++ {
				t.Run(kind+"/"+string(rune('0'+from))+"to"+string(rune('0'+to)), func(t *testing.T) {
					cal, got := apply(t, nil, from)
					if got != from {
						t.Fatalf("Add with Sensitivity %d read back as %d", from, got)
					}
					cal, got = apply(t, cal, to)
					if got != to {
						t.Errorf("Change %d → %d read back as %d", from, to, got)
					}
					c := cal.Children[len(cal.Children)-1]
					if g := propText(c, ical.PropClass); g != class[to] && !(to == 0 && g == "PUBLIC") {
						t.Errorf("CLASS %q, want %q", g, class[to])
					}
					if to != 1 && c.Props.Get("X-EASGATE-SENSITIVITY") != nil {
						t.Errorf("X-EASGATE-SENSITIVITY left behind for Sensitivity %d", to)
					}
				})
			}
		}
	}
}

// TestSensitivityFromOtherClients: what CalDAV clients write reads as the
// nearest Sensitivity.
func TestSensitivityFromOtherClients(t *testing.T) {
	o := testOptions(t)
	tests := []struct {
		props string
		want  int
	}{
		{"", 0},
		{"CLASS:PUBLIC\r\n", 0},
		{"CLASS:private\r\n", 2},
		{"CLASS:CONFIDENTIAL\r\n", 3},
		{"CLASS:X-SECRET\r\n", 2}, // RFC 5545 3.8.1.3: unknown values are PRIVATE
		{"CLASS:PRIVATE\r\nX-EASGATE-SENSITIVITY:PERSONAL\r\n", 1},
		// Another client made it public and kept our mark: CLASS wins.
		{"CLASS:PUBLIC\r\nX-EASGATE-SENSITIVITY:PERSONAL\r\n", 0},
		{"CLASS:CONFIDENTIAL\r\nX-EASGATE-SENSITIVITY:PERSONAL\r\n", 3},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.props), func(t *testing.T) {
			src := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20261201T000000Z\r\n" +
				"DTSTART:20261214T150000Z\r\nDTEND:20261214T153000Z\r\nSUMMARY:x\r\n" + tt.props + "END:VEVENT\r\nEND:VCALENDAR\r\n"
			cal, err := Decode([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			got, err := EventToEAS(cal, o)
			if err != nil {
				t.Fatal(err)
			}
			if deref(got.Sensitivity) != tt.want {
				t.Errorf("Sensitivity %d, want %d", deref(got.Sensitivity), tt.want)
			}
		})
	}
}
