package wbxml

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// seedFuzz adds the WBXML encoding of every corpus document and of the
// known vectors.
func seedFuzz(f *testing.F) {
	for _, d := range loadCorpus(f) {
		b, err := d.tree.Bytes()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, v := range vectors {
		b, err := v.tree().Bytes()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkDecodeError asserts what every decoding failure must be: a
// *SyntaxError pointing inside the input (or just past its end).
func checkDecodeError(t *testing.T, data []byte, err error) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
	}
	if se.Offset < 0 || se.Offset > len(data) {
		t.Fatalf("offset %d outside 0..%d: %v", se.Offset, len(data), err)
	}
}

// FuzzDecode: hostile input never panics, and every error is a
// *SyntaxError with an offset within the input, whichever API reads it.
func FuzzDecode(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := Parse(data)
		if err != nil {
			checkDecodeError(t, data, err)
			if tree != nil {
				t.Fatal("Parse returned a tree with an error")
			}
		}
		d := NewDecoder(data)
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkDecodeError(t, data, err)
				break
			}
		}
		var s testSync
		if err := Unmarshal(data, &s); err != nil {
			var ue *UnmarshalError
			if errors.As(err, &ue) {
				if ue.Offset < 0 || ue.Offset > len(data) {
					t.Fatalf("unmarshal offset %d outside 0..%d", ue.Offset, len(data))
				}
			} else {
				checkDecodeError(t, data, err)
			}
		}
	})
}

// FuzzRoundTrip: whatever decodes re-encodes into a document that decodes
// into the same tree, and so does its XML rendering.
func FuzzRoundTrip(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := Parse(data)
		if err != nil {
			return
		}
		b, err := tree.Bytes()
		if err != nil {
			t.Fatalf("Bytes of a decoded tree: %v", err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Bytes(tree)): %v", err)
		}
		if !again.Equal(tree) {
			t.Fatalf("Parse(Bytes(tree)) differs:\n got %s\nwant %s", again.XML(), tree.XML())
		}
		b2, err := again.Bytes()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding is not stable: %v", err)
		}
		for _, indent := range []bool{false, true} {
			var x bytes.Buffer
			if err := WriteXML(&x, tree, indent); err != nil {
				t.Fatalf("WriteXML: %v", err)
			}
			back, err := ParseXML(bytes.NewReader(x.Bytes()))
			if err != nil {
				t.Fatalf("ParseXML of our rendering (indent %v): %v\n%s", indent, err, x.Bytes())
			}
			if !back.Equal(tree) {
				t.Fatalf("XML round trip (indent %v) differs:\n%s\nparsed:\n%s", indent, x.Bytes(), back.XML())
			}
		}
	})
}

// FuzzParseXML: any XML input either parses or fails with a *SyntaxError
// inside the input, and what parses renders back into an equal tree.
func FuzzParseXML(f *testing.F) {
	for _, d := range loadCorpus(f) {
		f.Add(d.xml)
		if src, err := libwbxmlXML(d.tree); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("<!-- c\r\n --><Body xmlns=\"AirSyncBase:\"><Data><![CDATA[<p>\r\n</p>]]></Data></Body>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := ParseXML(bytes.NewReader(data))
		if err != nil {
			checkDecodeError(t, data, err)
			return
		}
		var x bytes.Buffer
		if err := WriteXML(&x, tree, true); err != nil {
			t.Fatalf("WriteXML: %v", err)
		}
		back, err := ParseXML(&x)
		if err != nil {
			t.Fatalf("ParseXML of our rendering: %v\n%s", err, x.Bytes())
		}
		if !back.Equal(tree) {
			t.Fatalf("render and parse again differs:\n%s\nparsed:\n%s", x.Bytes(), back.XML())
		}
	})
}
