package dav

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/easgate/easgate/eas"
)

// DefaultWindowTTL is how long a delta waits for its next window when
// Windows.TTL is zero: a phone asks for the next window at once, and a
// delta kept longer only grows stale.
const DefaultWindowTTL = 2 * time.Minute

// Windows keeps the deltas a phone takes in several Sync windows, so that
// the server lists a collection once for all of them rather than once per
// window (a 1,700-card book in windows of 100 was 17 listings). A delta
// is kept under the cursor it was taken from, which the phone sends back
// with every window until it has the last one; changes made upstream
// meanwhile are not lost, since the delta's own cursor, which the phone
// gets with the last window, is from before them. The zero value is
// ready to use; it is safe for concurrent use.
type Windows struct {
	// TTL bounds how long a delta waits for its next window; 0 means
	// DefaultWindowTTL.
	TTL time.Duration

	mu   sync.Mutex
	kept map[WindowKey]keptDelta
}

// WindowKey names a delta a phone takes in windows: the user's, of one
// folder, from the cursor the phone sends with every window. Path is the
// folder's, not the collection's: the folders of one collection (its
// events and its to-dos) hold different objects, and the deletions a kept
// delta gives are those of one folder's phone.
type WindowKey struct {
	User   string
	Path   string
	Cursor string
}

type keptDelta struct {
	delta Delta
	at    time.Time
}

func (w *Windows) ttl() time.Duration {
	if w.TTL > 0 {
		return w.TTL
	}
	return DefaultWindowTTL
}

// Kept returns the rest of the delta k names, if one is kept that has
// not waited too long. It is asked on every Sync and estimate, so it
// looks at k alone; Keep forgets the others.
func (w *Windows) Kept(k WindowKey) (Delta, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	kd, ok := w.kept[k]
	if !ok || time.Since(kd.at) > w.ttl() {
		return Delta{}, false
	}
	return kd.delta, true
}

// Keep keeps d for the next window; known is what the phone held when d
// was listed. A full delta is kept as the deletions it gave then (Gone):
// later, the phone may hold objects it wrote itself since the listing,
// which it must not be told are gone. A second device of the user taking
// the same delta, from the same cursor, may hold objects the first did
// not (one the first deleted itself before the listing): Settled finds
// them.
func (w *Windows) Keep(k WindowKey, d Delta, known eas.KnownItems) {
	if d.Full {
		listed := make(map[string]bool, len(d.Updated))
		for _, o := range d.Updated {
			listed[ServerID(o.Path)] = true
		}
		d.Full, d.listed, d.Gone = false, true, slices.Clone(d.Gone)
		known.Range(func(id, _ string) bool {
			if !listed[id] {
				d.Gone = append(d.Gone, id)
			}
			return true
		})
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.kept == nil {
		w.kept = map[WindowKey]keptDelta{}
	}
	// The deltas that waited too long go as new ones come.
	maps.DeleteFunc(w.kept, func(_ WindowKey, v keptDelta) bool { return now.Sub(v.at) > w.ttl() })
	w.kept[k] = keptDelta{delta: d, at: now}
}

// Delta returns what changed in coll since k's cursor for a phone that
// holds known: the rest of a delta the phone is getting in windows, once
// Settled, or the server's answer. read reads objects of coll for
// Settled.
func (w *Windows) Delta(ctx context.Context, c *Client, k WindowKey, coll string, known eas.KnownItems, read ReadVersions) (Delta, error) {
	if d, ok := w.Kept(k); ok {
		d, ok, err := Settled(ctx, d, coll, known, read)
		if err != nil || ok {
			return d, err
		}
	}
	d, err := c.Changes(ctx, coll, k.Cursor)
	if err != nil {
		return d, EASError(err)
	}
	return d, nil
}

// Drop forgets the delta k names, once the phone has it all.
func (w *Windows) Drop(k WindowKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.kept, k)
}

