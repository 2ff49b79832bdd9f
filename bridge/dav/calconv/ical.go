package calconv

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/eas"
)

// Options is the per-conversion context: who the user is and which
// protocol the phone speaks.
type Options struct {
	Version eas.Version
	// Zone is the user's (phone's) zone: floating times are taken in it,
	// and all-day items get its TimeZone blob. Nil means UTC.
	Zone *time.Location
	// User is the user's address, to tell organised meetings from received
	// ones and to find the user's own answer.
	User string
	// ClearAbsent makes ApplyEvent and ApplyTask remove the fields a phone
	// left out of a Change (12.1–14.1 without airsync:Supported). Without
	// it absent fields keep their value, as 16.x ghosting requires.
	ClearAbsent bool
	// Now stamps DTSTAMP and LAST-MODIFIED; zero means time.Now.
	Now time.Time
}

func (o Options) zone() *time.Location {
	if o.Zone == nil {
		return time.UTC
	}
	return o.Zone
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now().UTC()
	}
	return o.Now.UTC()
}

func (o Options) v16() bool { return o.Version.AtLeast(eas.V160) }

// Decode parses one iCalendar object.
func Decode(data []byte) (*ical.Calendar, error) {
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		return nil, fmt.Errorf("calconv: parse iCalendar: %w", err)
	}
	return cal, nil
}

// Encode writes cal as iCalendar text.
func Encode(cal *ical.Calendar) ([]byte, error) {
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		return nil, fmt.Errorf("calconv: write iCalendar: %w", err)
	}
	return b.Bytes(), nil
}

// text reads a TEXT value whole. go-ical's Text stops at the first comma
// and rejects escapes some exporters write (\: from Outlook), so it is not
// used.
func text(p *ical.Prop) string {
	if p == nil {
		return ""
	}
	v := p.Value
	if !strings.Contains(v, `\`) {
		return v
	}
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 'n', 'N':
				sb.WriteByte('\n')
			default:
				sb.WriteByte(v[i])
			}
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

func propText(c *ical.Component, name string) string { return text(c.Props.Get(name)) }

func setText(c *ical.Component, name, value string) {
	p := ical.NewProp(name)
	p.SetText(value)
	// TEXT is the default of X- properties too (RFC 5545 3.8.8.2).
	if strings.EqualFold(p.Params.Get(ical.ParamValue), "TEXT") {
		p.Params.Del(ical.ParamValue)
	}
	c.Props.Set(p)
}

// setRaw sets a property whose value needs no escaping (INTEGER).
func setRaw(c *ical.Component, name, value string) {
	p := ical.NewProp(name)
	p.Value = value
	c.Props.Set(p)
}

// textList reads a comma-separated TEXT list (CATEGORIES) across all the
// property's lines.
func textList(c *ical.Component, name string) []string {
	var out []string
	for _, p := range c.Props.Values(name) {
		l, err := p.TextList()
		if err != nil {
			l = strings.Split(p.Value, ",")
		}
		for _, s := range l {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// mailto strips the mailto: scheme of a CAL-ADDRESS.
func mailto(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 7 && strings.EqualFold(v[:7], "mailto:") {
		return v[7:]
	}
	return v
}

// when is one DATE or DATE-TIME value with the form it was written in.
type when struct {
	t        time.Time // in loc; for dates, midnight in loc
	date     bool      // VALUE=DATE
	floating bool      // no TZID, no Z: the user's zone
	utc      bool
	tzid     string // the TZID as written
}

// zones resolves TZIDs of one iCalendar object.
type zones struct {
	cal   *ical.Calendar
	user  *time.Location
	cache map[string]*time.Location
}

func newZones(cal *ical.Calendar, user *time.Location) *zones {
	return &zones{cal: cal, user: user, cache: map[string]*time.Location{}}
}

// lookup finds a TZID's zone: an IANA name (also behind prefixes such as
// "/mozilla.org/20050126_1/" that old Thunderbird writes), a Windows id
// (Outlook), the object's own VTIMEZONE matched to an IANA zone or taken
// as it is, else the user's zone.
func (z *zones) lookup(tzid string) *time.Location {
	if l, ok := z.cache[tzid]; ok {
		return l
	}
	l := z.resolve(tzid)
	z.cache[tzid] = l
	return l
}

func (z *zones) resolve(tzid string) *time.Location {
	if l, ok := z.known(tzid); ok {
		return l
	}
	if z.user != nil {
		return z.user
	}
	return time.UTC
}

// known is the zone a TZID names, ok false when neither the name nor the
// object's VTIMEZONE of that TZID says.
func (z *zones) known(tzid string) (*time.Location, bool) {
	id := strings.Trim(tzid, `"`)
	// IANA names have no spaces; Windows ids ("W. Europe Standard Time")
	// are not worth a trip to the zone database.
	if !strings.Contains(id, " ") && id != "" && id != "Local" {
		if l, err := loadZone(id); err == nil {
			return l, true
		}
	}
	parts := strings.Split(id, "/")
	for i := 1; i < len(parts)-1; i++ {
		if l, err := loadZone(strings.Join(parts[i:], "/")); err == nil {
			return l, true
		}
	}
	if l, ok := WindowsZone(id); ok {
		return l, true
	}
	if tz, ok := z.vtimezone(id); ok {
		year := time.Now().Year()
		if l, ok := MatchZone(tz, year, z.user); ok {
			return l, true
		}
		return tz.Location(id), true
	}
	return nil, false
}

// CollectionZone reads a calendar's CALDAV:calendar-timezone (RFC 4791
// 5.2.2), an iCalendar object with one VTIMEZONE, as the zone its TZID
// names, the way an event's TZID is read: an IANA name, a Windows id, or
// the VTIMEZONE's rules matched to an IANA zone. ok is false when the
// text holds no VTIMEZONE that says.
func CollectionZone(text string) (loc *time.Location, ok bool) {
	if strings.TrimSpace(text) == "" {
		return nil, false
	}
	cal, err := ical.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		return nil, false
	}
	z := newZones(cal, nil)
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			return z.known(propText(c, ical.PropTimezoneID))
		}
	}
	return nil, false
}

