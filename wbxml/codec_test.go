package wbxml

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func el(ns, name string, children ...*Element) *Element {
	return NewElement(ns, name).Add(children...)
}

func txt(ns, name, text string) *Element {
	return NewElement(ns, name).SetText(text)
}

// Known encodings: each tree and its bytes as the MS-ASWBXML tables give them.
var vectors = []struct {
	name string
	tree func() *Element
	hex  string
}{
	{
		"FolderSync initial",
		func() *Element { return el("FolderHierarchy", "FolderSync", txt("FolderHierarchy", "SyncKey", "0")) },
		"03 01 6a 00 00 07 56 52 03 30 00 01 01",
	},
	{
		"Sync initial",
		func() *Element {
			return el("AirSync", "Sync", el("AirSync", "Collections", el("AirSync", "Collection",
				txt("AirSync", "SyncKey", "0"), txt("AirSync", "CollectionId", "5"))))
		},
		"03 01 6a 00 45 5c 4f 4b 03 30 00 01 52 03 35 00 01 01 01 01",
	},
	{
		"Ping",
		func() *Element {
			return el("Ping", "Ping", txt("Ping", "HeartbeatInterval", "480"),
				el("Ping", "Folders", el("Ping", "Folder", txt("Ping", "Id", "5"), txt("Ping", "Class", "Email"))))
		},
		"03 01 6a 00 00 0d 45 48 03 34 38 30 00 01 49 4a 4b 03 35 00 01 4c 03 45 6d 61 69 6c 00 01 01 01 01",
	},
	{
		"Sync with options and an empty GetChanges",
		func() *Element {
			return el("AirSync", "Sync", el("AirSync", "Collections", el("AirSync", "Collection",
				txt("AirSync", "SyncKey", "1"), txt("AirSync", "CollectionId", "5"),
				NewElement("AirSync", "GetChanges"), txt("AirSync", "WindowSize", "25"),
				el("AirSync", "Options", txt("AirSync", "FilterType", "3"),
					el("AirSyncBase", "BodyPreference", txt("AirSyncBase", "Type", "2"), txt("AirSyncBase", "TruncationSize", "32768"))))))
		},
		"03 01 6a 00 45 5c 4f 4b 03 31 00 01 52 03 35 00 01 13 55 03 32 35 00 01 57 58 03 33 00 01 00 11 45 46 03 32 00 01 47 03 33 32 37 36 38 00 01 01 01 01 01 01",
	},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			want := unhex(t, v.hex)
			got, err := v.tree().Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got % x\nwant % x", got, want)
			}
			tree, err := Parse(want)
			if err != nil {
				t.Fatal(err)
			}
			if !tree.Equal(v.tree()) {
				t.Fatalf("decoded tree differs")
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		hex    string
		offset int
		msg    string
	}{
		{"empty", "", 0, "unexpected end"},
		{"bad version", "09 01 6a 00 45 01", 0, "version"},
		{"string table", "03 01 6a 02 41 00 45 01", 3, "string table"},
		{"unknown page", "03 01 6a 00 00 1a 45 01", 4, "code page 26"},
		{"unknown token", "03 01 6a 00 7f 01", 4, "unknown token 0x3F in code page 0"},
		{"unknown token on a later page", "03 01 6a 00 00 07 59 01", 6, "unknown token 0x19 in code page 7"},
		{"attributes", "03 01 6a 00 c5 01 01", 4, "attributes"},
		{"entity", "03 01 6a 00 45 02 20 01", 5, "global token"},
		{"truncated string", "03 01 6a 00 45 03 41 42", 8, "unexpected end"},
		{"truncated element", "03 01 6a 00 45 4b 03 30 00 01", 10, "unexpected end"},
		{"opaque length lies", "03 01 6a 00 45 c3 85 00 41 01", 10, "unexpected end"},
		{"opaque over the limit", "03 01 6a 00 45 c3 8f ff ff ff 7f 41 01", 5, "exceeds the limit"},
		{"stray END", "03 01 6a 00 05 01", 5, "data after"},
		{"text before root", "03 01 6a 00 03 41 00", 4, "outside"},
		{"second root", "03 01 6a 00 05 05", 5, "data after"},
		{"long integer", "03 81 81 81 81 81 01 6a 00 05", 1, "multi-byte"},
		{"charset", "03 01 04 00 05", 2, "charset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(unhex(t, tt.hex))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SyntaxError", err)
			}
			if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
				t.Fatalf("got offset %d %q, want offset %d containing %q", se.Offset, se.Msg, tt.offset, tt.msg)
			}
			if truncated := tt.msg == "unexpected end"; errors.Is(err, ErrTruncated) != truncated {
				t.Fatalf("errors.Is(%v, ErrTruncated) = %v, want %v", err, !truncated, truncated)
			}
			var le *LimitError
			if overLimit := tt.msg == "exceeds the limit"; errors.As(err, &le) != overLimit {
				t.Fatalf("%v: LimitError %v, want %v", err, !overLimit, overLimit)
			}
		})
	}
}

