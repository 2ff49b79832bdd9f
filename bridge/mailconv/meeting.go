package mailconv

import (
	"encoding/base64"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/eas"
)

// Meeting invitations in the mail (iMIP, RFC 6047): a message whose
// text/calendar part has METHOD:REQUEST or METHOD:CANCEL is a meeting
// request or cancellation for the phone, which shows its MeetingRequest
// element and answers it with MeetingResponse.

// Invitation returns the iCalendar object of a message's invitation or
// cancellation (the first text/calendar part of the message itself, not
// of an attached one) and its iTIP method; nil when it has none.
func Invitation(raw []byte) (*ical.Calendar, string) {
	p := &parser{keep: keepForConvert}
	return invitation(p.parse(raw, "", 0))
}

func invitation(root *node) (*ical.Calendar, string) {
	var text, method string
	walk(root, func(n *node) bool {
		if text != "" || n.isMessage() {
			return false
		}
		if n.mediaType != "text/calendar" || !n.kept {
			return true
		}
		if b, err := decodeTransfer(n.cte(), n.raw); err == nil {
			text, _ = toUTF8(b, n.params["charset"])
		}
		method = strings.ToUpper(strings.TrimSpace(n.params["method"]))
		return true
	})
	if text == "" {
		return nil, ""
	}
	if method == "" {
		method = strings.ToUpper(icalProperty(text, "METHOD"))
	}
	cal, err := calconv.Decode([]byte(text))
	if err != nil {
		return nil, ""
	}
	return cal, method
}

// meetingRequest builds the MeetingRequest element of an invitation or
// cancellation; nil when the message carries no event.
func meetingRequest(root *node) *eas.MeetingRequest {
	cal, method := invitation(root)
	if cal == nil || (method != "REQUEST" && method != "CANCEL") {
		return nil
	}
	return MeetingRequestOf(cal, method)
}

// MeetingRequestOf converts the event of an iTIP object to the
// MeetingRequest element; nil when it has no event. The element is built
// in its 14.1 form; eas adapts it to the phone's version.
func MeetingRequestOf(cal *ical.Calendar, method string) *eas.MeetingRequest {
	ev, err := calconv.EventToEAS(cal, calconv.Options{Version: eas.V141})
	if err != nil || ev == nil {
		return nil
	}
	comp := firstEvent(cal)
	m := &eas.MeetingRequest{
		AllDayEvent:             ev.AllDayEvent,
		Location:                ev.Location,
		Sensitivity:             ev.Sensitivity,
		BusyStatus:              ev.BusyStatus,
		TimeZone:                ev.TimeZone,
		DisallowNewTimeProposal: ev.DisallowNewTimeProposal,
		ResponseRequested:       ev.ResponseRequested,
	}
	m.StartTime, _ = ev.StartTime.Time()
	m.EndTime, _ = ev.EndTime.Time()
	m.DtStamp, _ = ev.DtStamp.Time()
	if ev.OrganizerEmail != "" {
		m.Organizer = formatAddress(&mail.Address{Name: ev.OrganizerName, Address: ev.OrganizerEmail})
	}
	if m.ResponseRequested == nil && method == "REQUEST" {
		yes := true
		m.ResponseRequested = &yes
	}
	var recurrenceID time.Time
	if p := comp.Props.Get(ical.PropRecurrenceID); p != nil {
		if t, err := p.DateTime(time.UTC); err == nil {
			recurrenceID = t.UTC()
			m.RecurrenceID, m.InstanceType = recurrenceID, eas.InstanceException
		}
	}
	if r := ev.Recurrence; r != nil && m.InstanceType == eas.InstanceSingle {
		m.InstanceType = eas.InstanceMaster
		m.Recurrences = &eas.MeetingRecurrences{Recurrence: []eas.MeetingRecurrence{{
			Type: r.Type, Interval: r.Interval, Until: r.Until, Occurrences: r.Occurrences,
			WeekOfMonth: r.WeekOfMonth, DayOfMonth: r.DayOfMonth, DayOfWeek: r.DayOfWeek, MonthOfYear: r.MonthOfYear,
			CalendarType: r.CalendarType, IsLeapMonth: r.IsLeapMonth, FirstDayOfWeek: r.FirstDayOfWeek,
		}}}
	}
	if ev.UID != "" {
		m.GlobalObjID = base64.StdEncoding.EncodeToString(calconv.GlobalObjID(ev.UID, recurrenceID))
	}
	// MeetingMessageType is required from 14.1 on (MS-ASEMAIL 2.2.2.50);
	// a cancellation is 0, silent: there is nothing to answer.
	kind := 0
	if method == "REQUEST" {
		kind = eas.MeetingMessageRequest
		if p := comp.Props.Get(ical.PropSequence); p != nil {
			if n, err := strconv.Atoi(strings.TrimSpace(p.Value)); err == nil && n > 0 {
				kind = eas.MeetingMessageUpdate
			}
		}
	}
	m.MeetingMessageType = &kind
	return m
}

// firstEvent is the event a MeetingRequest describes: the series, or the
// one occurrence an update is about.
func firstEvent(cal *ical.Calendar) *ical.Component {
	var first *ical.Component
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
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
