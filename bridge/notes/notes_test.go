package notes_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

const appleUUID = "5B4D2F8E-1C3A-4E6B-9F0D-2A7C8E1B3D4F"

// Notes written over IMAP in Apple's format reach two phones of different
// versions; what one phone adds, edits and deletes is seen over IMAP in
// that format and by the other phone, an edit as a Change of the same
// ServerId; nothing comes back to the phone that made it.
func TestNotesBothWays(t *testing.T) {
	g := startGateway(t, options{})
	plain := startGateway(t, options{NoCondstore: true})
	for _, tc := range []struct {
		name   string
		g      *gateway
		editor eas.Version
		other  eas.Version
	}{
		{"edit on 14.1, seen on 16.1", g, eas.V141, eas.V161},
		{"edit on 16.1, seen on 14.1", g, eas.V161, eas.V141},
		{"without CONDSTORE", plain, eas.V141, eas.V161},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g
			u, mail := g.notesUser(t)
			date := time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
			g.dovecot.Append(t, u.name, u.password, "Notes",
				appleNote(appleUUID, "Groceries", "<div>milk &amp; eggs</div>", date), imap.Flag("Home"))

			editor := g.phone(t, u, "editor", tc.editor)
			other := g.phone(t, u, "other", tc.other)
			for _, p := range []*phone{editor, other} {
				if p.notes == "" {
					t.Fatalf("no Notes folder (type 10) in %+v", p.folders)
				}
				for _, f := range p.folders {
					if f.DisplayName == "Notes" && f.Type != int(eas.FolderNotes) {
						t.Fatalf("the notes mailbox is listed as a mail folder too: %+v", f)
					}
				}
			}

			// Apple's note reaches both phones, as text and as HTML.
			got := editor.syncAll(t, eas.BodyPlain)
			if len(got.Add) != 1 {
				t.Fatalf("editor got %+v", got)
			}
			n := got.Add[0]
			sid := n.ServerID
			if localID(sid) != appleUUID {
				t.Fatalf("ServerId %q is not the note's UUID", sid)
			}
			cats := []string(nil)
			if n.Note.Categories != nil {
				cats = n.Note.Categories.Category
			}
			if n.Note.Subject != "Groceries" || n.Note.Body == nil || n.Note.Body.Type != eas.BodyPlain ||
				!strings.Contains(n.Note.Body.Data, "milk & eggs") || n.Note.MessageClass != "IPM.StickyNote" ||
				!n.Note.LastModifiedDate.Equal(date) || !slices.Equal(cats, []string{"Home"}) {
				t.Fatalf("note on the editor: %+v body %+v cats %v", n.Note, n.Note.Body, cats)
			}
			got = other.syncAll(t, eas.BodyHTML)
			if len(got.Add) != 1 || got.Add[0].ServerID != sid || got.Add[0].Note.Body.Type != eas.BodyHTML ||
				!strings.Contains(got.Add[0].Note.Body.Data, "milk &amp; eggs") {
				t.Fatalf("other phone got %+v", got)
			}

			// The editor adds a note: Apple's format over IMAP, not echoed.
			var add eas.SyncCommands
			if err := add.AddItemCommand("c1", &eas.Note{Subject: "Todo", Body: &eas.Body{Type: eas.BodyPlain, Data: "Todo\r\ncall <Bob>"},
				Categories: &eas.NoteCategories{Category: []string{"Work"}}}); err != nil {
				t.Fatal(err)
			}
			res := editor.sync(t, &add, eas.BodyPlain)
			if res.Responses == nil || len(res.Responses.Add) != 1 || res.Responses.Add[0].Status != eas.SyncSuccess {
				t.Fatalf("Add answered %+v", res.Responses)
			}
			added := res.Responses.Add[0].ServerID
			if res.Commands != nil {
				t.Fatalf("the phone's own note came back: %+v", res.Commands)
			}
			msgs := byUUID(mailbox(t, mail, "Notes"), localID(added))
			if len(msgs) != 1 {
				t.Fatalf("added note %s over IMAP: %+v", added, msgs)
			}
			m := msgs[0]
			if m.header["x-uniform-type-identifier"] != "com.apple.mail-note" || m.header["subject"] != "Todo" ||
				!strings.HasPrefix(m.header["content-type"], "text/html") || !strings.Contains(m.raw, "call &lt;Bob&gt;") ||
				!slices.Contains(m.flags, imap.Flag("Work")) {
				t.Fatalf("added note over IMAP: %+v", m)
			}

			// The editor edits Apple's note: stored anew under the same UUID,
			// without the category it dropped; not echoed to the editor.
			var edit eas.SyncCommands
			if err := edit.ChangeItemCommand(sid, &eas.Note{Subject: "Groceries", Body: &eas.Body{Type: eas.BodyPlain, Data: "Groceries\r\nmilk, eggs, bread"}}); err != nil {
				t.Fatal(err)
			}
			res = editor.sync(t, &edit, eas.BodyPlain)
			if res.Status != eas.SyncSuccess || res.Responses != nil || res.Commands != nil {
				t.Fatalf("Change answered %+v %+v", res.Responses, res.Commands)
			}
			if got := editor.syncAll(t, eas.BodyPlain); len(got.Add)+len(got.Change)+len(got.Delete) != 0 {
				t.Fatalf("the editor got its own changes back: %+v", got)
			}
			msgs = byUUID(mailbox(t, mail, "Notes"), appleUUID)
			if len(msgs) != 1 || !strings.Contains(msgs[0].raw, "milk, eggs, bread") || slices.Contains(msgs[0].flags, imap.Flag("Home")) ||
				msgs[0].header["x-uniform-type-identifier"] != "com.apple.mail-note" {
				t.Fatalf("edited note over IMAP: %+v", msgs)
			}

			// The editor deletes its own note.
			var del eas.SyncCommands
			if err := del.DeleteCommand(added); err != nil {
				t.Fatal(err)
			}
			if res := editor.sync(t, &del, eas.BodyPlain); res.Status != eas.SyncSuccess || res.Responses != nil {
				t.Fatalf("Delete answered %+v %+v", res, res.Responses)
			}
			if msgs := byUUID(mailbox(t, mail, "Notes"), localID(added)); len(msgs) != 0 {
				t.Fatalf("deleted note still over IMAP: %+v", msgs)
			}

			// The other phone: the edit as a Change of the same ServerId;
			// the added and deleted note never shows.
			got = other.syncAll(t, eas.BodyPlain)
			if len(got.Add) != 0 || len(got.Delete) != 0 || len(got.Change) != 1 || got.Change[0].ServerID != sid ||
				!strings.Contains(got.Change[0].Note.Body.Data, "milk, eggs, bread") ||
				got.Change[0].Note.Categories == nil || len(got.Change[0].Note.Categories.Category) != 0 {
				t.Fatalf("other phone got %+v", got)
			}
		})
	}
}

