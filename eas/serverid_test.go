package eas

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/wbxml"
)

func TestServerIDs(t *testing.T) {
	tests := []struct {
		coll, sid string
		id        string
		ok        bool
	}{
		{"5", "5:123", "123", true},
		{"5", "5:a:b", "a:b", true},
		{"5", "55:1", "", false},
		{"5", "6:1", "", false},
		{"5", "5:", "", false},
		{"5", "123", "", false},
		{"5", "", "", false},
	}
	for _, tc := range tests {
		id, ok := splitServerID(tc.coll, tc.sid)
		if id != tc.id || ok != tc.ok {
			t.Errorf("splitServerID(%q, %q) = %q, %v", tc.coll, tc.sid, id, ok)
		}
	}
	if s := itemServerID("7", "42"); s != "7:42" {
		t.Fatalf("itemServerID = %q", s)
	}
}

func TestLongID(t *testing.T) {
	tests := []struct {
		in       string
		coll, id string
		ok       bool
	}{
		{longID("3", "17"), "3", "17", true},
		{longID("12", "x:y"), "12", "x:y", true},
		{"nocolon", "", "", false},
		{":1", "", "", false},
		{"1:", "", "", false},
		{"1:" + strings.Repeat("9", maxLongID), "", "", false},
	}
	for _, tc := range tests {
		c, id, err := parseLongID(tc.in)
		if (err == nil) != tc.ok || c != tc.coll || id != tc.id {
			t.Errorf("parseLongID(%q) = %q, %q, %v", tc.in, c, id, err)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"0-99", 0, 99, true},
		{" 5-5 ", 5, 5, true},
		{"9-2", 0, 0, false},
		{"-3", 0, 0, false},
		{"3-", 0, 0, false},
		{"a-b", 0, 0, false},
		{"1-2-3", 0, 0, false},
		{"", 0, 0, false},
		{"99999999999-1", 0, 0, false},
	}
	for _, tc := range tests {
		lo, hi, ok := parseRange(tc.in)
		if lo != tc.lo || hi != tc.hi || ok != tc.ok {
			t.Errorf("parseRange(%q) = %d, %d, %v", tc.in, lo, hi, ok)
		}
	}
}

func TestEmailForVersion(t *testing.T) {
	yes := true
	full := &Email{
		Subject: "s", ConversationID: []byte{1}, ConversationIndex: []byte{2}, LastVerbExecuted: 1,
		LastVerbExecutionTime: time.Unix(1, 0), ReceivedAsBcc: &yes, Sender: "x",
		Categories: &Categories{Category: []string{"c"}}, IsDraft: &yes, Bcc: "b",
		Body: &Body{Type: BodyPlain, Data: "d", Preview: "p"},
	}
	tests := []struct {
		v                 Version
		email2, cats, v16 bool
	}{
		{V121, false, false, false},
		{V140, true, true, false},
		{V141, true, true, false},
		{V160, true, true, true},
		{V161, true, true, true},
	}
	for _, tc := range tests {
		e := emailForVersion(full, tc.v, true)
		if got := e.ConversationID != nil && e.Sender != "" && e.ReceivedAsBcc != nil && e.LastVerbExecuted != 0; got != tc.email2 {
			t.Errorf("%v: Email2 fields present %v", tc.v, got)
		}
		if (e.Categories != nil) != tc.cats || (e.Body.Preview != "") != tc.cats {
			t.Errorf("%v: categories %v preview %q", tc.v, e.Categories, e.Body.Preview)
		}
		if (e.IsDraft != nil || e.Bcc != "") != tc.v16 {
			t.Errorf("%v: IsDraft %v Bcc %q", tc.v, e.IsDraft, e.Bcc)
		}
		if e.Importance == nil || *e.Importance != 1 {
			t.Errorf("%v: Importance %v", tc.v, e.Importance)
		}
	}
	if full.Importance != nil || full.Body.Preview != "p" || full.Categories == nil {
		t.Fatal("emailForVersion changed its argument")
	}
	if e := emailForVersion(&Email{Read: &yes}, V141, false); e.Importance != nil {
		t.Fatal("a flag change got Importance")
	}
}

