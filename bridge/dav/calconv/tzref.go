package calconv

import (
	"time"

	"github.com/emersion/go-ical"
)

// AddMissingTimezones adds a VTIMEZONE for every TZID the object uses
// without defining it, when the TZID is an IANA zone name. RFC 5545
// requires the definition, and servers that expand recurrences refuse an
// EXDATE against a zone they cannot resolve (Radicale answers 400), while
// some clients leave it out for IANA names (RFC 7809). It reports whether
// any was added.
func AddMissingTimezones(cal *ical.Calendar) bool {
	defined := map[string]bool{}
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			defined[propText(c, ical.PropTimezoneID)] = true
		}
	}
	added := false
	var walk func(c *ical.Component)
	walk = func(c *ical.Component) {
		for _, props := range c.Props {
			for _, p := range props {
				tzid := p.Params.Get(ical.ParamTimezoneID)
				if tzid == "" || defined[tzid] {
					continue
				}
				defined[tzid] = true
				loc, err := time.LoadLocation(tzid)
				if err != nil || tzid == "UTC" || tzid == "Local" {
					continue
				}
				at := time.Now()
				if t, err := p.DateTime(loc); err == nil {
					at = t
				}
				addVTimezone(cal, tzid, TimeZoneFor(loc, at))
				added = true
			}
		}
		for _, ch := range c.Children {
			walk(ch)
		}
	}
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			walk(c)
		}
	}
	return added
}
