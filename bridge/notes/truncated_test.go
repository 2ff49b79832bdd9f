package notes_test

import (
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// A phone sends a note's body back with every change, as it holds it: cut
// to its TruncationSize when the note is long. That start of the text
// must not replace the note; an edited text does.
func TestNotesTruncatedBodySentBack(t *testing.T) {
	long := "<div>" + strings.Repeat("milk, eggs, bread, ", 40) + "and coffee</div>"
	tests := []struct {
		name     string
		bodyType int
		body     func(full string) string
		subject  string
		want     string // in the stored message
		wantNot  string
	}{
		{name: "plain start kept", bodyType: eas.BodyPlain, body: func(full string) string { return full[:60] },
			subject: "Shopping list", want: "and coffee"},
		{name: "HTML start kept", bodyType: eas.BodyHTML, body: func(full string) string { return full[:80] },
			subject: "Shopping list", want: "and coffee"},
		{name: "edited text replaces it", bodyType: eas.BodyPlain, body: func(full string) string { return "Groceries\nonly tea" },
			subject: "Groceries", want: "only tea", wantNot: "and coffee"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, options{})
			u, mail := g.notesUser(t)
			uuid := appleUUID[:len(appleUUID)-1] + string(rune('A'+i))
			g.dovecot.Append(t, u.name, u.password, "Notes", appleNote(uuid, "Groceries", long, time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)))
			p := g.phone(t, u, "phone", eas.V141)
			got := p.syncAll(t, tt.bodyType)
			if len(got.Add) != 1 || got.Add[0].Note.Body == nil {
				t.Fatalf("got %+v", got)
			}
			var edit eas.SyncCommands
			n := &eas.Note{Subject: tt.subject, Body: &eas.Body{Type: tt.bodyType, Data: tt.body(got.Add[0].Note.Body.Data)}}
			if err := edit.ChangeItemCommand(got.Add[0].ServerID, n); err != nil {
				t.Fatal(err)
			}
			if res := p.sync(t, &edit, tt.bodyType); res.Responses != nil {
				t.Fatalf("Change answered %+v", res.Responses)
			}
			after := byUUID(mailbox(t, mail, "Notes"), uuid)
			if len(after) != 1 || !strings.Contains(after[0].raw, tt.want) || tt.wantNot != "" && strings.Contains(after[0].raw, tt.wantNot) ||
				after[0].header["subject"] != tt.subject {
				t.Fatalf("stored note:\n%+v", after)
			}
		})
	}
}
