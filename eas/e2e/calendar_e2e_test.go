package e2e_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

type calSyncResp struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Status      int        `wbxml:"Status,omitempty"`
	Collections []calColl  `wbxml:"Collections>Collection"`
}
type calColl struct {
	SyncKey       string             `wbxml:"SyncKey"`
	CollectionID  string             `wbxml:"CollectionId"`
	Status        int                `wbxml:"Status"`
	MoreAvailable bool               `wbxml:"MoreAvailable,empty"`
	Commands      *calCmds           `wbxml:"Commands,omitempty"`
	Responses     *eas.SyncResponses `wbxml:"Responses,omitempty"`
}
type calCmds struct {
	Add    []calItem        `wbxml:"Add"`
	Change []calItem        `wbxml:"Change"`
	Delete []eas.SyncItemID `wbxml:"Delete"`
}

// calItem is an item of a calendar or task folder: the response type
// decodes both classes' elements into one of the two.
type calItem struct {
	ServerID string        `wbxml:"ServerId"`
	Event    *eas.Calendar `wbxml:"ApplicationData,omitempty"`
}
type taskItem struct {
	ServerID string    `wbxml:"ServerId"`
	Task     *eas.Task `wbxml:"ApplicationData,omitempty"`
}
type taskSyncResp struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Collections []struct {
		SyncKey   string             `wbxml:"SyncKey"`
		Status    int                `wbxml:"Status"`
		Responses *eas.SyncResponses `wbxml:"Responses,omitempty"`
		Commands  *struct {
			Add []taskItem `wbxml:"Add"`
		} `wbxml:"Commands,omitempty"`
	} `wbxml:"Collections>Collection"`
}