func TestDepthLimit(t *testing.T) {
	b := append([]byte{}, Header...)
	for i := 0; i < 40; i++ {
		b = append(b, 0x45)
	}
	for i := 0; i < 40; i++ {
		b = append(b, 0x01)
	}
	_, err := ParseLimits(b, Limits{MaxDepth: 32})
	if err == nil || !strings.Contains(err.Error(), "deeper than 32") {
		t.Fatalf("got %v", err)
	}
	if _, err := ParseLimits(b, Limits{MaxDepth: 40}); err != nil {
		t.Fatal(err)
	}
}

func TestTokenStream(t *testing.T) {
	data := unhex(t, vectors[3].hex)
	d := NewDecoder(data)
	var out bytes.Buffer
	enc := NewEncoder(&out)
	var toks []Token
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
		if err := enc.EncodeToken(tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("token round trip:\n got % x\nwant % x", out.Bytes(), data)
	}
	// GetChanges is empty: a Start immediately followed by its End.
	empties := 0
	for i, tok := range toks {
		if tok.Kind == StartElement && tok.Empty {
			empties++
			if toks[i+1].Kind != EndElement || toks[i+1].Tag != tok.Tag || tok.Tag.Name() != "GetChanges" {
				t.Fatalf("empty element %v followed by %+v", tok.Tag, toks[i+1])
			}
		}
	}
	if empties != 1 {
		t.Fatalf("%d empty elements, want 1", empties)
	}
}

type testFlag struct {
	Status   *int   `wbxml:"Email:Status,omitempty"`
	FlagType string `wbxml:"Email:FlagType,omitempty"`
}

type testItem struct {
	ServerID string    `wbxml:"ServerId"`
	Subject  string    `wbxml:"Email:Subject,omitempty"`
	Read     *bool     `wbxml:"Email:Read,omitempty"`
	Date     time.Time `wbxml:"Email:DateReceived,omitempty"`
	Flag     *testFlag `wbxml:"Email:Flag,omitempty"`
	Mime     []byte    `wbxml:"ComposeMail:Mime,omitempty"`
	Cats     []string  `wbxml:"Email:Categories>Category,omitempty"`
}

type testCollection struct {
	SyncKey       string     `wbxml:"SyncKey"`
	CollectionID  string     `wbxml:"CollectionId"`
	GetChanges    bool       `wbxml:"GetChanges,empty"`
	DeletesAsMove *bool      `wbxml:"DeletesAsMoves,omitempty"`
	WindowSize    int        `wbxml:"WindowSize,omitempty"`
	Items         []testItem `wbxml:"Commands>Add"`
	MoreAvailable bool       `wbxml:"MoreAvailable,empty"`
	Other         []*Element `wbxml:",any"`
}

type testSync struct {
	XMLName     Name             `wbxml:"AirSync:Sync"`
	Collections []testCollection `wbxml:"Collections>Collection"`
	Status      int              `wbxml:"Status,omitempty"`
}

