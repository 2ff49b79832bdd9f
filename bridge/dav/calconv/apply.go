package calconv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/eas"
)

// ErrBadItem reports a phone's item that cannot be applied (a time that
// does not parse, an unknown recurrence type): the item's Sync status 6.
var ErrBadItem = fmt.Errorf("calconv: %w", eas.ErrInvalidItem)

// ProdID names easgate in the VCALENDARs it creates.
const ProdID = "-//easgate//calconv//EN"

// NewCalendar returns an empty VCALENDAR with PRODID and VERSION.
func NewCalendar() *ical.Calendar {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropProductID, ProdID)
	cal.Props.SetText(ical.PropVersion, "2.0")
	return cal
}

// changes are the fields a phone sets on a master or one occurrence.
type changes struct {
	subject     *string
	location    *string
	airLocation *eas.Location
	body        *eas.Body
	sensitivity *int
	busy        *int
	reminder    *string
	categories  *eas.CalCategory
	meeting     *int
	attendees   *eas.Attendees
}

func calendarChanges(c *eas.Calendar) changes {
	return changes{c.Subject, c.Location, c.AirLocation, c.Body, c.Sensitivity, c.BusyStatus, c.Reminder, c.Categories, c.MeetingStatus, c.Attendees}
}

func exceptionChanges(x *eas.Exception) changes {
	return changes{x.Subject, x.Location, x.AirLocation, x.Body, x.Sensitivity, x.BusyStatus, x.Reminder, x.Categories, x.MeetingStatus, x.Attendees}
}

// ApplyEvent applies a phone's Calendar item to the iCalendar object it
// changes (nil for an Add) and returns the object to store. Only what EAS
// carries is rewritten: X- properties, ATTACH, alarms the reminder does
// not map to, a recurrence rule EAS cannot express that the phone left as
// it was shown, and everything else stay as they were. A field the phone
// left out keeps its value unless o.ClearAbsent is set.
func ApplyEvent(cal *ical.Calendar, in *eas.Calendar, o Options) (*ical.Calendar, error) {
	if cal == nil {
		cal = NewCalendar()
	}
	master := mainComponent(cal, ical.CompEvent)
	z := newZones(cal, o.zone())
	var old *event
	if master == nil {
		master = ical.NewComponent(ical.CompEvent)
		master.Props.SetText(ical.PropUID, newUID(in.UID, in.ClientUID))
		cal.Children = append(cal.Children, master)
	} else if e, err := readEvent(master, z, o); err == nil {
		old = e
	}
	t, err := applyTimes(cal, master, old, z, in.TimeZone, in.StartTime, in.EndTime, in.AllDayEvent, o)
	if err != nil {
		return nil, err
	}
	applyChanges(master, calendarChanges(in), t, o)
	if err := applyRecurrence(cal, master, old, t, in.Recurrence, o); err != nil {
		return nil, err
	}
	if o.v16() && old != nil && in.Exceptions == nil && !sameTimes(old, t.start, t.end, t.loc) && master.Props.Get(ical.PropRecurrenceRule) != nil {
		// MS-ASCAL 16.x: moving a series deletes its exceptions; the
		// phone drops its own copies of them.
		master.Props.Del(ical.PropExceptionDates)
		cal.Children = slices.DeleteFunc(cal.Children, func(x *ical.Component) bool {
			return x != master && x.Name == ical.CompEvent && x.Props.Get(ical.PropRecurrenceID) != nil
		})
	}
	if in.Exceptions != nil && recurs(master) {
		// Exceptions of an event that is no series (the phone made it a
		// single event, or sent them in error) have nothing to change.
		for i := range in.Exceptions.Exception {
			x := &in.Exceptions.Exception[i]
			id := x.ExceptionStartTime
			if id == "" {
				id = x.InstanceID
			}
			if err := applyOccurrence(cal, master, id, x.Deleted, x.StartTime, x.EndTime, x.AllDayEvent, exceptionChanges(x), o); err != nil {
				return nil, err
			}
		}
	}
	stamp(master, o, old != nil && old.start.t.Equal(t.start) && old.end.t.Equal(t.end))
	return cal, nil
}

