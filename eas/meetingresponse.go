package eas

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// MeetingResponse (MS-ASCMD 2.2.1.11): the user accepts, tentatively
// accepts or declines a meeting, from the invitation in a mail folder or
// from the event in a calendar folder. The calendar store puts the event
// into the default calendar with the user's answer (or takes it out on a
// decline); the answer names the event as the phone will see it there.
// Up to 14.1 the phone mails the organizer itself; with 16.x SendResponse
// the server sends the iTIP REPLY. An invitation answered from the mail
// then goes to Deleted Items (binInvitation).

// MeetingResponseRequest is the MeetingResponse request body.
type MeetingResponseRequest struct {
	XMLName wbxml.Name                `wbxml:"MeetingResponse:MeetingResponse"`
	Request []MeetingResponseQuestion `wbxml:"MeetingResponse:Request"`
}

// MeetingResponseQuestion is one answer of the user.
type MeetingResponseQuestion struct {
	// UserResponse: 1 accepted, 2 tentative, 3 declined.
	UserResponse int    `wbxml:"MeetingResponse:UserResponse"`
	CollectionID string `wbxml:"MeetingResponse:CollectionId,omitempty"`
	RequestID    string `wbxml:"MeetingResponse:RequestId,omitempty"`
	// LongID names a Search result; easgate answers those with Status 2.
	LongID string `wbxml:"Search:LongId,omitempty"`
	// InstanceID (14.1+) answers one occurrence of a series.
	InstanceID CompactTime `wbxml:"MeetingResponse:InstanceId,omitempty"`
	// AirInstanceID is the same in the AirSyncBase form some 16.x phones
	// send.
	AirInstanceID CompactTime `wbxml:"AirSyncBase:InstanceId,omitempty"`
	// SendResponse (16.0+) asks the server to send the reply.
	SendResponse *MeetingSendResponse `wbxml:"MeetingResponse:SendResponse,omitempty"`
}

// MeetingSendResponse is the 16.x SendResponse element.
type MeetingSendResponse struct {
	Body *Body `wbxml:"AirSyncBase:Body,omitempty"`
}

// MeetingResponseResponse is the MeetingResponse answer.
type MeetingResponseResponse struct {
	XMLName wbxml.Name              `wbxml:"MeetingResponse:MeetingResponse"`
	Result  []MeetingResponseResult `wbxml:"MeetingResponse:Result"`
}

// MeetingResponseResult answers one Request.
type MeetingResponseResult struct {
	RequestID string `wbxml:"MeetingResponse:RequestId,omitempty"`
	Status    int    `wbxml:"MeetingResponse:Status"`
	// CalendarID is the ServerId of the event in the calendar; absent on a
	// decline.
	CalendarID string `wbxml:"MeetingResponse:CalendarId,omitempty"`
}

// MeetingResponse statuses.
const (
	MeetingResponseSuccess        = 1
	MeetingResponseInvalidRequest = 2
	MeetingResponseMailboxError   = 3
	MeetingResponseServerError    = 4
	// MeetingResponseInvalidDateTime: an InstanceId that is no date-time.
	MeetingResponseInvalidDateTime = StatusInvalidDateTime
	// MeetingResponseNotRecurring: an InstanceId for an event that is no
	// series (NoRecurrenceInCalendar).
	MeetingResponseNotRecurring = 146
)

// ErrNotRecurring is the error of a store asked to answer or change one
// occurrence of an event that is no series: MeetingResponse Status 146,
// Sync Status 6.
var ErrNotRecurring = fmt.Errorf("%w: the event does not recur", ErrInvalidItem)

// User responses.
const (
	UserAccepted  = 1
	UserTentative = 2
	UserDeclined  = 3
)

// MeetingReply is a user's answer to a meeting for the calendar store.
type MeetingReply struct {
	// Invitation is the invitation message (RFC 5322 with a text/calendar
	// part, RFC 6047) when the answer comes from the mail.
	Invitation []byte
	// Event names the event answered from a calendar folder.
	Event *ItemRef
	// Response is UserAccepted, UserTentative or UserDeclined.
	Response int
	// Instance, when set, answers one occurrence of a series.
	Instance CompactTime
	// User is the address of the user answering.
	User string
	// Reply asks for the iTIP REPLY to the organizer (16.x SendResponse);
	// Note is the text the user wrote for it.
	Reply bool
	Note  string
}

// MeetingOutcome is where the answered event is afterwards.
type MeetingOutcome struct {
	// Path and ServerID name the event in the calendar; "" when it left
	// the calendar (declined).
	Path, ServerID string
	// Reply is the REPLY message to send the organizer when one was asked
	// for; nil when there is nobody to answer.
	Reply []byte
}

