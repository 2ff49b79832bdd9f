package calendars

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-webdav/caldav"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/bridge/mailconv"
	"github.com/easgate/easgate/eas"
)

var _ eas.MeetingResponder = (*Session)(nil)

// AnswersMeetings marks the store as the one that keeps the user's
// answers to meetings (eas.MeetingStore).
func (b *Backend) AnswersMeetings() {}

// RespondToMeeting records the user's answer to a meeting. An invitation
// from the mail goes into the default calendar (or updates the event of
// its UID there); an answer from a calendar changes the event in place.
// A decline takes the event (or the one occurrence) out of the calendar.
func (s *Session) RespondToMeeting(ctx context.Context, m eas.MeetingReply) (*eas.MeetingOutcome, error) {
	partstat, err := calconv.PartStat(m.Response)
	if err != nil {
		return nil, err
	}
	cur, folder, err := s.meetingEvent(ctx, m)
	if err != nil {
		return nil, err
	}
	o, err := s.options(ctx, eas.V161, path.Dir(cur.path)+"/")
	if err != nil {
		return nil, err
	}
	if m.User != "" {
		o.User = m.User
	}
	answered, err := calconv.SetPartStat(cur.cal, o.User, partstat, m.Instance, o)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", eas.ErrInvalidItem, err)
	}
	out := &eas.MeetingOutcome{}
	if m.Reply {
		if out.Reply, err = replyMessage(cur.cal, answered, partstat, o, m.Note); err != nil {
			return nil, err
		}
	}
	if m.Response == eas.UserDeclined {
		if m.Instance == "" {
			if cur.stored {
				if err := s.c.Delete(ctx, cur.path, ""); err != nil && !dav.IsStatus(err, 404, 410) {
					return nil, dav.EASError(err)
				}
			}
			return out, nil
		}
		if err := calconv.DeleteInstance(cur.cal, m.Instance, o); err != nil {
			return nil, err
		}
	}
	if _, err := s.store(ctx, cur); err != nil {
		return nil, err
	}
	out.Path, out.ServerID = folder, dav.ServerID(cur.path)
	return out, nil
}

// meetingEvent finds the event answered: the one named, or the
// invitation's event in the default calendar (new when it is not there).
func (s *Session) meetingEvent(ctx context.Context, m eas.MeetingReply) (*current, string, error) {
	if m.Event != nil {
		cur, k, err := s.load(ctx, *m.Event, "")
		if err != nil {
			return nil, "", err
		}
		if k != events {
			return nil, "", fmt.Errorf("%w: a task is no meeting", eas.ErrInvalidItem)
		}
		return cur, m.Event.Path, nil
	}
	inv, method := mailconv.Invitation(m.Invitation)
	uid := ""
	if inv != nil {
		uid = uidOf(inv, ical.CompEvent)
	}
	if method != "REQUEST" || uid == "" {
		return nil, "", fmt.Errorf("%w: the message is no meeting invitation", eas.ErrInvalidItem)
	}
	folder, err := s.DefaultCalendar(ctx)
	if err != nil {
		return nil, "", err
	}
	coll, _, _ := splitPath(folder)
	cur, err := s.findUID(ctx, coll, uid)
	if err != nil {
		return nil, "", err
	}
	if cur == nil {
		cur = &current{path: coll + objectName(uid)}
	}
	// The organizer's invitation is the event as it now is.
	cur.cal = inv
	return cur, folder, nil
}

// objectName is the resource name of an invitation's event: its UID when
// that is a good name, else a digest of it, so that the same invitation
// always lands on the same object.
func objectName(uid string) string {
	if safeName.MatchString(uid) {
		return uid + ".ics"
	}
	sum := sha256.Sum256([]byte(uid))
	return hex.EncodeToString(sum[:16]) + ".ics"
}

// findUID finds the event of a UID in a calendar with one calendar-query;
// nil when there is none.
func (s *Session) findUID(ctx context.Context, coll, uid string) (*current, error) {
	objs, err := s.c.CalDAV().QueryCalendar(ctx, coll, &caldav.CalendarQuery{
		CompRequest: caldav.CalendarCompRequest{Name: ical.CompCalendar, AllProps: true, AllComps: true},
		CompFilter: caldav.CompFilter{Name: ical.CompCalendar, Comps: []caldav.CompFilter{{
			Name: ical.CompEvent, Props: []caldav.PropFilter{{Name: ical.PropUID, TextMatch: &caldav.TextMatch{Text: uid}}},
		}}},
	})
	if err != nil {
		return nil, dav.EASError(err)
	}
	for _, o := range objs {
		if o.Data != nil && uidOf(o.Data, ical.CompEvent) == uid {
			return &current{path: o.Path, etag: o.ETag, stored: true, cal: o.Data}, nil
		}
	}
	return nil, nil
}

// replyMessage is the iMIP message (RFC 6047) of the user's answer: a
// line of text for people, the REPLY for their calendar.
func replyMessage(cal *ical.Calendar, answered *ical.Component, partstat string, o calconv.Options, note string) ([]byte, error) {
	reply, organizer, summary := calconv.Reply(cal, answered, o.User, o)
	if reply == nil {
		return nil, nil
	}
	data, err := calconv.Encode(reply)
	if err != nil {
		return nil, err
	}
	verb := map[string]string{"ACCEPTED": "Accepted", "TENTATIVE": "Tentative", "DECLINED": "Declined"}[partstat]
	var h mail.Header
	h.SetDate(o.Now)
	if o.Now.IsZero() {
		h.SetDate(time.Now())
	}
	h.SetAddressList("From", []*mail.Address{{Address: o.User}})
	h.SetAddressList("To", []*mail.Address{{Address: organizer}})
	h.SetSubject(verb + ": " + summary)
	if err := h.GenerateMessageID(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	w, err := mail.CreateInlineWriter(&b, h)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(note)
	if text == "" {
		text = fmt.Sprintf("%s has %s the invitation.", o.User, strings.ToLower(verb))
		if partstat == "TENTATIVE" {
			text = fmt.Sprintf("%s has tentatively accepted the invitation.", o.User)
		}
	}
	if err := part(w, "text/plain", map[string]string{"charset": "utf-8"}, []byte(text+"\r\n")); err != nil {
		return nil, err
	}
	if err := part(w, "text/calendar", map[string]string{"charset": "utf-8", "method": "REPLY"}, data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func part(w *mail.InlineWriter, typ string, params map[string]string, data []byte) error {
	var h mail.InlineHeader
	h.SetContentType(typ, params)
	// iCalendar lines are folded short (RFC 5545 3.1): no encoding needed,
	// and calendar clients read the REPLY most reliably without one.
	h.Set("Content-Transfer-Encoding", "8bit")
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := pw.Write(data); err != nil {
		return err
	}
	return pw.Close()
}
