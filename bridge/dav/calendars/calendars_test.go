package calendars

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

const (
	user = "anna"
	pass = "secret"
)

var cred = eas.Credentials{Username: user, Password: pass}

// known is what a phone holds: ServerId → version.
type known map[string]string

func (k known) Len() int { return len(k) }
func (k known) Version(id string) (string, bool) {
	v, ok := k[id]
	return v, ok
}
func (k known) Range(fn func(id, v string) bool) {
	for id, v := range k {
		if !fn(id, v) {
			return
		}
	}
}

func (k known) apply(cs *eas.ChangeSet) {
	for _, ch := range cs.Changes {
		if ch.Kind == eas.ChangeDelete || ch.Kind == eas.ChangeSoftDelete {
			delete(k, ch.ServerID)
		} else {
			k[ch.ServerID] = ch.Version
		}
	}
}

func start(t *testing.T) *radicaletest.Server {
	t.Helper()
	return radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pass}})
}

func open(t *testing.T, srv *radicaletest.Server, cfg dav.Config) *Session {
	t.Helper()
	cfg.URL = srv.URL()
	se, err := New(Config{DAV: cfg}).open(context.Background(), cred)
	if err != nil {
		t.Fatal(err)
	}
	return se
}

func put(t *testing.T, srv *radicaletest.Server, path, data string) {
	t.Helper()
	status, _, err := srv.Do(context.Background(), user, http.MethodPut, path, "text/calendar", []byte(strings.ReplaceAll(data, "\n", "\r\n")))
	if err != nil || status/100 != 2 {
		t.Fatalf("PUT %s: %d %v", path, status, err)
	}
}

// get reads an object as another client would.
func get(t *testing.T, srv *radicaletest.Server, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(srv.URL(), "/")+path, nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ""
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return strings.ReplaceAll(b.String(), "\r\n ", "")
}

func event(uid, summary string, start time.Time, extra ...string) string {
	lines := []string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT",
		"UID:" + uid, "DTSTAMP:20260101T000000Z", "DTSTART:" + start.UTC().Format("20060102T150405Z"),
		"DTEND:" + start.Add(time.Hour).UTC().Format("20060102T150405Z"), "SUMMARY:" + summary}
	lines = append(lines, extra...)
	lines = append(lines, "END:VEVENT", "END:VCALENDAR", "")
	return strings.Join(lines, "\n")
}

func todo(uid, summary string) string {
	return strings.Join([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VTODO",
		"UID:" + uid, "DTSTAMP:20260101T000000Z", "SUMMARY:" + summary, "END:VTODO", "END:VCALENDAR", ""}, "\n")
}

func TestFolders(t *testing.T) {
	tests := []struct {
		name  string
		colls [][3]string // segment, display name, components
		want  []string    // path type name
	}{
		{"none: one of each is made", nil,
			[]string{"/anna/calendar/#events 8 Calendar", "/anna/tasks/#tasks 7 Tasks"}},
		{"one calendar with both: a folder of each", [][3]string{{"home", "Home", "VEVENT,VTODO"}},
			[]string{"/anna/home/#events 8 Home", "/anna/home/#tasks 7 Home"}},
		{"default by name, in order", [][3]string{{"work", "Work", "VEVENT"}, {"personal", "P", "VEVENT"},
			{"default", "D", "VEVENT"}, {"todo", "To do", "VTODO"}, {"errands", "Errands", "VTODO"}},
			[]string{"/anna/default/#events 8 D", "/anna/personal/#events 13 P", "/anna/work/#events 13 Work",
				"/anna/errands/#tasks 7 Errands", "/anna/todo/#tasks 15 To do"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			for _, c := range tt.colls {
				if err := srv.Calendar(user, c[0], c[1], strings.Split(c[2], ",")...); err != nil {
					t.Fatal(err)
				}
			}
			fs, err := open(t, srv, dav.Config{}).Folders(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, fmt.Sprintf("%s %d %s", f.Path, f.Type, f.Name))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("folders %q, want %q", got, tt.want)
			}
		})
	}
}