// MeetingResponder stores a user's answers to meetings in the calendar.
// It returns ErrInvalidItem for something that is no meeting invitation.
type MeetingResponder interface {
	RespondToMeeting(ctx context.Context, m MeetingReply) (*MeetingOutcome, error)
}

// MeetingStore is a store of the other classes that answers meetings
// (its sessions are MeetingResponders): with one, the server offers
// MeetingResponse.
type MeetingStore interface {
	SessionOpener
	AnswersMeetings()
}

// answersMeetings reports whether the backend has a calendar store that
// answers meetings.
func answersMeetings(b Backend) bool {
	c, ok := b.(*Combined)
	if !ok {
		return false
	}
	for _, u := range c.ups {
		if _, ok := u.Backend.(MeetingStore); ok {
			return true
		}
	}
	return false
}

func (s *Server) handleMeetingResponse(ctx context.Context, r *request) (*reply, error) {
	var req MeetingResponseRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &MeetingResponseResponse{}
	// One listing of the folders serves every answer's Deleted Items.
	folders := newRequestFolders(r)
	for _, q := range req.Request {
		res, err := s.meetingResponse(ctx, r, folders, q)
		if err != nil {
			return nil, err
		}
		resp.Result = append(resp.Result, res)
	}
	st := MeetingResponseSuccess
	if len(resp.Result) > 0 {
		st = resp.Result[0].Status
	}
	return &reply{body: resp, easStatus: st}, nil
}

// meetingResponse carries out one answer; an error ends the request.
func (s *Server) meetingResponse(ctx context.Context, r *request, folders *requestFolders, q MeetingResponseQuestion) (MeetingResponseResult, error) {
	res := MeetingResponseResult{RequestID: q.RequestID, Status: MeetingResponseInvalidRequest}
	if q.UserResponse < UserAccepted || q.UserResponse > UserDeclined || q.LongID != "" {
		return res, nil
	}
	instance, status := meetingInstance(q, r.version())
	if status != 0 {
		res.Status = status
		return res, nil
	}
	path, err := s.folderPath(ctx, r, q.CollectionID)
	if errors.Is(err, ErrNotFound) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	id, ok := splitServerID(q.CollectionID, q.RequestID)
	if !ok {
		return res, nil
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return res, err
	}
	responder, ok := mb.(MeetingResponder)
	if !ok {
		res.Status = MeetingResponseServerError
		return res, nil
	}
	m := MeetingReply{Response: q.UserResponse, Instance: instance, User: r.user, Reply: q.SendResponse != nil}
	if q.SendResponse != nil && q.SendResponse.Body != nil {
		m.Note = q.SendResponse.Body.Data
	}
	ref := ItemRef{Path: path, ServerID: id}
	if i, _ := s.combinedOwner(path); i >= 0 {
		// A folder of another upstream: the event in a calendar.
		m.Event = &ref
	} else {
		// The phone's cursor guards the invitation: a folder made anew
		// since may hold another message under the same UID.
		if ref.Cursor, err = s.cursorOf(ctx, r, q.CollectionID); err != nil {
			return res, err
		}
		if m.Invitation, err = invitationMIME(ctx, mb, ref); err != nil {
			return s.meetingFailure(r, res, err)
		}
	}
	out, err := responder.RespondToMeeting(ctx, m)
	if err != nil {
		return s.meetingFailure(r, res, err)
	}
	if out.Path != "" {
		if res.CalendarID, err = s.calendarID(ctx, r, out); err != nil {
			return res, err
		}
	}
	if sendMeetingReply(ctx, r, mb, m, out) && m.Invitation != nil {
		binInvitation(ctx, r, mb, folders, ref)
	}
	res.Status = MeetingResponseSuccess
	return res, nil
}

// meetingInstance is the occurrence q answers, "" for the whole meeting,
// or the Status that refuses q.
func meetingInstance(q MeetingResponseQuestion, v Version) (CompactTime, int) {
	instance := cmp.Or(q.InstanceID, q.AirInstanceID)
	switch {
	case instance == "":
		return "", 0
	case !v.AtLeast(V141):
		// InstanceId came with 14.1 (MS-ASCMD 2.2.3.89.1).
		return "", MeetingResponseInvalidRequest
	}
	if t, err := instance.Time(); err != nil || t.IsZero() {
		return "", MeetingResponseInvalidDateTime
	}
	return instance, 0
}

