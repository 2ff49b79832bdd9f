package calendars

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/eas"
)

// Session is one user's calendars for one request.
type Session struct {
	b    *Backend
	c    *dav.Client
	home string
	user string
	zone *time.Location
	log  *zap.Logger
	// send mails iTIP messages as the user; nil: nobody is told.
	send func(ctx context.Context, mime []byte) error
}

var (
	_ eas.Session         = (*Session)(nil)
	_ eas.ItemWriter      = (*Session)(nil)
	_ eas.InstanceDeleter = (*Session)(nil)
)

// Close does nothing: a DAV session holds no connection of its own.
func (s *Session) Close() error { return nil }

// A folder's path is its collection's path with the component it shows:
// one calendar taking events and to-dos is two folders.
const (
	eventsSuffix = "#events"
	tasksSuffix  = "#tasks"
)

// kind is what a folder shows: events or to-dos.
type kind struct {
	comp   string // iCalendar component
	suffix string
	class  eas.Class
	def    eas.FolderType
	user   eas.FolderType
	make   string // name of the collection made when there is none
}

var (
	events = kind{ical.CompEvent, eventsSuffix, eas.ClassCalendar, eas.FolderCalendar, eas.FolderUserCalendar, NewCalendarName}
	tasks  = kind{ical.CompToDo, tasksSuffix, eas.ClassTasks, eas.FolderTasks, eas.FolderUserTasks, NewTaskListName}
)

// splitPath returns the collection and the kind of a folder path.
func splitPath(p string) (string, kind, error) {
	if c, ok := strings.CutSuffix(p, eventsSuffix); ok {
		return c, events, nil
	}
	if c, ok := strings.CutSuffix(p, tasksSuffix); ok {
		return c, tasks, nil
	}
	return "", kind{}, fmt.Errorf("calendar folder %q: %w", p, eas.ErrNotFound)
}

