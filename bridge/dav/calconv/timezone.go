// Package calconv converts between iCalendar (RFC 5545) events and to-dos
// and the EAS Calendar and Tasks items (MS-ASCAL, MS-ASTASK): times and
// zones, recurrences and their exceptions, attendees, reminders. It does no
// network work.
package calconv

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"

	// Zones must resolve the same on hosts without a zoneinfo database
	// (minimal containers): phones' blobs are matched against them.
	_ "time/tzdata"
)

// SystemTime is a Windows SYSTEMTIME as used in a TimeZone blob. With
// Year 0 it is a yearly rule: Day is the occurrence (1–4, 5 = last) of
// DayOfWeek (0 = Sunday) in Month, at Hour:Minute local time before the
// switch.
type SystemTime struct {
	Year, Month, DayOfWeek, Day, Hour, Minute, Second, Milliseconds uint16
}

// TimeZone is the EAS TimeZone blob (MS-ASDTYPE 2.7.4): a Windows
// TIME_ZONE_INFORMATION. Bias is in minutes, UTC = local + Bias.
type TimeZone struct {
	Bias         int32
	StandardName string
	StandardDate SystemTime
	StandardBias int32
	DaylightName string
	DaylightDate SystemTime
	DaylightBias int32
}

const blobSize = 172

// ErrBadTimeZone reports a TimeZone blob that is not 172 bytes of base64.
var ErrBadTimeZone = errors.New("calconv: invalid TimeZone blob")

// ParseTimeZone decodes a base64 TimeZone blob.
func ParseTimeZone(s string) (TimeZone, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Some clients leave out the padding.
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != blobSize {
		return TimeZone{}, fmt.Errorf("%w (%d bytes)", ErrBadTimeZone, len(b))
	}
	le := binary.LittleEndian
	tz := TimeZone{
		Bias:         int32(le.Uint32(b[0:])),
		StandardName: utf16Name(b[4:68]),
		StandardDate: readSystemTime(b[68:84]),
		StandardBias: int32(le.Uint32(b[84:])),
		DaylightName: utf16Name(b[88:152]),
		DaylightDate: readSystemTime(b[152:168]),
		DaylightBias: int32(le.Uint32(b[168:])),
	}
	return tz, nil
}

// Encode returns the base64 form of tz.
func (tz TimeZone) Encode() string {
	b := make([]byte, blobSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(tz.Bias))
	putUTF16Name(b[4:68], tz.StandardName)
	putSystemTime(b[68:84], tz.StandardDate)
	le.PutUint32(b[84:], uint32(tz.StandardBias))
	putUTF16Name(b[88:152], tz.DaylightName)
	putSystemTime(b[152:168], tz.DaylightDate)
	le.PutUint32(b[168:], uint32(tz.DaylightBias))
	return base64.StdEncoding.EncodeToString(b)
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, 32)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

func putUTF16Name(b []byte, s string) {
	u := utf16.Encode([]rune(s))
	if len(u) > 31 { // keep a terminating NUL
		u = u[:31]
	}
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
}

func readSystemTime(b []byte) SystemTime {
	f := func(i int) uint16 { return binary.LittleEndian.Uint16(b[2*i:]) }
	return SystemTime{f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7)}
}

func putSystemTime(b []byte, st SystemTime) {
	for i, v := range []uint16{st.Year, st.Month, st.DayOfWeek, st.Day, st.Hour, st.Minute, st.Second, st.Milliseconds} {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
}

// HasDST tells whether tz has daylight saving time.
func (tz TimeZone) HasDST() bool {
	return tz.StandardDate.Month != 0 && tz.DaylightDate.Month != 0
}

// IsZero tells whether tz is the all-zero blob, which phones and servers
// send for UTC or an unknown zone.
func (tz TimeZone) IsZero() bool { return tz == TimeZone{} }

// StandardOffset is the UTC offset in standard time.
func (tz TimeZone) StandardOffset() time.Duration {
	return -time.Duration(tz.Bias+tz.StandardBias) * time.Minute
}

// DaylightOffset is the UTC offset in daylight saving time.
func (tz TimeZone) DaylightOffset() time.Duration {
	return -time.Duration(tz.Bias+tz.DaylightBias) * time.Minute
}

// transition is the local date of a SystemTime rule in year.
func (st SystemTime) date(year int) (month time.Month, day int) {
	if st.Year != 0 {
		// An absolute date: the rule is for that year only; reuse its
		// weekday occurrence for other years.
		year0 := int(st.Year)
		d := int(st.Day)
		wd := time.Date(year0, time.Month(st.Month), d, 0, 0, 0, 0, time.UTC).Weekday()
		return time.Month(st.Month), nthWeekday(year, time.Month(st.Month), wd, weekOfMonth(year0, time.Month(st.Month), d))
	}
	return time.Month(st.Month), nthWeekday(year, time.Month(st.Month), time.Weekday(st.DayOfWeek%7), int(st.Day))
}

// nthWeekday is the day of the month of the n-th (5 = last) weekday wd.
func nthWeekday(year int, month time.Month, wd time.Weekday, n int) int {
	first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC).Weekday()
	day := 1 + (int(wd)-int(first)+7)%7
	if n < 1 {
		n = 1
	}
	day += 7 * (n - 1)
	last := daysIn(year, month)
	for day > last {
		day -= 7
	}
	return day
}

