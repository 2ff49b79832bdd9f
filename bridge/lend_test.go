package bridge

import "testing"

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
