package e2e_test

import (
	"context"
	"slices"
	"testing"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// folderPhone is a device that tracks its FolderSync key and its folders
// the way a phone does.
type folderPhone struct {
	t       *testing.T
	c       *easclient.Client
	key     string
	folders map[string]eas.FolderEntry // by ServerId
}

func newFolderPhone(t *testing.T, c *easclient.Client) *folderPhone {
	t.Helper()
	p := &folderPhone{t: t, c: c, key: "0", folders: map[string]eas.FolderEntry{}}
	p.sync()
	return p
}

// sync runs FolderSync, applies the changes and returns them.
func (p *folderPhone) sync() *eas.FolderChanges {
	p.t.Helper()
	resp, err := p.c.FolderSync(context.Background(), p.key)
	if err != nil || resp.Status != eas.FolderSuccess || resp.SyncKey == "" {
		p.t.Fatalf("FolderSync %s: %+v %v", p.key, resp, err)
	}
	p.key = resp.SyncKey
	ch := resp.Changes
	if ch == nil {
		ch = &eas.FolderChanges{}
	}
	for _, f := range ch.Add {
		p.folders[f.ServerID] = f
	}
	for _, f := range ch.Update {
		p.folders[f.ServerID] = f
	}
	for _, d := range ch.Delete {
		delete(p.folders, d.ServerID)
	}
	return ch
}

// quiet checks that FolderSync reports nothing.
func (p *folderPhone) quiet(what string) {
	p.t.Helper()
	if ch := p.sync(); ch.Count != 0 || len(ch.Add)+len(ch.Update)+len(ch.Delete) != 0 {
		p.t.Errorf("after %s, FolderSync reports the device's own change back: %+v", what, ch)
	}
}

func (p *folderPhone) byType(typ int) eas.FolderEntry {
	p.t.Helper()
	for _, f := range p.folders {
		if f.Type == typ {
			return f
		}
	}
	p.t.Fatalf("no folder of type %d in %+v", typ, p.folders)
	return eas.FolderEntry{}
}

func (p *folderPhone) create(parentID, name string, typ int) *eas.FolderCreateResponse {
	p.t.Helper()
	resp, err := p.c.FolderCreate(context.Background(), p.key, parentID, name, typ)
	if err != nil {
		p.t.Fatalf("FolderCreate %q: %v", name, err)
	}
	if resp.Status == eas.FolderSuccess {
		if resp.SyncKey == "" || resp.SyncKey == p.key || resp.ServerID == "" {
			p.t.Fatalf("FolderCreate %q: %+v (key was %s)", name, resp, p.key)
		}
		p.key = resp.SyncKey
		p.folders[resp.ServerID] = eas.FolderEntry{ServerID: resp.ServerID, ParentID: parentID, DisplayName: name, Type: typ}
	}
	return resp
}

func (p *folderPhone) update(id, parentID, name string) *eas.FolderUpdateResponse {
	p.t.Helper()
	resp, err := p.c.FolderUpdate(context.Background(), p.key, id, parentID, name)
	if err != nil {
		p.t.Fatalf("FolderUpdate %s: %v", id, err)
	}
	if resp.Status == eas.FolderSuccess {
		if resp.SyncKey == "" || resp.SyncKey == p.key {
			p.t.Fatalf("FolderUpdate %s: %+v (key was %s)", id, resp, p.key)
		}
		p.key = resp.SyncKey
		f := p.folders[id]
		f.ParentID, f.DisplayName = parentID, name
		p.folders[id] = f
	}
	return resp
}

func (p *folderPhone) delete(id string) *eas.FolderDeleteResponse {
	p.t.Helper()
	resp, err := p.c.FolderDelete(context.Background(), p.key, id)
	if err != nil {
		p.t.Fatalf("FolderDelete %s: %v", id, err)
	}
	if resp.Status == eas.FolderSuccess {
		if resp.SyncKey == "" || resp.SyncKey == p.key {
			p.t.Fatalf("FolderDelete %s: %+v (key was %s)", id, resp, p.key)
		}
		p.key = resp.SyncKey
		for fid, f := range p.folders {
			if fid == id || f.ParentID == id {
				delete(p.folders, fid)
			}
		}
	}
	return resp
}

// imapFolders lists the user's mailboxes over an independent connection.
func imapFolders(t *testing.T, g *testGateway, user, pw string) []string {
	t.Helper()
	c := g.Dovecot.Dial(t, user, pw)
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range list {
		out = append(out, l.Mailbox)
	}
	slices.Sort(out)
	return out
}

func TestFolderCommands(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	a := newFolderPhone(t, g.provisioned(t, user, pw, "folders-a", eas.V141))
	b := newFolderPhone(t, g.provisioned(t, user, pw, "folders-b", eas.V161))
	has := func(name string) bool { return slices.Contains(imapFolders(t, g, user, pw), name) }

	// Create at the top and below it.
	projects := a.create("0", "Projects", 12)
	if projects.Status != eas.FolderSuccess || !has("Projects") {
		t.Fatalf("create Projects: %+v, IMAP has %v", projects, imapFolders(t, g, user, pw))
	}
	before := a.key
	y2026 := a.create(projects.ServerID, "2026", 12)
	if y2026.Status != eas.FolderSuccess || !has("Projects/2026") {
		t.Fatalf("create Projects/2026: %+v, IMAP has %v", y2026, imapFolders(t, g, user, pw))
	}
	a.quiet("create")
	// The other device learns of both, the child under the parent, with
	// the same ids.
	ch := b.sync()
	if len(ch.Add) != 2 || ch.Add[0].ServerID != projects.ServerID || ch.Add[1].ServerID != y2026.ServerID ||
		ch.Add[1].ParentID != projects.ServerID || ch.Add[1].DisplayName != "2026" || ch.Add[1].Type != 12 {
		t.Fatalf("other device after create: %+v", ch)
	}
	// A phone that missed the answer to its create asks with the key it
	// had and is told of the folder.
	lost, err := a.c.FolderSync(context.Background(), before)
	if err != nil || lost.Status != eas.FolderSuccess || lost.Changes == nil || len(lost.Changes.Add) != 1 ||
		lost.Changes.Add[0].ServerID != y2026.ServerID {
		t.Fatalf("FolderSync with the key before the create: %+v %v", lost, err)
	}
	a.key = lost.SyncKey

	// Rename keeps the id, and with it the phone's copy of the folder.
	g.Dovecot.Append(t, user, pw, "Projects/2026", []byte("From: a@example.org\r\nSubject: Kept\r\n\r\nHello.\r\n"))
	synced, err := a.c.SyncAll(context.Background(), y2026.ServerID, "0", 10, nil)
	if err != nil || len(synced.Commands.Add) != 1 {
		t.Fatalf("sync Projects/2026: %+v %v", synced, err)
	}
	if r := a.update(y2026.ServerID, projects.ServerID, "Archive 2026"); r.Status != eas.FolderSuccess ||
		!has("Projects/Archive 2026") || has("Projects/2026") {
		t.Fatalf("rename: %+v, IMAP has %v", r, imapFolders(t, g, user, pw))
	}
	a.quiet("rename")
	after, err := a.c.SyncAll(context.Background(), y2026.ServerID, synced.Key, 10, nil)
	if err != nil || len(after.Commands.Add)+len(after.Commands.Delete) != 0 {
		t.Fatalf("sync of the renamed folder with its old key: %+v %v", after, err)
	}
	ch = b.sync()
	if len(ch.Update) != 1 || len(ch.Add)+len(ch.Delete) != 0 || ch.Update[0].ServerID != y2026.ServerID ||
		ch.Update[0].DisplayName != "Archive 2026" || ch.Update[0].ParentID != projects.ServerID {
		t.Fatalf("other device after rename: %+v", ch)
	}

	// Move to the top, and back under another parent.
	if r := a.update(y2026.ServerID, "0", "Archive 2026"); r.Status != eas.FolderSuccess || !has("Archive 2026") {
		t.Fatalf("move to the top: %+v, IMAP has %v", r, imapFolders(t, g, user, pw))
	}
	a.quiet("move to the top")
	ch = b.sync()
	if len(ch.Update) != 1 || ch.Update[0].ServerID != y2026.ServerID || ch.Update[0].ParentID != "0" {
		t.Fatalf("other device after the move: %+v", ch)
	}
	inbox := a.byType(2)
	if r := a.update(y2026.ServerID, inbox.ServerID, "Old"); r.Status != eas.FolderSuccess || !has("INBOX/Old") {
		t.Fatalf("move under Inbox with a new name: %+v, IMAP has %v", r, imapFolders(t, g, user, pw))
	}
	a.quiet("move under Inbox")
	ch = b.sync()
	if len(ch.Update) != 1 || ch.Update[0].ServerID != y2026.ServerID || ch.Update[0].ParentID != inbox.ServerID ||
		ch.Update[0].DisplayName != "Old" {
		t.Fatalf("other device after the second move: %+v", ch)
	}

	// A renamed parent takes its child along; the child keeps its id too.
	sub := a.create(projects.ServerID, "Specs", 12)
	if sub.Status != eas.FolderSuccess {
		t.Fatalf("create Specs: %+v", sub)
	}
	b.sync()
	if r := a.update(projects.ServerID, "0", "Work"); r.Status != eas.FolderSuccess || !has("Work/Specs") {
		t.Fatalf("rename a parent: %+v, IMAP has %v", r, imapFolders(t, g, user, pw))
	}
	a.quiet("renaming a parent")
	ch = b.sync()
	if len(ch.Update) != 1 || ch.Update[0].ServerID != projects.ServerID || len(ch.Add)+len(ch.Delete) != 0 {
		t.Fatalf("other device after renaming a parent: %+v", ch)
	}

	// Delete takes the subfolders along.
	if r := a.delete(projects.ServerID); r.Status != eas.FolderSuccess || has("Work") || has("Work/Specs") {
		t.Fatalf("delete: %+v, IMAP has %v", r, imapFolders(t, g, user, pw))
	}
	a.quiet("delete")
	ch = b.sync()
	var deleted []string
	for _, d := range ch.Delete {
		deleted = append(deleted, d.ServerID)
	}
	slices.Sort(deleted)
	want := []string{projects.ServerID, sub.ServerID}
	slices.Sort(want)
	if !slices.Equal(deleted, want) || len(ch.Add)+len(ch.Update) != 0 {
		t.Fatalf("other device after delete: %+v, want deletes %v", ch, want)
	}

	// A folder made again at a deleted path is a new folder.
	again := a.create("0", "Work", 12)
	if again.Status != eas.FolderSuccess || again.ServerID == projects.ServerID {
		t.Fatalf("create Work again: %+v (old id %s)", again, projects.ServerID)
	}
}

func TestFolderCommandStatuses(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	p := newFolderPhone(t, g.provisioned(t, user, pw, "folders-st", eas.V141))
	work := p.create("0", "Work", 12)
	if work.Status != eas.FolderSuccess {
		t.Fatalf("create Work: %+v", work)
	}
	child := p.create(work.ServerID, "Child", 12)
	if child.Status != eas.FolderSuccess {
		t.Fatalf("create Work/Child: %+v", child)
	}
	inbox, trash, sent := p.byType(2).ServerID, p.byType(4).ServerID, p.byType(5).ServerID
	ctx := context.Background()
	const badKey = "{00000000}1"
	tests := []struct {
		name string
		do   func() int
		want int
	}{
		{"create: name exists", func() int { return p.create("0", "Work", 12).Status }, eas.FolderExists},
		{"create: nested name exists", func() int { return p.create(work.ServerID, "Child", 12).Status }, eas.FolderExists},
		{"create: unknown parent", func() int { return p.create("9999", "Orphan", 12).Status }, eas.FolderParentNotFound},
		{"create: default folder type", func() int { return p.create("0", "Another Inbox", 2).Status }, eas.FolderMalformed},
		{"create: calendar on a mail server", func() int { return p.create("0", "Dates", 13).Status }, eas.FolderMalformed},
		{"create: empty name", func() int { return p.create("0", "  ", 12).Status }, eas.FolderMalformed},
		{"create: separator in the name", func() int { return p.create("0", "a/b", 12).Status }, eas.FolderMalformed},
		{"create: bad key", func() int {
			r, err := p.c.FolderCreate(ctx, badKey, "0", "Fresh", 12)
			if err != nil {
				t.Fatal(err)
			}
			return r.Status
		}, eas.FolderInvalidSyncKey},
		{"create: key 0", func() int {
			r, err := p.c.FolderCreate(ctx, "0", "0", "Fresh", 12)
			if err != nil {
				t.Fatal(err)
			}
			return r.Status
		}, eas.FolderInvalidSyncKey},
		{"update: unknown folder", func() int { return p.update("9999", "0", "X").Status }, eas.FolderNotFound},
		{"update: rename Inbox", func() int { return p.update(inbox, "0", "Mail").Status }, eas.FolderExists},
		{"update: move Sent", func() int { return p.update(sent, work.ServerID, "Sent").Status }, eas.FolderExists},
		{"update: name taken", func() int { return p.update(child.ServerID, "0", "Work").Status }, eas.FolderExists},
		{"update: unknown parent", func() int { return p.update(child.ServerID, "9999", "Child").Status }, eas.FolderParentNotFound},
		{"update: into its own child", func() int { return p.update(work.ServerID, child.ServerID, "Work").Status }, eas.FolderMalformed},
		{"update: bad key", func() int {
			r, err := p.c.FolderUpdate(ctx, badKey, child.ServerID, "0", "Y")
			if err != nil {
				t.Fatal(err)
			}
			return r.Status
		}, eas.FolderInvalidSyncKey},
		{"delete: unknown folder", func() int { return p.delete("9999").Status }, eas.FolderNotFound},
		{"delete: Inbox", func() int { return p.delete(inbox).Status }, eas.FolderSpecial},
		{"delete: Sent", func() int { return p.delete(sent).Status }, eas.FolderSpecial},
		{"delete: Trash", func() int { return p.delete(trash).Status }, eas.FolderSpecial},
		{"delete: bad key", func() int {
			r, err := p.c.FolderDelete(ctx, badKey, child.ServerID)
			if err != nil {
				t.Fatal(err)
			}
			return r.Status
		}, eas.FolderInvalidSyncKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := p.key
			if got := tt.do(); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
			if p.key != before {
				t.Errorf("a failed command changed the key")
			}
		})
	}
	// Nothing of that reached the server, and the device's key still works.
	got := imapFolders(t, g, user, pw)
	for _, want := range []string{"INBOX", "Sent", "Trash", "Work", "Work/Child"} {
		if !slices.Contains(got, want) {
			t.Errorf("IMAP lost %q: %v", want, got)
		}
	}
	if slices.Contains(got, "Fresh") || slices.Contains(got, "Mail") || slices.Contains(got, "Orphan") {
		t.Errorf("a refused command changed IMAP: %v", got)
	}
	p.quiet("refused commands")
}
