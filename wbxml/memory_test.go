package wbxml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// manyElements builds a request of n operations the way a hostile or
// runaway client could send it: an ItemOperations of n Fetches or a Sync
// of n Deletes. It returns the document and its number of elements.
func manyElements(tb testing.TB, kind string, n int) ([]byte, int) {
	tb.Helper()
	enc := &Encoder{}
	start := func(ns, name string) {
		enc.StartElement(MustLookup(ns, name), true)
	}
	text := func(ns, name, s string) {
		start(ns, name)
		enc.Text(s)
		enc.EndElement()
	}
	elements := 0
	switch kind {
	case "ItemOperations":
		start("ItemOperations", "ItemOperations")
		for i := range n {
			start("ItemOperations", "Fetch")
			text("ItemOperations", "Store", "Mailbox")
			text("AirSync", "CollectionId", "5")
			text("AirSync", "ServerId", fmt.Sprintf("5:%d", i))
			enc.EndElement()
		}
		enc.EndElement()
		elements = 1 + 4*n
	case "Sync":
		start("AirSync", "Sync")
		start("AirSync", "Collections")
		start("AirSync", "Collection")
		text("AirSync", "SyncKey", "7")
		text("AirSync", "CollectionId", "5")
		start("AirSync", "Commands")
		for i := range n {
			start("AirSync", "Delete")
			text("AirSync", "ServerId", fmt.Sprintf("5:%d", i))
			enc.EndElement()
		}
		enc.EndElement()
		enc.EndElement()
		enc.EndElement()
		enc.EndElement()
		elements = 6 + 2*n
	default:
		tb.Fatalf("unknown kind %q", kind)
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
	return enc.buf, elements
}

// The request types below have the shape of eas's: the operations a phone
// sends are kept as trees (",any") and decoded one by one later.

type memItemOperations struct {
	XMLName    Name       `wbxml:"ItemOperations:ItemOperations"`
	Operations []*Element `wbxml:",any"`
}

type memSync struct {
	XMLName     Name `wbxml:"AirSync:Sync"`
	Collections []struct {
		SyncKey      string `wbxml:"SyncKey"`
		CollectionID string `wbxml:"CollectionId"`
		Commands     *struct {
			Items []*Element `wbxml:",any"`
		} `wbxml:"Commands"`
	} `wbxml:"Collections>Collection"`
}

var memDecoders = []struct {
	name string
	kind string
	// decode decodes doc and returns what it built, so that it stays
	// reachable until the measurement is taken.
	decode func(doc []byte) (any, error)
}{
	{"Unmarshal ItemOperations", "ItemOperations", func(doc []byte) (any, error) {
		var v memItemOperations
		return &v, Unmarshal(doc, &v)
	}},
	{"Unmarshal Sync", "Sync", func(doc []byte) (any, error) {
		var v memSync
		return &v, Unmarshal(doc, &v)
	}},
	{"Parse ItemOperations", "ItemOperations", func(doc []byte) (any, error) { return Parse(doc) }},
	{"Parse Sync", "Sync", func(doc []byte) (any, error) { return Parse(doc) }},
}

// allocatedBytes is the number of bytes f allocates.
func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeMemoryPerElement: decoding a request costs a small, fixed amount
// of memory per element and a small multiple of the document's size, never
// a block per element (which made 30,000 Fetches cost half a gigabyte).
func TestDecodeMemoryPerElement(t *testing.T) {
	const (
		n = 20000
		// An Element is 64 bytes, its place in its parent's Children
		// slice 8 (16 while that slice grows); the rest is data and the
		// ",any" slices.
		maxPerElement = 160
		maxPerByte    = 20
	)
	for _, tt := range memDecoders {
		t.Run(tt.name, func(t *testing.T) {
			doc, elements := manyElements(t, tt.kind, n)
			var v any
			var err error
			got := allocatedBytes(func() { v, err = tt.decode(doc) })
			if err != nil {
				t.Fatal(err)
			}
			runtime.KeepAlive(v)
			perElement := float64(got) / float64(elements)
			perByte := float64(got) / float64(len(doc))
			t.Logf("%d elements, %d bytes: allocated %d bytes, %.1f per element, %.1f per input byte",
				elements, len(doc), got, perElement, perByte)
			if perElement > maxPerElement {
				t.Errorf("%.1f bytes allocated per element, want at most %d", perElement, maxPerElement)
			}
			if perByte > maxPerByte {
				t.Errorf("%.1f bytes allocated per input byte, want at most %d", perByte, maxPerByte)
			}
		})
	}
}

// BenchmarkDecodeManyElements decodes requests of 20,000 operations; the
// B/element metric is what one decoding allocates per element.
func BenchmarkDecodeManyElements(b *testing.B) {
	for _, tt := range memDecoders {
		b.Run(tt.name, func(b *testing.B) {
			doc, elements := manyElements(b, tt.kind, 20000)
			perElement := float64(allocatedBytes(func() { tt.decode(doc) })) / float64(elements)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tt.decode(doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perElement, "B/element")
		})
	}
}

// TestLimitErrors: a document over any limit fails with a *SyntaxError
// whose cause is a *LimitError naming the limit, whichever API reads it,
// and a document just within the limit decodes.
func TestLimitErrors(t *testing.T) {
	doc, elements := manyElements(t, "Sync", 3) // 12 elements, 6 levels
	longText := append(append([]byte{}, Header...), 0x45, 0x03)
	longText = append(append(longText, bytes.Repeat([]byte("a"), 100)...), 0x00, 0x01)
	longOpaque := append(append([]byte{}, Header...), 0x45, 0xC3, 100)
	longOpaque = append(append(longOpaque, make([]byte, 100)...), 0x01)
	tests := []struct {
		name   string
		doc    []byte
		over   Limits // one limit just below what doc needs
		within Limits // the same limit just enough
		limit  string
	}{
		{"elements", doc, Limits{MaxElements: elements - 1}, Limits{MaxElements: elements}, "MaxElements"},
		{"depth", doc, Limits{MaxDepth: 5}, Limits{MaxDepth: 6}, "MaxDepth"},
		{"size", doc, Limits{MaxSize: len(doc) - 1}, Limits{MaxSize: len(doc)}, "MaxSize"},
		{"string", longText, Limits{MaxString: 99}, Limits{MaxString: 100}, "MaxString"},
		{"opaque", longOpaque, Limits{MaxOpaque: 99}, Limits{MaxOpaque: 100}, "MaxOpaque"},
	}
	readers := []struct {
		name string
		read func([]byte, Limits) error
	}{
		{"Parse", func(b []byte, l Limits) error { _, err := ParseLimits(b, l); return err }},
		{"Unmarshal", func(b []byte, l Limits) error { var v memSync; return UnmarshalLimits(b, &v, l) }},
		{"Token", func(b []byte, l Limits) error {
			d := NewDecoderLimits(b, l)
			for {
				if _, err := d.Token(); err != nil {
					if err == io.EOF {
						return nil
					}
					return err
				}
			}
		}},
	}
	for _, tt := range tests {
		for _, r := range readers {
			t.Run(tt.name+"/"+r.name, func(t *testing.T) {
				if err := r.read(tt.doc, tt.within); err != nil {
					var ue *UnmarshalError
					if !errors.As(err, &ue) { // memSync does not fit every document
						t.Fatalf("within the limit: %v", err)
					}
				}
				err := r.read(tt.doc, tt.over)
				var le *LimitError
				if !errors.As(err, &le) {
					t.Fatalf("got %v (%T), want a *LimitError", err, err)
				}
				max := map[string]int{"MaxElements": tt.over.MaxElements, "MaxDepth": tt.over.MaxDepth,
					"MaxSize": tt.over.MaxSize, "MaxString": tt.over.MaxString, "MaxOpaque": tt.over.MaxOpaque}[tt.limit]
				if le.Limit != tt.limit || le.Max != max {
					t.Fatalf("got %+v, want %s of %d", le, tt.limit, max)
				}
				var se *SyntaxError
				if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(tt.doc) {
					t.Fatalf("got %v (%T), want a *SyntaxError with an offset in the document", err, err)
				}
			})
		}
	}
}
