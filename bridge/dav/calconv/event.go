package calconv

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/eas"
)

// ErrNoEvent reports an iCalendar object without a VEVENT.
var ErrNoEvent = errors.New("calconv: no VEVENT in the object")

// event is a VEVENT read with its zones.
type event struct {
	c          *ical.Component
	z          *zones
	o          Options
	start, end when
	allDay     bool
	loc        *time.Location // the zone the phone computes in (TimeZone blob)
}

func readEvent(c *ical.Component, z *zones, o Options) (*event, error) {
	e := &event{c: c, z: z, o: o}
	var err error
	if e.start, err = z.parse(c.Props.Get(ical.PropDateTimeStart)); err != nil {
		return nil, fmt.Errorf("calconv: DTSTART: %w", err)
	}
	e.allDay = e.start.date
	switch {
	case c.Props.Get(ical.PropDateTimeEnd) != nil:
		if e.end, err = z.parse(c.Props.Get(ical.PropDateTimeEnd)); err != nil {
			return nil, fmt.Errorf("calconv: DTEND: %w", err)
		}
	case c.Props.Get(ical.PropDuration) != nil:
		d, err := c.Props.Get(ical.PropDuration).Duration()
		if err != nil {
			return nil, fmt.Errorf("calconv: DURATION: %w", err)
		}
		e.end = e.start
		if e.allDay {
			e.end.t = e.start.t.AddDate(0, 0, int(d/(24*time.Hour)))
		} else {
			e.end.t = e.start.t.Add(d)
		}
	case e.allDay:
		e.end = e.start
		e.end.t = e.start.t.AddDate(0, 0, 1)
	default:
		e.end = e.start
	}
	if e.end.t.Before(e.start.t) {
		e.end = e.start
	}
	// Outlook marks all-day events with midnight times and this flag.
	if !e.allDay && strings.EqualFold(propText(c, "X-MICROSOFT-CDO-ALLDAYEVENT"), "TRUE") && isMidnight(e.start.t) && isMidnight(e.end.t) {
		e.allDay = true
	}
	switch {
	case e.allDay, e.start.floating:
		e.loc = o.zone()
	case e.start.utc:
		e.loc = o.zone()
		if c.Props.Get(ical.PropRecurrenceRule) != nil {
			e.loc = time.UTC // a UTC series repeats in UTC
		}
	default:
		e.loc = e.start.t.Location()
	}
	return e, nil
}

func isMidnight(t time.Time) bool {
	h, m, s := t.Clock()
	return h == 0 && m == 0 && s == 0
}

