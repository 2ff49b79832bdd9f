package calendars

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

// openNoETags opens a session through a proxy that strips the ETags
// (and the properties named) from srv's answers.
func openNoETags(t *testing.T, srv *radicaletest.Server, cfg dav.Config, props ...string) (*Session, *radicaletest.ETagStripper) {
	t.Helper()
	front, strip := radicaletest.NoETags(t, srv, props...)
	cfg.URL = front
	se, err := New(Config{DAV: cfg}).open(context.Background(), cred)
	if err != nil {
		t.Fatal(err)
	}
	return se, strip
}

// TestNoETags: against a server that gives no ETags, an event or a task
// reaches the phone once and comes again only when it changes, whoever
// changes it; a calendar larger than the window gets to the end of its
// initial sync; a phone's change of an item changed meanwhile is refused;
// objects passed over (the to-dos of a calendar folder, events before the
// FilterType window) are not read again and again; with both change
// strategies, and with a server that gives no getlastmodified either.
func TestNoETags(t *testing.T) {
	tests := []struct {
		name   string
		strip  []string
		noSync bool
	}{
		{"sync-collection", nil, false},
		{"propfind", nil, true},
		{"sync-collection, no getlastmodified", []string{"getlastmodified"}, false},
		{"propfind, no getlastmodified", []string{"getlastmodified"}, true},
	}
	const coll = "/anna/calendar/"
	future := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
	past := time.Now().AddDate(0, -2, 0).Truncate(time.Hour)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Without getlastmodified, a change that keeps an object's
			// size within the second is told too (with it, the listing's
			// digest misses such a change: dav's changes.go).
			exact := !tt.noSync || len(tt.strip) > 0
			srv := start(t)
			if err := srv.Calendar(user, "calendar", "Cal", "VEVENT", "VTODO"); err != nil {
				t.Fatal(err)
			}
			for i := range 30 {
				put(t, srv, fmt.Sprintf("%se%04d.ics", coll, i), event(fmt.Sprintf("e%04d", i), fmt.Sprintf("Event %04d", i), future))
			}
			for i := range 10 {
				put(t, srv, fmt.Sprintf("%st%04d.ics", coll, i), todo(fmt.Sprintf("t%04d", i), fmt.Sprintf("Task %04d", i)))
			}
			put(t, srv, coll+"old.ics", event("old", "Long ago", past))
			put(t, srv, coll+"series.ics", event("series", "Series", future, "RRULE:FREQ=DAILY;COUNT=5"))
			se, strip := openNoETags(t, srv, dav.Config{NoSyncCollection: tt.noSync}, tt.strip...)
			ctx := context.Background()
			ev, tk := known{}, known{}
			evQ := eas.SyncQuery{Path: coll + eventsSuffix, Window: 7, Since: time.Now().AddDate(0, 0, -14)}
			tkQ := eas.SyncQuery{Path: coll + tasksSuffix, Window: 7}
			sync := func(t *testing.T) (evs, tks []string) {
				t.Helper()
				var got []eas.ItemChange
				got, evQ.Cursor = syncAll(t, se, evQ, ev)
				evs = sorted(kinds(got))
				got, tkQ.Cursor = syncAll(t, se, tkQ, tk)
				tks = sorted(kinds(got))
				for _, q := range []eas.SyncQuery{evQ, tkQ} {
					q.Known = ev
					if q.Path == tkQ.Path {
						q.Known = tk
					}
					if n, err := se.Pending(ctx, q); err != nil || n != 0 {
						t.Errorf("%s: then Pending %d, %v", q.Path, n, err)
					}
				}
				return evs, tks
			}

			evs, tks := sync(t)
			if len(evs) != 31 || len(ev) != 31 || len(tks) != 10 || len(tk) != 10 {
				t.Fatalf("initial sync: %d events sent, %d held; %d tasks sent, %d held; want 31 and 10",
					len(evs), len(ev), len(tks), len(tk))
			}
			if strip.Stripped() == 0 {
				t.Fatal("the proxy removed no ETag")
			}
			for id, v := range ev {
				if !strings.HasPrefix(v, dav.DigestPrefix) {
					t.Errorf("%s: version %q is no digest", id, v)
				}
			}

			steps := []struct {
				name     string
				exact    bool // the change keeps the object's size
				do       func(t *testing.T)
				ev, task []string // what the next sync sends, sorted
			}{
				{"nothing changed", false, func(*testing.T) {}, nil, nil},
				{"another client adds, changes, deletes", false, func(t *testing.T) {
					put(t, srv, coll+"new.ics", event("new", "New", future))
					put(t, srv, coll+"e0003.ics", event("e0003", "Changed elsewhere", future))
					put(t, srv, coll+"tnew.ics", todo("tnew", "New task"))
					put(t, srv, coll+"t0003.ics", todo("t0003", "Task changed elsewhere"))
					put(t, srv, coll+"old.ics", event("old", "Long ago, changed", past))
					for _, p := range []string{"e0004.ics", "t0004.ics"} {
						if st, _, err := srv.Do(ctx, user, http.MethodDelete, coll+p, "", nil); err != nil || st/100 != 2 {
							t.Fatalf("DELETE %s: %d %v", p, st, err)
						}
					}
				}, []string{"Add new.ics New", "Change e0003.ics Changed elsewhere", "Delete e0004.ics"},
					[]string{"Add tnew.ics New task", "Change t0003.ics Task changed elsewhere", "Delete t0004.ics"}},
				{"another client changes, same size", true, func(t *testing.T) {
					put(t, srv, coll+"e0007.ics", event("e0007", "Event X007", future))
					put(t, srv, coll+"t0007.ics", todo("t0007", "Task X007"))
				}, []string{"Change e0007.ics Event X007"}, []string{"Change t0007.ics Task X007"}},
				{"the phone adds and changes", false, func(t *testing.T) {
					id, v, err := se.AddItem(ctx, evQ.Path, &eas.Calendar{Subject: ptr("Added by the phone"),
						StartTime: eas.NewCompactTime(future), EndTime: eas.NewCompactTime(future.Add(time.Hour))})
					if err != nil || !strings.HasPrefix(v, dav.DigestPrefix) {
						t.Fatalf("AddItem event: %q %v", v, err)
					}
					ev[id] = v
					if id, v, err = se.AddItem(ctx, tkQ.Path, &eas.Task{Subject: ptr("Task by the phone")}); err != nil || !strings.HasPrefix(v, dav.DigestPrefix) {
						t.Fatalf("AddItem task: %q %v", v, err)
					}
					tk[id] = v
					v, err = se.ChangeItem(ctx, eas.ItemRef{Path: evQ.Path, ServerID: "e0005.ics"}, eas.ItemUpdate{
						Item: &eas.Calendar{Subject: ptr("Changed by the phone")}, Known: ev["e0005.ics"],
						Ghosted: calendarFields, Version: eas.V161})
					if err != nil || v == ev["e0005.ics"] || !strings.HasPrefix(v, dav.DigestPrefix) {
						t.Fatalf("ChangeItem event: %q (held %q) %v", v, ev["e0005.ics"], err)
					}
					ev["e0005.ics"] = v
					v, err = se.ChangeItem(ctx, eas.ItemRef{Path: tkQ.Path, ServerID: "t0005.ics"}, eas.ItemUpdate{
						Item: &eas.Task{Subject: ptr("Task changed by the phone")}, Known: tk["t0005.ics"], Version: eas.V161})
					if err != nil || v == tk["t0005.ics"] || !strings.HasPrefix(v, dav.DigestPrefix) {
						t.Fatalf("ChangeItem task: %q (held %q) %v", v, tk["t0005.ics"], err)
					}
					tk["t0005.ics"] = v
				}, nil, nil},
				{"the phone changes items changed elsewhere", false, func(t *testing.T) {
					put(t, srv, coll+"e0006.ics", event("e0006", "Changed elsewhere first", future))
					put(t, srv, coll+"t0006.ics", todo("t0006", "Task changed elsewhere first"))
					_, err := se.ChangeItem(ctx, eas.ItemRef{Path: evQ.Path, ServerID: "e0006.ics"}, eas.ItemUpdate{
						Item: &eas.Calendar{Subject: ptr("Phone")}, Known: ev["e0006.ics"], Ghosted: calendarFields, Version: eas.V161})
					if !errors.Is(err, eas.ErrConflict) {
						t.Errorf("stale event change: %v, want ErrConflict", err)
					}
					_, err = se.ChangeItem(ctx, eas.ItemRef{Path: tkQ.Path, ServerID: "t0006.ics"}, eas.ItemUpdate{
						Item: &eas.Task{Subject: ptr("Phone")}, Known: tk["t0006.ics"], Version: eas.V161})
					if !errors.Is(err, eas.ErrConflict) {
						t.Errorf("stale task change: %v, want ErrConflict", err)
					}
				}, []string{"Change e0006.ics Changed elsewhere first"}, []string{"Change t0006.ics Task changed elsewhere first"}},
				{"the phone deletes an occurrence", false, func(t *testing.T) {
					ref := eas.ItemRef{Path: evQ.Path, ServerID: "series.ics", Known: ev["series.ics"]}
					v, err := se.DeleteInstance(ctx, ref, eas.NewCompactTime(future.AddDate(0, 0, 1)))
					if err != nil || v == ev["series.ics"] || !strings.HasPrefix(v, dav.DigestPrefix) {
						t.Fatalf("DeleteInstance: %q (held %q) %v", v, ev["series.ics"], err)
					}
					ev["series.ics"] = v
				}, nil, nil},
				{"the phone deletes an occurrence of a series changed elsewhere", false, func(t *testing.T) {
					put(t, srv, coll+"series.ics", event("series", "Series changed", future, "RRULE:FREQ=DAILY;COUNT=5",
						"EXDATE:"+future.AddDate(0, 0, 1).UTC().Format("20060102T150405Z")))
					ref := eas.ItemRef{Path: evQ.Path, ServerID: "series.ics", Known: ev["series.ics"]}
					v, err := se.DeleteInstance(ctx, ref, eas.NewCompactTime(future.AddDate(0, 0, 2)))
					if err != nil || v != "" {
						// The series holds a change the phone lacks: no
						// version, for the phone to get it again.
						t.Fatalf("DeleteInstance: %q %v, want no version", v, err)
					}
					ev["series.ics"] = v
				}, []string{"Change series.ics Series changed"}, nil},
			}
			for _, st := range steps {
				if st.exact && !exact {
					continue
				}
				st.do(t)
				evs, tks := sync(t)
				if !slices.Equal(evs, st.ev) || !slices.Equal(tks, st.task) {
					t.Errorf("%s: phone got events %q, tasks %q; want %q, %q", st.name, evs, tks, st.ev, st.task)
				}
			}
			for p, w := range map[string]string{"e0005.ics": "SUMMARY:Changed by the phone", "t0005.ics": "SUMMARY:Task changed by the phone",
				"e0006.ics": "SUMMARY:Changed elsewhere first", "t0006.ics": "SUMMARY:Task changed elsewhere first",
				"series.ics": future.AddDate(0, 0, 2).UTC().Format("20060102T150405Z")} {
				if got := get(t, srv, coll+p); !strings.Contains(got, w) {
					t.Errorf("%s on the server lacks %q:\n%s", p, w, got)
				}
			}
		})
	}
}
