package dav

import (
	"crypto/sha256"
	"encoding/base32"
	"path"
	"slices"
	"strings"

	"github.com/easgate/easgate/eas"
)

// ServerID names an object of a collection for the phone: its resource
// name, or a digest of it when the name is longer than the 64 characters a
// ServerId may have.
func ServerID(objPath string) string {
	name := path.Base(objPath)
	if len(name) <= 60 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "~" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20]))
}

// Change is one object the phone lacks.
type Change struct {
	Kind    eas.ChangeKind
	ID      string
	Path    string
	Version string
}

// Diff compares a delta with what the phone holds: Adds and Changes in
// the delta's order, then Deletes by id. A full delta also deletes what
// the phone holds that it does not list.
func Diff(d Delta, known eas.KnownItems) []Change {
	var out []Change
	seen := map[string]bool{}
	for _, o := range d.Updated {
		id := ServerID(o.Path)
		seen[id] = true
		v, ok := known.Version(id)
		switch {
		case !ok:
			out = append(out, Change{eas.ChangeAdd, id, o.Path, o.ETag})
		case v != o.ETag || o.ETag == "":
			out = append(out, Change{eas.ChangeModify, id, o.Path, o.ETag})
		}
	}
	var gone []string
	drop := func(id string) {
		if _, ok := known.Version(id); ok && !seen[id] {
			gone = append(gone, id)
			seen[id] = true
		}
	}
	for _, p := range d.Deleted {
		drop(ServerID(p))
	}
	for _, id := range d.Gone {
		drop(id)
	}
	if d.Full {
		known.Range(func(id, _ string) bool {
			if !seen[id] {
				gone = append(gone, id)
			}
			return true
		})
	}
	slices.Sort(gone)
	for _, id := range gone {
		out = append(out, Change{Kind: eas.ChangeDelete, ID: id})
	}
	return out
}