// easTime gives the EAS form of a time of this event: all-day dates are
// midnight in the event's zone (12.1–14.1, with the zone's blob) or a
// UTC-midnight date (16.x, no blob).
func (e *event) easTime(w when) eas.CompactTime {
	if w.date || e.allDay {
		y, m, d := w.t.Date()
		if e.o.v16() {
			return eas.NewCompactTime(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
		}
		return eas.NewCompactTime(time.Date(y, m, d, 0, 0, 0, 0, e.loc))
	}
	return eas.NewCompactTime(w.t)
}

// EventToEAS converts the event of an iCalendar object (its master VEVENT,
// overrides and EXDATEs) to an EAS Calendar item. A recurrence rule EAS
// cannot express is given as the nearest one; RecurrenceExact tells.
func EventToEAS(cal *ical.Calendar, o Options) (*eas.Calendar, error) {
	master := mainComponent(cal, ical.CompEvent)
	if master == nil {
		return nil, ErrNoEvent
	}
	z := newZones(cal, o.zone())
	e, err := readEvent(master, z, o)
	if err != nil {
		return nil, err
	}
	out := &eas.Calendar{
		StartTime: e.easTime(e.start),
		EndTime:   e.easTime(e.end),
		UID:       propText(master, ical.PropUID),
	}
	if !(e.allDay && o.v16()) {
		out.TimeZone = TimeZoneFor(e.loc, e.start.t).Encode()
	}
	if p := master.Props.Get(ical.PropDateTimeStamp); p != nil {
		if w, err := z.parse(p); err == nil {
			out.DtStamp = eas.NewCompactTime(w.t)
		}
	}
	allDay := e.allDay
	out.AllDayEvent = &allDay
	fillCommon(out, master, e, o)
	if rp := master.Props.Get(ical.PropRecurrenceRule); rp != nil {
		r, _ := RecurrenceFromRRule(rp.Value, e.start.t.In(e.loc))
		rec := r.Recurrence
		if !r.Until.IsZero() {
			rec.Until = e.untilTime(r.Until, rp.Value)
		}
		if !o.Version.AtLeast(eas.V141) {
			rec.FirstDayOfWeek = nil
		}
		if rec.Type != eas.RecurDaily && rec.Type != eas.RecurWeekly {
			zero := 0
			rec.CalendarType = &zero
		}
		out.Recurrence = &rec
		out.Exceptions = exceptionsOf(cal, master, e, o)
	}
	return out, nil
}

// untilTime formats an RRULE UNTIL for EAS. A DATE UNTIL (all-day series)
// becomes the start of that day as the event's other dates are.
func (e *event) untilTime(until time.Time, rule string) eas.CompactTime {
	if untilIsDate(rule) {
		return e.easTime(when{t: until, date: true})
	}
	return eas.NewCompactTime(until)
}

// RecurrenceExact reports whether the event's RRULE has an exact EAS
// form: nil when it has (or there is none), an error wrapping
// ErrNotExpressible when the phone gets only the nearest rule.
func RecurrenceExact(cal *ical.Calendar, o Options) error {
	master := mainComponent(cal, ical.CompEvent)
	if master == nil {
		master = mainComponent(cal, ical.CompToDo)
	}
	if master == nil {
		return nil
	}
	rp := master.Props.Get(ical.PropRecurrenceRule)
	if rp == nil {
		if len(master.Props.Values(ical.PropRecurrenceDates)) > 0 || len(master.Props.Values("EXRULE")) > 0 {
			return fmt.Errorf("%w: RDATE or EXRULE", ErrNotExpressible)
		}
		return nil
	}
	if len(master.Props.Values(ical.PropRecurrenceRule)) > 1 {
		return fmt.Errorf("%w: several RRULEs", ErrNotExpressible)
	}
	if len(master.Props.Values(ical.PropRecurrenceDates)) > 0 || len(master.Props.Values("EXRULE")) > 0 {
		return fmt.Errorf("%w: RDATE or EXRULE", ErrNotExpressible)
	}
	z := newZones(cal, o.zone())
	start, err := z.parse(master.Props.Get(ical.PropDateTimeStart))
	if err != nil {
		start, err = z.parse(master.Props.Get(ical.PropDue))
		if err != nil {
			return err
		}
	}
	_, err = RecurrenceFromRRule(rp.Value, start.t)
	return err
}

// fillCommon sets the fields a master and an exception share.
func fillCommon(out *eas.Calendar, c *ical.Component, e *event, o Options) {
	if s := propText(c, ical.PropSummary); s != "" || c.Props.Get(ical.PropSummary) != nil {
		out.Subject = &s
	}
	if loc := propText(c, ical.PropLocation); loc != "" {
		if o.v16() {
			out.AirLocation = &eas.Location{DisplayName: loc}
			if geo := c.Props.Get(ical.PropGeo); geo != nil {
				if lat, lon, ok := strings.Cut(geo.Value, ";"); ok {
					out.AirLocation.Latitude, out.AirLocation.Longitude = lat, lon
				}
			}
		} else {
			out.Location = &loc
		}
	}
	if d := propText(c, ical.PropDescription); d != "" {
		out.Body = plainBody(d)
	}
	out.Sensitivity = ptr(sensitivityOf(c))
	out.BusyStatus = ptr(busyStatusOf(c))
	if m, ok := reminderOf(c, e.start.t, e.end.t); ok {
		out.Reminder = ptr(fmt.Sprint(m))
	}
	if cats := textList(c, ical.PropCategories); len(cats) > 0 {
		out.Categories = &eas.CalCategory{Category: cats}
	}
	fillMeeting(out, c, o)
}

func ptr[T any](v T) *T { return &v }

func plainBody(s string) *eas.Body {
	return &eas.Body{Type: eas.BodyPlain, EstimatedDataSize: int64(len(s)), Data: s}
}

// propSensitivity keeps EAS Sensitivity 1 (personal), which iCalendar has
// no CLASS for. The item itself says CLASS:PRIVATE, so every other CalDAV
// client hides it as it should; a CLASS x-name would rely on each client
// reading unknown values as PRIVATE (RFC 5545 3.8.1.3), which not all do.
const propSensitivity = "X-EASGATE-SENSITIVITY"

func sensitivityOf(c *ical.Component) int {
	switch class := strings.ToUpper(propText(c, ical.PropClass)); class {
	case "", "PUBLIC":
		return 0
	case "CONFIDENTIAL":
		return 3
	case "PRIVATE":
		// The mark counts only while CLASS is still PRIVATE: a client
		// that changed CLASS and left the X- property alone wins.
		if strings.EqualFold(propText(c, propSensitivity), "PERSONAL") {
			return 1
		}
		return 2
	default:
		// RFC 5545 3.8.1.3: x-name and iana-token values one does not
		// know are treated as PRIVATE.
		return 2
	}
}

var busyNames = []string{"FREE", "TENTATIVE", "BUSY", "OOF", "WORKINGELSEWHERE"}

func busyStatusOf(c *ical.Component) int {
	if i := slices.Index(busyNames, strings.ToUpper(propText(c, "X-MICROSOFT-CDO-BUSYSTATUS"))); i >= 0 {
		return i
	}
	if strings.EqualFold(propText(c, ical.PropTransparency), "TRANSPARENT") {
		return eas.BusyFree
	}
	if strings.EqualFold(propText(c, ical.PropStatus), "TENTATIVE") {
		return eas.BusyTentative
	}
	return eas.BusyBusy
}

// reminderOf is the largest lead time in minutes of the component's
// alarms that ring at or before the start. EAS has one reminder per item.
func reminderOf(c *ical.Component, start, end time.Time) (int, bool) {
	best, ok := 0, false
	for _, a := range c.Children {
		if a.Name != ical.CompAlarm || strings.EqualFold(propText(a, ical.PropAction), "EMAIL") {
			continue // mail alarms are not the phone's reminder
		}
		at, err := alarmTime(a, start, end)
		if err != nil || at.After(start) {
			continue
		}
		if m := int(start.Sub(at) / time.Minute); !ok || m > best {
			best, ok = m, true
		}
	}
	return best, ok
}

// alarmTime is when an alarm rings for an item running from start to end.
func alarmTime(a *ical.Component, start, end time.Time) (time.Time, error) {
	tp := a.Props.Get(ical.PropTrigger)
	if tp == nil {
		return time.Time{}, errors.New("calconv: VALARM without TRIGGER")
	}
	if strings.EqualFold(tp.Params.Get(ical.ParamValue), "DATE-TIME") {
		return time.Parse("20060102T150405Z", tp.Value)
	}
	d, err := parseDuration(tp.Value)
	if err != nil {
		return time.Time{}, err
	}
	if strings.EqualFold(tp.Params.Get(ical.ParamRelated), "END") {
		return end.Add(d), nil
	}
	return start.Add(d), nil
}

// parseDuration reads an RFC 5545 DURATION such as -PT15M or -P1DT2H.
func parseDuration(s string) (time.Duration, error) {
	p := ical.NewProp(ical.PropDuration)
	p.Value = strings.TrimSpace(s)
	return p.Duration()
}

var partstats = map[string]int{
	"ACCEPTED": eas.AttendeeAccepted, "TENTATIVE": eas.AttendeeTentative,
	"DECLINED": eas.AttendeeDeclined, "NEEDS-ACTION": eas.AttendeeNotResponded,
}

// fillMeeting sets organizer, attendees and the meeting and response
// status from the user's place in the meeting.
func fillMeeting(out *eas.Calendar, c *ical.Component, o Options) {
	org := ""
	if p := c.Props.Get(ical.PropOrganizer); p != nil {
		org = mailto(p.Value)
		out.OrganizerEmail = org
		out.OrganizerName = p.Params.Get(ical.ParamCommonName)
	}
	var atts []eas.Attendee
	var own *ical.Prop
	for i, p := range c.Props.Values(ical.PropAttendee) {
		addr := mailto(p.Value)
		if o.User != "" && strings.EqualFold(addr, o.User) {
			own = &c.Props.Values(ical.PropAttendee)[i]
		}
		if strings.EqualFold(addr, org) {
			continue // the organizer is not an EAS attendee
		}
		a := eas.Attendee{Email: addr, Name: p.Params.Get(ical.ParamCommonName)}
		if a.Name == "" {
			a.Name = addr
		}
		a.AttendeeStatus = ptr(partstats[partstat(p)])
		a.AttendeeType = ptr(attendeeType(p))
		atts = append(atts, a)
	}
	if len(atts) > 0 {
		out.Attendees = &eas.Attendees{Attendee: atts}
	}
	status := eas.MeetingStatusAppointment
	organiser := o.User == "" || org == "" || strings.EqualFold(org, o.User)
	if len(atts) > 0 {
		status = eas.MeetingStatusOrganizer
		if !organiser {
			status = eas.MeetingStatusReceived
		}
	}
	if strings.EqualFold(propText(c, ical.PropStatus), "CANCELLED") {
		status |= 4 | 1
	}
	out.MeetingStatus = &status
	switch {
	case len(atts) == 0:
	case organiser:
		out.ResponseType = ptr(eas.ResponseOrganizer)
	case own != nil:
		rt := map[string]int{"ACCEPTED": eas.ResponseAccepted, "TENTATIVE": eas.ResponseTentative, "DECLINED": eas.ResponseDeclined}[partstat(*own)]
		if rt == 0 {
			rt = eas.ResponseNotResponded
		}
		out.ResponseType = &rt
		rsvp := strings.EqualFold(own.Params.Get(ical.ParamRSVP), "TRUE")
		out.ResponseRequested = &rsvp
	}
	if v := propText(c, "X-MICROSOFT-DISALLOW-COUNTER"); v != "" {
		b := strings.EqualFold(v, "TRUE")
		out.DisallowNewTimeProposal = &b
	}
}

// partstat is an attendee's PARTSTAT, NEEDS-ACTION when it has none (RFC
// 5545 3.2.12): AttendeeStatus 5, not responded, rather than 0, unknown.
func partstat(p ical.Prop) string {
	if s := strings.ToUpper(strings.TrimSpace(p.Params.Get(ical.ParamParticipationStatus))); s != "" {
		return s
	}
	return "NEEDS-ACTION"
}

func attendeeType(p ical.Prop) int {
	switch strings.ToUpper(p.Params.Get(ical.ParamCalendarUserType)) {
	case "RESOURCE", "ROOM":
		return eas.AttendeeResource
	}
	switch strings.ToUpper(p.Params.Get(ical.ParamRole)) {
	case "OPT-PARTICIPANT", "NON-PARTICIPANT":
		return eas.AttendeeOptional
	}
	return eas.AttendeeRequired
}

// exceptionsOf lists the deleted (EXDATE, cancelled overrides) and changed
// (RECURRENCE-ID overrides) occurrences of a series.
func exceptionsOf(cal *ical.Calendar, master *ical.Component, e *event, o Options) *eas.Exceptions {
	var list []eas.Exception
	seen := map[eas.CompactTime]bool{}
	key := func(x *eas.Exception, t eas.CompactTime) {
		if o.v16() {
			x.InstanceID = t
		} else {
			x.ExceptionStartTime = t
		}
	}
	var base eas.Calendar
	fillCommon(&base, master, e, o)
	for _, oc := range overrides(cal, ical.CompEvent, master) {
		rid, err := e.z.parse(oc.Props.Get(ical.PropRecurrenceID))
		if err != nil {
			continue
		}
		k := e.easTime(rid)
		seen[k] = true
		x := eas.Exception{}
		key(&x, k)
		if strings.EqualFold(propText(oc, ical.PropStatus), "CANCELLED") {
			x.Deleted = true
			list = append(list, x)
			continue
		}
		oe, err := readEvent(oc, e.z, o)
		if err != nil {
			continue
		}
		oe.loc = e.loc
		var ov eas.Calendar
		fillCommon(&ov, oc, oe, o)
		x.StartTime, x.EndTime = oe.easTime(oe.start), oe.easTime(oe.end)
		if oe.allDay != e.allDay {
			x.AllDayEvent = ptr(oe.allDay)
		}
		diffException(&x, &ov, &base)
		list = append(list, x)
	}
	for _, p := range master.Props.Values(ical.PropExceptionDates) {
		for _, v := range strings.Split(p.Value, ",") {
			w, err := e.z.parseValue(strings.TrimSpace(v), p.Params)
			if err != nil {
				continue
			}
			k := e.easTime(w)
			if seen[k] {
				continue
			}
			seen[k] = true
			x := eas.Exception{Deleted: true}
			key(&x, k)
			list = append(list, x)
		}
	}
	if len(list) == 0 {
		return nil
	}
	slices.SortFunc(list, func(a, b eas.Exception) int {
		return strings.Compare(string(a.ExceptionStartTime+a.InstanceID), string(b.ExceptionStartTime+b.InstanceID))
	})
	return &eas.Exceptions{Exception: list}
}

// diffException keeps in x only the fields of ov that differ from the
// master's: absent ones inherit.
func diffException(x *eas.Exception, ov, base *eas.Calendar) {
	if !eqPtr(ov.Subject, base.Subject) {
		x.Subject = orEmpty(ov.Subject)
	}
	if !eqPtr(ov.Location, base.Location) {
		x.Location = orEmpty(ov.Location)
	}
	if !eqLoc(ov.AirLocation, base.AirLocation) {
		x.AirLocation = ov.AirLocation
		if x.AirLocation == nil {
			x.AirLocation = &eas.Location{}
		}
	}
	if bodyText(ov.Body) != bodyText(base.Body) {
		x.Body = ov.Body
		if x.Body == nil {
			x.Body = plainBody("")
		}
	}
	if !eqPtr(ov.Sensitivity, base.Sensitivity) {
		x.Sensitivity = ov.Sensitivity
	}
	if !eqPtr(ov.BusyStatus, base.BusyStatus) {
		x.BusyStatus = ov.BusyStatus
	}
	if !eqPtr(ov.Reminder, base.Reminder) {
		x.Reminder = orEmpty(ov.Reminder)
	}
	if !slices.Equal(cats(ov.Categories), cats(base.Categories)) {
		x.Categories = &eas.CalCategory{Category: cats(ov.Categories)}
	}
	if !eqPtr(ov.MeetingStatus, base.MeetingStatus) {
		x.MeetingStatus = ov.MeetingStatus
	}
	if fmt.Sprint(ov.Attendees) != fmt.Sprint(base.Attendees) {
		x.Attendees = ov.Attendees
		if x.Attendees == nil {
			x.Attendees = &eas.Attendees{}
		}
	}
}

func eqPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func eqLoc(a, b *eas.Location) bool { return eqPtr(a, b) }

func orEmpty(s *string) *string {
	if s == nil {
		return ptr("")
	}
	return s
}

func bodyText(b *eas.Body) string {
	if b == nil {
		return ""
	}
	return b.Data
}

func cats(c *eas.CalCategory) []string {
	if c == nil {
		return nil
	}
	return c.Category
}
