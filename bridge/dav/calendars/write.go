package calendars

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"

	"github.com/emersion/go-ical"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/eas"
)

// ErrInvalidItem wraps a phone's item that cannot be stored as sent (a
// time that does not parse, an unknown recurrence type): nothing is
// written.
var ErrInvalidItem = calconv.ErrBadItem

// safeName matches a UID that can be a resource name as it is.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,50}$`)

// AddItem stores a phone's new event or task for a caller that does not
// tell the phone's version (see AddNewItem).
func (s *Session) AddItem(ctx context.Context, folder string, it eas.Item) (string, string, error) {
	return s.AddNewItem(ctx, eas.NewItem{Path: folder, Item: it})
}

// AddNewItem stores a phone's new event or task as a new object, created
// only if no object has its name (If-None-Match: *). The object is named
// after the item's UID (an iOS ClientUid), so that an Add the phone sends
// again finds the object the first one made instead of a duplicate.
func (s *Session) AddNewItem(ctx context.Context, n eas.NewItem) (string, string, error) {
	coll, k, err := splitPath(n.Path)
	if err != nil {
		return "", "", err
	}
	v := n.Version
	if v == 0 {
		v = guessVersion(n.Item)
	}
	o, err := s.options(ctx, v, coll)
	if err != nil {
		return "", "", err
	}
	cal, uid, err := s.newObject(k, n.Item, o)
	if err != nil {
		return "", "", err
	}
	name := uid
	if !safeName.MatchString(name) {
		name = dav.NewUID()
	}
	data, err := calconv.Encode(cal)
	if err != nil {
		return "", "", err
	}
	p := coll + name + ".ics"
	etag, err := s.c.Put(ctx, p, ical.MIMEType, data, "")
	if errors.Is(err, dav.ErrPrecondition) {
		// The phone's Add again: the object is there already.
		var stored []byte
		if stored, etag, err = s.c.Get(ctx, p); err == nil {
			return dav.ServerID(p), versionOf(etag, stored), nil
		}
	}
	if err != nil {
		return "", "", dav.EASError(err)
	}
	s.tell(ctx, v, nil, cal)
	return dav.ServerID(p), s.written(ctx, p, etag), nil
}

// newObject makes the object of a phone's new item and returns its UID.
func (s *Session) newObject(k kind, it eas.Item, o calconv.Options) (*ical.Calendar, string, error) {
	switch in := it.(type) {
	case *eas.Calendar:
		if k != events || in == nil {
			break
		}
		cal, err := calconv.ApplyEvent(nil, in, o)
		if err != nil {
			return nil, "", err
		}
		return cal, uidOf(cal, ical.CompEvent), nil
	case *eas.Task:
		if k != tasks || in == nil {
			break
		}
		uid := dav.NewUID()
		cal, err := calconv.ApplyTask(nil, in, uid, o)
		if err != nil {
			return nil, "", err
		}
		return cal, uid, nil
	}
	return nil, "", fmt.Errorf("%w: a %T in a %s folder", ErrInvalidItem, it, k.class)
}

// guessVersion is the version of an Add whose caller did not tell it
// (the engine always does, through AddNewItem): 16.x by what only 16.x
// phones send (ClientUid, a Location element), else 14.1. It misses a
// 16.x phone that sends neither.
func guessVersion(it eas.Item) eas.Version {
	if c, ok := it.(*eas.Calendar); ok && c != nil && (c.ClientUID != "" || c.AirLocation != nil) {
		return eas.V160
	}
	return eas.V141
}

func uidOf(cal *ical.Calendar, comp string) string {
	for _, c := range cal.Children {
		if c.Name == comp {
			if p := c.Props.Get(ical.PropUID); p != nil {
				return p.Value
			}
		}
	}
	return ""
}

// current is an object as the server has it, read to apply a change.
type current struct {
	path, etag string
	// version is the ETag, or the digest of the object as read from a
	// server that gives no ETags.
	version string
	// stored: the object is on the server (with or without an ETag).
	stored bool
	cal    *ical.Calendar
	data   []byte // as read; nil for a new object
}

// before is the object as read, apart from the changes made to cal.
func (c *current) before() *ical.Calendar {
	if c.data == nil {
		return nil
	}
	cal, err := calconv.Decode(c.data)
	if err != nil {
		return nil
	}
	return cal
}

// load reads the object a phone changes, refusing the change when the
// object moved on since the version the phone holds (known; "" means the
// phone's change wins).
func (s *Session) load(ctx context.Context, ref eas.ItemRef, known string) (*current, kind, error) {
	coll, k, err := splitPath(ref.Path)
	if err != nil {
		return nil, k, err
	}
	p, err := s.objectPath(ctx, coll, ref.ServerID)
	if err != nil {
		return nil, k, err
	}
	data, etag, err := s.c.Get(ctx, p)
	if err != nil {
		return nil, k, dav.EASError(err)
	}
	cal, perr := calconv.Decode(data)
	v := version(etag, cal, data)
	if known != "" && v != known {
		return nil, k, fmt.Errorf("%w: %s is at %s, the phone holds %s", eas.ErrConflict, p, v, known)
	}
	if perr != nil {
		return nil, k, fmt.Errorf("%s cannot be read to apply a change: %w", p, perr)
	}
	return &current{path: p, etag: etag, version: v, stored: true, cal: cal, data: data}, k, nil
}

