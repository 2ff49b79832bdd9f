package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

type mailSyncResp struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Collections []struct {
		SyncKey  string `wbxml:"SyncKey"`
		Status   int    `wbxml:"Status"`
		Commands *struct {
			Add []struct {
				ServerID string     `wbxml:"ServerId"`
				Email    *eas.Email `wbxml:"ApplicationData,omitempty"`
			} `wbxml:"Add"`
		} `wbxml:"Commands,omitempty"`
	} `wbxml:"Collections>Collection"`
}

// TestMeetingEndToEnd: an invitation in the Inbox reaches the phone as a
// meeting request; the phone accepts it; the event then syncs in the
// default calendar under the CalendarId the answer gave. A 16.1 phone
// asks the server to send the reply.
func TestMeetingEndToEnd(t *testing.T) {
	for _, v := range []eas.Version{eas.V140, eas.V141, eas.V161} {
		t.Run(v.String(), func(t *testing.T) { meetingEndToEnd(t, v) })
	}
}

func meetingEndToEnd(t *testing.T, v eas.Version) {
	sink := smtptest.New(t, smtptest.Options{})
	g0 := startGateway(t, gatewayOptions{SMTPAddr: sink.Addr})
	user, pw := g0.newUser(t)
	sink.AddUser(user, pw)
	if slices.Contains(g0.Server.Commands(), "MeetingResponse") {
		t.Error("MeetingResponse offered without a calendar store")
	}
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pw}})
	if err := rad.Calendar(user, "calendar", "Calendar", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	inv, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mime", "18-meeting-request.eml"))
	if err != nil {
		t.Fatal(err)
	}
	// The invitation is for this user (its ATTENDEE sits in base64).
	g0.Dovecot.Append(t, user, pw, "INBOX", []byte(strings.Replace(string(inv), "To: Anna Schmidt <anna@example.org>", "To: <"+user+">", 1)))
	ctx := context.Background()
	cals := calendars.New(calendars.Config{DAV: dav.Config{URL: rad.URL()}})
	comb := eas.Combine(g0.Backend, nil, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier()})
	srv := eas.NewServer(eas.Config{}, comb, g0.Store, comb)
	g0.HTTP.Config.Handler = srv.Handler()
	phone := g0.provisioned(t, user, pw, "meetphone"+strings.ReplaceAll(v.String(), ".", ""), v)
	h, err := phone.Options(ctx)
	if err != nil || !strings.Contains(h.Get("MS-ASProtocolCommands"), "MeetingResponse") {
		t.Errorf("OPTIONS commands %q (%v)", h.Get("MS-ASProtocolCommands"), err)
	}
	fs, err := phone.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	var inbox, calID string
	for _, f := range fs.Changes.Add {
		switch f.Type {
		case 2:
			inbox = f.ServerID
		case 8:
			calID = f.ServerID
		}
	}
	yes := true
	var m0, m1 mailSyncResp
	if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: inbox}}}, &m0); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: m0.Collections[0].SyncKey, CollectionID: inbox, GetChanges: &yes}}}, &m1); err != nil {
		t.Fatal(err)
	}
	c := m1.Collections[0]
	if c.Commands == nil || len(c.Commands.Add) != 1 {
		t.Fatalf("inbox: %+v", c)
	}
	add := c.Commands.Add[0]
	mr := add.Email.MeetingRequest
	if add.Email.MessageClass != "IPM.Schedule.Meeting.Request" || mr == nil || mr.GlobalObjID == "" || mr.TimeZone == "" ||
		!mr.StartTime.Equal(time.Date(2026, 3, 26, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("invitation: class %q meeting %+v", add.Email.MessageClass, mr)
	}
	if (v == eas.V161) != (mr.AirLocation != nil) || (v == eas.V161) == (mr.Location != nil) {
		t.Errorf("%s location: %v %+v", v, mr.Location, mr.AirLocation)
	}

	q := eas.MeetingResponseQuestion{UserResponse: eas.UserAccepted, CollectionID: inbox, RequestID: add.ServerID}
	if v == eas.V161 {
		q.SendResponse = &eas.MeetingSendResponse{}
	}
	var mresp eas.MeetingResponseResponse
	if _, err := phone.Do(ctx, "MeetingResponse", &eas.MeetingResponseRequest{Request: []eas.MeetingResponseQuestion{q}}, &mresp); err != nil {
		t.Fatal(err)
	}
	if len(mresp.Result) != 1 || mresp.Result[0].Status != eas.MeetingResponseSuccess || !strings.HasPrefix(mresp.Result[0].CalendarID, calID+":") {
		t.Fatalf("MeetingResponse: %+v (calendar %s)", mresp.Result, calID)
	}
	calendarID := mresp.Result[0].CalendarID
	bad := []eas.MeetingResponseQuestion{
		{UserResponse: 9, CollectionID: inbox, RequestID: add.ServerID},
		{UserResponse: eas.UserAccepted, CollectionID: "999", RequestID: "999:1"},
		{UserResponse: eas.UserAccepted, CollectionID: inbox, RequestID: inbox + ":424242"},
	}
	var bresp eas.MeetingResponseResponse
	if _, err := phone.Do(ctx, "MeetingResponse", &eas.MeetingResponseRequest{Request: bad}, &bresp); err != nil {
		t.Fatal(err)
	}
	for i, r := range bresp.Result {
		if r.Status != eas.MeetingResponseInvalidRequest || r.CalendarID != "" {
			t.Errorf("bad request %d: %+v, want Status 2", i, r)
		}
	}
	if len(bresp.Result) != len(bad) {
		t.Errorf("%d results for %d requests", len(bresp.Result), len(bad))
	}

	// One occurrence of a meeting that is no series (146), an InstanceId
	// that is no date-time (104), from the calendar and from the mail.
	occ := []struct {
		q    eas.MeetingResponseQuestion
		want int
	}{
		{eas.MeetingResponseQuestion{UserResponse: eas.UserTentative, CollectionID: calID, RequestID: calendarID, InstanceID: "2026-03-26T13:00:00.000Z"}, eas.MeetingResponseNotRecurring},
		{eas.MeetingResponseQuestion{UserResponse: eas.UserTentative, CollectionID: calID, RequestID: calendarID, InstanceID: "yesterday"}, eas.MeetingResponseInvalidDateTime},
		{eas.MeetingResponseQuestion{UserResponse: eas.UserTentative, CollectionID: inbox, RequestID: add.ServerID, InstanceID: "20260326T130000Z"}, eas.MeetingResponseNotRecurring},
	}
	for i, o := range occ {
		if !v.AtLeast(eas.V141) {
			// InstanceId came with 14.1.
			o.want = eas.MeetingResponseInvalidRequest
		}
		var oresp eas.MeetingResponseResponse
		if _, err := phone.Do(ctx, "MeetingResponse", &eas.MeetingResponseRequest{Request: []eas.MeetingResponseQuestion{o.q}}, &oresp); err != nil {
			t.Fatal(err)
		}
		if len(oresp.Result) != 1 || oresp.Result[0].Status != o.want || oresp.Result[0].CalendarID != "" {
			t.Errorf("occurrence answer %d: %+v, want Status %d", i, oresp.Result, o.want)
		}
	}

	var c0 calSyncResp
	if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: calID}}}, &c0); err != nil {
		t.Fatal(err)
	}
	var c1 calSyncResp
	if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c0.Collections[0].SyncKey, CollectionID: calID, GetChanges: &yes}}}, &c1); err != nil {
		t.Fatal(err)
	}
	cc := c1.Collections[0]
	if cc.Commands == nil || len(cc.Commands.Add) != 1 || cc.Commands.Add[0].ServerID != calendarID {
		t.Fatalf("calendar after accepting: %+v, want the event %s", cc.Commands, calendarID)
	}
	ev := cc.Commands.Add[0].Event
	if ev.Subject == nil || *ev.Subject != "Budget review" || ev.ResponseType == nil || *ev.ResponseType != eas.ResponseAccepted {
		t.Errorf("event: subject %v response %v", ev.Subject, ev.ResponseType)
	}

	msgs := sink.Messages()
	if v != eas.V161 {
		if len(msgs) != 0 {
			t.Errorf("a 14.1 phone mails its reply itself; the server sent %d", len(msgs))
		}
		return
	}
	if len(msgs) != 1 || !slices.Contains(msgs[0].To, "priya.raman@corp.example.com") ||
		!strings.Contains(string(msgs[0].Data), "METHOD:REPLY") || !strings.Contains(string(msgs[0].Data), "PARTSTAT=ACCEPTED") {
		t.Errorf("reply sent: %+v", msgs)
	}
}
