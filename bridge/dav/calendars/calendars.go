// Package calendars serves the EAS Calendar and Tasks classes from the
// user's CalDAV calendars (RFC 4791). Calendars that take events become
// calendar folders (the default one type 8, the others 13); those that
// take to-dos become task folders (7 and 15). A calendar that takes both
// gives one folder of each, whose paths say which component they show.
// Backend is an eas.SessionOpener and, through Notifier, an eas.Notifier;
// eas.Combine puts it beside the mail store.
package calendars

import (
	"context"
	"maps"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// DefaultNames are the last path segments of a default calendar or task
// list, in the order they are preferred (Radicale and Baïkal "calendar"
// or "default", SOGo "personal", Nextcloud "personal", DAViCal "home").
// Without any, the first collection by path is the default.
var DefaultNames = []string{"calendar", "default", "personal", "home"}

// Collections made for a user who has no calendar or no task list.
const (
	NewCalendarName = "calendar"
	NewTaskListName = "tasks"
)

// Config configures the calendar store.
type Config struct {
	// DAV is the CalDAV server; each user logs in with their own
	// credentials.
	DAV dav.Config
	// PollInterval is how often watched calendars are polled for push; 0
	// means dav.DefaultPollInterval.
	PollInterval time.Duration
	// Zone is the zone floating times and all-day items are read in when
	// neither their calendar nor the user's default calendar has a
	// CALDAV:calendar-timezone; nil is UTC.
	Zone *time.Location
	Log  *zap.Logger
}

// Backend opens users' calendar sessions. It keeps each user's home set
// so that a request does not rediscover it.
type Backend struct {
	cfg    Config
	log    *zap.Logger
	poller *dav.Poller

	mu    sync.Mutex
	homes dav.Homes
	// passed are, per user and folder, the objects read and not sent (a
	// to-do beside the events, an event before the FilterType window),
	// by path: they are not read again until they change or a filter
	// that takes them asks.
	passed map[string]*passedRecord
	swept  time.Time // when passed was last rid of records unused
	now    func() time.Time
	// windows keeps the deltas a phone gets in several windows.
	windows dav.Windows
	// zones are the zones of each user's calendars, by user.
	zones map[string]userZones
}

// New makes the calendar store.
func New(cfg Config) *Backend {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	b := &Backend{cfg: cfg, log: log, homes: dav.Homes{Kind: dav.Calendars},
		passed: map[string]*passedRecord{}, zones: map[string]userZones{}, now: time.Now}
	b.poller = &dav.Poller{Config: cfg.DAV, Interval: cfg.PollInterval, OnError: func(user string, err error) {
		log.Warn("polling calendars", zap.String("user", user), zap.Error(err))
	}}
	return b
}

// Open returns the user's session; the first finds the user's home set.
func (b *Backend) Open(ctx context.Context, cred eas.Credentials) (eas.Session, error) {
	s, err := b.open(ctx, cred)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b *Backend) open(ctx context.Context, cred eas.Credentials) (*Session, error) {
	c, err := dav.NewClient(b.cfg.DAV, dav.Credentials{Username: cred.Username, Password: cred.Password})
	if err != nil {
		return nil, err
	}
	home, err := b.homes.Find(ctx, c, cred.Username)
	if err != nil {
		return nil, dav.EASError(err)
	}
	return &Session{b: b, c: c, home: home, user: cred.Username, zone: b.cfg.Zone,
		log: b.log.With(zap.String("user", cred.Username))}, nil
}

// skipped is an object read in one version and not sent, and why. The
// devices of a user share the record, and their filters may differ: it
// counts only for a query that would pass the object over too.
type skipped struct {
	version string
	// since: an event with no occurrence since then; closed: a closed
	// task; neither: an object of the other component.
	since  time.Time
	closed bool
}

// covers reports whether the object in version v is passed over for q
// as it was when recorded. An event before one window is before every
// later one.
func (p skipped) covers(v string, q eas.SyncQuery) bool {
	switch {
	case v == "" || v != p.version:
		return false
	case p.closed:
		return q.IncompleteOnly
	case !p.since.IsZero():
		return !q.Since.IsZero() && !q.Since.Before(p.since)
	}
	return true
}

// passedIdle is how long the record of a folder's objects passed over
// outlives its last use. Most of a calendar is passed over (the events
// before the window): a user's record is dropped some time after the
// user's devices stop syncing the folder, and rebuilt, by reading the
// objects once more, if they come back.
const passedIdle = 24 * time.Hour

// passedRecord is the record of one folder's objects passed over.
type passedRecord struct {
	objs map[string]skipped
	used time.Time
}

// passedOver returns the objects of a folder that were read and not sent.
// It drops the records unused for passedIdle, looking at most once an
// hour.
func (b *Backend) passedOver(user, folder string) map[string]skipped {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if now.Sub(b.swept) >= time.Hour {
		maps.DeleteFunc(b.passed, func(_ string, r *passedRecord) bool { return now.Sub(r.used) > passedIdle })
		b.swept = now
	}
	key := user + "\x00" + folder
	r := b.passed[key]
	if r == nil {
		r = &passedRecord{objs: map[string]skipped{}}
		b.passed[key] = r
	}
	r.used = now
	return r.objs
}
