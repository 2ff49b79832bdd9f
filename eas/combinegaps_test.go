package eas_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// newDavStore is a second upstream holding one Notes folder.
func newDavStore() *davStore {
	dav := &davStore{m: &fakeMail{folders: map[string]*fakeFolder{}, invalid: map[string]bool{},
		atts: map[string]eas.AttachmentData{}, calls: map[string]int{}}}
	dav.m.addFolder("Notes", "", eas.FolderNotes)
	return dav
}

// startCombined starts a gateway on a mail store and dav, combined, with
// a 14.1 phone that ran its FolderSync.
func startCombined(t *testing.T, dav *davStore, store *memStore) (*fakeGateway, *eas.Combined) {
	t.Helper()
	g, combined := serveCombined(t, newFakeMail(), dav, store)
	g.phone = g.newPhone(t, "phone1", eas.V141)
	return g, combined
}

// serveCombined starts a gateway on mail and dav, combined, over store.
func serveCombined(t *testing.T, mail *fakeMail, dav *davStore, store *memStore) (*fakeGateway, *eas.Combined) {
	t.Helper()
	combined := eas.Combine(fakeBackend{mail}, fakeNotifier{mail},
		eas.Upstream{Name: "dav", Backend: dav, Notifier: fakeNotifier{dav.m}})
	g := &fakeGateway{mail: mail, store: store}
	g.server = eas.NewServer(eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second}, combined, g.store, combined)
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	return g, combined
}

// pingAsync starts a Ping on folders and returns where its answer comes.
func pingAsync(t *testing.T, g *fakeGateway, folders ...eas.PingFolder) <-chan *eas.PingResponse {
	hb := 10
	done := make(chan *eas.PingResponse, 1)
	go func() {
		r, err := g.phone.Ping(context.Background(), &eas.PingRequest{HeartbeatInterval: &hb, Folders: folders})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	return done
}

// A folder list change in either upstream reaches a waiting Ping as
// Status 7; a folder's change in either still names that folder.
func TestCombinedFolderListNotice(t *testing.T) {
	tests := []struct {
		name string
		// change makes the change upstream, given both stores.
		change     func(mail, dav *fakeMail)
		wantStatus int
		wantFolder string
	}{
		{"address book made upstream", func(_, dav *fakeMail) {
			dav.mu.Lock()
			// An address book: an iPhone shows one notes folder only,
			// so a second one would not change its folder list.
			dav.addFolder("Friends", "", eas.FolderUserContacts)
			dav.mu.Unlock()
			dav.notify(eas.FolderListPath)
		}, eas.PingHierarchyChanged, ""},
		{"mail folder made upstream", func(mail, _ *fakeMail) {
			mail.mu.Lock()
			mail.addFolder("Projects", "", eas.FolderUserMail)
			mail.mu.Unlock()
			mail.notify(eas.FolderListPath)
		}, eas.PingHierarchyChanged, ""},
		{"note added", func(_, dav *fakeMail) { dav.add("Notes", "pushed", time.Now()) }, eas.PingChanges, "Notes"},
		{"mail added", func(mail, _ *fakeMail) { mail.add("INBOX", "pushed", time.Now()) }, eas.PingChanges, "INBOX"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dav := newDavStore()
			g, _ := startCombined(t, dav, newMemStore())
			inbox, notes := g.id(t, "INBOX"), g.id(t, "Notes")
			g.primed(t, g.phone, inbox)
			primeClass(t, g, notes, 10)
			done := pingAsync(t, g, eas.PingFolder{ID: inbox, Class: "Email"}, eas.PingFolder{ID: notes, Class: "Notes"})
			deadline := time.Now().Add(waitBound)
			for dav.m.subscriptions() != 1 || g.mail.subscriptions() != 1 {
				if time.Now().After(deadline) {
					t.Fatal("the Ping did not subscribe to both upstreams")
				}
				time.Sleep(5 * time.Millisecond)
			}
			tc.change(g.mail, dav.m)
			select {
			case r := <-done:
				if r == nil || r.Status != tc.wantStatus {
					t.Fatalf("Ping answered %+v, want Status %d", r, tc.wantStatus)
				}
				if tc.wantFolder != "" && (len(r.Folders) != 1 || r.Folders[0] != g.id(t, tc.wantFolder)) {
					t.Fatalf("Ping named %v, want %s", r.Folders, tc.wantFolder)
				}
			case <-time.After(waitBound):
				t.Fatal("the Ping did not answer")
			}
		})
	}
}

