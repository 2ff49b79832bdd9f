package bridge

import (
	"context"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

func TestIsNotesFolder(t *testing.T) {
	for _, tc := range []struct {
		path  string
		delim rune
		want  bool
	}{
		{"Notes", '/', true},
		{"Notes", 0, true},
		{"INBOX.Notes", '.', true},
		{"inbox/Notes", '/', true},
		{"INBOX.Notes", '/', false},
		{"notes", '/', false},
		{"Projects/Notes", '/', false},
		{"Notes/Recipes", '/', false},
		{"INBOX", '/', false},
	} {
		if got := IsNotesFolder(tc.path, tc.delim); got != tc.want {
			t.Errorf("IsNotesFolder(%q, %q) = %v, want %v", tc.path, tc.delim, got, tc.want)
		}
	}
}

// The phone lists a Notes folder at the top whether the notes mailbox
// exists or not: a mail folder cannot take its name.
func TestNotesNameTaken(t *testing.T) {
	u := startMemServer(t, []imap.Cap{imap.CapUIDPlus, imap.CapMove}, Config{}, "Work", "INBOX/Sub")
	mb := u.open(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"create", func() error { _, err := mb.CreateFolder(ctx, "", "Notes"); return err }},
		{"create under INBOX", func() error { _, err := mb.CreateFolder(ctx, "INBOX", "Notes"); return err }},
		{"rename", func() error { _, err := mb.RenameFolder(ctx, "Work", "", "Notes"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.do(), eas.ErrExists) })
	}
	if _, err := mb.CreateFolder(ctx, "Work", "Notes"); err != nil {
		t.Errorf("a Notes folder below another folder: %v", err)
	}
}