// Sent records that the phone got window, whose objects were read at the
// versions read (by path): while more is to come, d is kept, refreshed,
// for the next window; once the phone has it all, it is dropped.
func (w *Windows) Sent(k WindowKey, d Delta, window []Change, read map[string]string, known eas.KnownItems, more bool) {
	if !more {
		w.Drop(k)
		return
	}
	w.Keep(k, refreshed(d, window, read), known)
}

// refreshed returns d with the objects of window as they were just read,
// for the next window taken from it; read maps the path of each object
// read to its version ("" when the server gave none). One changed since
// the listing (by the phone's own write, most often, which gave the
// phone the new version) gets its new version, so that the phone's
// version does not look different from the listing's on every later
// window; one not read, gone since, is listed deleted. Otherwise such
// entries come back in every window and, once they fill it, the phone
// never gets to the end of the delta.
func refreshed(d Delta, window []Change, read map[string]string) Delta {
	asked := map[string]bool{}
	for _, ch := range window {
		if ch.Kind != eas.ChangeDelete {
			asked[ch.Path] = true
		}
	}
	if len(asked) == 0 {
		return d
	}
	out := d // d may be shared with another window: copy what changes
	out.Updated = make([]Object, 0, len(d.Updated))
	out.Deleted = slices.Clone(d.Deleted)
	for _, o := range d.Updated {
		if asked[o.Path] {
			v, ok := read[o.Path]
			if !ok {
				out.Deleted = append(out.Deleted, o.Path)
				continue
			}
			if v != "" {
				o.ETag = v
			}
		}
		out.Updated = append(out.Updated, o)
	}
	return out
}

// Settled finds, for a delta kept from a full listing, what the phone
// holds that the listing neither lists nor deletes: objects the phone (or
// another device of the user) wrote since, or objects gone before the
// listing that only this phone still holds, since the kept deletions are
// those of the phone the delta was kept for. read reads a batch of
// objects in coll and returns the version of each it found; one found
// joins the delta, one not found is gone. ok is false when such an object
// has a ServerID that does not name its path (a long name): the caller
// lists the collection again.
func Settled(ctx context.Context, d Delta, coll string, known eas.KnownItems, read ReadVersions) (out Delta, ok bool, err error) {
	if !d.listed {
		return d, true, nil
	}
	unlisted, ok := d.unlisted(coll, known)
	if !ok || len(unlisted) == 0 {
		return d, ok, nil
	}
	got, err := read.all(ctx, unlisted)
	if err != nil {
		return d, false, err
	}
	out = d // d may be shared with another window: copy what changes
	out.Updated, out.Gone = slices.Clone(d.Updated), slices.Clone(d.Gone)
	for _, ch := range unlisted {
		if v, found := got[ch.Path]; found {
			out.Updated = append(out.Updated, Object{Path: ch.Path, ETag: v})
		} else {
			out.Gone = append(out.Gone, ch.ID)
		}
	}
	return out, true, nil
}

// unlisted is what known holds that d neither lists nor deletes, for
// Settled; ok is false when one of them has a ServerID that does not
// name its path.
func (d Delta) unlisted(coll string, known eas.KnownItems) (unlisted []Change, ok bool) {
	seen := make(map[string]bool, len(d.Updated)+len(d.Deleted)+len(d.Gone))
	for _, o := range d.Updated {
		seen[ServerID(o.Path)] = true
	}
	for _, p := range d.Deleted {
		seen[ServerID(p)] = true
	}
	for _, id := range d.Gone {
		seen[id] = true
	}
	ok = true
	known.Range(func(id, _ string) bool {
		if seen[id] {
			return true
		}
		if strings.HasPrefix(id, "~") {
			ok = false
			return false
		}
		unlisted = append(unlisted, Change{Kind: eas.ChangeModify, ID: id, Path: coll + id})
		return true
	})
	return unlisted, ok
}
