package dav

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

type prop struct {
	group, name string
	params      map[string][]string
	value       string
}

func digestOf(comps ...[]prop) string {
	d := NewDigest()
	for _, c := range comps {
		d.Begin("VEVENT")
		for _, p := range c {
			d.Property(p.group, p.name, p.params, p.value)
		}
		d.End()
	}
	return d.Version()
}

// TestDigest: what a server may change on the way (the order of
// parameters) does not change the version; every change of content does,
// a property moved to another component too.
func TestDigest(t *testing.T) {
	base := digestOf([]prop{{"", "SUMMARY", map[string][]string{"LANGUAGE": {"en"}, "X-A": {"1"}}, "Lunch"}})
	tests := []struct {
		name  string
		comps [][]prop
		same  bool
	}{
		{"the same", [][]prop{{{"", "SUMMARY", map[string][]string{"X-A": {"1"}, "LANGUAGE": {"en"}}, "Lunch"}}}, true},
		{"value", [][]prop{{{"", "SUMMARY", map[string][]string{"X-A": {"1"}, "LANGUAGE": {"en"}}, "Lunch!"}}}, false},
		{"parameter value", [][]prop{{{"", "SUMMARY", map[string][]string{"X-A": {"2"}, "LANGUAGE": {"en"}}, "Lunch"}}}, false},
		{"parameter gone", [][]prop{{{"", "SUMMARY", map[string][]string{"LANGUAGE": {"en"}}, "Lunch"}}}, false},
		{"group", [][]prop{{{"item1", "SUMMARY", map[string][]string{"X-A": {"1"}, "LANGUAGE": {"en"}}, "Lunch"}}}, false},
		{"name", [][]prop{{{"", "LOCATION", map[string][]string{"X-A": {"1"}, "LANGUAGE": {"en"}}, "Lunch"}}}, false},
		{"another component", [][]prop{{}, {{"", "SUMMARY", map[string][]string{"X-A": {"1"}, "LANGUAGE": {"en"}}, "Lunch"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := digestOf(tt.comps...)
			if !strings.HasPrefix(got, DigestPrefix) {
				t.Errorf("version %q lacks the prefix", got)
			}
			if (got == base) != tt.same {
				t.Errorf("version %q, base %q: same %v, want %v", got, base, got == base, tt.same)
			}
		})
	}
}

// TestVersioned: only the objects listed without an ETag that the caller
// compares are read, in batches of VersionBatch; they take the version
// read, one gone is listed deleted, and an error of the read is the
// caller's.
func TestVersioned(t *testing.T) {
	const c = "/anna/calendar/"
	var d Delta
	for i := range 250 {
		d.Updated = append(d.Updated, Object{Path: fmt.Sprintf("%se%03d.ics", c, i)})
	}
	d.Updated = append(d.Updated, Object{Path: c + "tagged.ics", ETag: "1"})
	want := func(o Object) bool { return o.Path != c+"e001.ics" }
	var batches []int
	read := func(_ context.Context, batch []Change) (map[string]string, error) {
		batches = append(batches, len(batch))
		out := map[string]string{}
		for _, ch := range batch {
			if ch.Path == c+"tagged.ics" || ch.Path == c+"e001.ics" {
				t.Errorf("read %s", ch.Path)
			}
			if ch.Path != c+"e002.ics" {
				out[ch.Path] = "#" + ch.ID
			}
		}
		return out, nil
	}
	out, err := Versioned(context.Background(), d, want, read)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(batches, []int{VersionBatch, VersionBatch, 249 - 2*VersionBatch}) {
		t.Errorf("batches %v", batches)
	}
	versions := map[string]string{}
	for _, o := range out.Updated {
		versions[o.Path] = o.ETag
	}
	if len(out.Updated) != 250 || versions[c+"e000.ics"] != "#e000.ics" || versions[c+"e001.ics"] != "" || versions[c+"tagged.ics"] != "1" {
		t.Errorf("versions %v", versions)
	}
	if !slices.Equal(out.Deleted, []string{c + "e002.ics"}) {
		t.Errorf("deleted %v, want e002.ics", out.Deleted)
	}
	if d.Updated[0].ETag != "" {
		t.Error("the delta given changed")
	}
	boom := errors.New("down")
	if _, err := Versioned(context.Background(), d, want, func(context.Context, []Change) (map[string]string, error) {
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Errorf("err %v, want the read's", err)
	}
}