// weekOfMonth is the occurrence of day's weekday in its month, 5 when it
// is the last one.
func weekOfMonth(year int, month time.Month, day int) int {
	if day+7 > daysIn(year, month) {
		return 5
	}
	return (day-1)/7 + 1
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// ruleFor makes the yearly SystemTime rule of a switch at local wall-clock
// time wall (the time shown just before the switch).
func ruleFor(wall time.Time) SystemTime {
	return SystemTime{
		Month:     uint16(wall.Month()),
		DayOfWeek: uint16(wall.Weekday()),
		Day:       uint16(weekOfMonth(wall.Year(), wall.Month(), wall.Day())),
		Hour:      uint16(wall.Hour()),
		Minute:    uint16(wall.Minute()),
	}
}

// zoneSwitch is one change of UTC offset.
type zoneSwitch struct {
	at         time.Time // the instant
	from, to   int       // offsets in seconds
	wallBefore time.Time // local time just before, as a UTC-located value
	toDaylight bool
}

// switchesIn lists the offset changes of loc during year. Go's Location
// does not expose its rules, so they are found by walking ZoneBounds.
func switchesIn(loc *time.Location, year int) []zoneSwitch {
	start := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	stop := time.Date(year+1, 1, 1, 0, 0, 0, 0, loc)
	var out []zoneSwitch
	t := start
	for i := 0; i < 8; i++ { // a few per year at most; bound the walk
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(stop) {
			break
		}
		_, from := end.Add(-time.Second).Zone()
		_, to := end.Zone()
		if from != to {
			wall := end.Add(time.Duration(from) * time.Second).UTC()
			out = append(out, zoneSwitch{at: end, from: from, to: to, wallBefore: wall, toDaylight: to > from})
		}
		t = end
	}
	return out
}

// TimeZoneFor computes the blob of loc for the year of t (taken in loc):
// the offsets and the two switches of that year as yearly weekday rules.
// A zone without switches that year gets its offset at t and no rules.
// name fills StandardName and DaylightName when not empty.
func TimeZoneFor(loc *time.Location, t time.Time) TimeZone {
	if loc == nil {
		loc = time.UTC
	}
	year := t.In(loc).Year()
	var tz TimeZone
	var toStd, toDst *zoneSwitch
	sw := switchesIn(loc, year)
	for i := range sw {
		if sw[i].toDaylight && toDst == nil {
			toDst = &sw[i]
		}
		if !sw[i].toDaylight && toStd == nil {
			toStd = &sw[i]
		}
	}
	if toStd == nil || toDst == nil {
		_, off := t.In(loc).Zone()
		tz.Bias = int32(-off / 60)
	} else {
		std, dst := toStd.to, toDst.to
		tz.Bias = int32(-std / 60)
		tz.DaylightBias = int32(-(dst - std) / 60)
		tz.StandardDate = ruleFor(toStd.wallBefore)
		tz.DaylightDate = ruleFor(toDst.wallBefore)
	}
	if tz.IsZero() && (loc == time.UTC || loc.String() == "UTC") {
		return tz // the all-zero blob every client reads as UTC
	}
	std, dst := windowsNames(loc.String())
	tz.StandardName, tz.DaylightName = std, dst
	return tz
}

// sameRules tells whether a and b give the same offsets and switch on the
// same dates in year. Switch hours are not compared: phones disagree on
// them (AOSP writes the hour before the switch, some servers the UTC hour).
func sameRules(a, b TimeZone, year int) bool {
	if a.StandardOffset() != b.StandardOffset() || a.HasDST() != b.HasDST() {
		return false
	}
	if !a.HasDST() {
		return true
	}
	if a.DaylightOffset() != b.DaylightOffset() {
		return false
	}
	am, ad := a.StandardDate.date(year)
	bm, bd := b.StandardDate.date(year)
	if am != bm || ad != bd {
		return false
	}
	am, ad = a.DaylightDate.date(year)
	bm, bd = b.DaylightDate.date(year)
	return am == bm && ad == bd
}
