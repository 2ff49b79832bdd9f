package calendars

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

var hrefEnd = regexp.MustCompile(`</(\w+:)?href>`)

// readCounter counts the objects a client reads: the hrefs of its
// calendar-multigets and its GETs.
type readCounter struct{ n atomic.Int64 }

func (c *readCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case r.Method == http.MethodGet:
		c.n.Add(1)
	case r.Method == "REPORT" && r.GetBody != nil:
		body, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		if bytes.Contains(data, []byte("calendar-multiget")) {
			c.n.Add(int64(len(hrefEnd.FindAll(data, -1))))
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestEstimate: Pending is the number of changes the next Sync sends,
// under a two-week calendar window and tasks FilterType 8, with both
// change strategies, for the first sync and after another client's
// changes in and out of the window; an estimate asked again reads no
// object it passed over.
func TestEstimate(t *testing.T) {
	now := time.Now().Truncate(time.Hour)
	closed := func(uid, summary string) string {
		return strings.Replace(todo(uid, summary), "END:VTODO", "STATUS:COMPLETED\nEND:VTODO", 1)
	}
	const coll = "/anna/calendar/"
	steps := []struct {
		name          string
		puts          map[string]string
		dels          []string
		events, tasks int
	}{
		{"first sync", map[string]string{
			"soon.ics":   event("soon", "Soon", now.AddDate(0, 0, 1)),
			"recent.ics": event("recent", "Recent", now.AddDate(0, 0, -3)),
			"old.ics":    event("old", "Long ago", now.AddDate(0, -2, 0)),
			// An old series with an occurrence in the window, and one
			// whose last occurrence is long past.
			"weekly.ics": event("weekly", "Standup", now.AddDate(0, -2, 0), "RRULE:FREQ=WEEKLY"),
			"ended.ics":  event("ended", "Course", now.AddDate(0, -3, 0), "RRULE:FREQ=WEEKLY;COUNT=3"),
			"open.ics":   todo("open", "Open"),
			"later.ics":  todo("later", "Later"),
			"done.ics":   closed("done", "Done"),
		}, nil, 3, 2},
		{"nothing", nil, nil, 0, 0},
		{"adds in and out", map[string]string{
			"new.ics":    event("new", "New", now.AddDate(0, 0, 2)),
			"older.ics":  event("older", "Older", now.AddDate(0, -1, 0)),
			"closed.ics": closed("closed", "Closed"),
		}, nil, 1, 0},
		{"changes in and out", map[string]string{
			"soon.ics": event("soon", "Soon moved", now.AddDate(0, 0, 1).Add(time.Hour)),
			"old.ics":  event("old", "Long ago, renamed", now.AddDate(0, -2, 0)),
		}, nil, 1, 0},
		{"out of the window and into it", map[string]string{
			"recent.ics": event("recent", "Recent", now.AddDate(0, -1, 0)),
			"old.ics":    event("old", "Long ago", now.AddDate(0, 0, 3)),
		}, nil, 2, 0},
		{"series end and restart", map[string]string{
			"weekly.ics": event("weekly", "Standup", now.AddDate(0, -2, 0), "RRULE:FREQ=WEEKLY;COUNT=2"),
			"ended.ics":  event("ended", "Course", now.AddDate(0, -3, 0), "RRULE:FREQ=WEEKLY"),
		}, nil, 2, 0},
		{"task closed and reopened", map[string]string{
			"open.ics": closed("open", "Open"),
			"done.ics": todo("done", "Done again"),
		}, nil, 0, 2},
		{"deletes in and out", nil, []string{"soon.ics", "older.ics", "closed.ics", "later.ics"}, 1, 1},
	}
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			srv := start(t)
			if err := srv.Calendar(user, "calendar", "Cal", "VEVENT", "VTODO"); err != nil {
				t.Fatal(err)
			}
			reads := &readCounter{}
			se := open(t, srv, dav.Config{NoSyncCollection: noSync, Transport: reads})
			ctx := context.Background()
			folders := []struct {
				q     eas.SyncQuery
				phone known
			}{
				{eas.SyncQuery{Path: coll + eventsSuffix, Since: now.AddDate(0, 0, -14), Window: 2}, known{}},
				{eas.SyncQuery{Path: coll + tasksSuffix, IncompleteOnly: true, Window: 2}, known{}},
			}
			for _, st := range steps {
				for name, data := range st.puts {
					put(t, srv, coll+name, data)
				}
				for _, name := range st.dels {
					if s, _, err := srv.Do(ctx, user, http.MethodDelete, coll+name, "", nil); err != nil || s/100 != 2 {
						t.Fatalf("%s: DELETE %s: %d %v", st.name, name, s, err)
					}
				}
				for i, want := range []int{st.events, st.tasks} {
					f := &folders[i]
					q := f.q
					q.Known = f.phone
					n, err := se.Pending(ctx, q)
					if err != nil {
						t.Fatalf("%s: %s: Pending: %v", st.name, q.Path, err)
					}
					reads.n.Store(0)
					again, err := se.Pending(ctx, q)
					if err != nil || again != n {
						t.Errorf("%s: %s: Pending again %d, %v; first %d", st.name, q.Path, again, err, n)
					}
					if r := reads.n.Load(); r > int64(n) {
						t.Errorf("%s: %s: estimating %d changes again read %d objects", st.name, q.Path, n, r)
					}
					var got []eas.ItemChange
					got, f.q.Cursor = syncAll(t, se, q, f.phone)
					if n != len(got) || n != want {
						t.Errorf("%s: %s: Pending %d, then Sync sent %d %q; want %d", st.name, q.Path, n, len(got), kinds(got), want)
					}
				}
			}
			// The records of what was passed over and is gone are dropped.
			for _, f := range folders {
				for p := range se.b.passedOver(user, f.q.Path) {
					if name := strings.TrimPrefix(p, coll); slices.Contains(steps[len(steps)-1].dels, name) {
						t.Errorf("%s: %s deleted, still recorded as passed over", f.q.Path, name)
					}
				}
			}
		})
	}
}

