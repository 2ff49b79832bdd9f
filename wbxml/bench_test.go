package wbxml

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// A Sync response as the server sends it for a first full sync of a mail
// folder: many Adds with HTML bodies.

type benchFlag struct {
	Status   int    `wbxml:"Email:Status,omitempty"`
	FlagType string `wbxml:"Email:FlagType,omitempty"`
}

type benchBody struct {
	Type              int    `wbxml:"AirSyncBase:Type"`
	EstimatedDataSize int    `wbxml:"AirSyncBase:EstimatedDataSize"`
	Truncated         bool   `wbxml:"AirSyncBase:Truncated"`
	Data              string `wbxml:"AirSyncBase:Data"`
	Preview           string `wbxml:"AirSyncBase:Preview,omitempty"`
}

type benchAttachment struct {
	DisplayName       string `wbxml:"AirSyncBase:DisplayName"`
	FileReference     string `wbxml:"AirSyncBase:FileReference"`
	Method            int    `wbxml:"AirSyncBase:Method"`
	EstimatedDataSize int    `wbxml:"AirSyncBase:EstimatedDataSize"`
}

type benchEmail struct {
	To                string            `wbxml:"Email:To"`
	Cc                string            `wbxml:"Email:Cc,omitempty"`
	From              string            `wbxml:"Email:From"`
	Subject           string            `wbxml:"Email:Subject"`
	DateReceived      time.Time         `wbxml:"Email:DateReceived"`
	DisplayTo         string            `wbxml:"Email:DisplayTo"`
	ThreadTopic       string            `wbxml:"Email:ThreadTopic"`
	Importance        int               `wbxml:"Email:Importance"`
	Read              bool              `wbxml:"Email:Read"`
	Body              *benchBody        `wbxml:"AirSyncBase:Body"`
	Attachments       []benchAttachment `wbxml:"AirSyncBase:Attachments>Attachment"`
	MessageClass      string            `wbxml:"Email:MessageClass"`
	InternetCPID      string            `wbxml:"Email:InternetCPID"`
	Flag              *benchFlag        `wbxml:"Email:Flag"`
	ContentClass      string            `wbxml:"Email:ContentClass"`
	NativeBodyType    int               `wbxml:"AirSyncBase:NativeBodyType"`
	ConversationID    []byte            `wbxml:"Email2:ConversationId"`
	ConversationIndex []byte            `wbxml:"Email2:ConversationIndex"`
	Categories        []string          `wbxml:"Email:Categories>Category"`
}

type benchAdd struct {
	ServerID string     `wbxml:"ServerId"`
	Email    benchEmail `wbxml:"ApplicationData"`
}

type benchCollection struct {
	SyncKey       string     `wbxml:"SyncKey"`
	CollectionID  string     `wbxml:"CollectionId"`
	Status        int        `wbxml:"Status"`
	Adds          []benchAdd `wbxml:"Commands>Add"`
	MoreAvailable bool       `wbxml:"MoreAvailable,empty"`
}

type benchSync struct {
	XMLName     Name              `wbxml:"AirSync:Sync"`
	Collections []benchCollection `wbxml:"Collections>Collection"`
}

