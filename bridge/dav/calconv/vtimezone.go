package calconv

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// TimeZoneFromVTimezone reads the current rules of a VTIMEZONE as a
// TimeZone blob. Outlook writes one STANDARD and one DAYLIGHT starting in
// 1601; Google and Apple also list past rules, so the ongoing ones (RRULE
// without UNTIL) or the latest are taken. A DAYLIGHT that no longer
// recurs (Sao Paulo since 2019) means no DST.
func TimeZoneFromVTimezone(c *ical.Component) (TimeZone, bool) {
	std, stdOn := currentObservance(c, ical.CompTimezoneStandard)
	dst, dstOn := currentObservance(c, ical.CompTimezoneDaylight)
	if std == nil && dst == nil {
		return TimeZone{}, false
	}
	if std == nil || !stdOn || dst == nil || !dstOn {
		// One offset only: the latest observance's.
		latest := std
		if latest == nil || dst != nil && dst.start.After(std.start) {
			latest = dst
		}
		return TimeZone{Bias: int32(-latest.to / 60)}, true
	}
	return TimeZone{
		Bias:         int32(-std.to / 60),
		StandardDate: std.rule(),
		DaylightDate: dst.rule(),
		DaylightBias: int32(-(dst.to - std.to) / 60),
	}, true
}

type observance struct {
	start    time.Time // local wall clock, as UTC
	to, from int       // seconds east
	rr       *rrule.ROption
}

// currentObservance picks the observance of a kind in force now, and
// whether it still recurs.
func currentObservance(c *ical.Component, kind string) (*observance, bool) {
	var best *observance
	bestOngoing := false
	now := time.Now()
	for _, sub := range c.Children {
		if sub.Name != kind {
			continue
		}
		ob, err := readObservance(sub)
		if err != nil {
			continue
		}
		ongoing := ob.rr != nil && (ob.rr.Until.IsZero() || ob.rr.Until.After(now)) || ob.start.Year() >= now.Year()
		if best == nil || ongoing && !bestOngoing || ongoing == bestOngoing && ob.start.After(best.start) {
			best, bestOngoing = ob, ongoing
		}
	}
	return best, bestOngoing
}

func readObservance(sub *ical.Component) (*observance, error) {
	ob := &observance{}
	var err error
	if ob.to, err = parseOffset(propText(sub, ical.PropTimezoneOffsetTo)); err != nil {
		return nil, err
	}
	if ob.from, err = parseOffset(propText(sub, ical.PropTimezoneOffsetFrom)); err != nil {
		ob.from = ob.to
	}
	p := sub.Props.Get(ical.PropDateTimeStart)
	if p == nil {
		return nil, fmt.Errorf("calconv: observance without DTSTART")
	}
	if ob.start, err = time.Parse("20060102T150405", strings.TrimSuffix(p.Value, "Z")); err != nil {
		return nil, err
	}
	if rp := sub.Props.Get(ical.PropRecurrenceRule); rp != nil {
		if ro, err := rrule.StrToROption(rp.Value); err == nil && ro.Freq == rrule.YEARLY {
			ob.rr = ro
		}
	}
	return ob, nil
}

// rule turns the observance into a yearly weekday rule.
func (ob *observance) rule() SystemTime {
	st := SystemTime{Month: uint16(ob.start.Month()), Hour: uint16(ob.start.Hour()), Minute: uint16(ob.start.Minute())}
	st.DayOfWeek = uint16(ob.start.Weekday())
	st.Day = uint16(weekOfMonth(ob.start.Year(), ob.start.Month(), ob.start.Day()))
	if ob.rr == nil {
		return st
	}
	if len(ob.rr.Bymonth) == 1 {
		st.Month = uint16(ob.rr.Bymonth[0])
	}
	if len(ob.rr.Byweekday) == 1 {
		wd := ob.rr.Byweekday[0]
		st.DayOfWeek = uint16((wd.Day() + 1) % 7)
		switch n := wd.N(); {
		case n < 0:
			st.Day = 5
		case n > 0:
			st.Day = uint16(min(n, 5))
		case len(ob.rr.Bymonthday) > 0:
			// BYMONTHDAY=8,9,…,14;BYDAY=SU: the Sunday in that range.
			first := ob.rr.Bymonthday[0]
			for _, d := range ob.rr.Bymonthday {
				first = min(first, d)
			}
			if first < 0 {
				st.Day = 5
			} else {
				st.Day = uint16((first-1)/7 + 1)
			}
		}
	}
	return st
}

func parseOffset(s string) (int, error) {
	s = strings.TrimSpace(s)
	if len(s) < 5 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("calconv: bad UTC offset %q", s)
	}
	h, err1 := strconv.Atoi(s[1:3])
	m, err2 := strconv.Atoi(s[3:5])
	sec := 0
	if len(s) >= 7 {
		sec, _ = strconv.Atoi(s[5:7])
	}
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("calconv: bad UTC offset %q", s)
	}
	off := h*3600 + m*60 + sec
	if s[0] == '-' {
		off = -off
	}
	return off, nil
}

func formatOffset(d time.Duration) string {
	m := int(d / time.Minute)
	sign := '+'
	if m < 0 {
		sign, m = '-', -m
	}
	return fmt.Sprintf("%c%02d%02d", sign, m/60, m%60)
}

var icalDays = [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// VTimezone builds a VTIMEZONE named tzid with tz's yearly rules.
func VTimezone(tzid string, tz TimeZone) *ical.Component {
	c := ical.NewComponent(ical.CompTimezone)
	c.Props.SetText(ical.PropTimezoneID, tzid)
	std, dst := tz.StandardOffset(), tz.DaylightOffset()
	if !tz.HasDST() {
		c.Children = append(c.Children, observanceComp(ical.CompTimezoneStandard, "19700101T000000", std, std, ""))
		return c
	}
	c.Children = append(c.Children,
		observanceComp(ical.CompTimezoneStandard, ruleStart(tz.StandardDate), dst, std, ruleRRule(tz.StandardDate)),
		observanceComp(ical.CompTimezoneDaylight, ruleStart(tz.DaylightDate), std, dst, ruleRRule(tz.DaylightDate)))
	return c
}

func observanceComp(kind, start string, from, to time.Duration, rr string) *ical.Component {
	c := ical.NewComponent(kind)
	p := ical.NewProp(ical.PropDateTimeStart)
	p.Value = start
	c.Props.Set(p)
	for name, v := range map[string]string{ical.PropTimezoneOffsetFrom: formatOffset(from), ical.PropTimezoneOffsetTo: formatOffset(to)} {
		op := ical.NewProp(name)
		op.Value = v
		c.Props.Set(op)
	}
	if rr != "" {
		rp := ical.NewProp(ical.PropRecurrenceRule)
		rp.Value = rr
		c.Props.Set(rp)
	}
	return c
}

func ruleStart(st SystemTime) string {
	m, d := st.date(1970)
	return time.Date(1970, m, d, int(st.Hour), int(st.Minute), 0, 0, time.UTC).Format("20060102T150405")
}

func ruleRRule(st SystemTime) string {
	n := int(st.Day)
	if n >= 5 {
		n = -1
	}
	return fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYDAY=%d%s", st.Month, n, icalDays[st.DayOfWeek%7])
}