// syncAll runs Changes until nothing more is left, as the engine would.
func syncAll(t *testing.T, se *Session, q eas.SyncQuery, phone known) ([]eas.ItemChange, string) {
	t.Helper()
	var all []eas.ItemChange
	for round := 0; ; round++ {
		q.Known = phone
		cs, err := se.Changes(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, cs.Changes...)
		phone.apply(cs)
		q.Cursor = cs.Cursor
		if !cs.More {
			return all, q.Cursor
		}
		if round > 20 {
			t.Fatal("no end of changes")
		}
	}
}

func kinds(chs []eas.ItemChange) []string {
	var out []string
	for _, ch := range chs {
		s := ch.Kind.String() + " " + ch.ServerID
		switch it := ch.Item.(type) {
		case *eas.Calendar:
			if it.Subject != nil {
				s += " " + *it.Subject
			}
		case *eas.Task:
			if it.Subject != nil {
				s += " " + *it.Subject
			}
		}
		out = append(out, s)
	}
	return out
}

// TestServerChanges: every change another client makes shows up once, in
// the folder of its component, with both change strategies.
func TestServerChanges(t *testing.T) {
	future := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			srv := start(t)
			if err := srv.Calendar(user, "calendar", "Cal", "VEVENT", "VTODO"); err != nil {
				t.Fatal(err)
			}
			se := open(t, srv, dav.Config{NoSyncCollection: noSync})
			ev, tk := known{}, known{}
			evQ := eas.SyncQuery{Path: "/anna/calendar/#events", Window: 2}
			tkQ := eas.SyncQuery{Path: "/anna/calendar/#tasks", Window: 2}
			steps := []struct {
				name     string
				do       func()
				ev, task []string
			}{
				{"adds", func() {
					put(t, srv, "/anna/calendar/a.ics", event("a", "Lunch", future))
					put(t, srv, "/anna/calendar/b.ics", event("b", "Dentist", future))
					put(t, srv, "/anna/calendar/c.ics", event("c", "Gym", future))
					put(t, srv, "/anna/calendar/t.ics", todo("t", "Buy milk"))
				}, []string{"Add a.ics Lunch", "Add b.ics Dentist", "Add c.ics Gym"}, []string{"Add t.ics Buy milk"}},
				{"nothing", func() {}, nil, nil},
				{"change", func() { put(t, srv, "/anna/calendar/b.ics", event("b", "Dentist moved", future.Add(time.Hour))) },
					[]string{"Change b.ics Dentist moved"}, nil},
				{"task change", func() { put(t, srv, "/anna/calendar/t.ics", todo("t", "Buy oat milk")) },
					nil, []string{"Change t.ics Buy oat milk"}},
				{"delete", func() {
					if st, _, err := srv.Do(context.Background(), user, http.MethodDelete, "/anna/calendar/a.ics", "", nil); err != nil || st/100 != 2 {
						t.Fatal(st, err)
					}
				}, []string{"Delete a.ics"}, nil},
			}
			for _, st := range steps {
				st.do()
				var got []eas.ItemChange
				got, evQ.Cursor = syncAll(t, se, evQ, ev)
				if g := kinds(got); !slices.Equal(g, st.ev) {
					t.Errorf("%s: events %q, want %q", st.name, g, st.ev)
				}
				got, tkQ.Cursor = syncAll(t, se, tkQ, tk)
				if g := kinds(got); !slices.Equal(g, st.task) {
					t.Errorf("%s: tasks %q, want %q", st.name, g, st.task)
				}
			}
		})
	}
}

