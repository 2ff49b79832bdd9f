package calendars

import (
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// TestPassedOverForgotten: the record of the objects a folder's Syncs
// passed over is dropped once no Sync of the folder used it for
// passedIdle, so that the users who come no more do not keep theirs (a
// user's older events, most of a calendar, are all passed over); one in
// use is kept.
func TestPassedOverForgotten(t *testing.T) {
	srv := start(t)
	if err := srv.Calendar(user, "calendar", "Cal", "VEVENT", "VTODO"); err != nil {
		t.Fatal(err)
	}
	const coll = "/anna/calendar/"
	now := time.Now().Truncate(time.Hour)
	put(t, srv, coll+"old.ics", event("old", "Old", now.AddDate(0, -2, 0)))
	put(t, srv, coll+"open.ics", todo("open", "Open"))
	se := open(t, srv, dav.Config{})
	clock := now
	se.b.now = func() time.Time { return clock }
	evs := eas.SyncQuery{Path: coll + eventsSuffix, Since: now.AddDate(0, 0, -14)}
	tks := eas.SyncQuery{Path: coll + tasksSuffix}
	recorded := func(q eas.SyncQuery) bool {
		se.b.mu.Lock()
		defer se.b.mu.Unlock()
		r := se.b.passed[user+"\x00"+q.Path]
		return r != nil && len(r.objs) > 0
	}
	syncAll(t, se, evs, known{})
	syncAll(t, se, tks, known{}) // the event is passed over in the tasks folder too
	if !recorded(evs) || !recorded(tks) {
		t.Fatal("nothing recorded as passed over")
	}
	for _, step := range []struct {
		after    time.Duration
		q        eas.SyncQuery // the folder synced then
		evs, tks bool          // still recorded
	}{
		{passedIdle / 2, tks, true, true},
		{passedIdle/2 + 2*time.Hour, tks, false, true},
	} {
		clock = clock.Add(step.after)
		syncAll(t, se, step.q, known{})
		if recorded(evs) != step.evs || recorded(tks) != step.tks {
			t.Errorf("after %v more: events recorded %v, tasks %v; want %v, %v",
				step.after, recorded(evs), recorded(tks), step.evs, step.tks)
		}
	}
}
