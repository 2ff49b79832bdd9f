package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	gomail "github.com/emersion/go-message/mail"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// invitee is the attendee the invitations of testdata/mime/invitations
// are addressed to.
const invitee = "anna@example.org"

// TestInvitationSources: an invitation as Google, Outlook/Exchange, Apple
// and Thunderbird send it reaches a 16.1 phone as a meeting request; the
// phone accepts or declines it asking the server to answer; the REPLY the
// SMTP server gets and the default calendar are what the answer says.
func TestInvitationSources(t *testing.T) {
	sources := []struct {
		file, summary, uid, organizer string
		sequence                      string
		start                         time.Time
		recurring                     bool
	}{
		{"google.eml", "Planning (Google)", "5k2n7q9r1t3v5x7z9b1d3f5h7j@google.com", "marco.rossi@gmail.com", "0",
			time.Date(2027, 1, 15, 17, 0, 0, 0, time.UTC), false},
		{"outlook.eml", "Migration sync (Outlook)",
			"040000008200E00074C5B7101A82E00800000000D0A7C1D5E82BDB01000000000000000" + "01000000029D6B2C1A3E4F5061728394A5B6C7D8E",
			"priya.raman@corp.example.com", "1", time.Date(2027, 1, 20, 9, 0, 0, 0, time.UTC), true},
		{"apple.eml", "Breakfast (Apple)", "8F3C2A1B-4D5E-46F7-9A8B-1C2D3E4F5A6B", "jonas.weber@icloud.com", "0",
			time.Date(2027, 2, 3, 7, 0, 0, 0, time.UTC), true},
		{"thunderbird.eml", "Code review (Thunderbird)", "b6c7d8e9-f0a1-4b2c-93d4-e5f6a7b8c9d0", "tom@example.net", "2",
			time.Date(2027, 2, 10, 14, 0, 0, 0, time.UTC), false},
	}
	answers := []struct {
		name     string
		response int
		partstat string
	}{
		{"accept", eas.UserAccepted, "ACCEPTED"},
		{"decline", eas.UserDeclined, "DECLINED"},
	}
	for _, src := range sources {
		for _, ans := range answers {
			t.Run(strings.TrimSuffix(src.file, ".eml")+"/"+ans.name, func(t *testing.T) {
				raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mime", "invitations", src.file))
				if err != nil {
					t.Fatal(err)
				}
				inv := invitationGateway(t, raw)
				mr, serverID := inv.request(t)
				if !mr.StartTime.Equal(src.start) || mr.GlobalObjID == "" || !strings.Contains(mr.Organizer, src.organizer) ||
					(mr.Recurrences != nil) != src.recurring {
					t.Errorf("meeting request: start %v organizer %q recurrences %+v", mr.StartTime, mr.Organizer, mr.Recurrences)
				}
				res := inv.respond(t, ans.response, serverID)
				if res.Status != eas.MeetingResponseSuccess || (ans.response == eas.UserAccepted) != (res.CalendarID != "") {
					t.Errorf("MeetingResponse: %+v", res)
				}
				// Answered and replied to, the invitation left the Inbox.
				if in, tr := mailboxCount(t, inv.g, invitee, invitePW, "INBOX"), mailboxCount(t, inv.g, invitee, invitePW, "Trash"); in != 0 || tr != 1 {
					t.Errorf("after answering: INBOX %d, Trash %d messages; want the invitation in Trash", in, tr)
				}

				reply := inv.reply(t)
				if m := reply.Props.Get(ical.PropMethod); m == nil || m.Value != "REPLY" {
					t.Errorf("reply METHOD %v", m)
				}
				ev := eventOf(reply, src.uid)
				if ev == nil {
					t.Fatalf("reply has no VEVENT %s", src.uid)
				}
				if o := ev.Props.Get(ical.PropOrganizer); o == nil || !strings.EqualFold(o.Value, "mailto:"+src.organizer) {
					t.Errorf("reply ORGANIZER %v", o)
				}
				if s := ev.Props.Get(ical.PropSequence); src.sequence != "0" && (s == nil || s.Value != src.sequence) ||
					s != nil && s.Value != src.sequence {
					t.Errorf("reply SEQUENCE %v, want %s", s, src.sequence)
				}
				atts := ev.Props.Values(ical.PropAttendee)
				if len(atts) != 1 || !strings.EqualFold(atts[0].Value, "mailto:"+invitee) || atts[0].Params.Get(ical.ParamParticipationStatus) != ans.partstat {
					t.Errorf("reply ATTENDEE %+v, want only %s with PARTSTAT=%s", atts, invitee, ans.partstat)
				}

				held := inv.calendarEvent(t, src.uid)
				switch {
				case ans.response == eas.UserDeclined && held != nil:
					t.Errorf("declined event kept in the calendar")
				case ans.response == eas.UserAccepted && held == nil:
					t.Fatalf("accepted event not in the calendar")
				case held != nil:
					if p := partstatOf(held, invitee); p != ans.partstat {
						t.Errorf("calendar PARTSTAT %q, want %s", p, ans.partstat)
					}
					if s := held.Props.Get(ical.PropSummary); s == nil || s.Value != src.summary {
						t.Errorf("calendar SUMMARY %v", s)
					}
				}
			})
		}
	}
}

// invGateway is a gateway with Dovecot, Radicale and an SMTP server for
// the invitee, the invitation delivered into the Inbox.
type invGateway struct {
	g     *testGateway
	phone *easclient.Client
	sink  *smtptest.Server
	rad   *radicaletest.Server
	inbox string
}