// TestFilterWindow: an event that ended before the FilterType window is
// not sent; a held one moved before it leaves the phone.
func TestFilterWindow(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Hour)
	put(t, srv, "/anna/calendar/old.ics", event("old", "Long ago", now.AddDate(0, -2, 0)))
	put(t, srv, "/anna/calendar/weekly.ics", event("weekly", "Standup", now.AddDate(0, -2, 0), "RRULE:FREQ=WEEKLY"))
	put(t, srv, "/anna/calendar/soon.ics", event("soon", "Soon", now.AddDate(0, 0, 1)))
	se := open(t, srv, dav.Config{})
	phone := known{}
	q := eas.SyncQuery{Path: "/anna/calendar/#events", Since: now.AddDate(0, 0, -14), Window: 10}
	got, cur := syncAll(t, se, q, phone)
	if g, w := kinds(got), []string{"Add soon.ics Soon", "Add weekly.ics Standup"}; !slices.Equal(sorted(g), w) {
		t.Errorf("first sync %q, want %q", g, w)
	}
	put(t, srv, "/anna/calendar/soon.ics", event("soon", "Soon", now.AddDate(0, -1, 0)))
	q.Cursor = cur
	got, _ = syncAll(t, se, q, phone)
	if g, w := kinds(got), []string{"SoftDelete soon.ics"}; !slices.Equal(g, w) {
		t.Errorf("after moving back %q, want %q", g, w)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

func ptr[T any](v T) *T { return &v }

// TestPhoneWrites: each of the phone's commands is seen by another client
// of the server.
func TestPhoneWrites(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Calendar(user, "tasks", "Tasks", "VTODO"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	se := open(t, srv, dav.Config{})
	start := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	put(t, srv, "/anna/calendar/series.ics", event("series", "Standup", start, "RRULE:FREQ=DAILY;COUNT=10", "X-KEEP-ME:yes", "LOCATION:Room 1"))
	cal := "/anna/calendar/#events"
	ref := eas.ItemRef{Path: cal, ServerID: "series.ics"}

	t.Run("add event", func(t *testing.T) {
		id, v, err := se.AddItem(ctx, cal, &eas.Calendar{Subject: ptr("Coffee"), StartTime: eas.NewCompactTime(start),
			EndTime: eas.NewCompactTime(start.Add(30 * time.Minute)), TimeZone: "", ClientUID: "ios-client-uid-1"})
		if err != nil || v == "" {
			t.Fatal(id, v, err)
		}
		if got := get(t, srv, "/anna/calendar/"+id); !strings.Contains(got, "SUMMARY:Coffee") {
			t.Errorf("server has %q", got)
		}
		again, _, err := se.AddItem(ctx, cal, &eas.Calendar{Subject: ptr("Coffee"), StartTime: eas.NewCompactTime(start),
			EndTime: eas.NewCompactTime(start.Add(30 * time.Minute)), ClientUID: "ios-client-uid-1"})
		if err != nil || again != id {
			t.Errorf("the same Add again: %q %v, want %q", again, err, id)
		}
	})
	t.Run("add task", func(t *testing.T) {
		id, _, err := se.AddItem(ctx, "/anna/tasks/#tasks", &eas.Task{Subject: ptr("Call mum")})
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, srv, "/anna/tasks/"+id); !strings.Contains(got, "SUMMARY:Call mum") || !strings.Contains(got, "BEGIN:VTODO") {
			t.Errorf("server has %q", got)
		}
	})
	t.Run("16.x change keeps what the phone left out", func(t *testing.T) {
		_, err := se.ChangeItem(ctx, ref, eas.ItemUpdate{Item: &eas.Calendar{Subject: ptr("Daily standup")},
			Ghosted: calendarFields, Version: eas.V161})
		if err != nil {
			t.Fatal(err)
		}
		got := get(t, srv, "/anna/calendar/series.ics")
		for _, w := range []string{"SUMMARY:Daily standup", "X-KEEP-ME:yes", "LOCATION:Room 1", "RRULE:FREQ=DAILY;COUNT=10"} {
			if !strings.Contains(got, w) {
				t.Errorf("server lacks %q:\n%s", w, got)
			}
		}
	})
	t.Run("14.1 exception deleted", func(t *testing.T) {
		full, err := se.Fetch(ctx, ref, eas.BodyOptions{Version: eas.V141})
		if err != nil {
			t.Fatal(err)
		}
		c := full.(*eas.Calendar)
		c.Exceptions = &eas.Exceptions{Exception: []eas.Exception{{Deleted: true,
			ExceptionStartTime: eas.NewCompactTime(start.AddDate(0, 0, 2))}}}
		if _, err := se.ChangeItem(ctx, ref, eas.ItemUpdate{Item: c, Version: eas.V141}); err != nil {
			t.Fatal(err)
		}
		got := get(t, srv, "/anna/calendar/series.ics")
		if !strings.Contains(got, "EXDATE") || !strings.Contains(got, "20270303T090000Z") {
			t.Errorf("no EXDATE for 3 March:\n%s", got)
		}
		if !strings.Contains(got, "X-KEEP-ME:yes") || !strings.Contains(got, "SUMMARY:Daily standup") {
			t.Errorf("a 14.1 change lost what it carried back:\n%s", got)
		}
	})
	t.Run("16.x delete one occurrence", func(t *testing.T) {
		if _, err := se.DeleteInstance(ctx, ref, eas.NewCompactTime(start.AddDate(0, 0, 4))); err != nil {
			t.Fatal(err)
		}
		got := get(t, srv, "/anna/calendar/series.ics")
		if !strings.Contains(got, "20270305T090000Z") || !strings.Contains(got, "20270303T090000Z") {
			t.Errorf("EXDATEs missing:\n%s", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := se.DeleteItem(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if got := get(t, srv, "/anna/calendar/series.ics"); got != "" {
			t.Errorf("still there: %s", got)
		}
		if err := se.DeleteItem(ctx, ref); err != nil {
			t.Errorf("deleting it again: %v", err)
		}
	})
}

var calendarFields = []string{"TimeZone", "StartTime", "EndTime", "Location", "Body", "Recurrence", "Attendees", "Categories", "Reminder"}

// TestConflict: a phone's change of an event another client changed since
// is refused and the server's version stays.
func TestConflict(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	se := open(t, srv, dav.Config{})
	at := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
	put(t, srv, "/anna/calendar/e.ics", event("e", "Original", at))
	phone := known{}
	syncAll(t, se, eas.SyncQuery{Path: "/anna/calendar/#events"}, phone)
	put(t, srv, "/anna/calendar/e.ics", event("e", "Server edit", at))
	_, err := se.ChangeItem(ctx, eas.ItemRef{Path: "/anna/calendar/#events", ServerID: "e.ics"},
		eas.ItemUpdate{Item: &eas.Calendar{Subject: ptr("Phone edit")}, Known: phone["e.ics"], Version: eas.V161})
	if !errors.Is(err, eas.ErrConflict) {
		t.Fatalf("err %v, want a conflict", err)
	}
	if got := get(t, srv, "/anna/calendar/e.ics"); !strings.Contains(got, "SUMMARY:Server edit") {
		t.Errorf("server's version lost:\n%s", got)
	}
}

// TestServerDown: an upstream that is down gives a retryable error, never
// an empty calendar.
func TestServerDown(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	put(t, srv, "/anna/calendar/e.ics", event("e", "Keep", time.Now().Add(time.Hour)))
	se := open(t, srv, dav.Config{})
	phone := known{}
	_, cur := syncAll(t, se, eas.SyncQuery{Path: "/anna/calendar/#events"}, phone)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := se.Folders(ctx); !errors.Is(err, eas.ErrUnavailable) {
		t.Errorf("Folders: %v", err)
	}
	if cs, err := se.Changes(ctx, eas.SyncQuery{Path: "/anna/calendar/#events", Cursor: cur, Known: phone}); !errors.Is(err, eas.ErrUnavailable) {
		t.Errorf("Changes: %+v %v", cs, err)
	}
	if _, _, err := se.AddItem(ctx, "/anna/calendar/#events", &eas.Calendar{Subject: ptr("x"),
		StartTime: eas.NewCompactTime(time.Now()), EndTime: eas.NewCompactTime(time.Now())}); !errors.Is(err, eas.ErrUnavailable) {
		t.Errorf("AddItem: %v", err)
	}
}

// TestChangesBetweenWindows: what another client changes while the phone
// takes a delta in windows reaches it, once, in its latest version.
func TestChangesBetweenWindows(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			srv := start(t)
			if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
				t.Fatal(err)
			}
			at := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
			for i := 0; i < 5; i++ {
				put(t, srv, fmt.Sprintf("/anna/calendar/e%d.ics", i), event(fmt.Sprintf("e%d", i), fmt.Sprintf("Event %d", i), at))
			}
			se := open(t, srv, dav.Config{NoSyncCollection: noSync})
			phone := known{}
			q := eas.SyncQuery{Path: "/anna/calendar/#events", Known: phone, Window: 2}
			cs, err := se.Changes(context.Background(), q)
			if err != nil || !cs.More || len(cs.Changes) != 2 {
				t.Fatalf("first window: %+v %v", cs, err)
			}
			phone.apply(cs)
			got := kinds(cs.Changes)
			q.Cursor = cs.Cursor
			put(t, srv, "/anna/calendar/e4.ics", event("e4", "Event 4 renamed", at))
			put(t, srv, "/anna/calendar/e0.ics", event("e0", "Event 0 renamed", at))
			put(t, srv, "/anna/calendar/new.ics", event("new", "New", at))
			rest, cur := syncAll(t, se, q, phone)
			got = append(got, kinds(rest)...)
			q.Cursor = cur
			after, cur := syncAll(t, se, q, phone)
			got = append(got, kinds(after)...)
			q.Cursor = cur
			if again, _ := syncAll(t, se, q, phone); len(again) != 0 {
				t.Errorf("then %q", kinds(again))
			}
			want := []string{"Add e0.ics Event 0", "Add e1.ics Event 1", "Add e2.ics Event 2", "Add e3.ics Event 3",
				"Add e4.ics Event 4 renamed", "Add new.ics New", "Change e0.ics Event 0 renamed"}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("phone got %q, want %q", got, want)
			}
		})
	}
}

