package calconv

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"
)

// loadedZones caches time.LoadLocation, which reads and parses the zone
// database on every call; matching one blob tries dozens of zones. It
// holds only zones that exist, so it is bounded by the zone database and
// its values never change: sharing it is safe.
var loadedZones sync.Map // name → *time.Location

// loadZone is time.LoadLocation through loadedZones.
func loadZone(name string) (*time.Location, error) {
	if v, ok := loadedZones.Load(name); ok {
		return v.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	loadedZones.Store(name, l)
	return l, nil
}

// windowsZones maps Windows time zone ids to the IANA zone CLDR's
// windowsZones table gives for them (territory 001). Outlook writes these
// ids as iCalendar TZIDs and Windows-family phones as blob names. The order
// is the order of preference when only a blob's rules are known: the
// larger zone first where several share their rules.
var windowsZones = []struct{ windows, iana string }{
	{"UTC", "UTC"},
	{"GMT Standard Time", "Europe/London"},
	{"W. Europe Standard Time", "Europe/Berlin"},
	{"Romance Standard Time", "Europe/Paris"},
	{"Central Europe Standard Time", "Europe/Budapest"},
	{"Central European Standard Time", "Europe/Warsaw"},
	{"GTB Standard Time", "Europe/Bucharest"},
	{"FLE Standard Time", "Europe/Kiev"},
	{"E. Europe Standard Time", "Europe/Chisinau"},
	{"Russian Standard Time", "Europe/Moscow"},
	{"Turkey Standard Time", "Europe/Istanbul"},
	{"Greenwich Standard Time", "Atlantic/Reykjavik"},
	{"Azores Standard Time", "Atlantic/Azores"},
	{"Cape Verde Standard Time", "Atlantic/Cape_Verde"},
	{"Morocco Standard Time", "Africa/Casablanca"},
	{"W. Central Africa Standard Time", "Africa/Lagos"},
	{"South Africa Standard Time", "Africa/Johannesburg"},
	{"Egypt Standard Time", "Africa/Cairo"},
	{"E. Africa Standard Time", "Africa/Nairobi"},
	{"Israel Standard Time", "Asia/Jerusalem"},
	{"Jordan Standard Time", "Asia/Amman"},
	{"Middle East Standard Time", "Asia/Beirut"},
	{"Arabic Standard Time", "Asia/Baghdad"},
	{"Arab Standard Time", "Asia/Riyadh"},
	{"Iran Standard Time", "Asia/Tehran"},
	{"Arabian Standard Time", "Asia/Dubai"},
	{"Azerbaijan Standard Time", "Asia/Baku"},
	{"Afghanistan Standard Time", "Asia/Kabul"},
	{"Pakistan Standard Time", "Asia/Karachi"},
	{"West Asia Standard Time", "Asia/Tashkent"},
	{"India Standard Time", "Asia/Kolkata"},
	{"Sri Lanka Standard Time", "Asia/Colombo"},
	{"Nepal Standard Time", "Asia/Kathmandu"},
	{"Central Asia Standard Time", "Asia/Almaty"},
	{"Bangladesh Standard Time", "Asia/Dhaka"},
	{"Myanmar Standard Time", "Asia/Yangon"},
	{"SE Asia Standard Time", "Asia/Bangkok"},
	{"China Standard Time", "Asia/Shanghai"},
	{"Singapore Standard Time", "Asia/Singapore"},
	{"Taipei Standard Time", "Asia/Taipei"},
	{"W. Australia Standard Time", "Australia/Perth"},
	{"Tokyo Standard Time", "Asia/Tokyo"},
	{"Korea Standard Time", "Asia/Seoul"},
	{"Cen. Australia Standard Time", "Australia/Adelaide"},
	{"AUS Central Standard Time", "Australia/Darwin"},
	{"AUS Eastern Standard Time", "Australia/Sydney"},
	{"E. Australia Standard Time", "Australia/Brisbane"},
	{"Tasmania Standard Time", "Australia/Hobart"},
	{"West Pacific Standard Time", "Pacific/Port_Moresby"},
	{"Vladivostok Standard Time", "Asia/Vladivostok"},
	{"New Zealand Standard Time", "Pacific/Auckland"},
	{"Fiji Standard Time", "Pacific/Fiji"},
	{"Tonga Standard Time", "Pacific/Tongatapu"},
	{"Samoa Standard Time", "Pacific/Apia"},
	{"Dateline Standard Time", "Etc/GMT+12"},
	{"UTC-11", "Etc/GMT+11"},
	{"Hawaiian Standard Time", "Pacific/Honolulu"},
	{"Alaskan Standard Time", "America/Anchorage"},
	{"Pacific Standard Time", "America/Los_Angeles"},
	{"Pacific Standard Time (Mexico)", "America/Tijuana"},
	{"US Mountain Standard Time", "America/Phoenix"},
	{"Mountain Standard Time", "America/Denver"},
	{"Mountain Standard Time (Mexico)", "America/Mazatlan"},
	{"Central Standard Time", "America/Chicago"},
	{"Central America Standard Time", "America/Guatemala"},
	{"Central Standard Time (Mexico)", "America/Mexico_City"},
	{"Canada Central Standard Time", "America/Regina"},
	{"Eastern Standard Time", "America/New_York"},
	{"US Eastern Standard Time", "America/Indiana/Indianapolis"},
	{"Eastern Standard Time (Mexico)", "America/Cancun"},
	{"SA Pacific Standard Time", "America/Bogota"},
	{"Venezuela Standard Time", "America/Caracas"},
	{"Atlantic Standard Time", "America/Halifax"},
	{"SA Western Standard Time", "America/La_Paz"},
	{"Central Brazilian Standard Time", "America/Cuiaba"},
	{"Pacific SA Standard Time", "America/Santiago"},
	{"Newfoundland Standard Time", "America/St_Johns"},
	{"E. South America Standard Time", "America/Sao_Paulo"},
	{"Argentina Standard Time", "America/Argentina/Buenos_Aires"},
	{"SA Eastern Standard Time", "America/Cayenne"},
	{"Montevideo Standard Time", "America/Montevideo"},
	{"UTC-02", "Etc/GMT+2"},
}

// extraZones are further candidates for a blob: zones users pick that are
// not a Windows zone's main one. They come after windowsZones.
var extraZones = []string{
	"Europe/Amsterdam", "Europe/Brussels", "Europe/Madrid", "Europe/Rome", "Europe/Vienna",
	"Europe/Zurich", "Europe/Stockholm", "Europe/Oslo", "Europe/Copenhagen", "Europe/Prague",
	"Europe/Dublin", "Europe/Lisbon", "Europe/Helsinki", "Europe/Athens", "Europe/Riga",
	"America/Toronto", "America/Vancouver", "America/Edmonton", "America/Winnipeg",
	"America/Lima", "America/Mexico_City", "Asia/Hong_Kong", "Asia/Jakarta", "Asia/Manila",
	"Asia/Kuala_Lumpur", "Asia/Ho_Chi_Minh", "Australia/Melbourne", "Australia/Canberra",
	"Africa/Lagos", "Africa/Algiers",
}

// windowsNames gives the blob names for an IANA zone: its Windows id and
// the id's daylight form ("W. Europe Daylight Time"), or the IANA name.
func windowsNames(iana string) (std, dst string) {
	for _, z := range windowsZones {
		if z.iana == iana {
			return z.windows, strings.Replace(z.windows, "Standard", "Daylight", 1)
		}
	}
	return iana, iana
}

// WindowsZone returns the IANA zone of a Windows time zone id, as Outlook
// writes in TZIDs ("W. Europe Standard Time").
func WindowsZone(id string) (*time.Location, bool) {
	id = strings.TrimSpace(id)
	for _, z := range windowsZones {
		if strings.EqualFold(z.windows, id) || strings.EqualFold(strings.Replace(z.windows, "Standard", "Daylight", 1), id) {
			if loc, err := loadZone(z.iana); err == nil {
				return loc, true
			}
		}
	}
	return nil, false
}

// nameHints lists IANA zones a blob's names point at, best first: a Windows
// id ("Pacific Standard Time"), an IANA name, a Windows display name
// ("(UTC+01:00) Amsterdam, Berlin, …" names cities; "(UTC-08:00) Pacific
// Time (US & Canada)" names the zone without "Standard").
func nameHints(tz TimeZone) []string {
	var out []string
	for _, name := range []string{tz.StandardName, tz.DaylightName} {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if loc, ok := WindowsZone(name); ok {
			out = append(out, loc.String())
		}
		if strings.Contains(name, "/") {
			out = append(out, name)
		}
		label := name
		if i := strings.Index(label, ")"); strings.HasPrefix(label, "(") && i > 0 {
			label = label[i+1:]
		}
		for _, z := range windowsZones {
			short := strings.Replace(z.windows, " Standard", "", 1)
			if strings.HasPrefix(strings.TrimSpace(label), short+" ") || strings.TrimSpace(label) == short {
				out = append(out, z.iana)
			}
		}
		// Cities, in the order the name lists them, main zones first.
		type hit struct {
			pos  int
			zone string
		}
		var hits []hit
		for _, z := range windowsZones {
			if p := cityIndex(label, z.iana); p >= 0 {
				hits = append(hits, hit{p, z.iana})
			}
		}
		for i := 1; i < len(hits); i++ {
			for j := i; j > 0 && hits[j].pos < hits[j-1].pos; j-- {
				hits[j], hits[j-1] = hits[j-1], hits[j]
			}
		}
		for _, h := range hits {
			out = append(out, h.zone)
		}
		for _, z := range extraZones {
			if cityIndex(label, z) >= 0 {
				out = append(out, z)
			}
		}
	}
	return out
}

// cityIndex is where the city of an IANA zone appears as a word in s, or −1.
func cityIndex(s, iana string) int {
	i := strings.LastIndex(iana, "/")
	if i < 0 {
		return -1
	}
	city := strings.ReplaceAll(iana[i+1:], "_", " ")
	p := strings.Index(s, city)
	if p < 0 {
		return -1
	}
	end := p + len(city)
	if end < len(s) && isLetter(s[end]) || p > 0 && isLetter(s[p-1]) {
		return -1
	}
	return p
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// MatchZone finds the IANA zone whose rules for year equal the blob's:
// first the all-zero blob as UTC, then the zones the blob's names point
// at, then prefer (the user's own zone, may be nil), then the known
// zones in order. ok is false when none matches.
func MatchZone(tz TimeZone, year int, prefer *time.Location) (loc *time.Location, ok bool) {
	if tz.IsZero() {
		return time.UTC, true
	}
	var cands []string
	if prefer != nil {
		cands = append(cands, prefer.String())
	}
	cands = append(cands, nameHints(tz)...)
	for _, z := range windowsZones {
		cands = append(cands, z.iana)
	}
	cands = append(cands, extraZones...)
	if l, ok := matchCandidates(tz, year, cands); ok {
		return l, true
	}
	if tz.DaylightBias > 0 {
		// Motorola Milestone writes DaylightBias with the wrong sign.
		tz.DaylightBias = -tz.DaylightBias
		return matchCandidates(tz, year, cands)
	}
	return nil, false
}

func matchCandidates(tz TimeZone, year int, cands []string) (*time.Location, bool) {
	ref := time.Date(year, 7, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for _, name := range cands {
		if seen[name] {
			continue
		}
		seen[name] = true
		l, err := loadZone(name)
		if err != nil {
			continue
		}
		if sameRules(tz, TimeZoneFor(l, ref), year) {
			return l, true
		}
	}
	return nil, false
}

// Location returns tz as a Go location that follows its yearly rules in
// every year, named name. Use it when no IANA zone matches the blob.
func (tz TimeZone) Location(name string) *time.Location {
	if name == "" {
		name = tz.StandardName
	}
	if name == "" {
		name = "Custom"
	}
	loc, err := time.LoadLocationFromTZData(name, tz.tzif())
	if err != nil {
		// Our own TZif never fails to load; a fixed zone is the safe side.
		return time.FixedZone(name, int(tz.StandardOffset()/time.Second))
	}
	return loc
}

// posix is tz as a POSIX TZ string, e.g. "<STD>-1<DST>-2,M3.5.0/2,M10.5.0/3".
func (tz TimeZone) posix() string {
	s := "<STD>" + posixOffset(tz.StandardOffset())
	if !tz.HasDST() {
		return s
	}
	s += "<DST>" + posixOffset(tz.DaylightOffset())
	return s + "," + posixRule(tz.DaylightDate) + "," + posixRule(tz.StandardDate)
}

// posixOffset writes an offset east of UTC the POSIX way (west positive).
func posixOffset(d time.Duration) string {
	m := int(-d / time.Minute)
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d:%02d", sign, m/60, m%60)
}

func posixRule(st SystemTime) string {
	week := int(st.Day)
	wd := int(st.DayOfWeek % 7)
	if st.Year != 0 {
		d := time.Date(int(st.Year), time.Month(st.Month), int(st.Day), 0, 0, 0, 0, time.UTC)
		week, wd = weekOfMonth(d.Year(), d.Month(), d.Day()), int(d.Weekday())
	}
	week = min(max(week, 1), 5)
	return fmt.Sprintf("M%d.%d.%d/%d:%02d", st.Month, week, wd, st.Hour, st.Minute)
}

// tzif builds a minimal TZif version 2 file: one zone, no transitions, and
// the rules as the POSIX footer that Go applies to all times.
func (tz TimeZone) tzif() []byte {
	off := int32(tz.StandardOffset() / time.Second)
	header := func(b []byte) []byte {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, n := range []uint32{0, 0, 0, 0, 1, 4} {
			b = binary.BigEndian.AppendUint32(b, n)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(off))
		b = append(b, 0, 0) // isdst, abbreviation index
		return append(b, "STD\x00"...)
	}
	var b []byte
	b = header(b) // version 1 block
	b = header(b) // version 2 block (same: there are no transition times)
	return append(b, "\n"+tz.posix()+"\n"...)
}
