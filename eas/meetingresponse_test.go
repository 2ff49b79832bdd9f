package eas_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// meetingCalendar is a calendar store that answers meetings: an answer
// other than a decline puts an event into its Calendar folder; fail, when
// set, is the error of every answer.
type meetingCalendar struct {
	m       *fakeMail
	fail    error
	mu      sync.Mutex
	answers []eas.MeetingReply
}

func newMeetingCalendar() *meetingCalendar {
	m := &fakeMail{folders: map[string]*fakeFolder{}, invalid: map[string]bool{},
		atts: map[string]eas.AttachmentData{}, calls: map[string]int{}}
	m.addFolder("Calendar", "", eas.FolderCalendar)
	return &meetingCalendar{m: m}
}

func (c *meetingCalendar) Open(ctx context.Context, cred eas.Credentials) (eas.Session, error) {
	return &meetingSession{fakeMailbox: &fakeMailbox{m: c.m, user: cred.Username}, c: c}, nil
}

func (c *meetingCalendar) AnswersMeetings() {}

type meetingSession struct {
	*fakeMailbox
	c *meetingCalendar
}

func (s *meetingSession) RespondToMeeting(ctx context.Context, m eas.MeetingReply) (*eas.MeetingOutcome, error) {
	s.c.mu.Lock()
	s.c.answers = append(s.c.answers, m)
	fail := s.c.fail
	s.c.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	out := &eas.MeetingOutcome{}
	if m.Reply {
		out.Reply = []byte("Subject: Accepted\r\n\r\nMETHOD:REPLY\r\n")
	}
	if m.Response != eas.UserDeclined {
		out.Path, out.ServerID = "Calendar", s.c.m.add("Calendar", "Meeting", time.Now())
	}
	return out, nil
}

// startMeetingGateway is a fake gateway whose mail store sits beside a
// calendar store that answers meetings.
func startMeetingGateway(t *testing.T, v eas.Version, cal *meetingCalendar, noTrash bool) *fakeGateway {
	t.Helper()
	mail := newFakeMail()
	if noTrash {
		delete(mail.folders, "Trash")
	}
	combined := eas.Combine(fakeBackend{mail}, fakeNotifier{mail},
		eas.Upstream{Name: "cal", Backend: cal, Notifier: fakeNotifier{cal.m}})
	g := &fakeGateway{mail: mail, store: newMemStore()}
	g.server = eas.NewServer(eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second}, combined, g.store, combined)
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	g.phone = g.newPhone(t, "phone1", v)
	return g
}