// TestPhoneWritesBetweenWindows: what the phone itself changes or deletes
// while it takes a delta in windows does not come back to it, and it gets
// to the end of the delta (a kept delta that still listed the old ETags
// sent such objects in every window, and once they filled the window the
// phone never got further).
func TestPhoneWritesBetweenWindows(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			srv := start(t)
			if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			at := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
			for i := 0; i < 6; i++ {
				put(t, srv, fmt.Sprintf("/anna/calendar/e%d.ics", i), event(fmt.Sprintf("e%d", i), fmt.Sprintf("Event %d", i), at))
			}
			se := open(t, srv, dav.Config{NoSyncCollection: noSync})
			phone := known{}
			cal := "/anna/calendar/#events"
			_, cur := syncAll(t, se, eas.SyncQuery{Path: cal, Window: 10}, phone)
			for i := 0; i < 5; i++ {
				put(t, srv, fmt.Sprintf("/anna/calendar/e%d.ics", i), event(fmt.Sprintf("e%d", i), fmt.Sprintf("Event %d edited", i), at))
			}
			q := eas.SyncQuery{Path: cal, Cursor: cur, Known: phone, Window: 2}
			cs, err := se.Changes(ctx, q)
			if err != nil || !cs.More || len(cs.Changes) != 2 {
				t.Fatalf("first window: %+v %v", cs, err)
			}
			phone.apply(cs)
			got := kinds(cs.Changes)
			q.Cursor = cs.Cursor
			var later []string // what the first window left out
			for i := 0; i < 5; i++ {
				if id := fmt.Sprintf("e%d.ics", i); id != cs.Changes[0].ServerID && id != cs.Changes[1].ServerID {
					later = append(later, id)
				}
			}
			// The phone changes one object it got and two it did not yet
			// get, and deletes one it did not yet get.
			for _, id := range []string{cs.Changes[0].ServerID, later[0], later[1]} {
				v, err := se.ChangeItem(ctx, eas.ItemRef{Path: cal, ServerID: id}, eas.ItemUpdate{
					Item: &eas.Calendar{Subject: ptr("Phone " + id)}, Ghosted: calendarFields, Version: eas.V161})
				if err != nil {
					t.Fatal(id, err)
				}
				phone[id] = v
			}
			if err := se.DeleteItem(ctx, eas.ItemRef{Path: cal, ServerID: later[2]}); err != nil {
				t.Fatal(err)
			}
			delete(phone, later[2])
			want := slices.Clone(got)
			rest, cur := syncAll(t, se, q, phone)
			got = append(got, kinds(rest)...)
			q.Cursor = cur
			if again, _ := syncAll(t, se, q, phone); len(again) != 0 {
				t.Errorf("then %q", kinds(again))
			}
			if !slices.Equal(got, want) {
				t.Errorf("phone got %q, want %q", got, want)
			}
		})
	}
}

