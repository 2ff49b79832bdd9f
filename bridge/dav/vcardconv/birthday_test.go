package vcardconv

import (
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/easgate/easgate/eas"
)

// applyBirthday applies a phone's Birthday and Anniversary to a vCard 3.0
// card holding held (zero: none) and returns the dates the card then has.
func applyBirthday(t *testing.T, sent time.Time, held string) (bday, anniversary string) {
	t.Helper()
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, "3.0")
	card.SetValue(vcard.FieldFormattedName, "Ana Tui")
	if held != "" {
		card.SetValue(vcard.FieldBirthday, held)
		card.SetValue("X-ANNIVERSARY", held)
	}
	if _, err := Apply(card, &eas.Contact{FileAs: "Ana Tui", Birthday: sent, Anniversary: sent}, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	return card.Value(vcard.FieldBirthday), card.Value("X-ANNIVERSARY")
}

// TestBirthdayForms: the date a phone means, for the forms phones send,
// in zones from -12 to +14. fresh is the day the rule gives a new date
// where the instant is ambiguous (see phoneDate); a date the card already
// holds is kept in every zone.
func TestBirthdayForms(t *testing.T) {
	dates := []time.Time{time.Date(2016, 1, 15, 0, 0, 0, 0, time.UTC), time.Date(2016, 7, 15, 0, 0, 0, 0, time.UTC)}
	ios := []struct {
		zone  string
		fresh [2]int // days off for a new January / July date
	}{
		{"Etc/GMT+12", [2]int{1, 1}},        // -12, 12:00Z: read as +12
		{"Pacific/Pago_Pago", [2]int{1, 1}}, // -11, 11:00Z: read as +13
		{"Pacific/Niue", [2]int{1, 1}},      // -11
		{"Pacific/Honolulu", [2]int{0, 0}},  // -10, 10:00Z
		{"Pacific/Marquesas", [2]int{0, 0}}, // -9:30
		{"America/Anchorage", [2]int{0, 0}}, // -9 / -8
		{"America/Los_Angeles", [2]int{0, 0}},
		{"America/New_York", [2]int{0, 0}},
		{"America/St_Johns", [2]int{0, 0}}, // -3:30 / -2:30
		{"America/Sao_Paulo", [2]int{0, 0}},
		{"Atlantic/Azores", [2]int{0, 0}},
		{"UTC", [2]int{0, 0}},
		{"Europe/London", [2]int{0, 0}},
		{"Europe/Berlin", [2]int{0, 0}},
		{"Asia/Kolkata", [2]int{0, 0}},
		{"Asia/Kathmandu", [2]int{0, 0}},
		{"Australia/Eucla", [2]int{0, 0}}, // +8:45
		{"Asia/Tokyo", [2]int{0, 0}},
		{"Australia/Adelaide", [2]int{0, 0}},
		{"Australia/Lord_Howe", [2]int{0, 0}},
		{"Australia/Sydney", [2]int{0, 0}},
		{"Pacific/Fiji", [2]int{0, 0}},         // +13 / +12: 11:00Z / 12:00Z
		{"Pacific/Auckland", [2]int{0, 0}},     // +13 / +12
		{"Pacific/Chatham", [2]int{0, 0}},      // +13:45 / +12:45
		{"Pacific/Tongatapu", [2]int{0, 0}},    // +13
		{"Pacific/Apia", [2]int{-1, 0}},        // +14 / +13 in 2016: 10:00Z read as -10
		{"Pacific/Kiritimati", [2]int{-1, -1}}, // +14
	}
	type row struct {
		name  string
		sent  time.Time
		fresh time.Time
		date  time.Time
	}
	var rows []row
	for i, d := range dates {
		for _, z := range ios {
			loc, err := time.LoadLocation(z.zone)
			if err != nil {
				t.Fatal(err)
			}
			sent := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).UTC()
			rows = append(rows, row{"iOS " + z.zone, sent, d.AddDate(0, 0, z.fresh[i]), d})
		}
		for _, f := range []struct {
			name  string
			clock time.Duration
			fresh int
		}{
			{"00:00Z (AOSP, Z-Push)", 0, 0},
			{"00:00:00.001Z", time.Millisecond, 0},
			{"11:59Z (MS-ASCNTC 2.2.2.6)", 11*time.Hour + 59*time.Minute, 0},
			{"11:59:59Z", 11*time.Hour + 59*time.Minute + 59*time.Second, 0},
			{"12:00Z noon form: read as +12", 12 * time.Hour, 1},
		} {
			rows = append(rows, row{f.name, d.Add(f.clock), d.AddDate(0, 0, f.fresh), d})
		}
	}
	for _, r := range rows {
		t.Run(fmt.Sprintf("%s %s", r.date.Format("Jan"), r.name), func(t *testing.T) {
			if b, a := applyBirthday(t, r.sent, ""); b != r.fresh.Format("2006-01-02") || a != b {
				t.Errorf("new: %s sent → BDAY %s, X-ANNIVERSARY %s; want %s", r.sent.Format(time.RFC3339), b, a, r.fresh.Format("2006-01-02"))
			}
			held := r.date.Format("2006-01-02")
			if b, a := applyBirthday(t, r.sent, held); b != held || a != held {
				t.Errorf("held %s: %s sent → BDAY %s, X-ANNIVERSARY %s", held, r.sent.Format(time.RFC3339), b, a)
			}
		})
	}
}
