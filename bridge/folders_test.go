package bridge

import (
	"context"
	"reflect"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

func TestFoldersDovecot(t *testing.T) {
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	for _, name := range []string{"Projekte", "Projekte/Ärger & Co", "Deleted Items"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
	}
	mb := u.open(t)
	folders, err := mb.Folders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Path, Parent, Name string
		Type               eas.FolderType
	}
	var got []row
	for _, f := range folders {
		got = append(got, row{f.Path, f.Parent, f.Name, f.Type})
		if f.Stamp == "" {
			t.Errorf("folder %q has no Stamp", f.Path)
		}
	}
	// Dovecot marks Drafts, Sent, Trash, Junk and Archive; "Deleted Items"
	// loses to the marked Trash.
	want := []row{
		{"INBOX", "", "INBOX", eas.FolderInbox},
		{"Archive", "", "Archive", eas.FolderUserMail},
		{"Deleted Items", "", "Deleted Items", eas.FolderUserMail},
		{"Drafts", "", "Drafts", eas.FolderDrafts},
		{"Junk", "", "Junk", eas.FolderUserMail},
		{"Projekte", "", "Projekte", eas.FolderUserMail},
		{"Projekte/Ärger & Co", "Projekte", "Ärger & Co", eas.FolderUserMail},
		{"Sent", "", "Sent", eas.FolderSent},
		{"Trash", "", "Trash", eas.FolderDeleted},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("folders:\n got %+v\nwant %+v", got, want)
	}
}

func TestFoldersNameFallback(t *testing.T) {
	// The in-memory server has no SPECIAL-USE: roles come from names.
	u := startMemServer(t, []imap.Cap{imap.CapUIDPlus, imap.CapMove}, Config{},
		"Gesendet", "Sent Items", "papierkorb", "INBOX/Drafts", "Spam", "Notes")
	folders, err := u.open(t).Folders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]eas.FolderType{}
	for _, f := range folders {
		got[f.Path] = f.Type
	}
	want := map[string]eas.FolderType{
		"INBOX":        eas.FolderInbox,
		"INBOX/Drafts": eas.FolderDrafts,
		// "Sent Items" comes before "Gesendet" in the list of names.
		"Sent Items": eas.FolderSent,
		"Gesendet":   eas.FolderUserMail,
		"papierkorb": eas.FolderDeleted,
		"Spam":       eas.FolderUserMail,
		// "Notes" is the notes mailbox, served by bridge/notes.
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("types:\n got %v\nwant %v", got, want)
	}
}

func list(attrs string, name string, delim rune, uidValidity uint32) listEntry {
	d := &imap.ListData{Mailbox: name, Delim: delim}
	for _, a := range splitFields(attrs) {
		d.Attrs = append(d.Attrs, imap.MailboxAttr(a))
	}
	return listEntry{data: d, uidValidity: uidValidity}
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i, r := range s + " " {
		if r == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
			}
			start = -1
		} else if start < 0 {
			start = i
		}
	}
	return out
}

