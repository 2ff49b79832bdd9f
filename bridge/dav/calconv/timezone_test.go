package calconv

import (
	"errors"
	"testing"
	"time"
)

func rule(month, dow, week, hour int) SystemTime {
	return SystemTime{Month: uint16(month), DayOfWeek: uint16(dow), Day: uint16(week), Hour: uint16(hour)}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// phoneBlobs are blobs as phones send them: the rules of a zone and the
// names each client family writes (Windows ids from Windows Phone and
// Outlook, display names from Z-Push-fed clients and Windows, empty names
// from AOSP, IANA ids, abbreviations).
var phoneBlobs = []struct {
	name string
	tz   TimeZone
	want string
}{
	{"all zero (UTC)", TimeZone{}, "UTC"},
	{"Berlin, absolute dates of 2026 (wYear set)", TimeZone{Bias: -60, StandardDate: SystemTime{Year: 2026, Month: 10, Day: 25, Hour: 3}, DaylightDate: SystemTime{Year: 2026, Month: 3, Day: 29, Hour: 2}, DaylightBias: -60}, "Europe/Berlin"},
	{"UTC named", TimeZone{StandardName: "Coordinated Universal Time", DaylightName: "Coordinated Universal Time"}, "UTC"},
	{"Berlin, empty names (AOSP)", TimeZone{Bias: -60, StandardDate: rule(10, 0, 5, 3), DaylightDate: rule(3, 0, 5, 2), DaylightBias: -60}, "Europe/Berlin"},
	{"Berlin, display name", TimeZone{Bias: -60, StandardName: "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", StandardDate: rule(10, 0, 5, 3), DaylightName: "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", DaylightDate: rule(3, 0, 5, 2), DaylightBias: -60}, "Europe/Berlin"},
	{"Berlin, CLDR long names", TimeZone{Bias: -60, StandardName: "Central European Standard Time", StandardDate: rule(10, 0, 5, 3), DaylightName: "Central European Summer Time", DaylightDate: rule(3, 0, 5, 2), DaylightBias: -60}, "Europe/Warsaw"},
	{"Paris, Windows id", TimeZone{Bias: -60, StandardName: "Romance Standard Time", StandardDate: rule(10, 0, 5, 3), DaylightName: "Romance Daylight Time", DaylightDate: rule(3, 0, 5, 2), DaylightBias: -60}, "Europe/Paris"},
	{"London, Windows id", TimeZone{StandardName: "GMT Standard Time", StandardDate: rule(10, 0, 5, 2), DaylightName: "GMT Daylight Time", DaylightDate: rule(3, 0, 5, 1), DaylightBias: -60}, "Europe/London"},
	{"London, empty names", TimeZone{StandardDate: rule(10, 0, 5, 2), DaylightDate: rule(3, 0, 5, 1), DaylightBias: -60}, "Europe/London"},
	{"New York, display name", TimeZone{Bias: 300, StandardName: "(UTC-05:00) Eastern Time (US & Canada)", StandardDate: rule(11, 0, 1, 2), DaylightDate: rule(3, 0, 2, 2), DaylightBias: -60}, "America/New_York"},
	{"New York, abbreviations", TimeZone{Bias: 300, StandardName: "EST", StandardDate: rule(11, 0, 1, 2), DaylightName: "EDT", DaylightDate: rule(3, 0, 2, 2), DaylightBias: -60}, "America/New_York"},
	{"Los Angeles, Windows id", TimeZone{Bias: 480, StandardName: "Pacific Standard Time", StandardDate: rule(11, 0, 1, 2), DaylightName: "Pacific Daylight Time", DaylightDate: rule(3, 0, 2, 2), DaylightBias: -60}, "America/Los_Angeles"},
	{"Los Angeles, display name", TimeZone{Bias: 480, StandardName: "(UTC-08:00) Pacific Time (US & Canada)", StandardDate: rule(11, 0, 1, 2), DaylightDate: rule(3, 0, 2, 2), DaylightBias: -60}, "America/Los_Angeles"},
	{"Los Angeles, empty names, hours in UTC", TimeZone{Bias: 480, StandardDate: rule(11, 0, 1, 9), DaylightDate: rule(3, 0, 2, 10), DaylightBias: -60}, "America/Los_Angeles"},
	{"Sydney, Windows id", TimeZone{Bias: -600, StandardName: "AUS Eastern Standard Time", StandardDate: rule(4, 0, 1, 3), DaylightName: "AUS Eastern Daylight Time", DaylightDate: rule(10, 0, 1, 2), DaylightBias: -60}, "Australia/Sydney"},
	{"Sydney, empty names", TimeZone{Bias: -600, StandardDate: rule(4, 0, 1, 3), DaylightDate: rule(10, 0, 1, 2), DaylightBias: -60}, "Australia/Sydney"},
	{"Auckland, IANA name", TimeZone{Bias: -720, StandardName: "Pacific/Auckland", StandardDate: rule(4, 0, 1, 3), DaylightName: "Pacific/Auckland", DaylightDate: rule(9, 0, 5, 2), DaylightBias: -60}, "Pacific/Auckland"},
	{"Auckland, opush style", TimeZone{Bias: -720, StandardName: "New Zealand Standard Time", StandardDate: rule(4, 0, 1, 3), DaylightName: "New Zealand Daylight Time", DaylightDate: rule(9, 0, 5, 2), DaylightBias: -60}, "Pacific/Auckland"},
	{"Sao Paulo, no DST any more", TimeZone{Bias: 180, StandardName: "E. South America Standard Time", DaylightName: "E. South America Daylight Time"}, "America/Sao_Paulo"},
	{"Sao Paulo, empty names", TimeZone{Bias: 180}, "America/Sao_Paulo"},
	{"Tokyo, empty names", TimeZone{Bias: -540}, "Asia/Tokyo"},
	{"Tokyo, display name", TimeZone{Bias: -540, StandardName: "(UTC+09:00) Osaka, Sapporo, Tokyo"}, "Asia/Tokyo"},
	{"Kolkata, Windows id", TimeZone{Bias: -330, StandardName: "India Standard Time", DaylightName: "India Daylight Time"}, "Asia/Kolkata"},
	{"Kolkata, display name", TimeZone{Bias: -330, StandardName: "(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi"}, "Asia/Kolkata"},
}

func TestMatchZone(t *testing.T) {
	for _, tt := range phoneBlobs {
		t.Run(tt.name, func(t *testing.T) {
			// Through base64 as a phone sends it.
			tz, err := ParseTimeZone(tt.tz.Encode())
			if err != nil {
				t.Fatal(err)
			}
			want := tt.tz
			// Names hold 31 UTF-16 units and a NUL: phones send display
			// names cut short.
			want.StandardName, want.DaylightName = cut(want.StandardName), cut(want.DaylightName)
			if tz != want {
				t.Fatalf("blob round trip: got %+v, want %+v", tz, want)
			}
			loc, ok := MatchZone(tz, 2026, nil)
			if !ok || loc.String() != tt.want {
				t.Fatalf("MatchZone = %v, %v; want %s", loc, ok, tt.want)
			}
			// Our blob for that zone has the same rules as the phone's.
			ours, err := ParseTimeZone(TimeZoneFor(loc, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)).Encode())
			if err != nil {
				t.Fatal(err)
			}
			if !sameRules(ours, tt.tz, 2026) {
				t.Errorf("our blob %+v does not have the phone's rules %+v", ours, tt.tz)
			}
			back, ok := MatchZone(ours, 2026, nil)
			if !ok || back.String() != tt.want {
				t.Errorf("our blob maps to %v, want %s", back, tt.want)
			}
		})
	}
}

