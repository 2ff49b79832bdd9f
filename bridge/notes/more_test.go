package notes_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
)

// appleNoteWithImage is a note with a picture, as Notes writes one: the
// HTML refers to the image part with an object tag.
func appleNoteWithImage(uuid string) []byte {
	return []byte(strings.ReplaceAll(`From: noter@example.com
Mime-Version: 1.0 (Mac OS X Notes 4.6 \(679\))
Date: Tue, 3 Nov 2026 09:30:00 +0000
X-Uniform-Type-Identifier: com.apple.mail-note
X-Mail-Created-Date: Mon, 2 Nov 2026 08:00:00 +0000
X-Universally-Unique-Identifier: `+uuid+`
Subject: Sketch
Content-Type: multipart/related; type="text/html"; boundary="Apple-Mail=_B1"

--Apple-Mail=_B1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 7bit

<html><body><div>Sketch</div><object type="application/x-apple-msg-attachment" data="cid:img1@example.com"></object></body></html>
--Apple-Mail=_B1
Content-Type: image/png; name=dot.png
Content-Transfer-Encoding: base64
Content-Id: <img1@example.com>

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
--Apple-Mail=_B1--
`, "\n", "\r\n"))
}

// A phone's Change that leaves Subject and Body out (MS-ASNOTE: they are
// kept) changes only the categories; the note's picture, its creation
// date and its UUID stay as they were.
func TestNotesGhostedChangeKeepsBody(t *testing.T) {
	g := startGateway(t, options{})
	u, mail := g.notesUser(t)
	g.dovecot.Append(t, u.name, u.password, "Notes", appleNoteWithImage(appleUUID))
	p := g.phone(t, u, "phone", eas.V141)
	got := p.syncAll(t, eas.BodyHTML)
	if len(got.Add) != 1 {
		t.Fatalf("got %+v", got)
	}
	sid := got.Add[0].ServerID
	before := mailbox(t, mail, "Notes")[0]

	var edit eas.SyncCommands
	if err := edit.ChangeItemCommand(sid, &eas.Note{Categories: &eas.NoteCategories{Category: []string{"Büro & Co"}}}); err != nil {
		t.Fatal(err)
	}
	if res := p.sync(t, &edit, eas.BodyHTML); res.Responses != nil || res.Commands != nil {
		t.Fatalf("Change answered %+v %+v", res.Responses, res.Commands)
	}
	after := byUUID(mailbox(t, mail, "Notes"), appleUUID)
	if len(after) != 1 || after[0].uid == before.uid {
		t.Fatalf("after the change: %+v", after)
	}
	_, bodyBefore, _ := strings.Cut(before.raw, "\r\n\r\n")
	_, bodyAfter, _ := strings.Cut(after[0].raw, "\r\n\r\n")
	a := after[0]
	if bodyAfter != bodyBefore || a.header["subject"] != "Sketch" || a.header["x-mail-created-date"] != before.header["x-mail-created-date"] ||
		!strings.HasPrefix(a.header["content-type"], "multipart/related") {
		t.Fatalf("kept note:\n%s\nwas:\n%s", a.raw, before.raw)
	}
	kw, _ := bridge.CategoryKeyword("Büro & Co")
	hasKW := false
	for _, f := range a.flags {
		hasKW = hasKW || string(f) == kw
	}
	if !hasKW {
		t.Fatalf("flags %v lack %q", a.flags, kw)
	}
	other := g.phone(t, u, "other", eas.V161)
	got = other.syncAll(t, eas.BodyPlain)
	if len(got.Add) != 1 || got.Add[0].Note.Categories == nil || len(got.Add[0].Note.Categories.Category) != 1 ||
		got.Add[0].Note.Categories.Category[0] != "Büro & Co" {
		t.Fatalf("other phone got %+v", got)
	}
}

// A message of the notes mailbox without a UUID (written by another tool)
// is a note too; once a phone edits it, it carries the id the phone knows
// it by, and keeps it.
func TestNotesWithoutUUID(t *testing.T) {
	g := startGateway(t, options{})
	u, mail := g.notesUser(t)
	g.dovecot.Append(t, u.name, u.password, "Notes", []byte("Subject: Loose\r\nDate: Tue, 3 Nov 2026 09:30:00 +0000\r\n\r\nplain words\r\n"))
	p := g.phone(t, u, "phone", eas.V141)
	got := p.syncAll(t, eas.BodyPlain)
	if len(got.Add) != 1 || got.Add[0].Note.Subject != "Loose" || !strings.Contains(got.Add[0].Note.Body.Data, "plain words") {
		t.Fatalf("got %+v", got)
	}
	sid := got.Add[0].ServerID
	var edit eas.SyncCommands
	if err := edit.ChangeItemCommand(sid, &eas.Note{Subject: "Loose", Body: &eas.Body{Type: eas.BodyPlain, Data: "more words"}}); err != nil {
		t.Fatal(err)
	}
	if res := p.sync(t, &edit, eas.BodyPlain); res.Responses != nil || res.Commands != nil {
		t.Fatalf("Change answered %+v %+v", res.Responses, res.Commands)
	}
	msgs := mailbox(t, mail, "Notes")
	if len(msgs) != 1 || msgs[0].header["x-universally-unique-identifier"] != localID(sid) || !strings.Contains(msgs[0].raw, "more words") {
		t.Fatalf("notes mailbox holds %+v", msgs)
	}
	if got := p.syncAll(t, eas.BodyPlain); len(got.Add)+len(got.Change)+len(got.Delete) != 0 {
		t.Fatalf("the phone got %+v", got)
	}
}

