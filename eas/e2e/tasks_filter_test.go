package e2e_test

import (
	"context"
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

// taskFilterResp decodes the changes a tasks folder sends.
type taskFilterResp struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Collections []struct {
		SyncKey  string `wbxml:"SyncKey"`
		Status   int    `wbxml:"Status"`
		Commands *struct {
			Add        []taskItem       `wbxml:"Add"`
			Change     []taskItem       `wbxml:"Change"`
			Delete     []eas.SyncItemID `wbxml:"Delete"`
			SoftDelete []eas.SyncItemID `wbxml:"SoftDelete"`
		} `wbxml:"Commands,omitempty"`
	} `wbxml:"Collections>Collection"`
}

func vtodo(uid, summary string, extra ...string) []byte {
	lines := append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VTODO",
		"UID:" + uid, "DTSTAMP:20260101T000000Z", "SUMMARY:" + summary}, extra...)
	return []byte(strings.Join(append(lines, "END:VTODO", "END:VCALENDAR", ""), "\r\n"))
}

// TestTasksIncompleteFilter: a phone syncing its tasks with FilterType 8
// gets the open tasks only; a task another client completes leaves it
// (SoftDelete), one reopened comes back.
func TestTasksIncompleteFilter(t *testing.T) {
	g0 := startGateway(t, gatewayOptions{})
	user, pw := g0.newUser(t)
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pw}})
	if err := rad.Calendar(user, "tasks", "Tasks", "VTODO"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(name string, data []byte) {
		t.Helper()
		if st, _, err := rad.Do(ctx, user, http.MethodPut, "/"+user+"/tasks/"+name, "text/calendar", data); err != nil || st/100 != 2 {
			t.Fatalf("PUT %s: %d %v", name, st, err)
		}
	}
	put("open.ics", vtodo("open", "Open"))
	put("done.ics", vtodo("done", "Done", "STATUS:COMPLETED", "COMPLETED:20260102T000000Z"))
	cals := calendars.New(calendars.Config{DAV: dav.Config{URL: rad.URL()}, PollInterval: 100 * time.Millisecond})
	comb := eas.Combine(g0.Backend, nil, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier()})
	srv := eas.NewServer(eas.Config{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}, comb, g0.Store, comb)
	g0.HTTP.Config.Handler = srv.Handler()
	phone := g0.provisioned(t, user, pw, "taskfilter", eas.V161)
	fs, err := phone.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	var taskID string
	for _, f := range fs.Changes.Add {
		if f.Type == 7 {
			taskID = f.ServerID
		}
	}
	if taskID == "" {
		t.Fatalf("no tasks folder in %+v", fs.Changes.Add)
	}
	key := "0"
	yes := true
	sync := func() []string {
		t.Helper()
		c := eas.SyncCollection{SyncKey: key, CollectionID: taskID}
		if key != "0" {
			c.GetChanges = &yes
			c.Options = []eas.SyncOptions{{FilterType: intp(8)}}
		}
		var resp taskFilterResp
		if _, err := phone.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{c}}, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Collections) != 1 || resp.Collections[0].Status != 1 {
			t.Fatalf("sync: %+v", resp)
		}
		col := resp.Collections[0]
		key = col.SyncKey
		var got []string
		if cm := col.Commands; cm != nil {
			for _, it := range cm.Add {
				got = append(got, "Add "+*it.Task.Subject)
			}
			for _, it := range cm.Change {
				got = append(got, "Change "+*it.Task.Subject)
			}
			for _, it := range cm.SoftDelete {
				got = append(got, "SoftDelete "+objectName(it.ServerID))
			}
			for _, it := range cm.Delete {
				got = append(got, "Delete "+objectName(it.ServerID))
			}
		}
		slices.Sort(got)
		return got
	}
	sync()
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"first", func() {}, []string{"Add Open"}},
		{"completed elsewhere", func() { put("open.ics", vtodo("open", "Open", "STATUS:COMPLETED")) }, []string{"SoftDelete open.ics"}},
		{"reopened", func() { put("done.ics", vtodo("done", "Done again", "STATUS:NEEDS-ACTION")) }, []string{"Add Done again"}},
		{"closed added", func() { put("new.ics", vtodo("new", "New", "PERCENT-COMPLETE:100")) }, nil},
	}
	for _, st := range steps {
		st.do()
		if got := sync(); !slices.Equal(got, st.want) {
			t.Errorf("%s: %q, want %q", st.name, got, st.want)
		}
	}
}

// objectName is the resource name in a ServerID ("8:open.ics").
func objectName(serverID string) string {
	_, name, _ := strings.Cut(serverID, ":")
	return name
}
