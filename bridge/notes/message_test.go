package notes

import (
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/mailconv"
	"github.com/easgate/easgate/eas"
)

func TestCleanUUID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"5b4d2f8e-1c3a-4e6b-9f0d-2a7c8e1b3d4f", "5B4D2F8E-1C3A-4E6B-9F0D-2A7C8E1B3D4F"},
		{" 5B4D2F8E-1C3A-4E6B-9F0D-2A7C8E1B3D4F\t", "5B4D2F8E-1C3A-4E6B-9F0D-2A7C8E1B3D4F"},
		{"", ""},
		{"has:colon", ""},
		{"<angle@brackets>", ""},
		{strings.Repeat("A", 41), ""},
	} {
		if got := cleanUUID(tc.in); got != tc.want {
			t.Errorf("cleanUUID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if a, b := derivedUUID(7, 1), derivedUUID(7, 2); a == b || cleanUUID(a) != a || derivedUUID(7, 1) != a {
		t.Errorf("derived UUIDs %q %q", a, b)
	}
	u, err := newUUID()
	if err != nil || cleanUUID(u) != u || len(u) != 36 {
		t.Errorf("newUUID %q %v", u, err)
	}
}

// A note written by compose reads back through the mail converter with
// its title and text, and parseStored finds what a change keeps.
func TestComposeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, subject, text, wantText string
	}{
		{"ascii", "Todo", "Todo\r\ncall <Bob> & Alice", "call <Bob> & Alice"},
		{"unicode", "Einkäufe – Woche", "Äpfel\r\n\r\nBrot", "Brot"},
		{"empty body", "Only a title", "", "Only a title"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			modified := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			text := tc.text
			if text == "" {
				text = tc.subject
			}
			raw, err := compose(draft{uuid: "ABC-1", subject: tc.subject, from: "me@example.com", modified: modified, html: textHTML(text)})
			if err != nil {
				t.Fatal(err)
			}
			got := toNote(raw, nil, time.Time{}, eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyPlain}}})
			if got.err != nil || got.note.Subject != tc.subject || !strings.Contains(got.note.Body.Data, tc.wantText) ||
				!got.note.LastModifiedDate.Equal(modified) {
				t.Fatalf("read back %+v %+v %v\n%s", got.note, got.note.Body, got.err, raw)
			}
			st, err := parseStored(raw)
			if err != nil || st.subject != tc.subject || st.created == "" || !strings.HasPrefix(st.body.contentType, "text/html") {
				t.Fatalf("stored %+v %v", st, err)
			}
			if ids, err := mailconv.Recipients(raw); err != nil || len(ids) != 0 {
				t.Errorf("a note addresses %v %v", ids, err)
			}
		})
	}
}

// A phone's note becomes a message in Apple's format: plain text as HTML
// lines, the title from the first line when the phone sent none.
func TestDraftOfPhoneNote(t *testing.T) {
	s := &Session{cred: eas.Credentials{Username: "me@example.com"}}
	for _, tc := range []struct {
		name        string
		note        eas.Note
		subject     string
		htmlHas     string
		htmlHasNone string
	}{
		{"plain", eas.Note{Subject: "Todo", Body: &eas.Body{Type: eas.BodyPlain, Data: "Todo\r\n1 < 2"}}, "Todo", "<div>1 &lt; 2</div>", ""},
		{"html kept", eas.Note{Subject: "H", Body: &eas.Body{Type: eas.BodyHTML, Data: "<p><b>x</b></p>"}}, "H", "<p><b>x</b></p>", ""},
		{"no subject", eas.Note{Body: &eas.Body{Type: eas.BodyPlain, Data: "\r\n  Hello there \r\nworld"}}, "Hello there", "<div>world</div>", ""},
		{"no body", eas.Note{Subject: "Only"}, "Only", "<div>Only</div>", ""},
		{"blank lines", eas.Note{Subject: "B", Body: &eas.Body{Type: eas.BodyPlain, Data: "a\r\n\r\nb\r\n"}}, "B", "<div>a</div><div><br></div><div>b</div>", "<div>b</div><div><br></div>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := s.draft("ID", &tc.note)
			if d.subject != tc.subject || !strings.Contains(d.html, tc.htmlHas) || (tc.htmlHasNone != "" && strings.Contains(d.html, tc.htmlHasNone)) || d.from != "me@example.com" {
				t.Fatalf("draft %+v", d)
			}
		})
	}
}
