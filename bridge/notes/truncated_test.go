package notes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// A phone sends a note's body back with every change, as it holds it: cut
// to its TruncationSize when the note is long, or as text when it read an
// Apple note with pictures as text. Neither may replace the note; a text
// the phone held whole and edited does.
func TestNotesBodySentBack(t *testing.T) {
	long := "<div>" + strings.Repeat("milk, eggs, bread, ", 40) + "and coffee</div>"
	date := time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name     string
		note     func(uuid string) []byte
		bodyType int
		trunc    uint32 // the phone's TruncationSize
		body     func(full string) string
		subject  string
		want     []string // in the stored message
		wantNot  []string
	}{
		{name: "cut plain text kept", note: func(u string) []byte { return appleNote(u, "Groceries", long, date) },
			bodyType: eas.BodyPlain, trunc: 60, body: func(full string) string { return full },
			subject: "Shopping list", want: []string{"and coffee"}},
		{name: "cut HTML kept", note: func(u string) []byte { return appleNote(u, "Groceries", long, date) },
			bodyType: eas.BodyHTML, trunc: 80, body: func(full string) string { return full },
			subject: "Shopping list", want: []string{"and coffee"}},
		{name: "text of a note with a picture kept", note: appleNoteWithImage,
			bodyType: eas.BodyPlain, body: func(full string) string { return full },
			subject: "Sketch v2", want: []string{"multipart/related", "cid:img1@example.com", "iVBORw0KGgo"}},
		{name: "a shorter text held whole is an edit", note: func(u string) []byte { return appleNote(u, "Groceries", long, date) },
			bodyType: eas.BodyPlain, body: func(full string) string { return full[:40] },
			subject: "Groceries", want: []string{"milk, eggs"}, wantNot: []string{"and coffee"}},
		{name: "an edited text replaces it", note: func(u string) []byte { return appleNote(u, "Groceries", long, date) },
			bodyType: eas.BodyPlain, trunc: 60, body: func(string) string { return "Groceries\nonly tea" },
			subject: "Groceries", want: []string{"only tea"}, wantNot: []string{"and coffee"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, options{})
			u, mail := g.notesUser(t)
			uuid := appleUUID[:len(appleUUID)-1] + string(rune('A'+i))
			g.dovecot.Append(t, u.name, u.password, "Notes", tt.note(uuid))
			p := g.phone(t, u, "phone", eas.V141)
			pref := []eas.BodyPreference{{Type: tt.bodyType, TruncationSize: tt.trunc}}
			p.key = "0"
			syncNotes(t, p, nil, pref)
			got := syncNotes(t, p, nil, pref)
			if got.Commands == nil || len(got.Commands.Add) != 1 || got.Commands.Add[0].Note.Body == nil {
				t.Fatalf("got %+v", got)
			}
			b := got.Commands.Add[0].Note.Body
			if tt.trunc > 0 && !b.Truncated {
				t.Fatalf("body not cut: %+v", b)
			}
			var edit eas.SyncCommands
			n := &eas.Note{Subject: tt.subject, Body: &eas.Body{Type: tt.bodyType, Data: tt.body(b.Data)}}
			if err := edit.ChangeItemCommand(got.Commands.Add[0].ServerID, n); err != nil {
				t.Fatal(err)
			}
			if res := syncNotes(t, p, &edit, pref); res.Responses != nil {
				t.Fatalf("Change answered %+v", res.Responses)
			}
			after := byUUID(mailbox(t, mail, "Notes"), uuid)
			if len(after) != 1 || after[0].header["subject"] != tt.subject {
				t.Fatalf("stored notes %+v", after)
			}
			for _, s := range tt.want {
				if !strings.Contains(after[0].raw, s) {
					t.Errorf("stored note lacks %q:\n%s", s, after[0].raw)
				}
			}
			for _, s := range tt.wantNot {
				if strings.Contains(after[0].raw, s) {
					t.Errorf("stored note has %q:\n%s", s, after[0].raw)
				}
			}
		})
	}
}

// syncNotes sends one Sync of the Notes collection with body preferences
// of the test's choosing.
func syncNotes(t *testing.T, p *phone, cmds *eas.SyncCommands, pref []eas.BodyPreference) noteCollection {
	t.Helper()
	yes := true
	coll := eas.SyncCollection{SyncKey: p.key, CollectionID: p.notes, Commands: cmds, GetChanges: &yes,
		Options: []eas.SyncOptions{{BodyPreference: pref}}}
	var resp noteSync
	if _, err := p.c.Do(context.Background(), "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{coll}}, &resp); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if len(resp.Collections) != 1 {
		t.Fatalf("sync answered %+v", resp)
	}
	p.key = resp.Collections[0].SyncKey
	return resp.Collections[0]
}