func TestBodyOptions(t *testing.T) {
	two, one, eight := 2, 1, 8
	tests := []struct {
		name      string
		prefs     []BodyPreference
		mime      *int
		mimeTrunc *int
		legacy    *int
		v         Version
		want      BodyOptions
	}{
		{"preferences in order, duplicates and unknown types dropped",
			[]BodyPreference{{Type: 2, TruncationSize: 100, Preview: 300}, {Type: 9}, {Type: 2}, {Type: 1}}, nil, nil, nil, V141,
			BodyOptions{Preferences: []BodyPreference{{Type: 2, TruncationSize: 100, Preview: 255}, {Type: 1}}, Version: V141}},
		{"no preview before 14.0", []BodyPreference{{Type: 1, Preview: 50}}, nil, nil, nil, V121,
			BodyOptions{Preferences: []BodyPreference{{Type: 1}}, Version: V121}},
		{"mime", []BodyPreference{{Type: 4}}, &two, &one, nil, V141,
			BodyOptions{Preferences: []BodyPreference{{Type: 4}}, MIMESupport: 2, MIMETruncation: 4096, Version: V141}},
		{"mime not truncated", nil, &two, &eight, nil, V141, BodyOptions{MIMESupport: 2, Version: V141}},
		{"legacy truncation", nil, nil, nil, &two, V121,
			BodyOptions{Preferences: []BodyPreference{{Type: 1, TruncationSize: 1024}}, Version: V121}},
	}
	for _, tc := range tests {
		got := bodyOptions(tc.prefs, tc.mime, tc.mimeTrunc, tc.legacy, tc.v)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
}

func TestWindowSize(t *testing.T) {
	n := func(i int) *int { return &i }
	tests := []struct {
		coll, req *int
		want      int
	}{
		{nil, nil, 100},
		{n(10), n(50), 10},
		{nil, n(50), 50},
		{n(0), nil, 512},
		{n(1000), nil, 512},
		{n(-1), nil, 512},
	}
	for _, tc := range tests {
		if got := windowSize(tc.coll, tc.req); got != tc.want {
			t.Errorf("windowSize(%v, %v) = %d", tc.coll, tc.req, got)
		}
	}
}

func TestMultipartLayout(t *testing.T) {
	doc := []byte{0x03, 0x01, 0x6a, 0x00}
	parts := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{7}, 300)}
	b := multipartBody(doc, parts)
	// Count, four (offset, length) pairs, then the parts.
	if int(b[0]) != 4 || len(b) != 4+4*8+len(doc)+5+300 {
		t.Fatalf("layout: %d bytes, count %d", len(b), b[0])
	}
	got, err := ParseMultipart(b)
	if err != nil {
		t.Fatal(err)
	}
	want := append([][]byte{doc}, parts...)
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("part %d = %q", i, got[i])
		}
	}
	for _, bad := range [][]byte{nil, {1, 0, 0}, {9, 0, 0, 0, 0, 0, 0, 0}, append([]byte{1, 0, 0, 0, 12, 0, 0, 0}, 0xff, 0, 0, 0)} {
		if _, err := ParseMultipart(bad); err == nil {
			t.Errorf("ParseMultipart(%x) accepted", bad)
		}
	}
}

func TestParseMailboxQuery(t *testing.T) {
	after := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	q := MailboxQuery{Class: "Email", CollectionIDs: []string{"3", "4"}, FreeText: "hello world", ReceivedAfter: after}
	got, err := parseMailboxQuery(q.Element())
	if err != nil || !reflect.DeepEqual(got, q) {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	// Conditions straight under Query (no And) are read too.
	flat := wbxml.NewElement("Search", "Query").Add(
		wbxml.NewElement("Search", "FreeText").SetText(" report "),
		wbxml.NewElement("AirSync", "CollectionId").SetText("9"))
	got, err = parseMailboxQuery(flat)
	if err != nil || got.FreeText != "report" || len(got.CollectionIDs) != 1 {
		t.Fatalf("flat query: %v %+v", err, got)
	}
	bad := wbxml.NewElement("Search", "Query").Add(wbxml.NewElement("Search", "And").Add(
		wbxml.NewElement("Search", "GreaterThan").Add(wbxml.NewElement("Email", "DateReceived"),
			wbxml.NewElement("Search", "Value").SetText("yesterday"))))
	if _, err := parseMailboxQuery(bad); err == nil {
		t.Fatal("a bad date was accepted")
	}
}

func TestCommandsHash(t *testing.T) {
	var a, b, c SyncCommands
	a.ChangeCommand("1:1", &Email{Subject: "x"})
	b.ChangeCommand("1:1", &Email{Subject: "x"})
	c.ChangeCommand("1:2", &Email{Subject: "x"})
	ha, _ := commandsHash(&a)
	hb, _ := commandsHash(&b)
	hc, _ := commandsHash(&c)
	if ha != hb || ha == hc {
		t.Fatalf("hashes %s %s %s", ha, hb, hc)
	}
}

func TestSyncRequestLenient(t *testing.T) {
	// Elements out of the specified order, an unknown one, and the legacy
	// Truncation of old clients.
	doc := wbxml.NewElement("AirSync", "Sync").Add(
		wbxml.NewElement("AirSync", "WindowSize").SetText("25"),
		wbxml.NewElement("AirSync", "Collections").Add(wbxml.NewElement("AirSync", "Collection").Add(
			wbxml.NewElement("AirSync", "Options").Add(
				wbxml.NewElement("AirSync", "Truncation").SetText("4"),
				wbxml.NewElement("AirSync", "FilterType").SetText("3")),
			wbxml.NewElement("AirSync", "CollectionId").SetText("2"),
			wbxml.NewElement("AirSync", "NotifyGUID").SetText("x"),
			wbxml.NewElement("AirSync", "DeletesAsMoves"),
			wbxml.NewElement("AirSync", "SyncKey").SetText("{abc}3"))))
	b, err := doc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var req SyncRequest
	if err := wbxml.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	c := req.Collections[0]
	if *req.WindowSize != 25 || c.SyncKey != "{abc}3" || c.CollectionID != "2" || c.DeletesAsMoves == nil || !*c.DeletesAsMoves {
		t.Fatalf("decoded %+v", req)
	}
	o := toSyncOptions(classOptions(c.Options, ClassEmail), V121)
	if o.FilterType != 3 || len(o.Body.Preferences) != 1 || o.Body.Preferences[0].TruncationSize != 5<<10 {
		t.Fatalf("options %+v", o)
	}
}