func TestMarshalRoundTrip(t *testing.T) {
	two, yes, no := 2, true, false
	in := testSync{Collections: []testCollection{{
		SyncKey: "k1", CollectionID: "5", GetChanges: true, DeletesAsMove: &no, WindowSize: 25,
		Items: []testItem{
			{ServerID: "5:1", Subject: "Grüße", Read: &yes, Date: time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC),
				Flag: &testFlag{Status: &two, FlagType: "Flag for follow up"}, Mime: []byte{0, 1, 2, 0xff},
				Cats: []string{"Work", "Blue"}},
			{ServerID: "5:2", Flag: &testFlag{}},
		},
		MoreAvailable: true,
	}}}
	b, err := Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out testSync
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	// The empty flag is written as <Flag/>, absent pointers not at all.
	tree, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	add2 := tree.Child("Collections").Child("Collection").Child("Commands").Children[1]
	if len(add2.Children) != 2 || add2.Children[1].Name() != "Flag" || add2.Children[1].Data != nil || len(add2.Children[1].Children) != 0 {
		t.Fatalf("second Add: %+v", add2.Children)
	}
	// Re-encoding the tree gives the same bytes.
	b2, err := tree.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("tree round trip differs")
	}
}

func TestMarshalAppend(t *testing.T) {
	in := testSync{Status: 1, Collections: []testCollection{{SyncKey: "k2", CollectionID: "7"}}}
	want, err := Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		dst  []byte
	}{
		{"nil", nil},
		{"empty with room", make([]byte, 0, 4096)},
		{"prefix", []byte("prefix")},
		{"prefix with room", append(make([]byte, 0, 4096), "prefix"...)},
		{"reused buffer", append(make([]byte, 0, 4096), "stale bytes beyond the length"...)[:0]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			expect := append(append([]byte{}, tt.dst...), want...)
			got, err := MarshalAppend(tt.dst, &in)
			if err != nil || !bytes.Equal(got, expect) {
				t.Fatalf("MarshalAppend: %v\n got % x\nwant % x", err, got, expect)
			}
			got, err = tree.AppendBytes(tt.dst)
			if err != nil || !bytes.Equal(got, expect) {
				t.Fatalf("AppendBytes: %v\n got % x\nwant % x", err, got, expect)
			}
		})
	}
}

func TestUnmarshalLenient(t *testing.T) {
	// Unknown children land in ,any or are skipped; GetChanges as "0";
	// Mime sent as a string instead of opaque (some clients do).
	tree := el("AirSync", "Sync", el("AirSync", "Collections", el("AirSync", "Collection",
		txt("AirSync", "SyncKey", "7"), txt("AirSync", "CollectionId", "9"),
		txt("AirSync", "GetChanges", "0"), txt("AirSync", "ConversationMode", "1"),
		el("AirSync", "Commands", el("AirSync", "Add", txt("AirSync", "ServerId", "9:3"), txt("ComposeMail", "Mime", "raw"))))),
		txt("AirSync", "Wait", "5"))
	b, err := tree.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var s testSync
	if err := Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	c := s.Collections[0]
	if c.GetChanges || c.SyncKey != "7" || len(c.Other) != 1 || c.Other[0].Name() != "ConversationMode" || string(c.Items[0].Mime) != "raw" {
		t.Fatalf("got %+v", c)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	b, _ := el("FolderHierarchy", "FolderSync", txt("FolderHierarchy", "SyncKey", "0")).Bytes()
	var s testSync
	err := Unmarshal(b, &s)
	var ue *UnmarshalError
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, "expected <AirSync:Sync>") {
		t.Fatalf("got %v", err)
	}
	b, _ = el("AirSync", "Sync", txt("AirSync", "Status", "x1")).Bytes()
	if err := Unmarshal(b, &s); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "invalid integer") {
		t.Fatalf("got %v", err)
	}
}