func cut(s string) string {
	if len(s) > 31 {
		return s[:31]
	}
	return s
}

func TestMatchZoneMotorolaBias(t *testing.T) {
	// DaylightBias +60 where -60 is meant.
	tz := TimeZone{Bias: 300, StandardDate: rule(11, 0, 1, 2), DaylightDate: rule(3, 0, 2, 2), DaylightBias: 60}
	if loc, ok := MatchZone(tz, 2026, nil); !ok || loc.String() != "America/New_York" {
		t.Errorf("got %v, %v", loc, ok)
	}
}

func TestMatchZonePrefersUserZone(t *testing.T) {
	berlin := TimeZone{Bias: -60, StandardDate: rule(10, 0, 5, 3), DaylightDate: rule(3, 0, 5, 2), DaylightBias: -60}
	loc, ok := MatchZone(berlin, 2026, mustLoad(t, "Europe/Amsterdam"))
	if !ok || loc.String() != "Europe/Amsterdam" {
		t.Errorf("got %v, want the user's Europe/Amsterdam", loc)
	}
	// The user's zone is skipped when its rules differ.
	loc, ok = MatchZone(berlin, 2026, mustLoad(t, "America/New_York"))
	if !ok || loc.String() != "Europe/Berlin" {
		t.Errorf("got %v, want Europe/Berlin", loc)
	}
}

