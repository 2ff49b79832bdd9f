package dav

import (
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// held is what a phone holds: ServerId → version.
type held map[string]string

func (h held) Len() int { return len(h) }
func (h held) Version(id string) (string, bool) {
	v, ok := h[id]
	return v, ok
}
func (h held) Range(fn func(id, v string) bool) {
	for id, v := range h {
		if !fn(id, v) {
			return
		}
	}
}

// TestKeptDelta: a delta kept for later windows gives the same changes as
// the server's answer would, except that what the phone wrote itself
// meanwhile is not sent back to it, above all not deleted because a
// full listing made before it did not list it.
func TestKeptDelta(t *testing.T) {
	const c = "/anna/contacts/"
	full := Delta{Full: true, Cursor: "etag:1", Updated: []Object{{c + "a.vcf", "1"}, {c + "b.vcf", "1"}, {c + "c.vcf", "2"}}}
	tests := []struct {
		name   string
		d      Delta
		before held // when it was listed
		after  held // at the next window
		want   []string
	}{
		{"full: the phone's own add stays", full, held{"a.vcf": "1", "gone.vcf": "1"},
			held{"a.vcf": "1", "gone.vcf": "1", "mine.vcf": "9"}, []string{"Add b.vcf", "Add c.vcf", "Delete gone.vcf"}},
		{"full: deleted by the phone too", full, held{"a.vcf": "1", "gone.vcf": "1"},
			held{"a.vcf": "1"}, []string{"Add b.vcf", "Add c.vcf"}},
		{"full: the phone changed one", full, held{"a.vcf": "1", "c.vcf": "1"},
			held{"a.vcf": "5", "c.vcf": "1"}, []string{"Add b.vcf", "Change a.vcf", "Change c.vcf"}},
		{"sync: unchanged by keeping", Delta{Cursor: "sync:2", Updated: []Object{{c + "b.vcf", "2"}}, Deleted: []string{c + "a.vcf"}},
			held{"a.vcf": "1", "b.vcf": "1"}, held{"a.vcf": "1", "b.vcf": "1", "mine.vcf": "9"}, []string{"Change b.vcf", "Delete a.vcf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Windows
			key := WindowKey{User: "anna", Path: c, Cursor: "etag:0"}
			w.Keep(key, tt.d, tt.before)
			kept, ok := w.Kept(key)
			if !ok {
				t.Fatal("nothing kept")
			}
			var got []string
			for _, ch := range Diff(kept, tt.after) {
				got = append(got, ch.Kind.String()+" "+ch.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("kept delta gives %q, want %q", got, tt.want)
			}
			w.Drop(key)
			if _, ok := w.Kept(key); ok {
				t.Error("kept after Drop")
			}
		})
	}
}

// TestKeptExpires: a delta that waited longer than the TTL is not given
// out, and is forgotten when another is kept; a fresh one is given out.
func TestKeptExpires(t *testing.T) {
	w := Windows{TTL: 10 * time.Millisecond}
	stale, fresh := WindowKey{User: "anna", Cursor: "1"}, WindowKey{User: "anna", Cursor: "2"}
	w.Keep(stale, Delta{Cursor: "sync:1"}, held{})
	time.Sleep(30 * time.Millisecond)
	if _, ok := w.Kept(stale); ok {
		t.Error("a delta kept past its TTL is given out")
	}
	w.Keep(fresh, Delta{Cursor: "sync:2"}, held{})
	if d, ok := w.Kept(fresh); !ok || d.Cursor != "sync:2" {
		t.Errorf("fresh delta: %+v, %v", d, ok)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.kept[stale]; ok || len(w.kept) != 1 {
		t.Errorf("kept %d deltas, the stale one still among them: %v", len(w.kept), ok)
	}
}

// TestRefreshed: the objects a window read take the versions read; one
// not read (gone since the listing) is listed deleted; the delta the
// window came from is not changed.
func TestRefreshed(t *testing.T) {
	const c = "/anna/contacts/"
	d := Delta{Updated: []Object{{c + "a.vcf", "1"}, {c + "b.vcf", "1"}, {c + "c.vcf", "1"}}, Deleted: []string{c + "x.vcf"}}
	window := []Change{{Kind: eas.ChangeAdd, Path: c + "a.vcf"}, {Kind: eas.ChangeAdd, Path: c + "b.vcf"}, {Kind: eas.ChangeDelete, ID: "x.vcf"}}
	out := refreshed(d, window, map[string]string{c + "a.vcf": "2"})
	if want := []Object{{c + "a.vcf", "2"}, {c + "c.vcf", "1"}}; !slices.Equal(out.Updated, want) {
		t.Errorf("updated %v, want %v", out.Updated, want)
	}
	if want := []string{c + "x.vcf", c + "b.vcf"}; !slices.Equal(out.Deleted, want) {
		t.Errorf("deleted %v, want %v", out.Deleted, want)
	}
	if d.Updated[0].ETag != "1" || len(d.Deleted) != 1 {
		t.Errorf("the window's delta changed: %+v", d)
	}
}
