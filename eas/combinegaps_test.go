package eas_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
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
	mail := newFakeMail()
	combined := eas.Combine(fakeBackend{mail}, fakeNotifier{mail},
		eas.Upstream{Name: "dav", Backend: dav, Notifier: fakeNotifier{dav.m}})
	g := &fakeGateway{mail: mail, store: store}
	g.server = eas.NewServer(eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second}, combined, g.store, combined)
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	g.phone = g.newPhone(t, "phone1", eas.V141)
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
			dav.addFolder("Notes 2", "", eas.FolderUserNotes)
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
