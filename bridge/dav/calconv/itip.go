package calconv

import (
	"fmt"
	"strings"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/eas"
)

// Meeting answers (iTIP, RFC 5546): the user's PARTSTAT in the event kept
// in their calendar, and the REPLY that tells the organizer.

// PartStat is the iCalendar participation status of an EAS user response.
func PartStat(userResponse int) (string, error) {
	switch userResponse {
	case eas.UserAccepted:
		return "ACCEPTED", nil
	case eas.UserTentative:
		return "TENTATIVE", nil
	case eas.UserDeclined:
		return "DECLINED", nil
	}
	return "", fmt.Errorf("%w: user response %d", ErrBadItem, userResponse)
}

// SetPartStat records the user's answer in the event of an iTIP object
// made a calendar object: the user's ATTENDEE gets partstat (one is added
// when the invitation reached the user under another address), of the
// whole series or, given instance, of that occurrence only (its override
// is made when there is none). METHOD goes: a calendar object resource
// has none (RFC 4791 4.1). It returns the component answered.
func SetPartStat(cal *ical.Calendar, user, partstat string, instance eas.CompactTime, o Options) (*ical.Component, error) {
	master := mainComponent(cal, ical.CompEvent)
	if master == nil {
		return nil, ErrNoEvent
	}
	if instance != "" && !recurs(master) {
		return nil, fmt.Errorf("%w: occurrence %s", eas.ErrNotRecurring, instance)
	}
	// MS-ASCMD MeetingResponse: only a meeting the user was invited to is
	// answered; an appointment, or a meeting the user organizes, is no
	// meeting request (Status 2).
	org := master.Props.Get(ical.PropOrganizer)
	if org == nil || user != "" && sameAddress(org.Value, user) {
		return nil, fmt.Errorf("%w: no meeting the user was invited to", ErrBadItem)
	}
	target := master
	if instance != "" {
		var err error
		if target, err = occurrence(cal, master, instance, o); err != nil {
			return nil, err
		}
	}
	cal.Props.Del(ical.PropMethod)
	setAttendee(target, user, partstat)
	stamp(target, o, true)
	return target, nil
}

// occurrence returns the override of one occurrence, made if need be.
func occurrence(cal *ical.Calendar, master *ical.Component, instance eas.CompactTime, o Options) (*ical.Component, error) {
	if err := applyOccurrence(cal, master, instance, false, "", "", nil, changes{}, o); err != nil {
		return nil, err
	}
	z := newZones(cal, o.zone())
	me, err := readEvent(master, z, o)
	if err != nil {
		return nil, err
	}
	orig, err := parseCompact(instance)
	if err != nil {
		return nil, fmt.Errorf("%w: occurrence time %q", ErrBadItem, instance)
	}
	for _, oc := range cal.Children {
		if oc.Name != ical.CompEvent || oc == master || oc.Props.Get(ical.PropRecurrenceID) == nil {
			continue
		}
		if w, err := z.parse(oc.Props.Get(ical.PropRecurrenceID)); err == nil && (sameInstant(w, orig, me.allDay) || w.t.Equal(orig)) {
			return oc, nil
		}
	}
	return nil, fmt.Errorf("%w: no occurrence at %s", ErrBadItem, instance)
}

func sameAddress(value, user string) bool {
	v := strings.TrimSpace(value)
	if len(v) >= 7 && strings.EqualFold(v[:7], "mailto:") {
		v = v[7:]
	}
	return strings.EqualFold(v, strings.TrimSpace(user))
}

func setAttendee(c *ical.Component, user, partstat string) *ical.Prop {
	for i := range c.Props[ical.PropAttendee] {
		p := &c.Props[ical.PropAttendee][i]
		if sameAddress(p.Value, user) {
			p.Params.Set(ical.ParamParticipationStatus, partstat)
			p.Params.Del(ical.ParamRSVP)
			return p
		}
	}
	p := ical.NewProp(ical.PropAttendee)
	p.Value = "mailto:" + user
	p.Params.Set(ical.ParamParticipationStatus, partstat)
	c.Props.Add(p)
	return p
}