// TestPassedOverPerFilter: an object one device's filter passed over
// still reaches another device of the user whose filter takes it, and
// is counted for it; one a wider filter took is judged again for a
// narrower one.
func TestPassedOverPerFilter(t *testing.T) {
	now := time.Now().Truncate(time.Hour)
	const coll = "/anna/calendar/"
	evs, tks := coll+eventsSuffix, coll+tasksSuffix
	tests := []struct {
		name string
		a, b eas.SyncQuery
		want []string // what b gets
	}{
		{"two weeks, then none", eas.SyncQuery{Path: evs, Since: now.AddDate(0, 0, -14)}, eas.SyncQuery{Path: evs},
			[]string{"Add mid.ics Mid", "Add old.ics Old", "Add recent.ics Recent"}},
		{"two weeks, then a month", eas.SyncQuery{Path: evs, Since: now.AddDate(0, 0, -14)}, eas.SyncQuery{Path: evs, Since: now.AddDate(0, -1, -1)},
			[]string{"Add mid.ics Mid", "Add recent.ics Recent"}},
		{"a month, then two weeks", eas.SyncQuery{Path: evs, Since: now.AddDate(0, -1, -1)}, eas.SyncQuery{Path: evs, Since: now.AddDate(0, 0, -14)},
			[]string{"Add recent.ics Recent"}},
		{"open tasks, then all", eas.SyncQuery{Path: tks, IncompleteOnly: true}, eas.SyncQuery{Path: tks},
			[]string{"Add closed.ics Closed", "Add open.ics Open"}},
		{"all tasks, then open ones", eas.SyncQuery{Path: tks}, eas.SyncQuery{Path: tks, IncompleteOnly: true},
			[]string{"Add open.ics Open"}},
	}
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("noSync=%v", noSync), func(t *testing.T) {
			srv := start(t)
			if err := srv.Calendar(user, "calendar", "Cal", "VEVENT", "VTODO"); err != nil {
				t.Fatal(err)
			}
			put(t, srv, coll+"recent.ics", event("recent", "Recent", now.AddDate(0, 0, -3)))
			put(t, srv, coll+"mid.ics", event("mid", "Mid", now.AddDate(0, 0, -21)))
			put(t, srv, coll+"old.ics", event("old", "Old", now.AddDate(0, -2, 0)))
			put(t, srv, coll+"open.ics", todo("open", "Open"))
			put(t, srv, coll+"closed.ics", strings.Replace(todo("closed", "Closed"), "END:VTODO", "STATUS:COMPLETED\nEND:VTODO", 1))
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					reads := &readCounter{}
					se := open(t, srv, dav.Config{NoSyncCollection: noSync, Transport: reads}) // a backend of its own
					ctx := context.Background()
					a := known{}
					_, cursor := syncAll(t, se, tt.a, a)
					b := known{}
					q := tt.b
					q.Known = b
					n, err := se.Pending(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := syncAll(t, se, tt.b, b)
					if g := sorted(kinds(got)); n != len(got) || !slices.Equal(g, tt.want) {
						t.Errorf("second device: Pending %d, then Sync %q; want %q", n, g, tt.want)
					}
					// The first device's record outlives the second's sync:
					// after a new object its estimate reads that one only.
					name := fmt.Sprintf("new%d.ics", i)
					if tt.a.Path == evs {
						put(t, srv, coll+name, event(name, "New", now.AddDate(0, 0, 1)))
					} else {
						put(t, srv, coll+name, todo(name, "New"))
					}
					reads.n.Store(0)
					q = tt.a
					q.Known, q.Cursor = a, cursor
					if n, err := se.Pending(ctx, q); err != nil || n != 1 || reads.n.Load() != 1 {
						t.Errorf("first device after a new object: Pending %d, %v, reading %d objects; want 1 reading 1", n, err, reads.n.Load())
					}
					if st, _, err := srv.Do(ctx, user, http.MethodDelete, coll+name, "", nil); err != nil || st/100 != 2 {
						t.Fatalf("DELETE %s: %d %v", name, st, err)
					}
				})
			}
		})
	}
}