const e2eSeries = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:standup-1
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20270301T090000
DTEND;TZID=Europe/Berlin:20270301T091500
RRULE:FREQ=DAILY;COUNT=10
SUMMARY:Standup
LOCATION:Room 1
X-KEEP:kept
END:VEVENT
BEGIN:VEVENT
UID:standup-1
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20270302T090000
DTSTART;TZID=Europe/Berlin:20270302T100000
DTEND;TZID=Europe/Berlin:20270302T101500
SUMMARY:Standup (late)
END:VEVENT
END:VCALENDAR
`

const e2eTodo = `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VTODO
UID:todo-1
DTSTAMP:20260101T000000Z
SUMMARY:File taxes
DUE;VALUE=DATE:20270415
END:VTODO
END:VCALENDAR
`

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// TestCalendarEndToEnd runs a phone of each protocol generation against
// the whole gateway (Dovecot for mail, Radicale for calendars and tasks).
func TestCalendarEndToEnd(t *testing.T) {
	for _, v := range []eas.Version{eas.V141, eas.V161} {
		t.Run(v.String(), func(t *testing.T) { calendarEndToEnd(t, v) })
	}
}

func calendarEndToEnd(t *testing.T, v eas.Version) {
	g0 := startGateway(t, gatewayOptions{})
	user, pw := g0.newUser(t)
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pw}})
	if err := rad.Calendar(user, "calendar", "Calendar", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	if err := rad.Calendar(user, "tasks", "Tasks", "VTODO"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for p, data := range map[string]string{"/" + user + "/calendar/standup.ics": e2eSeries, "/" + user + "/tasks/taxes.ics": e2eTodo} {
		if st, _, err := rad.Do(ctx, user, http.MethodPut, p, "text/calendar", crlf(data)); err != nil || st != 201 {
			t.Fatalf("PUT %s: %d %v", p, st, err)
		}
	}
	cals := calendars.New(calendars.Config{DAV: dav.Config{URL: rad.URL()}, PollInterval: 100 * time.Millisecond})
	comb := eas.Combine(g0.Backend, nil, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier()})
	srv := eas.NewServer(eas.Config{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}, comb, g0.Store, comb)
	g0.HTTP.Config.Handler = srv.Handler()
	phone := g0.provisioned(t, user, pw, "calphone"+strings.ReplaceAll(v.String(), ".", ""), v)

	fs, err := phone.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	var calID, taskID string
	for _, f := range fs.Changes.Add {
		switch f.Type {
		case 8:
			calID = f.ServerID
		case 7:
			taskID = f.ServerID
		case 13, 15:
			t.Errorf("unexpected folder %+v", f)
		}
	}
	if calID == "" || taskID == "" {
		t.Fatalf("calendar %q tasks %q in %+v", calID, taskID, fs.Changes.Add)
	}
	sync := func(req *eas.SyncRequest) calColl {
		t.Helper()
		var resp calSyncResp
		if _, err := phone.Do(ctx, "Sync", req, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Collections) != 1 {
			t.Fatalf("sync response %+v", resp)
		}
		return resp.Collections[0]
	}
	yes := true
	c0 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: calID}}})
	c1 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c0.SyncKey, CollectionID: calID, GetChanges: &yes,
		Options: []eas.SyncOptions{{FilterType: intp(0), BodyPreference: []eas.BodyPreference{{Type: 1, TruncationSize: 500}}}}}}})
	if c1.Status != 1 || c1.Commands == nil || len(c1.Commands.Add) != 1 {
		t.Fatalf("first sync: %+v", c1)
	}
	series := c1.Commands.Add[0]
	ev := series.Event
	if ev == nil || ev.Subject == nil || *ev.Subject != "Standup" || ev.Recurrence == nil || ev.Recurrence.Occurrences != 10 {
		t.Fatalf("series: %+v", ev)
	}
	if ev.Exceptions == nil || len(ev.Exceptions.Exception) != 1 {
		t.Fatalf("series exceptions: %+v", ev.Exceptions)
	}
	x := ev.Exceptions.Exception[0]
	if v == eas.V161 {
		if x.InstanceID == "" || x.ExceptionStartTime != "" || ev.Location != nil || ev.AirLocation == nil || ev.AirLocation.DisplayName != "Room 1" {
			t.Errorf("16.1 shape: exception %+v location %v %+v", x, ev.Location, ev.AirLocation)
		}
	} else if x.ExceptionStartTime == "" || x.InstanceID != "" || ev.Location == nil || *ev.Location != "Room 1" || ev.AirLocation != nil {
		t.Errorf("14.1 shape: exception %+v location %v %+v", x, ev.Location, ev.AirLocation)
	}

	// The phone renames the series, deletes the occurrence of 5 March and
	// adds an event.
	fifth := eas.NewCompactTime(time.Date(2027, 3, 5, 8, 0, 0, 0, time.UTC))
	var cmds eas.SyncCommands
	subject := "Daily standup"
	if v == eas.V161 {
		if err := cmds.ChangeItemCommand(series.ServerID, &eas.Calendar{Subject: &subject}); err != nil {
			t.Fatal(err)
		}
		if err := cmds.DeleteInstanceCommand(series.ServerID, fifth); err != nil {
			t.Fatal(err)
		}
	} else {
		changed := *ev
		changed.Subject = &subject
		changed.Exceptions = &eas.Exceptions{Exception: append(ev.Exceptions.Exception, eas.Exception{Deleted: true, ExceptionStartTime: fifth})}
		if err := cmds.ChangeItemCommand(series.ServerID, &changed); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Date(2027, 4, 1, 12, 0, 0, 0, time.UTC)
	lunch := "Lunch with Ana"
	add := &eas.Calendar{Subject: &lunch, StartTime: eas.NewCompactTime(start), EndTime: eas.NewCompactTime(start.Add(time.Hour)),
		TimeZone: calconv.TimeZoneFor(time.UTC, start).Encode()}
	if v == eas.V161 {
		add.TimeZone = ""
		add.ClientUID = "e2e-client-uid"
	}
	if err := cmds.AddItemCommand("new1", add); err != nil {
		t.Fatal(err)
	}
	c2 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c1.SyncKey, CollectionID: calID, Commands: &cmds}}})
	if c2.Status != 1 || c2.Responses == nil || len(c2.Responses.Add) != 1 || len(c2.Responses.Change) != 0 || len(c2.Responses.Delete) != 0 {
		t.Fatalf("phone commands: status %d responses %+v", c2.Status, c2.Responses)
	}
	added := c2.Responses.Add[0]
	if added.Status != 1 || added.ServerID == "" {
		t.Fatalf("phone Add: %+v", added)
	}
	// MS-ASCAL 2.2.2.46: the server returns the UID it made (16.x, which
	// sends none, or an older phone that sent none).
	if added.ApplicationData == nil || added.ApplicationData.UID == "" {
		t.Fatalf("phone Add answered without the item's UID: %+v", added)
	}
	if v == eas.V161 && added.ApplicationData.UID != add.ClientUID {
		t.Errorf("16.1 Add answered UID %q, want the ClientUid %q it was made of", added.ApplicationData.UID, add.ClientUID)
	}
	// The phone lost that answer and sends the request again: the same
	// answer, UID included, and no second event.
	again := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c1.SyncKey, CollectionID: calID, Commands: &cmds}}})
	if again.Responses == nil || len(again.Responses.Add) != 1 || !reflect.DeepEqual(again.Responses.Add[0], added) {
		t.Fatalf("repeated request answered %+v, first %+v", again.Responses, added)
	}
	cl, _ := dav.NewClient(dav.Config{URL: rad.URL()}, dav.Credentials{Username: user, Password: pw})
	raw, _, err := cl.Get(ctx, "/"+user+"/calendar/standup.ics")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(string(raw), "\r\n ", "")
	for _, w := range []string{"SUMMARY:Daily standup", "X-KEEP:kept", "EXDATE", "20270305T", "SUMMARY:Standup (late)", "LOCATION:Room 1"} {
		if !strings.Contains(got, w) {
			t.Errorf("server's series lacks %q:\n%s", w, got)
		}
	}
	objs, err := cl.List(ctx, "/"+user+"/calendar/")
	if err != nil || len(objs) != 2 {
		t.Fatalf("server has %d events (%v), want 2", len(objs), err)
	}
	found := false
	for _, o := range objs {
		if strings.HasSuffix(added.ServerID, ":"+o.Path[strings.LastIndex(o.Path, "/")+1:]) {
			found = true
			data, _, _ := cl.Get(ctx, o.Path)
			if !strings.Contains(string(data), "SUMMARY:Lunch with Ana") || !strings.Contains(string(data), "UID:"+added.ApplicationData.UID+"\r\n") {
				t.Errorf("the phone's event on the server (UID %q in the Add response):\n%s", added.ApplicationData.UID, data)
			}
		}
	}
	if !found {
		t.Errorf("no object on the server for the phone's Add %s", added.ServerID)
	}

	// Nothing new for the phone: its own writes do not come back. (It
	// goes on from the key of the answer it got, the repeated one.)
	c3 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: again.SyncKey, CollectionID: calID, GetChanges: &yes}}})
	if c3.Commands != nil {
		t.Errorf("the phone's own writes came back: %+v", c3.Commands)
	}
	// Another client deletes the phone's event; the phone deletes the series.
	for _, o := range objs {
		if !strings.HasSuffix(o.Path, "standup.ics") {
			if st, _, err := rad.Do(ctx, user, http.MethodDelete, o.Path, "", nil); err != nil || st/100 != 2 {
				t.Fatalf("delete %s: %d %v", o.Path, st, err)
			}
		}
	}
	var del eas.SyncCommands
	if err := del.DeleteCommand(series.ServerID); err != nil {
		t.Fatal(err)
	}
	c4 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c3.SyncKey, CollectionID: calID, GetChanges: &yes, Commands: &del}}})
	if c4.Commands == nil || len(c4.Commands.Delete) != 1 || c4.Commands.Delete[0].ServerID != added.ServerID {
		t.Errorf("upstream delete: %+v", c4.Commands)
	}
	if _, _, err := cl.Get(ctx, "/"+user+"/calendar/standup.ics"); !dav.IsStatus(err, 404) {
		t.Errorf("series after the phone's delete: %v", err)
	}

	// Tasks: the server's task reaches the phone, the phone's new one the server.
	var t0, t1 taskSyncResp
	if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: taskID}}}, &t0); err != nil {
		t.Fatal(err)
	}
	var tcmds eas.SyncCommands
	call := "Call the plumber"
	if err := tcmds.AddItemCommand("t1", &eas.Task{Subject: &call}); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: t0.Collections[0].SyncKey, CollectionID: taskID, GetChanges: &yes, Commands: &tcmds}}}, &t1); err != nil {
		t.Fatal(err)
	}
	tc := t1.Collections[0]
	if tc.Commands == nil || len(tc.Commands.Add) != 1 || tc.Commands.Add[0].Task.Subject == nil || *tc.Commands.Add[0].Task.Subject != "File taxes" {
		t.Errorf("server task: %+v", tc.Commands)
	}
	if tc.Responses == nil || len(tc.Responses.Add) != 1 || tc.Responses.Add[0].Status != 1 {
		t.Fatalf("phone's task: %+v", tc.Responses)
	}
	tobjs, err := cl.List(ctx, "/"+user+"/tasks/")
	if err != nil || len(tobjs) != 2 {
		t.Errorf("server has %d tasks (%v), want 2", len(tobjs), err)
	}

	// Server down: retryable, no deletes.
	if err := rad.Stop(); err != nil {
		t.Fatal(err)
	}
	c5 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c4.SyncKey, CollectionID: calID, GetChanges: &yes}}})
	if c5.Status != eas.SyncRetry || c5.Commands != nil {
		t.Errorf("server down: status %d commands %+v, want a retry and nothing else", c5.Status, c5.Commands)
	}
}
