package contacts

import (
	"context"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// TestCombinedFolderList: through eas.Combine, a phone's wait on the
// folder list hears of an address book another client made, so that its
// Ping is answered with Status 7 (hierarchy changed) rather than at the
// next FolderSync.
func TestCombinedFolderList(t *testing.T) {
	srv := start(t)
	if err := srv.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	b := New(Config{DAV: dav.Config{URL: srv.URL()}, PollInterval: 50 * time.Millisecond})
	// The mail store takes no part in a subscription without a notifier.
	combined := eas.Combine(nil, nil, eas.Upstream{Name: "carddav", Backend: b, Notifier: b.Notifier()})
	sub, err := combined.Subscribe(context.Background(), cred, []string{eas.FolderListPath})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := srv.AddressBook(user, "club", "Club"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub); got != eas.FolderListPath {
		t.Errorf("notice %q, want the folder list", got)
	}
}