// Folders lists the calendars and task lists, the default one of each as
// the phone's Calendar and Tasks folder. A user who has none of either
// gets one.
func (s *Session) Folders(ctx context.Context) ([]eas.Folder, error) {
	colls, err := s.c.Collections(ctx, dav.Calendars, s.home)
	if err != nil {
		return nil, dav.EASError(err)
	}
	made := false
	for _, k := range []kind{events, tasks} {
		if slices.ContainsFunc(colls, func(c dav.Collection) bool { return c.Holds(k.comp) }) {
			continue
		}
		p := path.Join(s.home, k.make) + "/"
		name := "Calendar"
		if k.class == eas.ClassTasks {
			name = "Tasks"
		}
		if err := s.c.MakeCollection(ctx, dav.Calendars, p, name, k.comp); err != nil {
			return nil, dav.EASError(fmt.Errorf("make the first %s collection: %w", strings.ToLower(name), err))
		}
		s.log.Info("made the user's first collection", zap.String("path", p), zap.String("component", k.comp))
		made = true
	}
	if made {
		if colls, err = s.c.Collections(ctx, dav.Calendars, s.home); err != nil {
			return nil, dav.EASError(err)
		}
	}
	s.rememberZones(colls)
	var out []eas.Folder
	for _, k := range []kind{events, tasks} {
		var of []dav.Collection
		for _, c := range colls {
			if c.Holds(k.comp) {
				of = append(of, c)
			}
		}
		def, _ := dav.Default(of, DefaultNames...)
		for _, c := range of {
			f := eas.Folder{Path: c.Path + k.suffix, Name: c.DisplayName(), Type: k.user}
			if c.Path == def.Path {
				f.Type = k.def
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// DefaultCalendar is the folder path of the user's default calendar, where
// accepted meeting invitations go.
func (s *Session) DefaultCalendar(ctx context.Context) (string, error) {
	fs, err := s.Folders(ctx)
	if err != nil {
		return "", err
	}
	for _, f := range fs {
		if f.Type == eas.FolderCalendar {
			return f.Path, nil
		}
	}
	return "", fmt.Errorf("no default calendar: %w", eas.ErrNotFound)
}

// objectPath finds the object a ServerId names in a collection.
func (s *Session) objectPath(ctx context.Context, coll, id string) (string, error) {
	if !strings.HasPrefix(id, "~") {
		if id == "" || strings.ContainsAny(id, "/\\") || id == "." || id == ".." {
			return "", fmt.Errorf("calendar item %q: %w", id, eas.ErrNotFound)
		}
		return coll + id, nil
	}
	objs, err := s.c.List(ctx, coll)
	if err != nil {
		return "", dav.EASError(err)
	}
	for _, o := range objs {
		if dav.ServerID(o.Path) == id {
			return o.Path, nil
		}
	}
	return "", fmt.Errorf("calendar item %q: %w", id, eas.ErrNotFound)
}

// options is the conversion context of a request on the collection coll
// ("": on no calendar in particular).
func (s *Session) options(ctx context.Context, v eas.Version, coll string) (calconv.Options, error) {
	zone, err := s.zoneOf(ctx, coll)
	if err != nil {
		return calconv.Options{}, err
	}
	o := calconv.Options{Version: v, Zone: zone}
	if strings.Contains(s.user, "@") {
		o.User = s.user
	}
	return o, nil
}

// folderSync is one Sync or estimate of one folder: what the phone lacks
// before any window.
type folderSync struct {
	q    eas.SyncQuery
	coll string
	k    kind
	o    calconv.Options
	key  dav.WindowKey
	d    dav.Delta
	// all are the delta's changes the phone lacks, less the adds of
	// objects passed over in the version listed.
	all []dav.Change
}

// lacking finds what the phone lacks in the folder q names. It reads no
// object.
func (s *Session) lacking(ctx context.Context, q eas.SyncQuery) (*folderSync, error) {
	coll, k, err := splitPath(q.Path)
	if err != nil {
		return nil, err
	}
	o, err := s.options(ctx, q.Body.Version, coll)
	if err != nil {
		return nil, err
	}
	f := &folderSync{q: q, coll: coll, k: k, o: o,
		key: dav.WindowKey{User: s.user, Path: q.Path, Cursor: q.Cursor}}
	if f.d, err = s.b.windows.Delta(ctx, s.c, f.key, coll, q.Known, s.versionsOf(coll)); err != nil {
		return nil, err
	}
	passed := s.b.passedOver(s.user, q.Path)
	if f.d, err = s.versioned(ctx, coll, f.d, q.Known, passed); err != nil {
		return nil, err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	// The records of objects gone are of no use.
	for _, p := range f.d.Deleted {
		delete(passed, p)
	}
	if f.d.Full {
		listed := make(map[string]bool, len(f.d.Updated))
		for _, o := range f.d.Updated {
			listed[o.Path] = true
		}
		maps.DeleteFunc(passed, func(p string, _ skipped) bool { return !listed[p] })
	}
	f.all = slices.DeleteFunc(dav.Diff(f.d, q.Known), func(ch dav.Change) bool {
		p, ok := passed[ch.Path]
		return ch.Kind == eas.ChangeAdd && ok && p.covers(ch.Version, q)
	})
	return f, nil
}

// Changes returns what the phone lacks in one folder: one small request
// when nothing changed, one calendar-multiget to read the objects that
// did. Objects of the other component (a to-do in a calendar folder) and
// events that end before the FilterType window are not sent; a held event
// that changed to end before the window leaves the phone (SoftDelete).
func (s *Session) Changes(ctx context.Context, q eas.SyncQuery) (*eas.ChangeSet, error) {
	f, err := s.lacking(ctx, q)
	if err != nil {
		return nil, err
	}
	cs := &eas.ChangeSet{Cursor: f.d.Cursor}
	window := f.all
	if q.Window > 0 && len(f.all) > q.Window {
		// The rest comes from the same delta next time: what the phone
		// got by then is in Known, so it is not sent twice.
		window, cs.More, cs.Cursor = f.all[:q.Window], true, q.Cursor
	}
	objs, err := s.read(ctx, f.coll, window)
	if err != nil {
		return nil, err
	}
	s.b.windows.Sent(f.key, f.d, window, versions(objs), q.Known, cs.More)
	for _, c := range s.sift(f, window, objs) {
		ic := eas.ItemChange{Kind: c.kind, ServerID: c.ch.ID}
		if c.kind == eas.ChangeAdd || c.kind == eas.ChangeModify {
			ic.Version = c.r.version
			ic.Item, ic.Err = c.r.item(f.k, f.o, q.Body)
			if ic.Err != nil {
				s.log.Warn("sending an item read in part", zap.String("path", c.ch.Path), zap.Error(ic.Err))
			}
		}
		cs.Changes = append(cs.Changes, ic)
	}
	return cs, nil
}

// estimateBatch bounds the objects Pending holds at once.
const estimateBatch = 256

// Pending counts the changes Changes would send, in all its windows: it
// reads the objects that changed, as Changes does, since only their
// content tells whether they fall in the FilterType window. What it
// finds outside joins the record of objects passed over, so neither the
// next estimate nor the next Sync reads them again.
func (s *Session) Pending(ctx context.Context, q eas.SyncQuery) (int, error) {
	f, err := s.lacking(ctx, q)
	if err != nil {
		return 0, err
	}
	n := 0
	for batch := range slices.Chunk(f.all, estimateBatch) {
		objs, err := s.read(ctx, f.coll, batch)
		if err != nil {
			return 0, err
		}
		n += len(s.sift(f, batch, objs))
	}
	return n, nil
}

// sent is a change a Sync sends: a delete, or the object read, as its own
// change or as a SoftDelete.
type sent struct {
	ch   dav.Change
	kind eas.ChangeKind
	r    raw
}

// sift picks the changes of window the phone gets, given the objects
// read for them. It records the objects read and not sent as passed
// over, and forgets the records of older versions of those sent.
func (s *Session) sift(f *folderSync, window []dav.Change, objs map[string]raw) []sent {
	var out []sent
	skip := map[string]skipped{} // objects read and not sent
	taken := map[string]string{} // objects read and sent: path → version
	for _, ch := range window {
		if ch.Kind == eas.ChangeDelete {
			out = append(out, sent{ch: ch, kind: ch.Kind})
			continue
		}
		r, ok := objs[ch.Path]
		if !ok {
			// Deleted between the listing and the read: the next sync
			// sees it gone.
			continue
		}
		if v, ok := f.q.Known.Version(ch.ID); ch.Kind == eas.ChangeModify && ok && v == r.version {
			// The phone wrote it since the listing: it holds this version.
			continue
		}
		kind, send, why := f.shown(ch, r)
		if send {
			out = append(out, sent{ch: ch, kind: kind, r: r})
		}
		if send && kind != eas.ChangeSoftDelete {
			taken[ch.Path] = r.version
		} else {
			skip[ch.Path] = why
		}
	}
	passed := s.b.passedOver(s.user, f.q.Path)
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	maps.Copy(passed, skip)
	for p, v := range taken {
		// A record of the version sent is another device's filter's,
		// which it still holds for.
		if why, ok := passed[p]; ok && why.version != v {
			delete(passed, p)
		}
	}
	return out
}

// shown tells how the phone gets a change whose object was read: not at
// all when it is one of the other component, an event before the
// FilterType window or a closed task under FilterType 8 that the phone
// does not hold; as a SoftDelete when the phone holds it; else as itself.
// why is the reason for the first three.
func (f *folderSync) shown(ch dav.Change, r raw) (kind eas.ChangeKind, send bool, why skipped) {
	why.version = r.version
	switch {
	case !r.is(f.k):
		return 0, false, why
	case f.k == events && !f.q.Since.IsZero() && !r.occursSince(f.q.Since, f.o):
		why.since = f.q.Since
	case f.k == tasks && f.q.IncompleteOnly && !calconv.TaskIncomplete(r.cal):
		why.closed = true
	default:
		return ch.Kind, true, why
	}
	if ch.Kind == eas.ChangeAdd {
		return 0, false, why
	}
	return eas.ChangeSoftDelete, true, why
}

// versions maps the paths of objects read to their versions.
func versions(objs map[string]raw) map[string]string {
	out := make(map[string]string, len(objs))
	for p, r := range objs {
		out[p] = r.version
	}
	return out
}

// raw is one object as the server has it, parsed; cal is nil when it
// could not be.
type raw struct {
	cal     *ical.Calendar
	version string // the ETag, or a digest (version.go)
	err     error
}

func parsed(data []byte, etag string) raw {
	cal, err := calconv.Decode(data)
	return raw{cal, version(etag, cal, data), err}
}

// is reports whether the object is one of k's: it holds k's component.
// An object that cannot be parsed shows in the events folder, as an
// empty item, so that the phone learns of it.
func (r raw) is(k kind) bool {
	if r.cal == nil {
		return k == events
	}
	for _, c := range r.cal.Children {
		if c.Name == ical.CompEvent || c.Name == ical.CompToDo {
			return c.Name == k.comp
		}
	}
	return false
}

func (r raw) occursSince(since time.Time, o calconv.Options) bool {
	if r.cal == nil {
		return true
	}
	ok, err := calconv.OccursIn(r.cal, since, time.Time{}, o)
	return ok || err != nil
}

// item converts the object for the phone, its note cut as the body
// options say.
func (r raw) item(k kind, o calconv.Options, body eas.BodyOptions) (eas.Item, error) {
	if k == tasks {
		if r.cal == nil {
			return &eas.Task{}, r.err
		}
		t, err := calconv.TodoToEAS(r.cal, o)
		if t == nil {
			return &eas.Task{}, err
		}
		t.Body = truncate(t.Body, body)
		return t, err
	}
	if r.cal == nil {
		return &eas.Calendar{}, r.err
	}
	c, err := calconv.EventToEAS(r.cal, o)
	if c == nil {
		return &eas.Calendar{}, err
	}
	c.Body = truncate(c.Body, body)
	return c, err
}

// truncate cuts a plain-text body to the phone's preference.
func truncate(b *eas.Body, opt eas.BodyOptions) *eas.Body {
	if b == nil {
		return nil
	}
	limit := uint32(0)
	for _, p := range opt.Preferences {
		if p.Type == b.Type || p.Type == eas.BodyPlain {
			limit = p.TruncationSize
			break
		}
	}
	if limit == 0 || uint32(len(b.Data)) <= limit {
		return b
	}
	out := *b
	cut := int(limit)
	for cut > 0 && !utf8Start(b.Data[cut]) {
		cut--
	}
	out.Data, out.Truncated = b.Data[:cut], true
	return &out
}

func utf8Start(c byte) bool { return c&0xC0 != 0x80 }

// read gets the objects of the changes that need one: one
// calendar-multiget, or one GET per object when a broken object makes the
// server's answer or its parsing fail.
func (s *Session) read(ctx context.Context, coll string, changes []dav.Change) (map[string]raw, error) {
	var paths []string
	for _, ch := range changes {
		if ch.Kind != eas.ChangeDelete {
			paths = append(paths, ch.Path)
		}
	}
	out := make(map[string]raw, len(paths))
	if len(paths) == 0 {
		return out, nil
	}
	objs, err := s.c.CalDAV().MultiGetCalendar(ctx, coll, &caldav.CalendarMultiGet{
		Paths: paths, CompRequest: caldav.CalendarCompRequest{AllProps: true, AllComps: true}})
	if err == nil {
		for _, o := range objs {
			if o.Data == nil {
				continue
			}
			out[o.Path] = raw{cal: o.Data, version: version(o.ETag, o.Data, nil)}
		}
		return out, nil
	}
	if dav.Unreachable(ctx, err) {
		return nil, dav.EASError(err)
	}
	s.log.Debug("calendar-multiget failed, reading objects one by one", zap.Error(err))
	for _, p := range paths {
		data, etag, err := s.c.Get(ctx, p)
		switch {
		case dav.IsStatus(err, 404, 410):
			continue
		case err != nil:
			return nil, dav.EASError(err)
		}
		out[p] = parsed(data, etag)
	}
	return out, nil
}

// Fetch reads one item.
func (s *Session) Fetch(ctx context.Context, ref eas.ItemRef, body eas.BodyOptions) (eas.Item, error) {
	coll, k, err := splitPath(ref.Path)
	if err != nil {
		return nil, err
	}
	p, err := s.objectPath(ctx, coll, ref.ServerID)
	if err != nil {
		return nil, err
	}
	data, etag, err := s.c.Get(ctx, p)
	if err != nil {
		return nil, dav.EASError(err)
	}
	o, err := s.options(ctx, body.Version, coll)
	if err != nil {
		return nil, err
	}
	it, err := parsed(data, etag).item(k, o, body)
	if err != nil {
		s.log.Warn("fetched an item read in part", zap.String("path", p), zap.Error(err))
	}
	return it, nil
}