func TestTimeZoneForKnownBlobs(t *testing.T) {
	tests := []struct {
		zone string
		want string
	}{
		// Europe/Berlin as a Galaxy S (Android 2.3.4) and HTC WM6.1 sent it, names empty.
		{"Europe/Berlin", "xP///wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAoAAAAFAAMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMAAAAFAAIAAAAAAAAAxP///w=="},
		{"America/New_York", "LAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAsAAAABAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMAAAACAAIAAAAAAAAAxP///w=="},
		{"Asia/Tokyo", "5P3//wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="},
		{"UTC", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="},
	}
	for _, tt := range tests {
		tz := TimeZoneFor(mustLoad(t, tt.zone), time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
		if tt.zone != "UTC" {
			std, dst := windowsNames(tt.zone)
			if tz.StandardName != std || tz.DaylightName != dst {
				t.Errorf("%s: names %q/%q, want %q/%q", tt.zone, tz.StandardName, tz.DaylightName, std, dst)
			}
			tz.StandardName, tz.DaylightName = "", ""
		}
		if got := tz.Encode(); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.zone, got, tt.want)
		}
	}
}

func TestTimeZoneForSouthernHemisphere(t *testing.T) {
	tz := TimeZoneFor(mustLoad(t, "Australia/Sydney"), time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC))
	want := TimeZone{Bias: -600, StandardName: "AUS Eastern Standard Time", StandardDate: rule(4, 0, 1, 3), DaylightName: "AUS Eastern Daylight Time", DaylightDate: rule(10, 0, 1, 2), DaylightBias: -60}
	if tz != want {
		t.Errorf("got %+v\nwant %+v", tz, want)
	}
}

// TestBlobLocation checks that a location built from a blob gives the
// same offsets as the IANA zone it describes, hour by hour over two years.
func TestBlobLocation(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "Pacific/Auckland", "Asia/Kolkata", "America/Sao_Paulo", "Europe/London"} {
		iana := mustLoad(t, name)
		loc := TimeZoneFor(iana, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)).Location("")
		for at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() < 2028; at = at.Add(time.Hour) {
			_, want := at.In(iana).Zone()
			_, got := at.In(loc).Zone()
			if got != want {
				t.Errorf("%s at %v: offset %d, want %d", name, at, got, want)
				break
			}
		}
	}
}

func TestUnmatchedBlob(t *testing.T) {
	// DST from the first Sunday of February to the last Sunday of
	// November at +05:00: no zone has these rules.
	odd := TimeZone{Bias: -300, StandardName: "Nowhere", StandardDate: rule(11, 0, 5, 2), DaylightDate: rule(2, 0, 1, 2), DaylightBias: -60}
	if loc, ok := MatchZone(odd, 2026, nil); ok {
		t.Fatalf("matched %v", loc)
	}
	loc := odd.Location("")
	if loc.String() != "Nowhere" {
		t.Errorf("name %q", loc.String())
	}
	tests := []struct {
		at   time.Time
		want int
	}{
		{time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), 5 * 3600},
		{time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC), 6 * 3600}, // 1 Feb 2026 is a Sunday
		{time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), 6 * 3600},
		{time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), 5 * 3600}, // last Sunday of November
	}
	for _, tt := range tests {
		if _, off := tt.at.In(loc).Zone(); off != tt.want {
			t.Errorf("%v: offset %d, want %d", tt.at, off, tt.want)
		}
	}
}

func TestParseTimeZoneErrors(t *testing.T) {
	for _, in := range []string{"", "not base64!", "AAAA"} {
		if _, err := ParseTimeZone(in); !errors.Is(err, ErrBadTimeZone) {
			t.Errorf("%q: err %v", in, err)
		}
	}
	// Unpadded base64 is accepted.
	tz := TimeZone{Bias: -60}
	s := tz.Encode()
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	if got, err := ParseTimeZone(s); err != nil || got != tz {
		t.Errorf("unpadded: %+v, %v", got, err)
	}
}