// ApplyInstance applies a 16.x Change of one occurrence (addressed by
// InstanceId) of a series.
func ApplyInstance(cal *ical.Calendar, instance eas.CompactTime, in *eas.Calendar, o Options) error {
	master := mainComponent(cal, ical.CompEvent)
	if master == nil {
		return ErrNoEvent
	}
	if err := applyOccurrence(cal, master, instance, false, in.StartTime, in.EndTime, in.AllDayEvent, calendarChanges(in), o); err != nil {
		return err
	}
	stamp(master, o, false)
	return nil
}

// DeleteInstance removes one occurrence of a series: an EXDATE, and its
// override if there is one.
func DeleteInstance(cal *ical.Calendar, instance eas.CompactTime, o Options) error {
	master := mainComponent(cal, ical.CompEvent)
	if master == nil {
		return ErrNoEvent
	}
	if err := applyOccurrence(cal, master, instance, true, "", "", nil, changes{}, o); err != nil {
		return err
	}
	stamp(master, o, true)
	return nil
}

func newUID(uid, clientUID string) string {
	if uid = strings.TrimRight(uid, "\x00 "); uid != "" {
		return uid
	}
	// iOS ends its ClientUid with a NUL.
	if clientUID = strings.TrimRight(clientUID, "\x00 "); clientUID != "" {
		return clientUID
	}
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func stamp(c *ical.Component, o Options, sameTimes bool) {
	now := o.now()
	for _, name := range []string{ical.PropDateTimeStamp, ical.PropLastModified} {
		p := ical.NewProp(name)
		p.Value = now.Format("20060102T150405Z")
		c.Props.Set(p)
	}
	if !sameTimes {
		// A new time is a significant change (RFC 5545 3.8.7.4).
		n := 0
		if p := c.Props.Get(ical.PropSequence); p != nil {
			n, _ = strconv.Atoi(p.Value)
		}
		setRaw(c, ical.PropSequence, strconv.Itoa(n+1))
	}
}

// times is where an applied item now starts and ends.
type times struct {
	start, end time.Time
	form       when // how DTSTART is written (date, TZID, floating, UTC)
	allDay     bool
	loc        *time.Location
}

func parseCompact(c eas.CompactTime) (time.Time, error) {
	t, err := c.Time()
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", ErrBadItem, err)
	}
	return t, nil
}

// phoneZone turns a phone's TimeZone blob into a zone: the matching IANA
// zone (the previous zone of the event or the user's first), else a zone
// of the blob's own rules with a VTIMEZONE added to cal.
func phoneZone(cal *ical.Calendar, blob string, at time.Time, prefer *time.Location) (*time.Location, error) {
	tz, err := ParseTimeZone(blob)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadItem, err)
	}
	if l, ok := MatchZone(tz, at.Year(), prefer); ok {
		return l, nil
	}
	name := strings.TrimSpace(tz.StandardName)
	if _, err := loadZone(name); name == "" || err == nil {
		// Never reuse a real zone's name for other rules: clients would
		// read it as that zone.
		name = strings.TrimSpace("Custom " + formatOffset(tz.StandardOffset()) + " " + name)
	}
	addVTimezone(cal, name, tz)
	return tz.Location(name), nil
}

func addVTimezone(cal *ical.Calendar, tzid string, tz TimeZone) {
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone && propText(c, ical.PropTimezoneID) == tzid {
			return
		}
	}
	cal.Children = append([]*ical.Component{VTimezone(tzid, tz)}, cal.Children...)
}

