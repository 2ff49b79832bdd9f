package calconv

import (
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// FilterStart is the start of the window a Sync FilterType asks for
// (MS-ASCMD 2.2.3.68.2): 0 all, 1 one day, 2 three days, 3 one week,
// 4 two weeks, 5 one month, 6 three months, 7 six months back from now.
// The window has no end: future items are always sent. ok is false for a
// FilterType that has no window for calendars (8 is for tasks).
func FilterStart(filterType int, now time.Time) (start time.Time, ok bool) {
	switch filterType {
	case 0:
		return time.Time{}, true
	case 1:
		return now.AddDate(0, 0, -1), true
	case 2:
		return now.AddDate(0, 0, -3), true
	case 3:
		return now.AddDate(0, 0, -7), true
	case 4:
		return now.AddDate(0, 0, -14), true
	case 5:
		return now.AddDate(0, -1, 0), true
	case 6:
		return now.AddDate(0, -3, 0), true
	case 7:
		return now.AddDate(0, -6, 0), true
	}
	return time.Time{}, false
}

// OccursIn tells whether the event of an iCalendar object has any
// occurrence overlapping [from, to): recurring events are expanded with
// their EXDATEs, RDATEs and overrides (a moved occurrence counts where it
// was moved to, a cancelled one not at all). A zero from or to is
// unbounded. A rule that cannot be expanded counts as occurring, so the
// phone rather gets an item too many than misses one.
func OccursIn(cal *ical.Calendar, from, to time.Time, o Options) (bool, error) {
	master := mainComponent(cal, ical.CompEvent)
	if master == nil {
		return false, ErrNoEvent
	}
	z := newZones(cal, o.zone())
	e, err := readEvent(master, z, o)
	if err != nil {
		return false, err
	}
	dur := e.end.t.Sub(e.start.t)
	for _, oc := range overrides(cal, ical.CompEvent, master) {
		if strings.EqualFold(propText(oc, ical.PropStatus), "CANCELLED") {
			continue
		}
		if oe, err := readEvent(oc, z, o); err == nil && overlaps(oe.start.t, oe.end.t.Sub(oe.start.t), from, to) {
			return true, nil
		}
	}
	rp := master.Props.Get(ical.PropRecurrenceRule)
	rdates := master.Props.Values(ical.PropRecurrenceDates)
	if rp == nil && len(rdates) == 0 {
		return overlaps(e.start.t, dur, from, to), nil
	}
	set, err := recurrenceSet(cal, master, e, z)
	if err != nil {
		return true, fmt.Errorf("calconv: expand: %w", err)
	}
	after := from.Add(-dur)
	if from.IsZero() {
		after = e.start.t.Add(-time.Second)
	}
	next := set.After(after, dur == 0)
	if next.IsZero() {
		return false, nil
	}
	return to.IsZero() || next.Before(to), nil
}

func overlaps(start time.Time, dur time.Duration, from, to time.Time) bool {
	end := start.Add(dur)
	if !to.IsZero() && !start.Before(to) {
		return false
	}
	if from.IsZero() {
		return true
	}
	if dur == 0 {
		return !start.Before(from)
	}
	return end.After(from)
}

// recurrenceSet builds the event's occurrences, without those EXDATE
// removes or an override replaces.
func recurrenceSet(cal *ical.Calendar, master *ical.Component, e *event, z *zones) (*rrule.Set, error) {
	set := &rrule.Set{}
	start := e.start.t
	set.DTStart(start)
	if rp := master.Props.Get(ical.PropRecurrenceRule); rp != nil {
		ro, err := rrule.StrToROptionInLocation(rp.Value, start.Location())
		if err != nil {
			return nil, err
		}
		ro.Dtstart = start
		r, err := rrule.NewRRule(*ro)
		if err != nil {
			return nil, err
		}
		set.RRule(r)
	}
	for _, name := range []string{ical.PropRecurrenceDates, ical.PropExceptionDates} {
		for _, p := range master.Props.Values(name) {
			for _, v := range strings.Split(p.Value, ",") {
				w, err := z.parseValue(strings.TrimSpace(v), p.Params)
				if err != nil {
					continue // a PERIOD RDATE or junk: skip the value
				}
				if name == ical.PropRecurrenceDates {
					set.RDate(w.t)
				} else {
					set.ExDate(w.t)
				}
			}
		}
	}
	for _, oc := range overrides(cal, ical.CompEvent, master) {
		if w, err := z.parse(oc.Props.Get(ical.PropRecurrenceID)); err == nil {
			set.ExDate(w.t)
		}
	}
	return set, nil
}
