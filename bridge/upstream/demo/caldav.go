package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
)

// The demo's CalDAV server: the demo user's calendar and task list in
// memory, served by go-webdav's CalDAV handler, so that `easgate demo`
// shows calendars and tasks without a server of its own.

// Calendar paths of the demo user.
const (
	calPrincipal = "/" + User + "/"
	calHome      = calPrincipal + "calendars/"
	calEvents    = calHome + "calendar/"
	calTasks     = calHome + "tasks/"
)

// CalDAV is a running demo CalDAV server.
type CalDAV struct {
	// URL is the server's base URL (http://127.0.0.1:port/).
	URL string
	srv *http.Server
	ln  net.Listener
}

// StartCalDAV seeds the demo calendars and serves them on a free port of
// 127.0.0.1, for the demo credentials only.
func StartCalDAV(now time.Time) (*CalDAV, error) {
	store, err := newCalStore(now)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: caldav listen: %w", err)
	}
	h := &caldav.Handler{Backend: store}
	c := &CalDAV{URL: "http://" + ln.Addr().String() + "/", ln: ln,
		srv: &http.Server{Handler: demoLogin(collectionSlash(h, ".ics")), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// Close stops the server.
func (c *CalDAV) Close() error { return c.srv.Close() }

// calStore is a caldav.Backend in memory.
type calStore struct {
	mu      sync.Mutex
	cals    []caldav.Calendar
	objects map[string]*storedObject // path → object
}

type storedObject struct {
	data    []byte
	modTime time.Time
	etag    string
}

var errNotFound = webdav.NewHTTPError(http.StatusNotFound, errors.New("not found"))

func newCalStore(now time.Time) (*calStore, error) {
	s := &calStore{objects: map[string]*storedObject{}, cals: []caldav.Calendar{
		{Path: calEvents, Name: "Calendar", SupportedComponentSet: []string{ical.CompEvent}},
		{Path: calTasks, Name: "Tasks", SupportedComponentSet: []string{ical.CompToDo}},
	}}
	for name, text := range sampleCalendar(now) {
		cal, err := ical.NewDecoder(strings.NewReader(text)).Decode()
		if err != nil {
			return nil, fmt.Errorf("demo: sample %s: %w", name, err)
		}
		if _, err := s.put(name, cal, now); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *calStore) put(p string, cal *ical.Calendar, now time.Time) (*caldav.CalendarObject, error) {
	var b strings.Builder
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		return nil, webdav.NewHTTPError(http.StatusBadRequest, err)
	}
	sum := sha256.Sum256([]byte(b.String()))
	o := &storedObject{data: []byte(b.String()), modTime: now, etag: hex.EncodeToString(sum[:8])}
	s.objects[p] = o
	return s.object(p, o)
}

func (s *calStore) object(p string, o *storedObject) (*caldav.CalendarObject, error) {
	cal, err := ical.NewDecoder(strings.NewReader(string(o.data))).Decode()
	if err != nil {
		return nil, err
	}
	return &caldav.CalendarObject{Path: p, ModTime: o.modTime, ContentLength: int64(len(o.data)), ETag: o.etag, Data: cal}, nil
}

func (s *calStore) CurrentUserPrincipal(ctx context.Context) (string, error) {
	return calPrincipal, nil
}
func (s *calStore) CalendarHomeSetPath(ctx context.Context) (string, error) { return calHome, nil }

func (s *calStore) CreateCalendar(ctx context.Context, c *caldav.Calendar) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.TrimSuffix(c.Path, "/") + "/"
	if !strings.HasPrefix(p, calHome) || slices.ContainsFunc(s.cals, func(x caldav.Calendar) bool { return x.Path == p }) {
		return webdav.NewHTTPError(http.StatusMethodNotAllowed, errors.New("calendar exists"))
	}
	cc := *c
	cc.Path = p
	s.cals = append(s.cals, cc)
	return nil
}

func (s *calStore) ListCalendars(ctx context.Context) ([]caldav.Calendar, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cals), nil
}

func (s *calStore) GetCalendar(ctx context.Context, p string) (*caldav.Calendar, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p = strings.TrimSuffix(p, "/") + "/"
	for _, c := range s.cals {
		if c.Path == p {
			c := c
			return &c, nil
		}
	}
	return nil, errNotFound
}

func (s *calStore) GetCalendarObject(ctx context.Context, p string, req *caldav.CalendarCompRequest) (*caldav.CalendarObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[p]
	if !ok {
		return nil, errNotFound
	}
	return s.object(p, o)
}

func (s *calStore) ListCalendarObjects(ctx context.Context, p string, req *caldav.CalendarCompRequest) ([]caldav.CalendarObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := strings.TrimSuffix(p, "/") + "/"
	var out []caldav.CalendarObject
	for op, o := range s.objects {
		if path.Dir(op)+"/" != dir {
			continue
		}
		co, err := s.object(op, o)
		if err != nil {
			return nil, err
		}
		out = append(out, *co)
	}
	slices.SortFunc(out, func(a, b caldav.CalendarObject) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func (s *calStore) QueryCalendarObjects(ctx context.Context, p string, q *caldav.CalendarQuery) ([]caldav.CalendarObject, error) {
	all, err := s.ListCalendarObjects(ctx, p, &q.CompRequest)
	if err != nil {
		return nil, err
	}
	return caldav.Filter(q, all)
}

func (s *calStore) PutCalendarObject(ctx context.Context, p string, cal *ical.Calendar, opts *caldav.PutCalendarObjectOptions) (*caldav.CalendarObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.cals, func(c caldav.Calendar) bool { return path.Dir(p)+"/" == c.Path }) {
		return nil, webdav.NewHTTPError(http.StatusConflict, errors.New("no such calendar"))
	}
	old, exists := s.objects[p]
	if opts != nil {
		if opts.IfNoneMatch.IsWildcard() && exists {
			return nil, webdav.NewHTTPError(http.StatusPreconditionFailed, errors.New("exists"))
		}
		if opts.IfMatch.IsSet() && !opts.IfMatch.IsWildcard() {
			if tag, err := opts.IfMatch.ETag(); err != nil || !exists || tag != old.etag {
				return nil, webdav.NewHTTPError(http.StatusPreconditionFailed, errors.New("changed"))
			}
		}
	}
	return s.put(p, cal, time.Now())
}

func (s *calStore) DeleteCalendarObject(ctx context.Context, p string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[p]; !ok {
		return errNotFound
	}
	delete(s.objects, p)
	return nil
}