func TestBuildFolders(t *testing.T) {
	tests := []struct {
		name    string
		delim   rune
		entries []listEntry
		want    []eas.Folder
	}{{
		name:  "noselect parent kept for its child, dropped when alone",
		delim: '/',
		entries: []listEntry{
			list("", "INBOX", '/', 1),
			list(`\Noselect \HasChildren`, "Lists", '/', 0),
			list(`\HasNoChildren`, "Lists/go-nuts", '/', 7),
			list(`\NonExistent`, "Gone", '/', 0),
			list(`\Noselect`, "Empty", '/', 0),
		},
		want: []eas.Folder{
			{Path: "INBOX", Name: "INBOX", Type: eas.FolderInbox, Stamp: "1"},
			{Path: "Lists", Name: "Lists", Type: eas.FolderUserMail},
			{Path: "Lists/go-nuts", Parent: "Lists", Name: "go-nuts", Type: eas.FolderUserMail, Stamp: "7"},
		},
	}, {
		name:  "INBOX. namespace with names",
		delim: '.',
		entries: []listEntry{
			list("", "INBOX", '.', 1),
			list("", "INBOX.Sent Messages", '.', 2),
			list("", "INBOX.Deleted Messages", '.', 3),
			list("", "INBOX.Entwürfe", '.', 4),
			list("", "INBOX.Junk", '.', 5),
		},
		want: []eas.Folder{
			{Path: "INBOX", Name: "INBOX", Type: eas.FolderInbox, Stamp: "1"},
			{Path: "INBOX.Deleted Messages", Parent: "INBOX", Name: "Deleted Messages", Type: eas.FolderDeleted, Stamp: "3"},
			{Path: "INBOX.Entwürfe", Parent: "INBOX", Name: "Entwürfe", Type: eas.FolderDrafts, Stamp: "4"},
			{Path: "INBOX.Junk", Parent: "INBOX", Name: "Junk", Type: eas.FolderUserMail, Stamp: "5"},
			{Path: "INBOX.Sent Messages", Parent: "INBOX", Name: "Sent Messages", Type: eas.FolderSent, Stamp: "2"},
		},
	}, {
		name:  "one folder per role; special-use beats names",
		delim: '/',
		entries: []listEntry{
			list("", "INBOX", '/', 1),
			list(`\Sent`, "Versendet", '/', 2),
			list(`\Sent`, "Old/Sent", '/', 3),
			list("", "Sent", '/', 4),
			list(`\Junk`, "Trash", '/', 5),
			list("", "Deleted Items", '/', 6),
		},
		want: []eas.Folder{
			{Path: "INBOX", Name: "INBOX", Type: eas.FolderInbox, Stamp: "1"},
			{Path: "Deleted Items", Name: "Deleted Items", Type: eas.FolderDeleted, Stamp: "6"},
			{Path: "Old/Sent", Parent: "", Name: "Sent", Type: eas.FolderUserMail, Stamp: "3"},
			{Path: "Sent", Name: "Sent", Type: eas.FolderUserMail, Stamp: "4"},
			{Path: "Trash", Name: "Trash", Type: eas.FolderUserMail, Stamp: "5"},
			{Path: "Versendet", Name: "Versendet", Type: eas.FolderSent, Stamp: "2"},
		},
	}, {
		name:  "flat server",
		delim: 0,
		entries: []listEntry{
			list("", "INBOX", 0, 1),
			list("", "Drafts", 0, 2),
		},
		want: []eas.Folder{
			{Path: "INBOX", Name: "INBOX", Type: eas.FolderInbox, Stamp: "1"},
			{Path: "Drafts", Name: "Drafts", Type: eas.FolderDrafts, Stamp: "2"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buildFolders(tt.entries, tt.delim)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFolderCreateRenameDelete(t *testing.T) {
	for _, tt := range []struct {
		name string
		up   func(t *testing.T) *upstream
	}{
		{"dovecot", func(t *testing.T) *upstream { return startDovecot(t, false, Config{}) }},
		{"memory", func(t *testing.T) *upstream {
			return startMemServer(t, []imap.Cap{imap.CapUIDPlus, imap.CapMove, imap.CapListStatus}, Config{})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			u := tt.up(t)
			mb := u.open(t)

			top, err := mb.CreateFolder(ctx, "", "Reisen")
			if err != nil {
				t.Fatal(err)
			}
			if top.Path != "Reisen" || top.Parent != "" || top.Name != "Reisen" || top.Type != eas.FolderUserMail || top.Stamp == "" {
				t.Errorf("created %+v", top)
			}
			sub, err := mb.CreateFolder(ctx, "Reisen", "Köln 2026")
			if err != nil {
				t.Fatal(err)
			}
			if sub.Path != "Reisen/Köln 2026" || sub.Parent != "Reisen" || sub.Name != "Köln 2026" {
				t.Errorf("created %+v", sub)
			}
			_, err = mb.CreateFolder(ctx, "", "Reisen")
			wantErr(t, err, eas.ErrExists)
			_, err = mb.CreateFolder(ctx, "Nirgendwo", "x")
			wantErr(t, err, eas.ErrNotFound)

			other, err := mb.CreateFolder(ctx, "", "Urlaub")
			if err != nil {
				t.Fatal(err)
			}
			moved, err := mb.RenameFolder(ctx, "Reisen/Köln 2026", "Urlaub", "Köln")
			if err != nil {
				t.Fatal(err)
			}
			if moved.Path != "Urlaub/Köln" || moved.Parent != "Urlaub" || moved.Stamp != sub.Stamp {
				t.Errorf("renamed %+v, want Urlaub/Köln with Stamp %s", moved, sub.Stamp)
			}
			_, err = mb.RenameFolder(ctx, "Reisen", "", "Urlaub")
			wantErr(t, err, eas.ErrExists)
			_, err = mb.RenameFolder(ctx, "Fehlt", "", "Neu")
			wantErr(t, err, eas.ErrNotFound)
			_, err = mb.RenameFolder(ctx, "Reisen", "Fehlt", "Neu")
			wantErr(t, err, eas.ErrNotFound)

			if err := mb.DeleteFolder(ctx, "Urlaub"); err != nil {
				t.Fatal(err)
			}
			wantErr(t, mb.DeleteFolder(ctx, "Urlaub"), eas.ErrNotFound)
			folders, err := mb.Folders(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range folders {
				if f.Path == "Urlaub" || f.Path == "Urlaub/Köln" {
					t.Errorf("%q survived its deletion", f.Path)
				}
			}
			found := false
			for _, f := range folders {
				found = found || (f.Path == "Reisen" && f.Stamp == top.Stamp)
			}
			if !found {
				t.Errorf("Reisen (stamp %s) missing from %+v", top.Stamp, folders)
			}
			_ = other
		})
	}
}