// TestNotifier: a change in a calendar that holds events and to-dos
// notifies both its folders; a new calendar, the folder list.
func TestNotifier(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT", "VTODO"); err != nil {
		t.Fatal(err)
	}
	b := New(Config{DAV: dav.Config{URL: srv.URL()}, PollInterval: 50 * time.Millisecond})
	ctx := context.Background()
	paths := []string{"/anna/calendar/#events", "/anna/calendar/#tasks", eas.FolderListPath}
	sub, err := b.Notifier().Subscribe(ctx, cred, paths)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	put(t, srv, "/anna/calendar/t.ics", todo("t", "Buy milk"))
	got := []string{next(t, sub), next(t, sub)}
	slices.Sort(got)
	if !slices.Equal(got, paths[:2]) {
		t.Errorf("notices %q, want %q", got, paths[:2])
	}
	if err := srv.Calendar(user, "work", "Work", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	for {
		p := next(t, sub)
		if p == eas.FolderListPath {
			break
		}
		if !slices.Contains(paths, p) {
			t.Fatalf("notice %q", p)
		}
	}
	if _, err := New(Config{DAV: dav.Config{URL: srv.URL()}}).Open(ctx, eas.Credentials{Username: user, Password: "wrong"}); !errors.Is(err, eas.ErrUnauthorized) {
		t.Errorf("a wrong password: %v", err)
	}
}

