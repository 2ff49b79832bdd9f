package demo

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/eas"
)

type phoneState map[string]string

func (k phoneState) Len() int { return len(k) }
func (k phoneState) Version(id string) (string, bool) {
	v, ok := k[id]
	return v, ok
}
func (k phoneState) Range(fn func(id, v string) bool) {
	for id, v := range k {
		if !fn(id, v) {
			return
		}
	}
}

// TestDemoCalDAV: the demo's calendar server serves the calendar store:
// two folders, the sample events and tasks, and a phone's new event.
func TestDemoCalDAV(t *testing.T) {
	srv, err := StartCalDAV(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx := context.Background()
	b := calendars.New(calendars.Config{DAV: dav.Config{URL: srv.URL}})
	se, err := b.Open(ctx, eas.Credentials{Username: User, Password: Password})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := se.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s %d", f.Name, f.Type))
	}
	if want := []string{"Calendar 8", "Tasks 7"}; !slices.Equal(got, want) {
		t.Fatalf("folders %q, want %q", got, want)
	}
	counts := map[string]int{}
	for _, f := range fs {
		cs, err := se.Changes(ctx, eas.SyncQuery{Path: f.Path, Known: phoneState{}, Window: 100, Body: eas.BodyOptions{Version: eas.V141}})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range cs.Changes {
			if ch.Err != nil || ch.Kind != eas.ChangeAdd {
				t.Errorf("%s: %v %v", ch.ServerID, ch.Kind, ch.Err)
			}
			if c, ok := ch.Item.(*eas.Calendar); ok && ch.ServerID == "team-weekly.ics" {
				if c.Recurrence == nil || c.Exceptions == nil || len(c.Exceptions.Exception) != 2 {
					t.Errorf("weekly meeting: %+v %+v", c.Recurrence, c.Exceptions)
				}
			}
		}
		counts[f.Name] = len(cs.Changes)
	}
	if counts["Calendar"] != 3 || counts["Tasks"] != 2 {
		t.Errorf("items %v, want 3 events and 2 tasks", counts)
	}
	w := se.(eas.ItemWriter)
	subject := "Coffee"
	now := time.Now().Truncate(time.Hour)
	id, _, err := w.AddItem(ctx, fs[0].Path, &eas.Calendar{Subject: &subject, StartTime: eas.NewCompactTime(now), EndTime: eas.NewCompactTime(now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	it, err := se.Fetch(ctx, eas.ItemRef{Path: fs[0].Path, ServerID: id}, eas.BodyOptions{})
	if err != nil || *it.(*eas.Calendar).Subject != "Coffee" {
		t.Errorf("the phone's event read back: %+v %v", it, err)
	}
	if _, err := calendars.New(calendars.Config{DAV: dav.Config{URL: srv.URL}}).Open(ctx, eas.Credentials{Username: User, Password: "wrong"}); err == nil {
		t.Error("a wrong password let in")
	}
}
