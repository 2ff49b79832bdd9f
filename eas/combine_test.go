package eas_test

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// davStore is a second upstream of notes only, which a test can take down.
type davStore struct {
	m    *fakeMail
	down atomic.Bool
	// refuses: the upstream refuses the login the mail store took.
	refuses atomic.Bool
}

func (d *davStore) Open(ctx context.Context, cred eas.Credentials) (eas.Session, error) {
	if d.down.Load() {
		return nil, eas.ErrUnavailable
	}
	if d.refuses.Load() {
		return nil, eas.ErrUnauthorized
	}
	return &fakeMailbox{m: d.m, user: cred.Username}, nil
}

// One account over two upstreams: mail from one store, notes from
// another. The phone sees one folder list, syncs both in one request, and
// an upstream that is down fails only its own folders, retryably.
func TestCombinedUpstreams(t *testing.T) {
	mail := newFakeMail()
	dav := &davStore{m: &fakeMail{folders: map[string]*fakeFolder{}, invalid: map[string]bool{},
		atts: map[string]eas.AttachmentData{}, calls: map[string]int{}}}
	dav.m.addFolder("Notes", "", eas.FolderNotes)
	dav.m.add("Notes", "from the other upstream", time.Now())
	combined := eas.Combine(fakeBackend{mail}, fakeNotifier{mail},
		eas.Upstream{Name: "dav", Backend: dav, Notifier: fakeNotifier{dav.m}})
	g := &fakeGateway{mail: mail, store: newMemStore()}
	g.server = eas.NewServer(eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second}, combined, g.store, combined)
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	g.phone = g.newPhone(t, "phone1", eas.V141)
	if len(g.ids) != 7 {
		t.Fatalf("folders %v, want the six mail folders and Notes", g.ids)
	}
	inbox, notes := g.id(t, "INBOX"), g.id(t, "Notes")
	mail.add("INBOX", "mail", time.Now())

	_, items, _ := primeClass(t, g, notes, 10)
	if _, ok := items["from the other upstream"]; !ok || len(items) != 1 {
		t.Fatalf("notes %v", items)
	}
	ikey, _ := g.primed(t, g.phone, inbox)
	nkey, _, _ := primeClass(t, g, notes, 10)

	dav.down.Store(true)
	mail.add("INBOX", "more mail", time.Now())
	resp, err := g.phone.Sync(context.Background(), &eas.SyncRequest{Collections: []eas.SyncCollection{
		{SyncKey: ikey, CollectionID: inbox}, {SyncKey: nkey, CollectionID: notes}}})
	if err != nil {
		t.Fatal(err)
	}
	ic, err1 := resp.Collection(inbox)
	nc, err2 := resp.Collection(notes)
	if err1 != nil || err2 != nil {
		t.Fatalf("%v %v", err1, err2)
	}
	if ic.Status != eas.SyncSuccess || ic.Commands == nil || len(ic.Commands.Add) != 1 {
		t.Errorf("mail while the other upstream is down: %+v", ic)
	}
	if nc.Status != eas.SyncRetry || nc.SyncKey != nkey {
		t.Errorf("notes while their upstream is down: %+v, want Status 16 and the same key", nc)
	}
	// The folder list still holds the notes: the phone keeps them.
	fs, err := g.phone.FolderSync(context.Background(), "0")
	if err != nil || fs.Status != eas.FolderSuccess || len(fs.Changes.Add) != 7 {
		t.Fatalf("FolderSync while an upstream is down: %v %+v", err, fs)
	}

	// Push: a Ping on both folders hears of a note added upstream.
	dav.down.Store(false)
	g.primed(t, g.phone, inbox)
	primeClass(t, g, notes, 10)
	hb := 10
	done := make(chan *eas.PingResponse, 1)
	go func() {
		r, err := g.phone.Ping(context.Background(), &eas.PingRequest{HeartbeatInterval: &hb,
			Folders: []eas.PingFolder{{ID: inbox, Class: "Email"}, {ID: notes, Class: "Notes"}}})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	deadline := time.Now().Add(waitBound)
	for dav.m.subscriptions() != 1 || mail.subscriptions() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the Ping did not subscribe to both upstreams")
		}
		time.Sleep(5 * time.Millisecond)
	}
	dav.m.add("Notes", "pushed", time.Now())
	select {
	case r := <-done:
		if r == nil || r.Status != eas.PingChanges || len(r.Folders) != 1 || r.Folders[0] != notes {
			t.Fatalf("Ping answered %+v, want the notes folder", r)
		}
	case <-time.After(waitBound):
		t.Fatal("the Ping did not answer the note")
	}
}

// A calendar upstream that is down fails neither ResolveRecipients nor
// its own-address answer: it holds no addresses, so the lookup does not
// ask it.
func TestCombinedLookupSkipsOtherClasses(t *testing.T) {
	mail := newFakeMail()
	cal := &davStore{m: newFakeMail()}
	combined := eas.Combine(fakeBackend{mail}, fakeNotifier{mail},
		eas.Upstream{Name: "caldav", Backend: cal, Notifier: fakeNotifier{cal.m}, Classes: []eas.Class{eas.ClassCalendar}})
	g := &fakeGateway{mail: mail, store: newMemStore()}
	g.server = eas.NewServer(eas.Config{}, combined, g.store, combined)
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	g.phone = g.newPhone(t, "phone1", eas.V141)
	cal.down.Store(true)
	resp, err := g.phone.ResolveRecipients(context.Background(), &eas.ResolveRecipientsRequest{To: []string{fakeUser}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 1 || len(resp.Response) != 1 || resp.Response[0].Status != 1 {
		t.Fatalf("own address with the calendar server down: status %d %+v", resp.Status, resp.Response)
	}
}
