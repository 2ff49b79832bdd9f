package calendars

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-message/mail"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/eas"
)

var _ eas.InvitationMailer = (*Session)(nil)

// MailInvitationsWith gives the session the way to mail the iTIP messages
// of the meetings the user organizes (eas.InvitationMailer).
func (s *Session) MailInvitationsWith(send func(ctx context.Context, mime []byte) error) {
	s.send = send
}

// tell mails the attendees of a meeting the user organizes what a 16.x
// phone's write did to it (RFC 5546 over RFC 6047): the event as it is now
// (REQUEST) when it changed for them, a CANCEL when it went (after nil),
// was cancelled, or they were taken off it. Before 16.0 the phone mails
// them itself. A failure is logged: the calendar holds the change, and the
// attendees learn it from the next update.
func (s *Session) tell(ctx context.Context, v eas.Version, before, after *ical.Calendar) {
	if s.send == nil || !v.AtLeast(eas.V160) {
		return
	}
	o, err := s.options(ctx, v, "")
	if err != nil {
		s.log.Warn("no invitations mailed", zap.Error(err))
		return
	}
	if o.User == "" {
		return
	}
	var was, now []string
	if before != nil {
		was = calconv.Organized(before, o.User)
	}
	if after != nil {
		now = calconv.Organized(after, o.User)
	}
	var msgs []invitation
	switch {
	case after == nil || cancelled(after):
		cal := before
		if cal == nil {
			cal = after
		}
		msgs = append(msgs, invitation{"CANCEL", calconv.Cancel(cal, o), union(was, now)})
	default:
		if before == nil || differs(before, after) {
			msgs = append(msgs, invitation{"REQUEST", calconv.Request(after), now})
		}
		if gone := minus(was, now); len(gone) > 0 {
			msgs = append(msgs, invitation{"CANCEL", calconv.Cancel(before, o), gone})
		}
	}
	for _, m := range msgs {
		if len(m.to) == 0 {
			continue
		}
		if err := s.mail(ctx, m, o); err != nil {
			s.log.Warn("mailing a meeting "+strings.ToLower(m.method)+" failed", zap.Error(err))
		}
	}
}

type invitation struct {
	method string
	cal    *ical.Calendar
	to     []string
}

// mail sends one iMIP message: text for people, the iTIP object for
// their calendars (RFC 6047 2.4).
func (s *Session) mail(ctx context.Context, m invitation, o calconv.Options) error {
	data, err := calconv.Encode(m.cal)
	if err != nil {
		return err
	}
	summary := ""
	if ev := firstEvent(m.cal); ev != nil {
		summary, _ = ev.Props.Text(ical.PropSummary)
	}
	var h mail.Header
	h.SetDate(time.Now())
	h.SetAddressList("From", []*mail.Address{{Address: o.User}})
	var to []*mail.Address
	for _, a := range m.to {
		to = append(to, &mail.Address{Address: a})
	}
	h.SetAddressList("To", to)
	text := fmt.Sprintf("%s invites you to %q.", o.User, summary)
	subject := summary
	if m.method == "CANCEL" {
		subject = "Cancelled: " + summary
		text = fmt.Sprintf("%s has cancelled %q.", o.User, summary)
	}
	h.SetSubject(subject)
	if err := h.GenerateMessageID(); err != nil {
		return err
	}
	var b bytes.Buffer
	w, err := mail.CreateInlineWriter(&b, h)
	if err != nil {
		return err
	}
	if err := part(w, "text/plain", map[string]string{"charset": "utf-8"}, []byte(text+"\r\n")); err != nil {
		return err
	}
	if err := part(w, "text/calendar", map[string]string{"charset": "utf-8", "method": m.method}, data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return s.send(ctx, b.Bytes())
}

func firstEvent(cal *ical.Calendar) *ical.Component {
	for _, c := range cal.Children {
		if c.Name == ical.CompEvent && c.Props.Get(ical.PropRecurrenceID) == nil {
			return c
		}
	}
	return nil
}

// cancelled tells a meeting the organizer cancelled (MeetingStatus 5).
func cancelled(cal *ical.Calendar) bool {
	ev := firstEvent(cal)
	return ev != nil && strings.EqualFold(propValue(ev, ical.PropStatus), "CANCELLED")
}

// meetingProps are what attendees see of a meeting: a change of any of
// them is worth a new REQUEST; a reminder or a category is not.
var meetingProps = []string{ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDuration, ical.PropSummary,
	ical.PropLocation, ical.PropDescription, ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates,
	ical.PropAttendee, ical.PropStatus, ical.PropRecurrenceID}

func differs(a, b *ical.Calendar) bool {
	return !slices.Equal(meetingFacts(a), meetingFacts(b))
}

func meetingFacts(cal *ical.Calendar) []string {
	var out []string
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		out = append(out, "|")
		for _, n := range meetingProps {
			for _, p := range c.Props[n] {
				out = append(out, n+"="+p.Value)
			}
		}
	}
	return out
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.ContainsFunc(out, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}