// allDayDate reads an all-day EAS time as a date: a UTC midnight is that
// date (16.x, TbSync, Z-Push); otherwise local midnight in the item's zone.
func allDayDate(t time.Time, loc *time.Location) time.Time {
	if isMidnight(t.UTC()) {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func applyTimes(cal *ical.Calendar, c *ical.Component, old *event, z *zones, blob string, startC, endC eas.CompactTime, allDayP *bool, o Options) (times, error) {
	var t times
	start, err := parseCompact(startC)
	if err != nil {
		return t, err
	}
	end, err := parseCompact(endC)
	if err != nil {
		return t, err
	}
	t.allDay = allDayP != nil && *allDayP
	if allDayP == nil && old != nil {
		t.allDay = old.allDay
	}
	prefer := o.zone()
	if old != nil && !old.start.utc && !old.start.floating && !old.allDay {
		prefer = old.loc
	}
	t.loc = prefer
	if blob != "" {
		if t.loc, err = phoneZone(cal, blob, firstNonZero(start, o.now()), prefer); err != nil {
			return t, err
		}
	}
	if start.IsZero() {
		if old != nil { // ghosted: keep
			t.start, t.end, t.form, t.allDay, t.loc = old.start.t, old.end.t, old.start, old.allDay, old.loc
			return t, nil
		}
		// MS-ASCAL 3.2.4.4: an Add without StartTime starts at the next
		// half hour.
		start = o.now().Truncate(30 * time.Minute).Add(30 * time.Minute)
	}
	if end.IsZero() || end.Before(start) {
		end = start
		if old != nil {
			end = start.Add(old.end.t.Sub(old.start.t))
		} else if !t.allDay {
			end = start.Add(30 * time.Minute)
		}
	}
	if old != nil && old.allDay == t.allDay && sameTimes(old, start, end, t.loc) {
		// Unchanged: DTSTART, DTEND or DURATION stay as written.
		t.start, t.end, t.form, t.loc = old.start.t, old.end.t, old.start, old.loc
		return t, nil
	}
	if t.allDay {
		ds, de := allDayDate(start, t.loc), allDayDate(end, t.loc)
		if !de.After(ds) {
			de = ds.AddDate(0, 0, 1)
		}
		t.start, t.end, t.form = ds, de, when{date: true}
		setDate(c, ical.PropDateTimeStart, ds)
		setDate(c, ical.PropDateTimeEnd, de)
		c.Props.Del(ical.PropDuration)
		return t, nil
	}
	t.start, t.end = start, end
	switch {
	case old != nil && old.start.floating:
		t.form = when{floating: true}
	case old != nil && old.start.tzid != "" && sameOffsets(z.lookup(old.start.tzid), t.loc, start, end):
		t.form = when{tzid: old.start.tzid}
	case old != nil && old.start.utc, t.loc == time.UTC:
		t.form = when{utc: true}
	default:
		t.form = when{tzid: t.loc.String()}
		if _, err := loadZone(t.loc.String()); err == nil {
			addVTimezone(cal, t.loc.String(), TimeZoneFor(t.loc, start))
		}
	}
	if t.form.tzid != "" && t.form.tzid != old.tzidOrEmpty() {
		z.cache[t.form.tzid] = t.loc
	}
	sp, ep := z.format(ical.PropDateTimeStart, start, t.form), z.format(ical.PropDateTimeEnd, end, t.form)
	c.Props.Set(&sp)
	c.Props.Set(&ep)
	c.Props.Del(ical.PropDuration)
	return t, nil
}

// sameTimes tells whether a phone's start and end are the event's own.
func sameTimes(old *event, start, end time.Time, loc *time.Location) bool {
	if old.allDay {
		return allDayDate(start, loc).Equal(dateOf(old.start.t)) && allDayDate(end, loc).Equal(dateOf(old.end.t))
	}
	return old.start.t.Equal(start) && old.end.t.Equal(end)
}

func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (e *event) tzidOrEmpty() string {
	if e == nil {
		return ""
	}
	return e.start.tzid
}

func firstNonZero(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	return a
}

// setOrClearText sets a TEXT property, or removes it for an empty value or
// (with clear) an absent one. An unchanged value keeps its parameters
// (LANGUAGE, ALTREP).
func setOrClearText(c *ical.Component, name string, v *string, clear bool) {
	switch {
	case v != nil && *v != "":
		if c.Props.Get(name) == nil || propText(c, name) != *v {
			setText(c, name, *v)
		}
	case v != nil || clear:
		c.Props.Del(name)
	}
}

func setDate(c *ical.Component, name string, d time.Time) {
	p := ical.NewProp(name)
	p.SetDate(d)
	c.Props.Set(p)
}

func sameOffsets(a, b *time.Location, ts ...time.Time) bool {
	for _, t := range ts {
		_, oa := t.In(a).Zone()
		_, ob := t.In(b).Zone()
		if oa != ob {
			return false
		}
	}
	return true
}

func applyChanges(c *ical.Component, ch changes, t times, o Options) {
	setOrClear := func(name string, v *string) { setOrClearText(c, name, v, o.ClearAbsent) }
	setOrClear(ical.PropSummary, ch.subject)
	loc := ch.location
	if ch.airLocation != nil {
		loc = &ch.airLocation.DisplayName
		if ch.airLocation.Latitude != "" && ch.airLocation.Longitude != "" {
			p := ical.NewProp(ical.PropGeo)
			p.Value = ch.airLocation.Latitude + ";" + ch.airLocation.Longitude
			c.Props.Set(p)
		}
	}
	setOrClear(ical.PropLocation, loc)
	if ch.body != nil {
		if s, ok := phoneDescription(c, ch.body); ok {
			setOrClear(ical.PropDescription, &s)
		}
	} else if o.ClearAbsent {
		c.Props.Del(ical.PropDescription)
	}
	if ch.sensitivity != nil {
		applySensitivity(c, *ch.sensitivity)
	}
	if ch.busy != nil && busyStatusOf(c) != *ch.busy {
		b := *ch.busy
		if b == eas.BusyFree {
			setText(c, ical.PropTransparency, "TRANSPARENT")
		} else {
			setText(c, ical.PropTransparency, "OPAQUE")
		}
		if b >= 0 && b < len(busyNames) {
			setText(c, "X-MICROSOFT-CDO-BUSYSTATUS", busyNames[b])
		}
	}
	applyReminder(c, ch.reminder, t, o)
	if ch.categories != nil {
		c.Props.Del(ical.PropCategories)
		if len(ch.categories.Category) > 0 {
			p := ical.NewProp(ical.PropCategories)
			p.SetTextList(ch.categories.Category)
			c.Props.Set(p)
		}
	} else if o.ClearAbsent {
		c.Props.Del(ical.PropCategories)
	}
	if ch.meeting != nil {
		cancelled := *ch.meeting&4 != 0
		was := strings.EqualFold(propText(c, ical.PropStatus), "CANCELLED")
		if cancelled && !was {
			setText(c, ical.PropStatus, "CANCELLED")
		} else if !cancelled && was {
			setText(c, ical.PropStatus, "CONFIRMED")
		}
	}
	if ch.attendees != nil {
		applyAttendees(c, ch.attendees.Attendee, o)
	}
}

// applySensitivity sets CLASS from an EAS Sensitivity; personal is
// PRIVATE marked with propSensitivity so that it comes back as 1.
func applySensitivity(c *ical.Component, s int) {
	if s == sensitivityOf(c) {
		return // keeps a CLASS x-name another client set
	}
	c.Props.Del(propSensitivity)
	switch s {
	case 1:
		setText(c, ical.PropClass, "PRIVATE")
		setText(c, propSensitivity, "PERSONAL")
	case 2:
		setText(c, ical.PropClass, "PRIVATE")
	case 3:
		setText(c, ical.PropClass, "CONFIDENTIAL")
	default:
		if c.Props.Get(ical.PropClass) != nil {
			setText(c, ical.PropClass, "PUBLIC")
		}
	}
}

// phoneDescription is the DESCRIPTION a phone's Body sets; ok is false
// when the body is marked Truncated and is the start of the stored text:
// the copy the phone was sent cut to its TruncationSize, which phones
// (AOSP, iOS) send back with an edit of any other field. Writing it would
// cut the text.
func phoneDescription(c *ical.Component, b *eas.Body) (string, bool) {
	if b.CutCopyOf(propText(c, ical.PropDescription)) {
		return "", false
	}
	return b.Text(), true
}

// applyReminder sets the lead time of the alarm the item's Reminder maps
// to, adds one when there is none, and removes the alarms ringing before
// the start when the phone clears the reminder. Other alarms stay.
func applyReminder(c *ical.Component, r *string, t times, o Options) {
	if r == nil && !o.ClearAbsent {
		return
	}
	minutes, set := eas.ReminderMinutes(r)
	cur, has := reminderOf(c, t.start, t.end)
	if set && has && cur == minutes {
		return
	}
	var keep []*ical.Component
	var target *ical.Component
	for _, a := range c.Children {
		if a.Name == ical.CompAlarm {
			at, err := alarmTime(a, t.start, t.end)
			if err == nil && !at.After(t.start) && int(t.start.Sub(at)/time.Minute) == cur && has {
				if !set {
					continue // cleared
				}
				target = a
			}
		}
		keep = append(keep, a)
	}
	c.Children = keep
	if !set {
		return
	}
	if target == nil {
		target = ical.NewComponent(ical.CompAlarm)
		setText(target, ical.PropAction, "DISPLAY")
		setText(target, ical.PropDescription, "Reminder")
		c.Children = append(c.Children, target)
	}
	p := ical.NewProp(ical.PropTrigger)
	p.Value = fmt.Sprintf("-PT%dM", minutes)
	if minutes == 0 {
		p.Value = "PT0S"
	}
	target.Props.Set(p)
}

var attendeeStatusNames = map[int]string{
	eas.AttendeeAccepted: "ACCEPTED", eas.AttendeeTentative: "TENTATIVE",
	eas.AttendeeDeclined: "DECLINED", eas.AttendeeNotResponded: "NEEDS-ACTION",
}

// applyAttendees makes the ATTENDEE list the phone's: attendees it kept
// keep their parameters (their answers are the server's to know), new ones
// are asked to answer. The organizer's own ATTENDEE line stays.
func applyAttendees(c *ical.Component, list []eas.Attendee, o Options) {
	org := ""
	if p := c.Props.Get(ical.PropOrganizer); p != nil {
		org = mailto(p.Value)
	}
	old := c.Props.Values(ical.PropAttendee)
	var out []ical.Prop
	for _, p := range old {
		if org != "" && strings.EqualFold(mailto(p.Value), org) {
			out = append(out, p)
		}
	}
	for _, a := range list {
		i := slices.IndexFunc(old, func(p ical.Prop) bool { return strings.EqualFold(mailto(p.Value), a.Email) })
		if i >= 0 {
			p := old[i]
			if a.Name != "" && a.Name != a.Email {
				p.Params.Set(ical.ParamCommonName, a.Name)
			}
			out = append(out, p)
			continue
		}
		p := ical.NewProp(ical.PropAttendee)
		p.Value = "mailto:" + a.Email
		if a.Name != "" && a.Name != a.Email {
			p.Params.Set(ical.ParamCommonName, a.Name)
		}
		typ := eas.AttendeeRequired
		if a.AttendeeType != nil {
			typ = *a.AttendeeType
		}
		switch typ {
		case eas.AttendeeOptional:
			p.Params.Set(ical.ParamRole, "OPT-PARTICIPANT")
		case eas.AttendeeResource:
			p.Params.Set(ical.ParamCalendarUserType, "RESOURCE")
			p.Params.Set(ical.ParamRole, "NON-PARTICIPANT")
		default:
			p.Params.Set(ical.ParamRole, "REQ-PARTICIPANT")
		}
		ps := "NEEDS-ACTION"
		if a.AttendeeStatus != nil && attendeeStatusNames[*a.AttendeeStatus] != "" {
			ps = attendeeStatusNames[*a.AttendeeStatus]
		}
		p.Params.Set(ical.ParamParticipationStatus, ps)
		p.Params.Set(ical.ParamRSVP, "TRUE")
		out = append(out, *p)
	}
	c.Props.Del(ical.PropAttendee)
	for i := range out {
		c.Props.Add(&out[i])
	}
	if len(list) > 0 && org == "" && o.User != "" {
		p := ical.NewProp(ical.PropOrganizer)
		p.Value = "mailto:" + o.User
		c.Props.Set(p)
	}
}

// applyRecurrence replaces the RRULE with the phone's recurrence, unless
// the phone's is what it was shown of the current rule: then the rule
// stays as written (also one EAS cannot express).
func applyRecurrence(cal *ical.Calendar, c *ical.Component, old *event, t times, r *eas.Recurrence, o Options) error {
	if r == nil {
		if o.ClearAbsent && c.Props.Get(ical.PropRecurrenceRule) != nil {
			// No longer a series: its occurrences' overrides go too.
			for _, n := range []string{ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates, "EXRULE"} {
				c.Props.Del(n)
			}
			cal.Children = slices.DeleteFunc(cal.Children, func(x *ical.Component) bool {
				return x != c && x.Name == c.Name && x.Props.Get(ical.PropRecurrenceID) != nil
			})
		}
		return nil
	}
	start := t.start.In(t.loc)
	if t.allDay {
		start = t.start
	}
	until := ""
	var untilDate time.Time
	if r.Until != "" && r.Occurrences == 0 {
		u, err := parseCompact(r.Until)
		if err != nil {
			return err
		}
		untilDate = allDayDate(u, t.loc)
		if t.allDay {
			until = untilDate.Format("20060102")
		} else {
			// Phones disagree on the time of Until (AOSP sends the date
			// at 00:00Z): the series runs through that whole day.
			y, m, d := untilDate.Date()
			until = time.Date(y, m, d, 23, 59, 59, 0, t.loc).UTC().Format("20060102T150405Z")
		}
	}
	if rp := c.Props.Get(ical.PropRecurrenceRule); rp != nil && old != nil {
		cur, _ := RecurrenceFromRRule(rp.Value, old.start.t.In(old.loc))
		curUntil := time.Time{}
		switch {
		case cur.Until.IsZero():
		case untilIsDate(rp.Value):
			curUntil = dateOf(cur.Until.UTC())
		default:
			curUntil = dateOf(cur.Until.In(old.loc))
		}
		if sameRecurrence(&cur.Recurrence, r) && curUntil.Equal(untilDate) && old.start.t.Equal(t.start) {
			return nil
		}
	}
	v, err := RRuleFromRecurrence(r, start, until)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadItem, err)
	}
	p := ical.NewProp(ical.PropRecurrenceRule)
	p.Value = v
	c.Props.Set(p)
	return nil
}

