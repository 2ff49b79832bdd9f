package e2e_test

import (
	"context"
	"net/http"
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

// countSyncResp decodes how many changes of each command a Sync sends,
// of any class.
type countSyncResp struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Collections []struct {
		SyncKey       string `wbxml:"SyncKey"`
		Status        int    `wbxml:"Status"`
		MoreAvailable bool   `wbxml:"MoreAvailable,empty"`
		Commands      *struct {
			Add        []eas.SyncItemID `wbxml:"Add"`
			Change     []eas.SyncItemID `wbxml:"Change"`
			Delete     []eas.SyncItemID `wbxml:"Delete"`
			SoftDelete []eas.SyncItemID `wbxml:"SoftDelete"`
		} `wbxml:"Commands,omitempty"`
	} `wbxml:"Collections>Collection"`
}

func veventAt(uid, summary string, start time.Time, extra ...string) []byte {
	lines := append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT",
		"UID:" + uid, "DTSTAMP:20260101T000000Z", "DTSTART:" + start.UTC().Format("20060102T150405Z"),
		"DTEND:" + start.Add(time.Hour).UTC().Format("20060102T150405Z"), "SUMMARY:" + summary}, extra...)
	return []byte(strings.Join(append(lines, "END:VEVENT", "END:VCALENDAR", ""), "\r\n"))
}

// TestCalendarFilterEstimate: through the whole gateway, GetItemEstimate
// for a calendar synced with FilterType 4 (two weeks) and a task list
// with FilterType 8 (open tasks) is what the Syncs that follow send, in
// windows of one, for the first sync and after another client's changes
// in and out of the filter.
func TestCalendarFilterEstimate(t *testing.T) {
	g0 := startGateway(t, gatewayOptions{})
	user, pw := g0.newUser(t)
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pw}})
	for _, c := range [][3]string{{"calendar", "Calendar", "VEVENT"}, {"tasks", "Tasks", "VTODO"}} {
		if err := rad.Calendar(user, c[0], c[1], c[2]); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	put := func(name string, data []byte) {
		t.Helper()
		if st, _, err := rad.Do(ctx, user, http.MethodPut, "/"+user+"/"+name, "text/calendar", data); err != nil || st/100 != 2 {
			t.Fatalf("PUT %s: %d %v", name, st, err)
		}
	}
	del := func(name string) {
		t.Helper()
		if st, _, err := rad.Do(ctx, user, http.MethodDelete, "/"+user+"/"+name, "", nil); err != nil || st/100 != 2 {
			t.Fatalf("DELETE %s: %d %v", name, st, err)
		}
	}
	now := time.Now().Truncate(time.Hour)
	cals := calendars.New(calendars.Config{DAV: dav.Config{URL: rad.URL()}, PollInterval: 100 * time.Millisecond})
	comb := eas.Combine(g0.Backend, nil, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier()})
	srv := eas.NewServer(eas.Config{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}, comb, g0.Store, comb)
	g0.HTTP.Config.Handler = srv.Handler()
	phone := g0.provisioned(t, user, pw, "estimatefilter", eas.V161)
	fs, err := phone.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	type folder struct {
		class  string
		filter int
		id     string
		key    string
	}
	folders := []*folder{{class: "Calendar", filter: 4}, {class: "Tasks", filter: 8}}
	for _, f := range fs.Changes.Add {
		switch f.Type {
		case 8:
			folders[0].id = f.ServerID
		case 7:
			folders[1].id = f.ServerID
		}
	}
	for _, f := range folders {
		if f.id == "" {
			t.Fatalf("no %s folder in %+v", f.class, fs.Changes.Add)
		}
		var resp countSyncResp
		if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: f.id}}}, &resp); err != nil || len(resp.Collections) != 1 {
			t.Fatalf("sync %s from key 0: %+v %v", f.class, resp, err)
		}
		f.key = resp.Collections[0].SyncKey
	}
	estimate := func(f *folder) int {
		t.Helper()
		resp, err := phone.GetItemEstimate(ctx, &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{{
			SyncKey: f.key, CollectionID: f.id, Options: []eas.SyncOptions{{Class: f.class, FilterType: intp(f.filter)}}}}})
		if err != nil || len(resp.Response) != 1 || resp.Response[0].Status != 1 || resp.Response[0].Collection.Estimate == nil {
			t.Fatalf("estimate %s: %v %+v", f.class, err, resp)
		}
		return *resp.Response[0].Collection.Estimate
	}
	yes := true
	syncAll := func(f *folder) int {
		t.Helper()
		n := 0
		for round := 0; round < 20; round++ {
			var resp countSyncResp
			c := eas.SyncCollection{SyncKey: f.key, CollectionID: f.id, GetChanges: &yes, WindowSize: intp(1),
				Options: []eas.SyncOptions{{FilterType: intp(f.filter)}}}
			if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{c}}, &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Collections) == 0 {
				return n // nothing new anywhere: the empty answer
			}
			col := resp.Collections[0]
			if col.Status != 1 {
				t.Fatalf("sync %s: status %d", f.class, col.Status)
			}
			f.key = col.SyncKey
			if cm := col.Commands; cm != nil {
				n += len(cm.Add) + len(cm.Change) + len(cm.Delete) + len(cm.SoftDelete)
			}
			if !col.MoreAvailable {
				return n
			}
		}
		t.Fatalf("sync %s: no end of changes", f.class)
		return n
	}
	steps := []struct {
		name          string
		do            func()
		events, tasks int
	}{
		{"first sync", func() {
			put("calendar/soon.ics", veventAt("soon", "Soon", now.AddDate(0, 0, 1)))
			put("calendar/old.ics", veventAt("old", "Long ago", now.AddDate(0, -2, 0)))
			put("calendar/weekly.ics", veventAt("weekly", "Standup", now.AddDate(0, -2, 0), "RRULE:FREQ=WEEKLY"))
			put("calendar/ended.ics", veventAt("ended", "Course", now.AddDate(0, -3, 0), "RRULE:FREQ=WEEKLY;COUNT=3"))
			put("tasks/open.ics", vtodo("open", "Open"))
			put("tasks/done.ics", vtodo("done", "Done", "STATUS:COMPLETED"))
		}, 2, 1},
		{"adds in and out", func() {
			put("calendar/new.ics", veventAt("new", "New", now.AddDate(0, 0, 2)))
			put("calendar/older.ics", veventAt("older", "Older", now.AddDate(0, -1, 0)))
			put("tasks/closed.ics", vtodo("closed", "Closed", "PERCENT-COMPLETE:100"))
		}, 1, 0},
		{"moved out and in", func() {
			put("calendar/soon.ics", veventAt("soon", "Soon", now.AddDate(0, -1, 0)))
			put("calendar/old.ics", veventAt("old", "Long ago", now.AddDate(0, 0, 3)))
			put("tasks/open.ics", vtodo("open", "Open", "STATUS:COMPLETED"))
			put("tasks/done.ics", vtodo("done", "Done again", "STATUS:NEEDS-ACTION"))
		}, 2, 2},
		{"deletes in and out", func() {
			del("calendar/new.ics")
			del("calendar/older.ics")
			del("tasks/closed.ics")
		}, 1, 0},
	}
	for _, st := range steps {
		st.do()
		for i, want := range []int{st.events, st.tasks} {
			f := folders[i]
			est := estimate(f)
			if got := syncAll(f); est != got || got != want {
				t.Errorf("%s: %s: GetItemEstimate %d, then the Syncs sent %d; want %d", st.name, f.class, est, got, want)
			}
		}
	}
}