func next(t *testing.T, sub eas.Subscription) string {
	t.Helper()
	select {
	case p, ok := <-sub.C():
		if !ok {
			t.Fatal("subscription closed")
		}
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no notice within 10 s")
	}
	return ""
}

// TestIncompleteTasks: under tasks FilterType 8 a closed task is not
// sent, and a held one closed by another client leaves the phone.
func TestIncompleteTasks(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "tasks", "Tasks", "VTODO"); err != nil {
		t.Fatal(err)
	}
	closed := func(uid, summary, line string) string {
		return strings.Replace(todo(uid, summary), "END:VTODO", line+"\nEND:VTODO", 1)
	}
	put(t, srv, "/anna/tasks/open.ics", todo("open", "Open"))
	put(t, srv, "/anna/tasks/done.ics", closed("done", "Done", "STATUS:COMPLETED"))
	put(t, srv, "/anna/tasks/dropped.ics", closed("dropped", "Dropped", "STATUS:CANCELLED"))
	put(t, srv, "/anna/tasks/full.ics", closed("full", "Full", "PERCENT-COMPLETE:100"))
	put(t, srv, "/anna/tasks/later.ics", todo("later", "Later"))
	se := open(t, srv, dav.Config{})
	phone := known{}
	q := eas.SyncQuery{Path: "/anna/tasks/#tasks", IncompleteOnly: true, Window: 2}
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"first sync", func() {}, []string{"Add later.ics Later", "Add open.ics Open"}},
		{"completed elsewhere", func() {
			put(t, srv, "/anna/tasks/open.ics", closed("open", "Open", "COMPLETED:20260102T000000Z\nSTATUS:COMPLETED"))
		}, []string{"SoftDelete open.ics"}},
		{"reopened", func() { put(t, srv, "/anna/tasks/done.ics", todo("done", "Done again")) },
			[]string{"Add done.ics Done again"}},
		{"new closed task", func() { put(t, srv, "/anna/tasks/new.ics", closed("new", "New", "STATUS:COMPLETED")) }, nil},
	}
	for _, st := range steps {
		st.do()
		var got []eas.ItemChange
		got, q.Cursor = syncAll(t, se, q, phone)
		if g := kinds(got); !slices.Equal(sorted(g), st.want) {
			t.Errorf("%s: %q, want %q", st.name, g, st.want)
		}
	}
	if g, w := sorted(slices.Collect(maps.Keys(phone))), []string{"done.ics", "later.ics"}; !slices.Equal(g, w) {
		t.Errorf("phone holds %q, want %q", g, w)
	}
}