// invitePW is the invitee's password.
const invitePW = "secret-anna"

func invitationGateway(t *testing.T, raw []byte) *invGateway {
	t.Helper()
	const pw = invitePW
	sink := smtptest.New(t, smtptest.Options{})
	g0 := startGateway(t, gatewayOptions{SMTPAddr: sink.Addr})
	g0.Dovecot.AddUser(t, invitee, pw)
	sink.AddUser(invitee, pw)
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{invitee: pw}})
	if err := rad.Calendar(invitee, "calendar", "Calendar", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	g0.Dovecot.Append(t, invitee, pw, "INBOX", raw)
	cals := calendars.New(calendars.Config{DAV: dav.Config{URL: rad.URL()}})
	comb := eas.Combine(g0.Backend, nil, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier()})
	g0.HTTP.Config.Handler = eas.NewServer(eas.Config{}, comb, g0.Store, comb).Handler()
	phone := g0.provisioned(t, invitee, pw, "invphone", eas.V161)
	fs, err := phone.FolderSync(context.Background(), "0")
	if err != nil {
		t.Fatal(err)
	}
	inv := &invGateway{g: g0, phone: phone, sink: sink, rad: rad}
	for _, f := range fs.Changes.Add {
		if f.Type == 2 {
			inv.inbox = f.ServerID
		}
	}
	return inv
}

// request syncs the Inbox and returns its one message's meeting request.
func (inv *invGateway) request(t *testing.T) (*eas.MeetingRequest, string) {
	t.Helper()
	ctx := context.Background()
	yes := true
	var m0, m1 mailSyncResp
	if _, err := inv.phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: inv.inbox}}}, &m0); err != nil {
		t.Fatal(err)
	}
	if _, err := inv.phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: m0.Collections[0].SyncKey, CollectionID: inv.inbox, GetChanges: &yes}}}, &m1); err != nil {
		t.Fatal(err)
	}
	c := m1.Collections[0]
	if c.Commands == nil || len(c.Commands.Add) != 1 {
		t.Fatalf("inbox: %+v", c)
	}
	add := c.Commands.Add[0]
	if add.Email.MessageClass != "IPM.Schedule.Meeting.Request" || add.Email.MeetingRequest == nil {
		t.Fatalf("invitation: class %q meeting %+v", add.Email.MessageClass, add.Email.MeetingRequest)
	}
	return add.Email.MeetingRequest, add.ServerID
}

func (inv *invGateway) respond(t *testing.T, response int, serverID string) eas.MeetingResponseResult {
	t.Helper()
	q := eas.MeetingResponseQuestion{UserResponse: response, CollectionID: inv.inbox, RequestID: serverID,
		SendResponse: &eas.MeetingSendResponse{}}
	var resp eas.MeetingResponseResponse
	if _, err := inv.phone.Do(context.Background(), "MeetingResponse", &eas.MeetingResponseRequest{Request: []eas.MeetingResponseQuestion{q}}, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Result) != 1 {
		t.Fatalf("MeetingResponse: %+v", resp)
	}
	return resp.Result[0]
}

// reply is the iCalendar object of the one message the SMTP server got,
// read from its text/calendar part.
func (inv *invGateway) reply(t *testing.T) *ical.Calendar {
	t.Helper()
	msgs := inv.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages sent, want the reply", len(msgs))
	}
	mr, err := gomail.CreateReader(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			t.Fatalf("no text/calendar part in %s", msgs[0].Data)
		}
		if err != nil {
			t.Fatal(err)
		}
		h, ok := p.Header.(*gomail.InlineHeader)
		if !ok {
			continue
		}
		typ, params, _ := h.ContentType()
		if typ != "text/calendar" {
			continue
		}
		if params["method"] != "REPLY" {
			t.Errorf("reply part method=%q", params["method"])
		}
		cal, err := ical.NewDecoder(p.Body).Decode()
		if err != nil {
			t.Fatal(err)
		}
		return cal
	}
}

// calendarEvent is the VEVENT of uid in the invitee's default calendar,
// read from Radicale; nil when there is none.
func (inv *invGateway) calendarEvent(t *testing.T, uid string) *ical.Component {
	t.Helper()
	ctx := context.Background()
	cl, err := dav.NewClient(dav.Config{URL: inv.rad.URL()}, dav.Credentials{Username: invitee, Password: "secret-anna"})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := cl.List(ctx, "/"+invitee+"/calendar/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		data, _, err := cl.Get(ctx, o.Path)
		if err != nil {
			t.Fatal(err)
		}
		cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
		if err != nil {
			t.Fatalf("%s: %v", o.Path, err)
		}
		if ev := eventOf(cal, uid); ev != nil {
			return ev
		}
	}
	return nil
}

// eventOf is the main VEVENT of uid in cal.
func eventOf(cal *ical.Calendar, uid string) *ical.Component {
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent || c.Props.Get(ical.PropRecurrenceID) != nil {
			continue
		}
		if u := c.Props.Get(ical.PropUID); u != nil && u.Value == uid {
			return c
		}
	}
	return nil
}

func partstatOf(ev *ical.Component, addr string) string {
	for _, a := range ev.Props.Values(ical.PropAttendee) {
		if strings.EqualFold(a.Value, "mailto:"+addr) {
			return a.Params.Get(ical.ParamParticipationStatus)
		}
	}
	return ""
}