// After a restart with an upstream down, FolderSync answers with the
// folders the phone knows of it (no deletes), mail keeps working and the
// down upstream's collections answer retryably.
func TestCombinedRestartUpstreamDown(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	dav := newDavStore()
	g, _ := startCombined(t, dav, store)
	inbox, notes := g.id(t, "INBOX"), g.id(t, "Notes")
	fs, err := g.phone.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess || len(fs.Changes.Add) != 7 {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	key := fs.SyncKey
	ikey, _ := g.primed(t, g.phone, inbox)
	nkey, _, _ := primeClass(t, g, notes, 10)

	// The gateway restarts on the same store; the notes' upstream is down.
	dav.down.Store(true)
	restarted, _ := serveCombined(t, g.mail, dav, store)
	phone := easclient.New(restarted.url, fakeUser, "secret", "phone1", eas.V141)
	phone.PolicyKey = g.phone.PolicyKey
	fs, err = phone.FolderSync(ctx, key)
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync with an upstream down: %v %+v", err, fs)
	}
	if fs.Changes != nil && fs.Changes.Count != 0 {
		t.Fatalf("FolderSync with an upstream down changed %+v", fs.Changes)
	}
	g.mail.add("INBOX", "after the restart", time.Now())
	resp, err := phone.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{
		{SyncKey: ikey, CollectionID: inbox}, {SyncKey: nkey, CollectionID: notes}}})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []int
	for _, c := range resp.Collections {
		statuses = append(statuses, c.Status)
		if c.CollectionID == inbox && (c.Commands == nil || len(c.Commands.Add) != 1) {
			t.Errorf("mail after the restart: %+v", c)
		}
	}
	if !slices.Equal(statuses, []int{eas.SyncSuccess, eas.SyncRetry}) {
		t.Errorf("Sync statuses %v, want mail 1 and the notes 16", statuses)
	}
	if c := restarted.sync(t, phone, eas.SyncCollection{SyncKey: "0", CollectionID: notes}); c.Status != eas.SyncRetry {
		t.Errorf("first Sync of the notes with their upstream down: %+v, want Status 16", c)
	}
	// Nor does a Ping take the missing folders for a changed hierarchy:
	// it runs its heartbeat out.
	hb := 1
	pr, err := phone.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb, Folders: []eas.PingFolder{{ID: inbox, Class: "Email"}}})
	if err != nil || pr.Status != eas.PingExpired {
		t.Fatalf("Ping with an upstream down: %v %+v, want Status 1", err, pr)
	}
	// Once the upstream is back, nothing changed for the phone.
	dav.down.Store(false)
	fs, err = phone.FolderSync(ctx, fs.SyncKey)
	if err != nil || fs.Status != eas.FolderSuccess || (fs.Changes != nil && fs.Changes.Count != 0) {
		t.Fatalf("FolderSync with the upstream back: %v %+v", err, fs)
	}
}

// An upstream that refuses the login the mail store took (the user has no
// account there, or it checks another password) fails its own folders
// retryably: the phone is not logged out, mail keeps working and the
// folder list keeps the upstream's folders.
func TestCombinedUpstreamRefusesLogin(t *testing.T) {
	ctx := context.Background()
	dav := newDavStore()
	g, _ := startCombined(t, dav, newMemStore())
	inbox, notes := g.id(t, "INBOX"), g.id(t, "Notes")
	fs, err := g.phone.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	ikey, _ := g.primed(t, g.phone, inbox)
	nkey, _, _ := primeClass(t, g, notes, 10)

	dav.refuses.Store(true)
	g.mail.add("INBOX", "while refused", time.Now())
	resp, err := g.phone.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{
		{SyncKey: ikey, CollectionID: inbox}, {SyncKey: nkey, CollectionID: notes}}})
	if err != nil {
		t.Fatalf("Sync with the other upstream refusing the login: %v", err)
	}
	var statuses []int
	for _, c := range resp.Collections {
		statuses = append(statuses, c.Status)
	}
	if !slices.Equal(statuses, []int{eas.SyncSuccess, eas.SyncRetry}) {
		t.Errorf("Sync statuses %v, want mail 1 and the notes 16", statuses)
	}
	next, err := g.phone.FolderSync(ctx, fs.SyncKey)
	if err != nil || next.Status != eas.FolderSuccess || (next.Changes != nil && next.Changes.Count != 0) {
		t.Fatalf("FolderSync with the other upstream refusing the login: %v %+v", err, next)
	}
}
