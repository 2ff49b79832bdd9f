package eas

import (
	"slices"
	"testing"
)

// TestDrain checks that a notice and those that came with it name each
// watched folder once: a merged collection's folders that change together
// are one collection to check and to sync again, not one per folder.
func TestDrain(t *testing.T) {
	inbox := watchedFolder{ID: "1", Path: "INBOX"}
	contacts := watchedFolder{ID: "c", Path: "Contacts"}
	byPath := map[string]watchedFolder{"INBOX": inbox, "Contacts": contacts, "Contacts/Work": contacts}
	tests := []struct {
		name      string
		hierarchy bool
		notices   []string
		want      []string
		list      bool
	}{
		{name: "one folder", notices: []string{"INBOX"}, want: []string{"1"}},
		{name: "two folders", notices: []string{"INBOX", "Contacts"}, want: []string{"1", "c"}},
		{name: "a merged collection's folders together", notices: []string{"Contacts", "Contacts/Work", "INBOX"}, want: []string{"1", "c"}},
		{name: "a path not watched", notices: []string{"Drafts"}},
		{name: "the folder list, watched", hierarchy: true, notices: []string{FolderListPath, "INBOX"}, want: []string{"1"}, list: true},
		{name: "the folder list, not watched", notices: []string{FolderListPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := make(chan string, len(tt.notices))
			for _, p := range tt.notices[1:] {
				events <- p
			}
			w := &watcher{byPath: byPath, hierarchy: tt.hierarchy, events: events}
			folders, list := w.drain(tt.notices[0])
			var got []string
			for _, f := range folders {
				got = append(got, f.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) || list != tt.list {
				t.Errorf("drain = %v, list %v; want %v, list %v", got, list, tt.want, tt.list)
			}
		})
	}
}
