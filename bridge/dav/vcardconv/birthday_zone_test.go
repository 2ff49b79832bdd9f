package vcardconv

import (
	"testing"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/easgate/easgate/eas"
)

// TestBirthdayInUserZone: with the user's zone known, the local midnight
// an iOS phone sends is that date whatever the card held, also where the
// instant alone is ambiguous (+13: 11:00Z, also -11; +14: 10:00Z, also
// -10); the other forms are read as before.
func TestBirthdayInUserZone(t *testing.T) {
	tests := []struct {
		name string
		zone string
		form string // "ios": local midnight; "utc": 00:00Z; "1159": 11:59Z
		held string // the card's date before; "" none
	}{
		{"+13 new", "Pacific/Tongatapu", "ios", ""},
		{"+13 changed from the day before", "Pacific/Tongatapu", "ios", "2026-03-09"},
		{"+13 changed from the day after", "Pacific/Tongatapu", "ios", "2026-03-11"},
		{"+13 unchanged", "Pacific/Tongatapu", "ios", "2026-03-10"},
		{"+13 AOSP form", "Pacific/Tongatapu", "utc", "2026-03-09"},
		{"+13 MS-ASCNTC 11:59 form", "Pacific/Tongatapu", "1159", ""},
		{"+14 new", "Pacific/Kiritimati", "ios", ""},
		{"-11 changed from the day after", "Pacific/Niue", "ios", "2026-03-11"},
		{"-10 new", "Pacific/Honolulu", "ios", ""},
		{"+1 new", "Europe/Berlin", "ios", ""},
		{"UTC changed from the day before", "UTC", "ios", "2026-03-09"},
	}
	const want = "2026-03-10"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			sent := map[string]time.Time{
				"ios":  time.Date(2026, 3, 10, 0, 0, 0, 0, loc),
				"utc":  time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC),
				"1159": time.Date(2026, 3, 10, 11, 59, 0, 0, time.UTC),
			}[tt.form]
			card := vcard.Card{}
			card.SetValue(vcard.FieldVersion, "3.0")
			card.SetValue(vcard.FieldFormattedName, "Ana Tui")
			if tt.held != "" {
				card.SetValue(vcard.FieldBirthday, tt.held)
			}
			c := &eas.Contact{FileAs: "Ana Tui", Birthday: sent.UTC()}
			if _, err := Apply(card, c, Options{Zone: loc}, nil); err != nil {
				t.Fatal(err)
			}
			if got := card.Value(vcard.FieldBirthday); got != want {
				t.Errorf("%s sent %s: birthday %s, want %s", tt.zone, sent.UTC().Format(time.RFC3339), got, want)
			}
			card2, err := New(c, "x", Options{Zone: loc})
			if err != nil {
				t.Fatal(err)
			}
			if got := card2.Value(vcard.FieldBirthday); got != want {
				t.Errorf("New: birthday %s, want %s", got, want)
			}
		})
	}
}