func (z *zones) vtimezone(tzid string) (TimeZone, bool) {
	if z.cal == nil {
		return TimeZone{}, false
	}
	for _, c := range z.cal.Children {
		if c.Name == ical.CompTimezone && strings.Trim(propText(c, ical.PropTimezoneID), `"`) == tzid {
			return TimeZoneFromVTimezone(c)
		}
	}
	return TimeZone{}, false
}

// parse reads a DATE or DATE-TIME property.
func (z *zones) parse(p *ical.Prop) (when, error) {
	if p == nil {
		return when{}, fmt.Errorf("calconv: missing date")
	}
	v := strings.TrimSpace(p.Value)
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return z.parseValue(v, p.Params)
}

func (z *zones) parseValue(v string, params ical.Params) (when, error) {
	user := z.user
	if user == nil {
		user = time.UTC
	}
	isDate := strings.EqualFold(params.Get(ical.ParamValue), "DATE") || len(v) == 8
	if isDate {
		t, err := time.ParseInLocation("20060102", v, user)
		if err != nil {
			return when{}, fmt.Errorf("calconv: date %q: %w", v, err)
		}
		return when{t: t, date: true}, nil
	}
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		t, err := time.Parse("20060102T150405Z", strings.ToUpper(v))
		if err != nil {
			return when{}, fmt.Errorf("calconv: date-time %q: %w", v, err)
		}
		return when{t: t, utc: true}, nil
	}
	w := when{floating: true}
	loc := user
	if tzid := params.Get(ical.PropTimezoneID); tzid != "" {
		w.floating, w.tzid = false, tzid
		loc = z.lookup(tzid)
	}
	t, err := time.ParseInLocation("20060102T150405", v, loc)
	if err != nil {
		return when{}, fmt.Errorf("calconv: date-time %q: %w", v, err)
	}
	w.t = t
	return w, nil
}

// format writes t in the same form as like: a date, UTC, floating, or with
// like's TZID (in the zone that TZID resolves to).
func (z *zones) format(name string, t time.Time, like when) ical.Prop {
	p := ical.NewProp(name)
	switch {
	case like.date:
		p.SetDate(t)
	case like.floating:
		p.Value = t.In(z.userZone()).Format("20060102T150405")
	case like.tzid != "":
		p.Params.Set(ical.PropTimezoneID, like.tzid)
		p.Value = t.In(z.lookup(like.tzid)).Format("20060102T150405")
	default:
		p.Value = t.UTC().Format("20060102T150405Z")
	}
	return *p
}

func (z *zones) userZone() *time.Location {
	if z.user == nil {
		return time.UTC
	}
	return z.user
}

// main returns the master component of the given kind (VEVENT, VTODO): the
// one without RECURRENCE-ID, else the first.
func mainComponent(cal *ical.Calendar, kind string) *ical.Component {
	var first *ical.Component
	for _, c := range cal.Children {
		if c.Name != kind {
			continue
		}
		if c.Props.Get(ical.PropRecurrenceID) == nil {
			return c
		}
		if first == nil {
			first = c
		}
	}
	return first
}

// overrides lists the components that replace single occurrences.
func overrides(cal *ical.Calendar, kind string, master *ical.Component) []*ical.Component {
	var out []*ical.Component
	for _, c := range cal.Children {
		if c.Name == kind && c != master && c.Props.Get(ical.PropRecurrenceID) != nil {
			out = append(out, c)
		}
	}
	return out
}