// Reply builds the iTIP REPLY of the user's answer to the organizer:
// the answered component's identity and times, the organizer and the
// user's ATTENDEE alone (RFC 5546 3.2.3). organizer is "" when the event
// names none: there is nobody to answer.
func Reply(cal *ical.Calendar, answered *ical.Component, user string, o Options) (reply *ical.Calendar, organizer, summary string) {
	org := answered.Props.Get(ical.PropOrganizer)
	if org == nil {
		if m := mainComponent(cal, ical.CompEvent); m != nil {
			org = m.Props.Get(ical.PropOrganizer)
		}
	}
	if org == nil {
		return nil, "", ""
	}
	out := NewCalendar()
	out.Props.SetText(ical.PropMethod, "REPLY")
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			out.Children = append(out.Children, c)
		}
	}
	ev := ical.NewComponent(ical.CompEvent)
	for _, name := range []string{ical.PropUID, ical.PropRecurrenceID, ical.PropDateTimeStart, ical.PropDateTimeEnd,
		ical.PropDuration, ical.PropSequence, ical.PropSummary} {
		if p := answered.Props.Get(name); p != nil {
			ev.Props.Set(p)
		}
	}
	ev.Props.Set(org)
	for _, p := range answered.Props[ical.PropAttendee] {
		if sameAddress(p.Value, user) {
			q := p
			ev.Props.Add(&q)
		}
	}
	stamp(ev, o, true)
	ev.Props.Del(ical.PropLastModified)
	out.Children = append(out.Children, ev)
	organizer = org.Value
	if len(organizer) >= 7 && strings.EqualFold(organizer[:7], "mailto:") {
		organizer = organizer[7:]
	}
	return out, organizer, propText(answered, ical.PropSummary)
}

// Organized reports the attendees to tell of an event the user organizes:
// their addresses (without mailto:), the organizer and the user left out.
// It returns nil when the event has no organizer, when the organizer is
// someone else (the user is an attendee: the organizer tells the others),
// or when nobody else is invited: then no iTIP message is due.
func Organized(cal *ical.Calendar, user string) []string {
	var out []string
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		org := c.Props.Get(ical.PropOrganizer)
		if org == nil || !sameAddress(org.Value, user) {
			return nil
		}
		for _, p := range c.Props[ical.PropAttendee] {
			addr := strings.TrimSpace(p.Value)
			if len(addr) >= 7 && strings.EqualFold(addr[:7], "mailto:") {
				addr = addr[7:]
			}
			if addr == "" || sameAddress(addr, user) || sameAddress(org.Value, addr) || containsFold(out, addr) {
				continue
			}
			out = append(out, addr)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// Request is the iTIP REQUEST (RFC 5546 3.2.2) of an event the user
// organizes: the stored object whole, with METHOD. cal is not changed.
func Request(cal *ical.Calendar) *ical.Calendar {
	out := copyCalendar(cal, nil)
	out.Props.SetText(ical.PropMethod, "REQUEST")
	return out
}

// Cancel is the iTIP CANCEL (RFC 5546 3.2.5) of an event the user
// organizes: every event component with STATUS:CANCELLED and its
// SEQUENCE one higher, so that the attendees' calendars take it over the
// last REQUEST. cal is not changed.
func Cancel(cal *ical.Calendar, o Options) *ical.Calendar {
	out := copyCalendar(cal, func(c *ical.Component) {
		seq := 0
		if p := c.Props.Get(ical.PropSequence); p != nil {
			if n, err := p.Int(); err == nil {
				seq = n
			}
		}
		p := ical.NewProp(ical.PropSequence)
		p.SetValueType(ical.ValueInt)
		p.Value = fmt.Sprint(seq + 1)
		c.Props.Set(p)
		c.Props.SetText(ical.PropStatus, "CANCELLED")
		stamp(c, o, true)
	})
	out.Props.SetText(ical.PropMethod, "CANCEL")
	return out
}

// copyCalendar copies cal's properties and components one level deep,
// passing each event component's copy to edit.
func copyCalendar(cal *ical.Calendar, edit func(*ical.Component)) *ical.Calendar {
	out := ical.NewCalendar()
	for name, ps := range cal.Props {
		out.Props[name] = append([]ical.Prop(nil), ps...)
	}
	for _, c := range cal.Children {
		cc := &ical.Component{Name: c.Name, Props: ical.Props{}, Children: c.Children}
		for name, ps := range c.Props {
			cc.Props[name] = append([]ical.Prop(nil), ps...)
		}
		if c.Name == ical.CompEvent && edit != nil {
			edit(cc)
		}
		out.Children = append(out.Children, cc)
	}
	return out
}
