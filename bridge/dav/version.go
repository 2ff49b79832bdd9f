package dav

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"maps"
	"slices"
	"sort"

	"github.com/easgate/easgate/eas"
)

// An object's version, which the phone holds and a later Sync compares,
// is its ETag. A server that gives none (no getetag in its listings, no
// ETag on GET) would make every object look changed on every Sync, so
// such an object's version is a digest of its content instead, as
// Z-Push's and Horde's stores fall back to a hash of the item: exact
// where a getlastmodified (one second, and not every server gives it) is
// not. The digest is of the object as parsed, so that line folding and
// the order of parameters, which the server may change on the way, do not
// count; the contacts and calendar stores feed it their vCard and
// iCalendar properties.

// DigestPrefix starts a version that is a digest, never sent to the
// server as an ETag.
const DigestPrefix = "#"

// Digest computes the content version of one object. The zero value is
// not ready: use NewDigest.
type Digest struct{ h hash.Hash }

// NewDigest starts a digest.
func NewDigest() *Digest { return &Digest{h: sha256.New()} }

// Raw adds bytes as they are: the text of an object that could not be
// parsed.
func (d *Digest) Raw(data []byte) { d.h.Write(data) }

// Begin marks the start of a component (an iCalendar VEVENT), so that a
// property moved from one component to another counts.
func (d *Digest) Begin(name string) { d.h.Write([]byte("\x03" + name + "\x00")) }

// End marks the end of the component begun last.
func (d *Digest) End() { d.h.Write([]byte("\x04")) }

// Property adds one property; its parameters count in any order.
func (d *Digest) Property(group, name string, params map[string][]string, value string) {
	d.h.Write([]byte(group + "\x00" + name + "\x00"))
	keys := make([]string, 0, len(params))
	for p := range params {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		for _, v := range params[p] {
			d.h.Write([]byte(p + "\x01" + v + "\x01"))
		}
	}
	d.h.Write([]byte("\x00" + value + "\x02"))
}

// Version is the version the digest stands for.
func (d *Digest) Version() string {
	return DigestPrefix + hex.EncodeToString(d.h.Sum(nil)[:16])
}

// ReadVersions reads a batch of objects and returns the version of each
// it found, by path; one gone is left out.
type ReadVersions func(context.Context, []Change) (map[string]string, error)

// VersionBatch bounds the objects one read of Versioned or Settled asks
// for: they are only versioned, not kept.
const VersionBatch = 100

// Versioned gives the objects of d that the server listed without an
// ETag and that want says the caller compares (those the phone holds)
// their content version: read reads a batch of them and returns the
// version of each it found. One gone before it was read is listed
// deleted. Objects the phone lacks need no version to be told apart (they
// are Adds) and get theirs when their window reads them.
func Versioned(ctx context.Context, d Delta, want func(Object) bool, read ReadVersions) (Delta, error) {
	var bare []Change
	for _, o := range d.Updated {
		if o.ETag == "" && want(o) {
			bare = append(bare, Change{Kind: eas.ChangeModify, ID: ServerID(o.Path), Path: o.Path})
		}
	}
	if len(bare) == 0 {
		return d, nil
	}
	got, err := read.all(ctx, bare)
	if err != nil {
		return d, err
	}
	return refreshed(d, bare, got), nil
}

// all reads the objects of changes in batches of VersionBatch and
// returns the version of each found, by path.
func (read ReadVersions) all(ctx context.Context, changes []Change) (map[string]string, error) {
	got := make(map[string]string, len(changes))
	for batch := range slices.Chunk(changes, VersionBatch) {
		vs, err := read(ctx, batch)
		if err != nil {
			return nil, err
		}
		maps.Copy(got, vs)
	}
	return got, nil
}

// Held says which objects the phone holds, for Versioned.
func Held(known eas.KnownItems) func(Object) bool {
	return func(o Object) bool {
		_, ok := known.Version(ServerID(o.Path))
		return ok
	}
}