// A note written over IMAP wakes a Ping on the Notes folder.
func TestNotesPush(t *testing.T) {
	g := startGateway(t, options{Push: &bridge.WatchConfig{CheckInterval: 200 * time.Millisecond}})
	u, _ := g.notesUser(t)
	p := g.phone(t, u, "phone", eas.V161)
	p.syncAll(t, eas.BodyPlain)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hb := 30
	type answer struct {
		r   *eas.PingResponse
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := p.c.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb, Folders: []eas.PingFolder{{ID: p.notes, Class: "Notes"}}})
		done <- answer{r, err}
	}()
	time.Sleep(time.Second)
	g.dovecot.Append(t, u.name, u.password, "Notes", appleNote(appleUUID, "Pushed", "", time.Now()))
	a := <-done
	if a.err != nil || a.r.Status != 2 || len(a.r.Folders) != 1 || a.r.Folders[0] != p.notes {
		t.Fatalf("Ping answered %+v %v", a.r, a.err)
	}
	if got := p.syncAll(t, eas.BodyPlain); len(got.Add) != 1 || got.Add[0].Note.Subject != "Pushed" {
		t.Fatalf("got %+v", got)
	}
}

// Notes are 14.0 and later (MS-ASNOTE). A 12.1 phone is offered the Notes
// folder, as Exchange 2007 offers its own, but a Sync of it is refused
// with Status 4 and the phone's mail is untouched.
func TestNotesOn121(t *testing.T) {
	g := startGateway(t, options{})
	u := g.newUser(t)
	p := g.phone(t, u, "old", eas.V121)
	if p.notes == "" {
		t.Fatalf("folders %+v", p.folders)
	}
	p.key = "0"
	res := p.sync(t, nil, eas.BodyPlain)
	if res.Status != eas.SyncProtocolError {
		t.Fatalf("12.1 Notes sync answered %+v", res)
	}
	inbox := ""
	for _, f := range p.folders {
		if f.Type == int(eas.FolderInbox) {
			inbox = f.ServerID
		}
	}
	r, err := p.c.SyncAll(context.Background(), inbox, "0", 10, nil)
	if err != nil || r.Key == "" {
		t.Fatalf("12.1 mail sync: %+v %v", r, err)
	}
}

// A phone's edit of a note edited over IMAP since the phone last synced
// loses (Conflict absent: the server wins): Status 7, the IMAP edit stays,
// and the phone gets it.
func TestNotesConflict(t *testing.T) {
	g := startGateway(t, options{})
	u, mail := g.notesUser(t)
	date := time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
	g.dovecot.Append(t, u.name, u.password, "Notes", appleNote(appleUUID, "Plan", "<div>one</div>", date))
	p := g.phone(t, u, "phone", eas.V141)
	sid := p.syncAll(t, eas.BodyPlain).Add[0].ServerID
	g.dovecot.Append(t, u.name, u.password, "Notes", appleNote(appleUUID, "Plan", "<div>from the Mac</div>", date.Add(time.Hour)))

	var edit eas.SyncCommands
	if err := edit.ChangeItemCommand(sid, &eas.Note{Subject: "Plan", Body: &eas.Body{Type: eas.BodyPlain, Data: "from the phone"}}); err != nil {
		t.Fatal(err)
	}
	res := p.sync(t, &edit, eas.BodyPlain)
	if res.Responses == nil || len(res.Responses.Change) != 1 || res.Responses.Change[0].Status != eas.SyncConflict {
		t.Fatalf("Change answered %+v", res.Responses)
	}
	for _, m := range mailbox(t, mail, "Notes") {
		if strings.Contains(m.raw, "from the phone") {
			t.Fatalf("the losing edit was stored: %s", m.raw)
		}
	}
	changes := res.Commands
	if changes == nil {
		c := p.syncAll(t, eas.BodyPlain)
		changes = &c
	}
	if len(changes.Change) != 1 || changes.Change[0].ServerID != sid || !strings.Contains(changes.Change[0].Note.Body.Data, "from the Mac") {
		t.Fatalf("the phone got %+v", changes)
	}
}

// Many notes reach the phone a window at a time, each once.
func TestNotesInWindows(t *testing.T) {
	g := startGateway(t, options{})
	u, _ := g.notesUser(t)
	const n = 7
	date := time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
	for i := range n {
		uuid := strings.Replace(appleUUID, "5B4D", fmt.Sprintf("%04d", i), 1)
		g.dovecot.Append(t, u.name, u.password, "Notes", appleNote(uuid, fmt.Sprintf("Note %d", i), "", date))
	}
	p := g.phone(t, u, "phone", eas.V161)
	p.window = 3
	seen := map[string]bool{}
	rounds := 0
	for {
		got := p.sync(t, nil, eas.BodyPlain)
		rounds++
		if got.Status != eas.SyncSuccess || (got.Commands != nil && len(got.Commands.Add) > p.window) {
			t.Fatalf("round %d answered %+v", rounds, got)
		}
		if got.Commands != nil {
			for _, a := range got.Commands.Add {
				if seen[a.ServerID] {
					t.Fatalf("%s sent twice", a.ServerID)
				}
				seen[a.ServerID] = true
			}
		}
		if !got.MoreAvailable {
			break
		}
	}
	if len(seen) != n || rounds != 3 {
		t.Fatalf("%d notes in %d rounds", len(seen), rounds)
	}
}