// applyOccurrence deletes one occurrence (EXDATE) or changes it (a
// RECURRENCE-ID override, created from a copy of the master).
func applyOccurrence(cal *ical.Calendar, master *ical.Component, id eas.CompactTime, deleted bool, startC, endC eas.CompactTime, allDayP *bool, ch changes, o Options) error {
	if !recurs(master) {
		return fmt.Errorf("%w: occurrence %s", eas.ErrNotRecurring, id)
	}
	z := newZones(cal, o.zone())
	me, err := readEvent(master, z, o)
	if err != nil {
		return err
	}
	orig, err := parseCompact(id)
	if err != nil || orig.IsZero() {
		return fmt.Errorf("%w: occurrence time %q", ErrBadItem, id)
	}
	if me.allDay {
		orig = allDayDate(orig, me.loc)
		orig = time.Date(orig.Year(), orig.Month(), orig.Day(), 0, 0, 0, 0, o.zone())
	}
	idx := -1
	for i, oc := range cal.Children {
		if oc.Name != ical.CompEvent || oc == master || oc.Props.Get(ical.PropRecurrenceID) == nil {
			continue
		}
		if w, err := z.parse(oc.Props.Get(ical.PropRecurrenceID)); err == nil && sameInstant(w, orig, me.allDay) {
			idx = i
		}
	}
	if deleted {
		if idx >= 0 {
			if strings.EqualFold(propText(cal.Children[idx], ical.PropStatus), "CANCELLED") {
				return nil // already cancelled the way its server writes it
			}
			cal.Children = slices.Delete(cal.Children, idx, idx+1)
		}
		if !hasExdate(master, z, orig, me.allDay) {
			p := z.format(ical.PropExceptionDates, orig, me.start)
			master.Props.Add(&p)
		}
		return nil
	}
	var oc *ical.Component
	if idx >= 0 {
		oc = cal.Children[idx]
	} else {
		oc = copyForOverride(master)
		rid := z.format(ical.PropRecurrenceID, orig, me.start)
		oc.Props.Set(&rid)
		dur := me.end.t.Sub(me.start.t)
		if me.allDay {
			setDate(oc, ical.PropDateTimeStart, orig)
			setDate(oc, ical.PropDateTimeEnd, orig.Add(dur))
		} else {
			sp, ep := z.format(ical.PropDateTimeStart, orig, me.start), z.format(ical.PropDateTimeEnd, orig.Add(dur), me.start)
			oc.Props.Set(&sp)
			oc.Props.Set(&ep)
		}
		cal.Children = append(cal.Children, oc)
	}
	var old *event
	if e, err := readEvent(oc, z, o); err == nil {
		old = e
	}
	t, err := applyTimes(cal, oc, old, z, "", startC, endC, allDayP, o)
	if err != nil {
		return err
	}
	applyChanges(oc, ch, t, Options{Version: o.Version, Zone: o.Zone, User: o.User, Now: o.Now})
	stamp(oc, o, old != nil && old.start.t.Equal(t.start))
	return nil
}

