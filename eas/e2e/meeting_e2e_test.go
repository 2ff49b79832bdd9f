package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
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
	var inbox, trash, calID string
	for _, f := range fs.Changes.Add {
		switch f.Type {
		case 2:
			inbox = f.ServerID
		case 4:
			trash = f.ServerID
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

	tkey := syncedKey(t, phone, trash, "0")
	ikey := m1.Collections[0].SyncKey

	// Answers that fail leave the invitation in the Inbox: one occurrence
	// of a meeting that is no series (146; InstanceId came with 14.1), an
	// answer that is none, an invitation that is not there.
	failing := []struct {
		q    eas.MeetingResponseQuestion
		want int
	}{
		{eas.MeetingResponseQuestion{UserResponse: eas.UserTentative, CollectionID: inbox, RequestID: add.ServerID, InstanceID: "20260326T130000Z"},
			map[bool]int{true: eas.MeetingResponseNotRecurring, false: eas.MeetingResponseInvalidRequest}[v.AtLeast(eas.V141)]},
		{eas.MeetingResponseQuestion{UserResponse: 9, CollectionID: inbox, RequestID: add.ServerID}, eas.MeetingResponseInvalidRequest},
		{eas.MeetingResponseQuestion{UserResponse: eas.UserAccepted, CollectionID: "999", RequestID: "999:1"}, eas.MeetingResponseInvalidRequest},
		{eas.MeetingResponseQuestion{UserResponse: eas.UserAccepted, CollectionID: inbox, RequestID: inbox + ":424242"}, eas.MeetingResponseInvalidRequest},
	}
	for i, f := range failing {
		if r := meetingAnswer(t, phone, f.q); r.Status != f.want || r.CalendarID != "" {
			t.Errorf("failing answer %d: %+v, want Status %d", i, r, f.want)
		}
	}
	if n := mailboxCount(t, g0, user, pw, "INBOX"); n != 1 {
		t.Fatalf("after failed answers the Inbox holds %d messages, want the invitation", n)
	}
	if res, err := phone.SyncAll(ctx, inbox, ikey, 0, nil); err != nil || res.Commands.Len() != 0 {
		t.Fatalf("Inbox after failed answers: %+v (%v)", res, err)
	}

	q := eas.MeetingResponseQuestion{UserResponse: eas.UserAccepted, CollectionID: inbox, RequestID: add.ServerID}
	if v == eas.V161 {
		q.SendResponse = &eas.MeetingSendResponse{}
	}
	res := meetingAnswer(t, phone, q)
	if res.Status != eas.MeetingResponseSuccess || !strings.HasPrefix(res.CalendarID, calID+":") {
		t.Fatalf("MeetingResponse: %+v (calendar %s)", res, calID)
	}
	calendarID := res.CalendarID

	// The answered invitation went to Trash; the phone learns it at its
	// next Sync of each folder, once.
	if in, tr := mailboxCount(t, g0, user, pw, "INBOX"), mailboxCount(t, g0, user, pw, "Trash"); in != 0 || tr != 1 {
		t.Errorf("after accepting: INBOX %d, Trash %d messages; want the invitation in Trash", in, tr)
	}
	ires, err := phone.SyncAll(ctx, inbox, ikey, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := ires.Commands.Delete; len(d) != 1 || d[0].ServerID != add.ServerID || ires.Commands.Len() != 1 {
		t.Errorf("Inbox after accepting: %+v, want the Delete of %s", ires.Commands, add.ServerID)
	}
	tres, err := phone.SyncAll(ctx, trash, tkey, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := tres.Commands.Add; len(a) != 1 || tres.Commands.Len() != 1 || a[0].ApplicationData == nil ||
		a[0].ApplicationData.MessageClass != "IPM.Schedule.Meeting.Request" {
		t.Errorf("Trash after accepting: %+v, want the invitation added", tres.Commands)
	}
	for _, again := range []struct{ coll, key string }{{inbox, ires.Key}, {trash, tres.Key}} {
		if r, err := phone.SyncAll(ctx, again.coll, again.key, 0, nil); err != nil || r.Commands.Len() != 0 {
			t.Errorf("collection %s again: %+v (%v)", again.coll, r, err)
		}
	}
	// The invitation is gone from the Inbox: answering it there again fails.
	if r := meetingAnswer(t, phone, eas.MeetingResponseQuestion{UserResponse: eas.UserDeclined, CollectionID: inbox, RequestID: add.ServerID}); r.Status != eas.MeetingResponseInvalidRequest {
		t.Errorf("answer to the moved invitation: %+v, want Status 2", r)
	}

	// One occurrence of the event in the calendar: no series (146), an
	// InstanceId that is no date-time (104).
	occ := []struct {
		q    eas.MeetingResponseQuestion
		want int
	}{
		{eas.MeetingResponseQuestion{UserResponse: eas.UserTentative, CollectionID: calID, RequestID: calendarID, InstanceID: "2026-03-26T13:00:00.000Z"}, eas.MeetingResponseNotRecurring},
		{eas.MeetingResponseQuestion{UserResponse: eas.UserTentative, CollectionID: calID, RequestID: calendarID, InstanceID: "yesterday"}, eas.MeetingResponseInvalidDateTime},
	}
	for i, o := range occ {
		if !v.AtLeast(eas.V141) {
			// InstanceId came with 14.1.
			o.want = eas.MeetingResponseInvalidRequest
		}
		if r := meetingAnswer(t, phone, o.q); r.Status != o.want || r.CalendarID != "" {
			t.Errorf("occurrence answer %d: %+v, want Status %d", i, r, o.want)
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

// meetingAnswer sends one MeetingResponse request and returns its result.
func meetingAnswer(t *testing.T, phone *easclient.Client, q eas.MeetingResponseQuestion) eas.MeetingResponseResult {
	t.Helper()
	var resp eas.MeetingResponseResponse
	if _, err := phone.Do(context.Background(), "MeetingResponse", &eas.MeetingResponseRequest{Request: []eas.MeetingResponseQuestion{q}}, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Result) != 1 {
		t.Fatalf("MeetingResponse: %d results for one request", len(resp.Result))
	}
	return resp.Result[0]
}

// syncedKey syncs a collection completely from key and returns the new key.
func syncedKey(t *testing.T, phone *easclient.Client, coll, key string) string {
	t.Helper()
	res, err := phone.SyncAll(context.Background(), coll, key, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Key
}

// mailboxCount is the number of messages Dovecot holds in a mailbox.
func mailboxCount(t *testing.T, g *testGateway, user, pw, mailbox string) uint32 {
	t.Helper()
	c := g.Dovecot.Dial(t, user, pw)
	defer c.Close()
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil {
		t.Fatalf("STATUS %s: %v", mailbox, err)
	}
	return *st.NumMessages
}
