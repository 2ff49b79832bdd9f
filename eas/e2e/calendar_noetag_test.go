package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

// taskWindowResp decodes a tasks folder's Sync taken in windows.
type taskWindowResp struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Collections []struct {
		SyncKey       string `wbxml:"SyncKey"`
		Status        int    `wbxml:"Status"`
		MoreAvailable bool   `wbxml:"MoreAvailable,empty"`
		Commands      *struct {
			Add    []taskItem       `wbxml:"Add"`
			Change []taskItem       `wbxml:"Change"`
			Delete []eas.SyncItemID `wbxml:"Delete"`
		} `wbxml:"Commands,omitempty"`
	} `wbxml:"Collections>Collection"`
}

// commandList lists what a Sync sent as "+id", "~id", "-id".
func commandList(add, change []string, del []eas.SyncItemID) []string {
	var out []string
	for _, id := range add {
		out = append(out, "+"+id)
	}
	for _, id := range change {
		out = append(out, "~"+id)
	}
	for _, d := range del {
		out = append(out, "-"+d.ServerID)
	}
	return out
}

// TestCalendarWithoutETags: with a CalDAV server that gives no ETags, a
// phone gets a calendar and a task list (one collection holding both) in
// windows to the end, its next Syncs bring nothing, an event and a task
// another client changes come once, and the phone's own change neither
// fails nor comes back.
func TestCalendarWithoutETags(t *testing.T) {
	g0 := startGateway(t, gatewayOptions{})
	user, pw := g0.newUser(t)
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pw}})
	if err := rad.Calendar(user, "calendar", "Calendar", "VEVENT", "VTODO"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	coll := "/" + user + "/calendar/"
	at := time.Now().Add(72 * time.Hour).Truncate(time.Hour).UTC()
	vevent := func(uid, summary string) []byte {
		return crlf(strings.Join([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT",
			"UID:" + uid, "DTSTAMP:20260101T000000Z", "DTSTART:" + at.Format("20060102T150405Z"),
			"DTEND:" + at.Add(time.Hour).Format("20060102T150405Z"), "SUMMARY:" + summary, "END:VEVENT", "END:VCALENDAR", ""}, "\n"))
	}
	put := func(name string, data []byte) {
		t.Helper()
		if st, _, err := rad.Do(ctx, user, http.MethodPut, coll+name, "text/calendar", data); err != nil || st/100 != 2 {
			t.Fatalf("PUT %s: %d %v", name, st, err)
		}
	}
	for i := range 30 {
		put(fmt.Sprintf("e%03d.ics", i), vevent(fmt.Sprintf("e%03d", i), fmt.Sprintf("Event %03d", i)))
	}
	for i := range 10 {
		put(fmt.Sprintf("t%03d.ics", i), vtodo(fmt.Sprintf("t%03d", i), fmt.Sprintf("Task %03d", i)))
	}
	strip := &radicaletest.ETagStripper{}
	cals := calendars.New(calendars.Config{DAV: dav.Config{URL: rad.URL(), Transport: strip}, PollInterval: 100 * time.Millisecond})
	comb := eas.Combine(g0.Backend, nil, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier()})
	srv := eas.NewServer(eas.Config{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}, comb, g0.Store, comb)
	g0.HTTP.Config.Handler = srv.Handler()
	phone := g0.provisioned(t, user, pw, "calnoetags", eas.V161)
	fs, err := phone.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]string{}
	for _, f := range fs.Changes.Add {
		ids[f.Type] = f.ServerID
	}
	calID, taskID := ids[8], ids[7]
	if calID == "" || taskID == "" {
		t.Fatalf("calendar %q tasks %q in %+v", calID, taskID, fs.Changes.Add)
	}

	window := 7
	keys := map[string]string{calID: "0", taskID: "0"}
	// sync runs one Sync of a folder and returns what it sent as "+id",
	// "~id", "-id".
	sync := func(id string, cmds *eas.SyncCommands) (got []string, more bool) {
		t.Helper()
		c := eas.SyncCollection{SyncKey: keys[id], CollectionID: id}
		if keys[id] != "0" {
			c.WindowSize, c.GetChanges, c.Commands = &window, boolp(true), cmds
		}
		req := &eas.SyncRequest{Collections: []eas.SyncCollection{c}}
		if id == taskID {
			var resp taskWindowResp
			if _, err := phone.Do(ctx, "Sync", req, &resp); err != nil || len(resp.Collections) != 1 || resp.Collections[0].Status != 1 {
				t.Fatalf("task sync: %+v %v", resp, err)
			}
			r := resp.Collections[0]
			keys[id] = r.SyncKey
			if c := r.Commands; c != nil {
				var add, change []string
				for _, a := range c.Add {
					add = append(add, a.ServerID)
				}
				for _, a := range c.Change {
					change = append(change, a.ServerID)
				}
				got = commandList(add, change, c.Delete)
			}
			return got, r.MoreAvailable
		}
		var resp calSyncResp
		if _, err := phone.Do(ctx, "Sync", req, &resp); err != nil || len(resp.Collections) != 1 || resp.Collections[0].Status != 1 {
			t.Fatalf("calendar sync: %+v %v", resp, err)
		}
		r := resp.Collections[0]
		keys[id] = r.SyncKey
		if r.Responses != nil {
			for _, ch := range r.Responses.Change {
				if ch.Status != eas.SyncSuccess {
					t.Errorf("the phone's Change: %+v", ch)
				}
			}
		}
		if c := r.Commands; c != nil {
			var add, change []string
			for _, a := range c.Add {
				add = append(add, a.ServerID)
			}
			for _, a := range c.Change {
				change = append(change, a.ServerID)
			}
			got = commandList(add, change, c.Delete)
		}
		return got, r.MoreAvailable
	}

	for _, f := range []struct {
		id   string
		want int
	}{{calID, 30}, {taskID, 10}} {
		sync(f.id, nil)
		adds := map[string]bool{}
		for windows := 1; ; windows++ {
			got, more := sync(f.id, nil)
			for _, s := range got {
				if !strings.HasPrefix(s, "+") || adds[s] {
					t.Errorf("initial sync of %s, window %d: %s", f.id, windows, s)
				}
				adds[s] = true
			}
			if !more {
				break
			}
			if windows > 10 {
				t.Fatalf("no end of the initial sync of %s", f.id)
			}
		}
		if len(adds) != f.want {
			t.Errorf("initial sync of %s: %d Adds, want %d", f.id, len(adds), f.want)
		}
	}
	if strip.Stripped() == 0 {
		t.Fatal("no ETag was removed")
	}

	subject := "Changed by the phone"
	steps := []struct {
		name      string
		do        func()
		cmds      func() *eas.SyncCommands // of the calendar's Sync
		cal, task []string
	}{
		{"nothing changed", func() {}, nil, nil, nil},
		{"nothing changed, again", func() {}, nil, nil, nil},
		{"another client changes an event and a task", func() {
			put("e003.ics", vevent("e003", "Changed elsewhere"))
			put("t003.ics", vtodo("t003", "Changed elsewhere"))
		}, nil, []string{"~" + calID + ":e003.ics"}, []string{"~" + taskID + ":t003.ics"}},
		{"the phone changes an event", func() {}, func() *eas.SyncCommands {
			var cmds eas.SyncCommands
			if err := cmds.ChangeItemCommand(calID+":e005.ics", &eas.Calendar{Subject: &subject}); err != nil {
				t.Fatal(err)
			}
			return &cmds
		}, nil, nil},
		{"nothing changed since", func() {}, nil, nil, nil},
	}
	for _, st := range steps {
		st.do()
		var cmds *eas.SyncCommands
		if st.cmds != nil {
			cmds = st.cmds()
		}
		cal, more := sync(calID, cmds)
		task, tmore := sync(taskID, nil)
		if !slices.Equal(cal, st.cal) || !slices.Equal(task, st.task) || more || tmore {
			t.Errorf("%s: calendar %q (more %v), tasks %q (more %v); want %q, %q", st.name, cal, more, task, tmore, st.cal, st.task)
		}
	}
	cl, _ := dav.NewClient(dav.Config{URL: rad.URL()}, dav.Credentials{Username: user, Password: pw})
	data, _, err := cl.Get(ctx, coll+"e005.ics")
	if err != nil || !strings.Contains(string(data), "SUMMARY:"+subject) {
		t.Errorf("e005.ics on the server: %v\n%s", err, data)
	}
}