// An invitation answered from the mail goes to Deleted Items once the
// calendar holds the answer (and the reply, when the server sends it, is
// out); the phone learns it at its next Sync of each folder, once. An
// answer that fails, a reply that could not be sent, an answer from the
// calendar, and an account without Deleted Items leave the mail where it
// was.
func TestMeetingResponseBinsInvitation(t *testing.T) {
	tests := []struct {
		name     string
		v        eas.Version
		response int
		folder   string // where the invitation is
		instance eas.CompactTime
		send     bool
		fail     error
		noTrash  bool
		fromCal  bool
		status   int
		moved    bool
	}{
		{name: "accept from the Inbox", v: eas.V141, response: eas.UserAccepted, folder: "INBOX", status: eas.MeetingResponseSuccess, moved: true},
		{name: "tentative from the Inbox", v: eas.V140, response: eas.UserTentative, folder: "INBOX", status: eas.MeetingResponseSuccess, moved: true},
		{name: "decline from the Inbox", v: eas.V141, response: eas.UserDeclined, folder: "INBOX", status: eas.MeetingResponseSuccess, moved: true},
		{name: "accept from a user folder", v: eas.V141, response: eas.UserAccepted, folder: "Work", status: eas.MeetingResponseSuccess, moved: true},
		{name: "accept from Deleted Items", v: eas.V141, response: eas.UserAccepted, folder: "Trash", status: eas.MeetingResponseSuccess},
		{name: "no Deleted Items", v: eas.V141, response: eas.UserAccepted, folder: "INBOX", noTrash: true, status: eas.MeetingResponseSuccess},
		// The fake mail store sends nothing: the reply fails.
		{name: "16.1 reply not sent", v: eas.V161, response: eas.UserAccepted, folder: "INBOX", send: true, status: eas.MeetingResponseSuccess},
		{name: "16.1 no reply asked", v: eas.V161, response: eas.UserAccepted, folder: "INBOX", status: eas.MeetingResponseSuccess, moved: true},
		{name: "one occurrence of no series", v: eas.V141, response: eas.UserAccepted, folder: "INBOX", instance: "2026-03-26T13:00:00.000Z",
			fail: eas.ErrNotRecurring, status: eas.MeetingResponseNotRecurring},
		{name: "no invitation", v: eas.V141, response: eas.UserAccepted, folder: "INBOX", fail: eas.ErrInvalidItem, status: eas.MeetingResponseInvalidRequest},
		{name: "calendar down", v: eas.V141, response: eas.UserAccepted, folder: "INBOX", fail: eas.ErrUnavailable, status: eas.MeetingResponseMailboxError},
		{name: "from the calendar", v: eas.V161, response: eas.UserAccepted, folder: "INBOX", fromCal: true, status: eas.MeetingResponseSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cal := newMeetingCalendar()
			g := startMeetingGateway(t, tc.v, cal, tc.noTrash)
			ctx := context.Background()
			src := g.id(t, tc.folder)
			id := g.mail.add(tc.folder, "Invitation: Budget review", time.Now())
			skey, _ := g.primed(t, g.phone, src)
			tkey := ""
			if !tc.noTrash && tc.folder != "Trash" {
				tkey, _ = g.primed(t, g.phone, g.id(t, "Trash"))
			}
			cal.fail = tc.fail

			q := eas.MeetingResponseQuestion{UserResponse: tc.response, CollectionID: src, RequestID: src + ":" + id, InstanceID: tc.instance}
			if tc.fromCal {
				calID := g.id(t, "Calendar")
				q.CollectionID, q.RequestID = calID, calID+":"+cal.m.add("Calendar", "Budget review", time.Now())
			}
			if tc.send {
				q.SendResponse = &eas.MeetingSendResponse{}
			}
			var resp eas.MeetingResponseResponse
			if _, err := g.phone.Do(ctx, "MeetingResponse", &eas.MeetingResponseRequest{Request: []eas.MeetingResponseQuestion{q}}, &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Result) != 1 || resp.Result[0].Status != tc.status {
				t.Fatalf("MeetingResponse: %+v, want Status %d", resp.Result, tc.status)
			}
			if len(cal.answers) != 1 || (cal.answers[0].Invitation == nil) != tc.fromCal {
				t.Errorf("calendar got %d answers (%+v)", len(cal.answers), cal.answers)
			}

			inSrc := g.mail.msg(tc.folder, id) != nil
			trashed := 0
			if !tc.noTrash && tc.folder != "Trash" {
				trashed = g.mail.count("Trash")
			}
			if inSrc == tc.moved || trashed != map[bool]int{true: 1}[tc.moved] {
				t.Fatalf("invitation in %s: %v, %d in Trash; want moved %v", tc.folder, inSrc, trashed, tc.moved)
			}

			// The next Sync of each folder tells the phone, once.
			res, err := g.phone.SyncAll(ctx, src, skey, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := idsOf(res.Commands.Delete), map[bool][]string{true: {src + ":" + id}}[tc.moved]; !slices.Equal(got, want) ||
				len(res.Commands.Add)+len(res.Commands.Change) != 0 {
				t.Errorf("%s after the answer: %+v, want Delete %v", tc.folder, res.Commands, want)
			}
			if again, err := g.phone.SyncAll(ctx, src, res.Key, 0, nil); err != nil || again.Commands.Len() != 0 {
				t.Errorf("%s again: %+v (%v)", tc.folder, again, err)
			}
			if tkey == "" {
				return
			}
			trash := g.id(t, "Trash")
			tres, err := g.phone.SyncAll(ctx, trash, tkey, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(tres.Commands.Add) != map[bool]int{true: 1}[tc.moved] || len(tres.Commands.Delete)+len(tres.Commands.Change) != 0 {
				t.Errorf("Trash after the answer: %+v", tres.Commands)
			}
			for _, a := range tres.Commands.Add {
				if !strings.HasPrefix(a.ServerID, trash+":") || a.ApplicationData == nil || a.ApplicationData.Subject != "Invitation: Budget review" {
					t.Errorf("Trash Add %+v", a)
				}
			}
			if again, err := g.phone.SyncAll(ctx, trash, tres.Key, 0, nil); err != nil || again.Commands.Len() != 0 {
				t.Errorf("Trash again: %+v (%v)", again, err)
			}
		})
	}
}

// A phone that deletes the invitation itself once the user answered it
// (the user swipes it away before the next Sync): its Delete of the
// message the server moved already neither fails the Sync nor leaves a
// second copy in Deleted Items, and the server sends no Delete back.
func TestMeetingResponsePhoneDeletesToo(t *testing.T) {
	cal := newMeetingCalendar()
	g := startMeetingGateway(t, eas.V141, cal, false)
	ctx := context.Background()
	inbox, trash := g.id(t, "INBOX"), g.id(t, "Trash")
	id := g.mail.add("INBOX", "Invitation: Budget review", time.Now())
	ikey, _ := g.primed(t, g.phone, inbox)
	tkey, _ := g.primed(t, g.phone, trash)

	q := eas.MeetingResponseQuestion{UserResponse: eas.UserAccepted, CollectionID: inbox, RequestID: inbox + ":" + id}
	var resp eas.MeetingResponseResponse
	if _, err := g.phone.Do(ctx, "MeetingResponse", &eas.MeetingResponseRequest{Request: []eas.MeetingResponseQuestion{q}}, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Result) != 1 || resp.Result[0].Status != eas.MeetingResponseSuccess {
		t.Fatalf("MeetingResponse: %+v", resp.Result)
	}
	var cmds eas.SyncCommands
	if err := cmds.DeleteCommand(inbox + ":" + id); err != nil {
		t.Fatal(err)
	}
	col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: ikey, CollectionID: inbox, Commands: &cmds})
	if col.Status != eas.SyncSuccess || col.Commands != nil {
		t.Fatalf("Inbox Sync with the phone's Delete: status %d commands %+v", col.Status, col.Commands)
	}
	if res, err := g.phone.SyncAll(ctx, inbox, col.SyncKey, 0, nil); err != nil || res.Commands.Len() != 0 {
		t.Errorf("Inbox afterwards: %+v (%v)", res, err)
	}
	tres, err := g.phone.SyncAll(ctx, trash, tkey, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.mail.count("Trash") != 1 || len(tres.Commands.Add) != 1 || tres.Commands.Len() != 1 {
		t.Errorf("Trash holds %d, its Sync %+v; want the invitation once", g.mail.count("Trash"), tres.Commands)
	}
}