// sendMeetingReply sends the REPLY the store made when the phone asked
// for one, and reports whether the organizer has the answer as far as
// easgate is concerned (sent, or not easgate's to send).
func sendMeetingReply(ctx context.Context, r *request, mb Mailbox, m MeetingReply, out *MeetingOutcome) bool {
	if !m.Reply || out.Reply == nil {
		return true
	}
	if err := mb.Send(ctx, Compose{MIME: out.Reply, SaveInSent: true}); err != nil {
		// The calendar holds the answer; the organizer learns it from
		// the next update the user sends, or from a new answer to the
		// invitation, which stays for that.
		r.log.Warn("sending a meeting reply failed", zap.Error(err))
		return false
	}
	return true
}

// binInvitation moves an answered invitation to Deleted Items, as
// Exchange does: iOS Mail, Outlook and Android expect it to leave the
// Inbox once answered. The phone is not told here: its next Sync of the
// folder deletes the message and that of Deleted Items adds it, as for a
// move another client made. The answer stands whatever becomes of the
// message, so a failure is only logged.
//
// An answer from the calendar leaves the invitation where it is: nothing
// links the event to its message but the UID inside the text/calendar
// part, and finding that would mean a search through every message body
// of the user's folders.
func binInvitation(ctx context.Context, r *request, mb Mailbox, folders *requestFolders, ref ItemRef) {
	trash, err := folders.trashPath(ctx)
	switch {
	case err != nil:
		r.log.Warn("answered invitation left in place: folders unknown", zap.Error(err))
		return
	case trash == "":
		r.log.Info("answered invitation left in place: no Deleted Items folder", zap.String("folder", ref.Path))
		return
	case trash == ref.Path:
		// Answered from Deleted Items: it is where it belongs.
		return
	}
	if _, _, err := mb.Move(ctx, ref, trash); err != nil {
		r.log.Warn("moving an answered invitation to Deleted Items failed", zap.String("folder", ref.Path), zap.Error(err))
	}
}

// combinedOwner is the upstream that holds path, -1 for the mail store.
func (s *Server) combinedOwner(path string) (int, string) {
	if c, ok := s.backend.(*Combined); ok {
		return c.owner(path)
	}
	return -1, path
}

// invitationMIME reads the invitation message whole.
func invitationMIME(ctx context.Context, mb Mailbox, ref ItemRef) ([]byte, error) {
	e, err := fetchEmail(ctx, mb, ref, BodyOptions{Preferences: []BodyPreference{{Type: BodyMIME}}, MIMESupport: 2})
	if err != nil {
		return nil, err
	}
	if e == nil || e.Body == nil || e.Body.Data == "" {
		return nil, fmt.Errorf("invitation %s: no message: %w", ref.ServerID, ErrNotFound)
	}
	return []byte(e.Body.Data), nil
}

// meetingFailure turns a store error into the answer's status.
func (s *Server) meetingFailure(r *request, res MeetingResponseResult, err error) (MeetingResponseResult, error) {
	switch {
	case errors.Is(err, ErrNotRecurring):
		res.Status = MeetingResponseNotRecurring
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidItem):
		res.Status = MeetingResponseInvalidRequest
	case fatal(err):
		return res, err
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrFolderUnavailable), errors.Is(err, ErrConflict):
		res.Status = MeetingResponseMailboxError
	default:
		r.log.Error("answering a meeting failed", zap.Error(err))
		res.Status = MeetingResponseServerError
	}
	return res, nil
}

// calendarID is the ServerId under which the event syncs.
func (s *Server) calendarID(ctx context.Context, r *request, out *MeetingOutcome) (string, error) {
	ids, err := s.folderIDs(ctx, r)
	if err != nil {
		return "", err
	}
	for _, f := range ids {
		if f.Path == out.Path {
			return itemServerID(f.ID, out.ServerID), nil
		}
	}
	// The phone has not seen the calendar yet: it learns the event when
	// it syncs it.
	return "", nil
}

// RespondToMeeting hands the answer to the store that answers meetings;
// the event's path comes back in the combined form.
func (s *combinedSession) RespondToMeeting(ctx context.Context, m MeetingReply) (*MeetingOutcome, error) {
	for i, u := range s.c.ups {
		if _, ok := u.Backend.(MeetingStore); !ok {
			continue
		}
		if m.Event != nil {
			j, p := s.c.owner(m.Event.Path)
			if j != i {
				continue
			}
			ev := *m.Event
			ev.Path = p
			m.Event = &ev
		}
		se, err := s.session(ctx, i)
		if err != nil {
			return nil, err
		}
		mr, ok := se.(MeetingResponder)
		if !ok {
			continue
		}
		out, err := mr.RespondToMeeting(ctx, m)
		if err != nil {
			return nil, upstreamError(upstreamPrefix(u.Name), err)
		}
		if out.Path != "" {
			out.Path = upstreamPrefix(u.Name) + out.Path
		}
		return out, nil
	}
	return nil, fmt.Errorf("no calendar answers meetings: %w", ErrInvalidItem)
}