// benchSyncResponse builds a response of n messages, about 2.3 KB each.
func benchSyncResponse(n int) *benchSync {
	para := "<p>Hallo zusammen,</p>\r\n<p>anbei die Zahlen für das dritte Quartal. Bitte prüft die Abweichungen " +
		"bei den Reisekosten &amp; gebt mir bis Freitag Bescheid, ob wir sie so an die Geschäftsführung geben.</p>\r\n"
	body := "<html><head><meta charset=\"utf-8\"></head><body>\r\n" + strings.Repeat(para, 7) + "<p>Viele Grüße<br>Anna</p></body></html>\r\n"
	c := benchCollection{SyncKey: "{c7d2a1e4-3b5f-4a9c-8e21-6f0b9d3c2a17}2", CollectionID: "1", Status: 1, MoreAvailable: true}
	base := time.Date(2026, 11, 24, 8, 12, 5, 0, time.UTC)
	for i := range n {
		e := benchEmail{
			To:           `"Jonas Keller" <jonas.keller@example.com>`,
			From:         fmt.Sprintf(`"Anna Berg" <anna.berg+%d@example.org>`, i),
			Subject:      fmt.Sprintf("Quartalszahlen Q3 (%d)", i),
			DateReceived: base.Add(-time.Duration(i) * time.Hour),
			DisplayTo:    "Jonas Keller",
			ThreadTopic:  "Quartalszahlen Q3",
			Importance:   1,
			Read:         i%3 == 0,
			Body: &benchBody{Type: 2, EstimatedDataSize: len(body), Data: body,
				Preview: "Hallo zusammen, anbei die Zahlen für das dritte Quartal."},
			MessageClass:      "IPM.Note",
			InternetCPID:      "65001",
			Flag:              &benchFlag{},
			ContentClass:      "urn:content-classes:message",
			NativeBodyType:    2,
			ConversationID:    []byte{0x8f, 0x3a, 0x0c, 0x51, 0xe2, 0xb7, 0x4d, 0x0e, 0x9a, 0x66, 0xf1, 0xd2, 0xc4, 0xb5, 0xa8, byte(i)},
			ConversationIndex: []byte{0x01, 0xd9, 0x5c, 0x4a, byte(i)},
		}
		if i%4 == 0 {
			e.Cc = `"Team" <team@example.org>`
			e.Attachments = []benchAttachment{{DisplayName: "Q3-2026.xlsx", FileReference: fmt.Sprintf("1%%3a%d%%3a2", 4000+i), Method: 1, EstimatedDataSize: 48213}}
			e.Categories = []string{"Finanzen"}
			e.Flag = &benchFlag{Status: 2, FlagType: "Flag for follow up"}
		}
		c.Adds = append(c.Adds, benchAdd{ServerID: fmt.Sprintf("1:%d", 4000+i), Email: e})
	}
	return &benchSync{Collections: []benchCollection{c}}
}

var benchDoc = sync.OnceValues(func() ([]byte, error) {
	return Marshal(benchSyncResponse(520))
})

func loadBenchDoc(b *testing.B) []byte {
	b.Helper()
	doc, err := benchDoc()
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

func TestBenchDocument(t *testing.T) {
	doc, err := benchDoc()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) < 900<<10 || len(doc) > 1200<<10 {
		t.Fatalf("benchmark document is %d bytes, want about 1 MB", len(doc))
	}
	var s benchSync
	if err := Unmarshal(doc, &s); err != nil {
		t.Fatal(err)
	}
	again, err := Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, doc) {
		t.Fatal("Marshal(Unmarshal(doc)) differs from doc")
	}
}

func BenchmarkParse(b *testing.B) {
	doc := loadBenchDoc(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTokens(b *testing.B) {
	doc := loadBenchDoc(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(doc)
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	doc := loadBenchDoc(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var s benchSync
		if err := Unmarshal(doc, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeTree(b *testing.B) {
	doc := loadBenchDoc(b)
	tree, err := Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		enc := NewEncoder(io.Discard)
		if err := enc.WriteElement(tree); err != nil {
			b.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	doc := loadBenchDoc(b)
	v := benchSyncResponse(520)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		enc := NewEncoder(io.Discard)
		if err := enc.Encode(v); err != nil {
			b.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteXML(b *testing.B) {
	doc := loadBenchDoc(b)
	tree, err := Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteXML(io.Discard, tree, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseXML(b *testing.B) {
	doc := loadBenchDoc(b)
	tree, err := Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	var x bytes.Buffer
	if err := WriteXML(&x, tree, true); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(x.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseXML(bytes.NewReader(x.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