// BenchmarkCalendarEstimate: GetItemEstimate's Pending over the
// calendar of BenchmarkCalendarSync with a two-week window: the first
// estimate of the initial sync (every object read), the same asked
// again (the objects before the window not read again), and one after
// the sync that finds nothing new.
//
//	go test -run '^$' -bench BenchmarkCalendarEstimate -benchtime 3x ./bridge/dav/calendars
func BenchmarkCalendarEstimate(b *testing.B) {
	warm, coll := benchCalendar(b, 5000)
	ctx := context.Background()
	reads := &readCounter{}
	cfg := warm.b.cfg.DAV
	cfg.Transport = reads
	se, err := New(Config{DAV: cfg}).open(ctx, cred)
	if err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(reads.n.Swap(0))/float64(b.N), "objects-read/op")
	}
	q := eas.SyncQuery{Path: coll + eventsSuffix, Since: time.Now().AddDate(0, 0, -14), Known: known{}}
	want := 0
	b.Run("first", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			se.b.mu.Lock()
			clear(se.b.passed)
			se.b.mu.Unlock()
			n, err := se.Pending(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			want = n
		}
		report(b)
		b.ReportMetric(float64(want), "estimate")
	})
	b.Run("again", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if n, err := se.Pending(ctx, q); err != nil || n != want {
				b.Fatalf("%d, %v; first %d", n, err, want)
			}
		}
		report(b)
	})
	reads.n.Store(0)
	phone := known{}
	sq := q
	sq.Window = 500
	synced := 0
	for more := true; more; {
		sq.Known = phone
		cs, err := se.Changes(ctx, sq)
		if err != nil {
			b.Fatal(err)
		}
		synced += len(cs.Changes)
		phone.apply(cs)
		sq.Cursor, more = cs.Cursor, cs.More
	}
	if synced != want {
		b.Fatalf("estimated %d, synced %d", want, synced)
	}
	cursor := sq.Cursor
	b.Run("no-change", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if n, err := se.Pending(ctx, eas.SyncQuery{Path: q.Path, Since: q.Since, Cursor: cursor, Known: phone}); err != nil || n != 0 {
				b.Fatalf("%d, %v", n, err)
			}
		}
		report(b)
	})
}
