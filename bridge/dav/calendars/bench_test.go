package calendars

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

// benchCalendar writes n events, every tenth a weekly series with an
// exception, straight into Radicale's storage (uploading them one by one
// would take minutes).
func benchCalendar(b *testing.B, n int) (*Session, string) {
	srv := benchServer(b, n)
	return benchSession(b, dav.Config{URL: srv.URL()})
}

func benchServer(b *testing.B, n int) *radicaletest.Server {
	b.Helper()
	srv, err := radicaletest.Start(radicaletest.Options{Users: map[string]string{user: pass}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT"); err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(srv.Dir(), "collection-root", user, "calendar")
	base := time.Now().AddDate(0, -6, 0).Truncate(time.Hour)
	for i := 0; i < n; i++ {
		at := base.Add(time.Duration(i) * 7 * time.Hour)
		uid := fmt.Sprintf("bench-%05d", i)
		var extra []string
		if i%10 == 0 {
			extra = []string{"RRULE:FREQ=WEEKLY;COUNT=20", "DESCRIPTION:A series with notes that are long enough to be a real agenda of a real meeting."}
		}
		data := event(uid, fmt.Sprintf("Event %d", i), at, extra...)
		if i%10 == 0 {
			data = data[:len(data)-len("END:VCALENDAR\n")] + "BEGIN:VEVENT\nUID:" + uid + "\nDTSTAMP:20260101T000000Z\nRECURRENCE-ID:" +
				at.AddDate(0, 0, 7).UTC().Format("20060102T150405Z") + "\nDTSTART:" + at.AddDate(0, 0, 7).Add(time.Hour).UTC().Format("20060102T150405Z") +
				"\nDTEND:" + at.AddDate(0, 0, 7).Add(2*time.Hour).UTC().Format("20060102T150405Z") + "\nSUMMARY:Moved\nEND:VEVENT\nEND:VCALENDAR\n"
		}
		if err := os.WriteFile(filepath.Join(dir, uid+".ics"), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return srv
}

// benchSession opens a session and warms the server.
func benchSession(b *testing.B, cfg dav.Config) (*Session, string) {
	b.Helper()
	// Radicale reads and caches a collection's objects on the first
	// request that needs them: for 5,000 objects that takes longer than
	// a phone's request, so the benchmark measures a warm server.
	cfg.Timeout = 5 * time.Minute
	se, err := New(Config{DAV: cfg}).open(context.Background(), cred)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := se.c.Changes(context.Background(), "/anna/calendar/", ""); err != nil {
		b.Fatal(err)
	}
	return se, "/anna/calendar/"
}

// BenchmarkCalendarSync: the initial sync of a calendar of 5,000 events
// (500 of them recurring) in windows of 100, as a phone does it; one
// calendar-query REPORT of the same objects for comparison; and a Sync
// that finds nothing new.
//
//	go test -run '^$' -bench BenchmarkCalendarSync -benchtime 3x ./bridge/dav/calendars
func BenchmarkCalendarSync(b *testing.B) {
	se, coll := benchCalendar(b, 5000)
	ctx := context.Background()
	var cursor string
	var phone known
	b.Run("initial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			phone = known{}
			q := eas.SyncQuery{Path: coll + eventsSuffix, Window: 100, Body: eas.BodyOptions{Version: eas.V161}}
			n := 0
			for {
				q.Known = phone
				cs, err := se.Changes(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				n += len(cs.Changes)
				phone.apply(cs)
				q.Cursor = cs.Cursor
				if !cs.More {
					break
				}
			}
			if n != 5000 {
				b.Fatalf("%d items synced", n)
			}
			cursor = q.Cursor
		}
	})
	b.Run("one-report", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			objs, err := se.c.CalDAV().QueryCalendar(ctx, coll, &caldav.CalendarQuery{
				CompRequest: caldav.CalendarCompRequest{Name: ical.CompCalendar, AllProps: true, AllComps: true},
				CompFilter:  caldav.CompFilter{Name: ical.CompCalendar},
			})
			if err != nil || len(objs) != 5000 {
				b.Fatalf("%d objects, %v", len(objs), err)
			}
		}
	})
	b.Run("no-change", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cs, err := se.Changes(ctx, eas.SyncQuery{Path: coll + eventsSuffix, Cursor: cursor, Known: phone, Window: 100})
			if err != nil {
				b.Fatal(err)
			}
			if len(cs.Changes) != 0 {
				b.Fatalf("%d changes", len(cs.Changes))
			}
		}
	})
}

// BenchmarkCalendarSyncNoETags: BenchmarkCalendarSync's initial and
// no-change Syncs of 1,000 events against a server that gives no ETags,
// with sync-collection and with PROPFIND listings that lack
// getlastmodified too (where every Sync reads the objects the phone
// holds, to compare their digests); and against the server with its
// ETags, for comparison.
//
//	go test -run '^$' -bench BenchmarkCalendarSyncNoETags -benchtime 3x ./bridge/dav/calendars
func BenchmarkCalendarSyncNoETags(b *testing.B) {
	srv := benchServer(b, 1000)
	for _, tt := range []struct {
		name   string
		etags  bool
		noSync bool
		props  []string
	}{
		{"etags", true, false, nil},
		{"sync-collection", false, false, nil},
		{"propfind-no-lastmodified", false, true, []string{"getlastmodified"}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			front := srv.URL()
			if !tt.etags {
				front, _ = radicaletest.NoETags(b, srv, tt.props...)
			}
			se, coll := benchSession(b, dav.Config{URL: front, NoSyncCollection: tt.noSync})
			ctx := context.Background()
			var cursor string
			var phone known
			b.Run("initial", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					phone = known{}
					q := eas.SyncQuery{Path: coll + eventsSuffix, Window: 100, Body: eas.BodyOptions{Version: eas.V161}}
					n := 0
					for {
						q.Known = phone
						cs, err := se.Changes(ctx, q)
						if err != nil {
							b.Fatal(err)
						}
						n += len(cs.Changes)
						phone.apply(cs)
						q.Cursor = cs.Cursor
						if !cs.More {
							break
						}
					}
					if n != 1000 {
						b.Fatalf("%d items synced", n)
					}
					cursor = q.Cursor
				}
			})
			b.Run("no-change", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					cs, err := se.Changes(ctx, eas.SyncQuery{Path: coll + eventsSuffix, Cursor: cursor, Known: phone, Window: 100})
					if err != nil {
						b.Fatal(err)
					}
					if len(cs.Changes) != 0 {
						b.Fatalf("%d changes", len(cs.Changes))
					}
				}
			})
		})
	}
}