// recurs tells a series: an event with occurrences to delete or change.
func recurs(master *ical.Component) bool {
	return master.Props.Get(ical.PropRecurrenceRule) != nil || master.Props.Get(ical.PropRecurrenceDates) != nil
}

func hasExdate(master *ical.Component, z *zones, t time.Time, allDay bool) bool {
	for _, p := range master.Props.Values(ical.PropExceptionDates) {
		for _, v := range strings.Split(p.Value, ",") {
			if w, err := z.parseValue(strings.TrimSpace(v), p.Params); err == nil && sameInstant(w, t, allDay) {
				return true
			}
		}
	}
	return false
}

// untilIsDate tells whether an RRULE's UNTIL is a DATE.
func untilIsDate(rule string) bool {
	_, v, ok := strings.Cut(strings.ToUpper(rule), "UNTIL=")
	v, _, _ = strings.Cut(v, ";")
	return ok && !strings.Contains(v, "T")
}

func sameInstant(w when, t time.Time, allDay bool) bool {
	if allDay || w.date {
		return w.t.Year() == t.Year() && w.t.YearDay() == t.YearDay()
	}
	return w.t.Equal(t)
}

// copyForOverride copies a master VEVENT for one occurrence, without what
// only a series has.
func copyForOverride(m *ical.Component) *ical.Component {
	c := ical.NewComponent(ical.CompEvent)
	for name, props := range m.Props {
		switch name {
		case ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates, "EXRULE", ical.PropRecurrenceID:
			continue
		}
		for _, p := range props {
			q := p
			q.Params = ical.Params{}
			for k, v := range p.Params {
				q.Params[k] = slices.Clone(v)
			}
			c.Props[name] = append(c.Props[name], q)
		}
	}
	for _, a := range m.Children {
		c.Children = append(c.Children, copyComponent(a))
	}
	return c
}

func copyComponent(a *ical.Component) *ical.Component {
	c := ical.NewComponent(a.Name)
	for name, props := range a.Props {
		c.Props[name] = slices.Clone(props)
	}
	for _, ch := range a.Children {
		c.Children = append(c.Children, copyComponent(ch))
	}
	return c
}