// store writes a changed object back, only over the version read
// (If-Match): another client's write in between wins. It returns the
// object's new version.
func (s *Session) store(ctx context.Context, cur *current) (string, error) {
	calconv.AddMissingTimezones(cur.cal)
	data, err := calconv.Encode(cur.cal)
	if err != nil {
		return "", err
	}
	var etag string
	if cur.stored {
		// From a server without ETags there is nothing to match: the
		// version compared when the object was read is the check, short
		// of a write by another client in between.
		etag, err = s.c.Replace(ctx, cur.path, ical.MIMEType, data, cur.etag)
	} else {
		etag, err = s.c.Put(ctx, cur.path, ical.MIMEType, data, "")
	}
	if err != nil {
		return "", dav.EASError(err)
	}
	return s.written(ctx, cur.path, etag), nil
}

// ChangeItem writes a phone's change into the object as the server has
// it, rewriting only what EAS carries. With 16.x what the phone left out
// keeps its value; before, it is cleared, except what is ghosted (what
// phones never send back, and what the collection's Supported does not
// list). A 16.x change of one occurrence
// (InstanceId) changes or makes that occurrence's override.
func (s *Session) ChangeItem(ctx context.Context, ref eas.ItemRef, u eas.ItemUpdate) (string, error) {
	cur, k, err := s.load(ctx, ref, u.Known)
	if err != nil {
		return "", err
	}
	o, err := s.options(ctx, u.Version, path.Dir(cur.path)+"/")
	if err != nil {
		return "", err
	}
	o.ClearAbsent = !u.Version.AtLeast(eas.V160)
	ghosted := func(el string) bool { return slices.Contains(u.Ghosted, el) }
	switch in := u.Item.(type) {
	case *eas.Calendar:
		if k != events || in == nil {
			break
		}
		if err := s.applyEvent(cur, *in, o, ghosted); err != nil {
			return "", err
		}
		etag, err := s.store(ctx, cur)
		if err == nil {
			s.tell(ctx, u.Version, cur.before(), cur.cal)
		}
		return etag, err
	case *eas.Task:
		if k != tasks || in == nil {
			break
		}
		t := *in
		if o.ClearAbsent {
			if old, err := calconv.TodoToEAS(cur.cal, o); err == nil {
				calconv.KeepGhosted(&t, old, ghosted)
			}
		}
		cal, err := calconv.ApplyTask(cur.cal, &t, "", o)
		if err != nil {
			return "", err
		}
		cur.cal = cal
		return s.store(ctx, cur)
	}
	return "", fmt.Errorf("%w: a %T in a %s folder", ErrInvalidItem, u.Item, k.class)
}

func (s *Session) applyEvent(cur *current, in eas.Calendar, o calconv.Options, ghosted func(string) bool) error {
	if in.InstanceID != "" {
		return calconv.ApplyInstance(cur.cal, in.InstanceID, &in, o)
	}
	if o.ClearAbsent {
		if old, err := calconv.EventToEAS(cur.cal, o); err == nil {
			calconv.KeepGhosted(&in, old, ghosted)
		}
	}
	cal, err := calconv.ApplyEvent(cur.cal, &in, o)
	if err != nil {
		return err
	}
	cur.cal = cal
	return nil
}

// DeleteItem removes an event or task; one that is gone already is no
// error.
func (s *Session) DeleteItem(ctx context.Context, ref eas.ItemRef) error {
	coll, _, err := splitPath(ref.Path)
	if err != nil {
		return err
	}
	p, err := s.objectPath(ctx, coll, ref.ServerID)
	if errors.Is(err, eas.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	before := s.toTell(ctx, ref.Version, p)
	err = s.c.Delete(ctx, p, "")
	if dav.IsStatus(err, 404, 410) {
		return nil
	}
	if err == nil && before != nil {
		s.tell(ctx, ref.Version, before, nil)
	}
	return dav.EASError(err)
}

// DeleteInstance removes one occurrence of a series (a 16.x Delete with
// InstanceId): an EXDATE, and the occurrence's override if it has one.
func (s *Session) DeleteInstance(ctx context.Context, ref eas.ItemRef, instance eas.CompactTime) (string, error) {
	cur, k, err := s.load(ctx, ref, "")
	if err != nil {
		return "", err
	}
	if k != events {
		return "", fmt.Errorf("%w: an occurrence of a task", ErrInvalidItem)
	}
	o, err := s.options(ctx, eas.V160, path.Dir(cur.path)+"/")
	if err != nil {
		return "", err
	}
	if err := calconv.DeleteInstance(cur.cal, instance, o); err != nil {
		return "", err
	}
	s.log.Debug("deleting one occurrence", zap.String("path", cur.path), zap.String("instance", string(instance)))
	merged := ref.Known != "" && cur.version != ref.Known
	etag, err := s.store(ctx, cur)
	if err == nil {
		s.tell(ctx, ref.Version, cur.before(), cur.cal)
	}
	if merged && err == nil {
		// The series holds other clients' changes the phone lacks: no
		// version, so that it gets the series again.
		return "", nil
	}
	return etag, err
}

// toTell reads the event a 16.x phone deletes when its attendees may have
// to be told; nil when not.
func (s *Session) toTell(ctx context.Context, v eas.Version, p string) *ical.Calendar {
	if s.send == nil || !v.AtLeast(eas.V160) {
		return nil
	}
	data, _, err := s.c.Get(ctx, p)
	if err != nil {
		return nil
	}
	cal, err := calconv.Decode(data)
	if err != nil {
		return nil
	}
	return cal
}
