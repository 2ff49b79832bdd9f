package calendars

import (
	"context"
	"sort"

	"github.com/emersion/go-ical"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calconv"
	"github.com/easgate/easgate/eas"
)

// An object's version is its ETag, or a digest of the object as parsed
// when the server gives none (dav.Digest says why).

// version is the version of an object read: its ETag, or its digest when
// the server gave none.
func version(etag string, cal *ical.Calendar, data []byte) string {
	if etag != "" {
		return etag
	}
	d := dav.NewDigest()
	if cal == nil {
		d.Raw(data)
	} else {
		digestComponent(d, cal.Component)
	}
	return d.Version()
}

// versionOf is the version of an object read raw.
func versionOf(etag string, data []byte) string {
	if etag != "" {
		return etag
	}
	cal, _ := calconv.Decode(data)
	return version("", cal, data)
}

func digestComponent(d *dav.Digest, c *ical.Component) {
	d.Begin(c.Name)
	names := make([]string, 0, len(c.Props))
	for n := range c.Props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, p := range c.Props[n] {
			d.Property("", n, p.Params, p.Value)
		}
	}
	for _, child := range c.Children {
		digestComponent(d, child)
	}
	d.End()
}

// versioned gives the objects of d the server gave no ETag their digest
// (dav.Versioned): those the phone holds, and those read and not sent
// (passed), which would otherwise be read again at every Sync.
func (s *Session) versioned(ctx context.Context, coll string, d dav.Delta, known eas.KnownItems, passed map[string]skipped) (dav.Delta, error) {
	held := dav.Held(known)
	want := func(o dav.Object) bool {
		if held(o) {
			return true
		}
		s.b.mu.Lock()
		defer s.b.mu.Unlock()
		_, ok := passed[o.Path]
		return ok
	}
	return dav.Versioned(ctx, d, want, s.versionsOf(coll))
}

// versionsOf reads objects of coll for their versions.
func (s *Session) versionsOf(coll string) dav.ReadVersions {
	return func(ctx context.Context, batch []dav.Change) (map[string]string, error) {
		objs, err := s.read(ctx, coll, batch)
		if err != nil {
			return nil, err
		}
		return versions(objs), nil
	}
}

// written is the version of an object just written: the ETag the server
// answered, or, from a server that gives none, the digest of the object
// as it stored it (which may differ from what was sent). The write is
// done whatever happens here: when the object cannot be read back, the
// version is "" and the phone gets the item once more at its next Sync.
func (s *Session) written(ctx context.Context, p, etag string) string {
	if etag != "" {
		return etag
	}
	data, etag, err := s.c.Get(ctx, p)
	if err != nil {
		s.log.Warn("reading back an object written to a server without ETags", zap.String("path", p), zap.Error(err))
		return ""
	}
	return versionOf(etag, data)
}