// An edit made over IMAP the way Apple's Notes makes it (a new message
// with the same UUID, the old one deleted) reaches the phone as a Change of
// the same ServerId, counted by GetItemEstimate beforehand; a note deleted
// over IMAP as a Delete.
func TestNotesAppleEdit(t *testing.T) {
	g := startGateway(t, options{})
	u, mail := g.notesUser(t)
	date := time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
	first := g.dovecot.Append(t, u.name, u.password, "Notes", appleNote(appleUUID, "Plan", "<div>one</div>", date))
	p := g.phone(t, u, "phone", eas.V161)
	got := p.syncAll(t, eas.BodyPlain)
	if len(got.Add) != 1 {
		t.Fatalf("got %+v", got)
	}
	sid := got.Add[0].ServerID

	later := date.Add(time.Hour)
	g.dovecot.Append(t, u.name, u.password, "Notes", appleNote(appleUUID, "Plan", "<div>one</div><div>two</div>", later))
	g.dovecot.Append(t, u.name, u.password, "Notes", appleNote("0D5E4C3B-2A19-4F08-B7E6-D5C4B3A29180", "Second", "", later))
	est, err := p.c.GetItemEstimate(context.Background(), &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{{SyncKey: p.key, CollectionID: p.notes}}})
	if err != nil || len(est.Response) != 1 || est.Response[0].Collection == nil || est.Response[0].Collection.Estimate == nil ||
		*est.Response[0].Collection.Estimate != 2 {
		t.Fatalf("GetItemEstimate answered %+v %v", est, err)
	}
	if _, err := mail.Select("Notes", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := mail.Store(imap.UIDSetNum(first), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := mail.UIDExpunge(imap.UIDSetNum(first)).Close(); err != nil {
		t.Fatal(err)
	}
	got = p.syncAll(t, eas.BodyPlain)
	if len(got.Add) != 1 || len(got.Delete) != 0 || len(got.Change) != 1 || got.Change[0].ServerID != sid ||
		!strings.Contains(got.Change[0].Note.Body.Data, "two") || !got.Change[0].Note.LastModifiedDate.Equal(later) {
		t.Fatalf("Apple's edit reached the phone as %+v", got)
	}

	all := byUUID(mailbox(t, mail, "Notes"), appleUUID)
	if err := mail.Store(imap.UIDSetNum(all[0].uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := mail.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	got = p.syncAll(t, eas.BodyPlain)
	if len(got.Delete) != 1 || got.Delete[0].ServerID != sid || len(got.Add)+len(got.Change) != 0 {
		t.Fatalf("Apple's delete reached the phone as %+v", got)
	}
}

// A user without a notes mailbox still gets the Notes folder from the
// first FolderSync; the phone's first note makes the mailbox "Notes".
func TestNotesMailboxMadeOnFirstAdd(t *testing.T) {
	g := startGateway(t, options{})
	u := g.newUser(t)
	p := g.phone(t, u, "phone", eas.V141)
	if p.notes == "" {
		t.Fatalf("no Notes folder in %+v", p.folders)
	}
	if got := p.syncAll(t, eas.BodyPlain); len(got.Add) != 0 {
		t.Fatalf("got %+v", got)
	}
	var add eas.SyncCommands
	if err := add.AddItemCommand("c1", &eas.Note{Subject: "First", Body: &eas.Body{Type: eas.BodyHTML, Data: "<div>First</div><div><b>bold</b></div>"}}); err != nil {
		t.Fatal(err)
	}
	res := p.sync(t, &add, eas.BodyPlain)
	if res.Responses == nil || len(res.Responses.Add) != 1 || res.Responses.Add[0].Status != eas.SyncSuccess {
		t.Fatalf("Add answered %+v", res.Responses)
	}
	mail := g.imap(t, u)
	msgs := mailbox(t, mail, "Notes")
	if len(msgs) != 1 || msgs[0].header["x-universally-unique-identifier"] != localID(res.Responses.Add[0].ServerID) ||
		!strings.Contains(msgs[0].raw, "<b>bold</b>") {
		t.Fatalf("notes mailbox holds %+v", msgs)
	}
	// The folder list of the phone does not change: Notes was there.
	fs, err := p.c.FolderSync(context.Background(), "0")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fs.Changes.Add {
		if f.DisplayName == "Notes" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("folders now %+v", fs.Changes.Add)
	}
}