// TestTwoPhonesOneDelta: a second phone of the user at the cursor of a
// delta kept for the first phone's windows learns of an event the first
// deleted itself before the listing, and the first phone's own add,
// between its windows, is not taken for gone.
func TestTwoPhonesOneDelta(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
		t.Fatal(err)
	}
	const coll = "/anna/calendar/"
	at := time.Now().Add(24 * time.Hour).Truncate(time.Hour)
	for i := range 3 {
		put(t, srv, fmt.Sprintf("%se%d.ics", coll, i), event(fmt.Sprintf("e%d", i), "Event", at))
	}
	se := open(t, srv, dav.Config{NoSyncCollection: true})
	ctx := context.Background()
	q := eas.SyncQuery{Path: coll + eventsSuffix, Window: 2}
	a, b := known{}, known{}
	_, cursor := syncAll(t, se, q, a)
	if _, cb := syncAll(t, se, q, b); cb != cursor {
		t.Fatalf("the phones are at %q and %q", cursor, cb)
	}
	if err := se.DeleteItem(ctx, eas.ItemRef{Path: q.Path, ServerID: "e0.ics"}); err != nil {
		t.Fatal(err)
	}
	delete(a, "e0.ics")
	for i := range 3 {
		put(t, srv, fmt.Sprintf("%sn%d.ics", coll, i), event(fmt.Sprintf("n%d", i), "New", at))
	}
	q.Cursor, q.Known = cursor, a
	cs, err := se.Changes(ctx, q)
	if err != nil || !cs.More {
		t.Fatalf("first window: %+v %v", cs, err)
	}
	a.apply(cs)
	_, cb := syncAll(t, se, q, b)
	if _, held := b["e0.ics"]; held {
		t.Error("phone b still holds e0.ics, which phone a deleted")
	}
	id, v, err := se.AddItem(ctx, q.Path, &eas.Calendar{Subject: ptr("Added by a"),
		StartTime: eas.NewCompactTime(at), EndTime: eas.NewCompactTime(at.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	a[id] = v
	got, ca := syncAll(t, se, q, a)
	if slices.ContainsFunc(got, func(ch eas.ItemChange) bool { return ch.ServerID == id }) {
		t.Errorf("phone a's own event came back: %q", kinds(got))
	}
	q.Cursor = ca
	syncAll(t, se, q, a)
	q.Cursor = cb
	syncAll(t, se, q, b)
	objs, err := se.c.List(ctx, coll)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, o := range objs {
		want[dav.ServerID(o.Path)] = o.ETag
	}
	for name, p := range map[string]known{"a": a, "b": b} {
		if !maps.Equal(map[string]string(p), want) {
			t.Errorf("phone %s holds %v, the server %v", name, p, want)
		}
	}
}
