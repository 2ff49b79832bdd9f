package eas_test

// Phones that show one folder of a class get every folder of it merged
// into the default one, driven here through Notes (one folder on iOS) with
// two notes folders in the fake store.

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

func TestOneFolderClasses(t *testing.T) {
	for _, tc := range []struct {
		client, deviceType, userAgent string
		want                          []eas.Class
	}{
		{"iPhone", "iPhone", "Apple-iPhone15C2/2103.69", []eas.Class{eas.ClassNotes}},
		{"iPad", "iPad", "Apple-iPad13C1/2103.69", []eas.Class{eas.ClassNotes}},
		{"Android 4.4 native", "Android", "Android/4.4.2-EAS-1.3", []eas.Class{eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}},
		{"Android 13 native", "Android", "Android/13-EAS-2.0", []eas.Class{eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}},
		{"Android 4.1 native", "Android", "Android/4.1.2-EAS-1.3", []eas.Class{eas.ClassCalendar, eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}},
		{"Samsung native", "SAMSUNGSMG991B", "SAMSUNG-SM-G991B/101.1301", []eas.Class{eas.ClassCalendar, eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}},
		{"HTC One mini 2", "HTCOnemini2", "HTC-EAS", []eas.Class{eas.ClassCalendar, eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}},
		{"Gmail app", "Android", "Android-Mail/7.5.21.159011591.release", nil},
		{"Windows Phone 8.10", "WP8", "MSFT-WP/8.10.14219", []eas.Class{eas.ClassContacts}},
		{"Windows Phone 8.0", "WP8", "MSFT-WP/8.0.10521", []eas.Class{eas.ClassCalendar, eas.ClassContacts}},
		{"Windows Mobile", "PocketPC", "MSFT-PPC/5.2.5082", []eas.Class{eas.ClassCalendar, eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}},
		{"Outlook 2016", "WindowsOutlook15", "Outlook/16.0 (16.0.5149.1000; MSI; x86)", []eas.Class{eas.ClassContacts}},
		{"unknown", "Frobnicator", "Frob/1.0", nil},
		{"Android, no release", "Android", "Android/", []eas.Class{eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}},
		{"Android, odd release", "Android", "Android/x.y-EAS", []eas.Class{eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}},
	} {
		t.Run(tc.client, func(t *testing.T) {
			got := eas.OneFolderClasses(tc.deviceType, tc.userAgent)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("OneFolderClasses(%q, %q) = %v, want %v", tc.deviceType, tc.userAgent, got, tc.want)
			}
		})
	}
}

// startMuxGateway starts a gateway whose store has two notes folders:
// the default "Notes" with one note and "Ideas" with two.
func startMuxGateway(t *testing.T) *fakeGateway {
	t.Helper()
	g := &fakeGateway{mail: newFakeMail(), store: newMemStore()}
	g.mail.addFolder("Notes", "", eas.FolderNotes)
	g.mail.addFolder("Ideas", "", eas.FolderUserNotes)
	g.mail.add("Notes", "groceries", time.Now())
	g.mail.add("Ideas", "garden", time.Now())
	g.mail.add("Ideas", "kitchen", time.Now())
	g.server = eas.NewServer(eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second},
		fakeBackend{g.mail}, g.store, fakeNotifier{g.mail})
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	return g
}

// muxPhone provisions a phone of the given client and returns it with its
// folder ids by name.
func (g *fakeGateway) muxPhone(t *testing.T, deviceID, deviceType, userAgent string) (*easclient.Client, map[string]string) {
	t.Helper()
	c := easclient.New(g.url, fakeUser, "secret", deviceID, eas.V141)
	c.DeviceType, c.UserAgent = deviceType, userAgent
	if _, err := c.Provision(context.Background(), nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	fs, err := c.FolderSync(context.Background(), "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	ids := map[string]string{}
	for _, f := range fs.Changes.Add {
		ids[f.DisplayName] = f.ServerID
	}
	g.phone = c
	return c, ids
}

// The iPhone shows one notes folder: it sees Notes alone, holding the
// notes of both folders, and its writes land where each note lives.
func TestMultiplexOneFolder(t *testing.T) {
	g := startMuxGateway(t)
	_, ids := g.muxPhone(t, "iphone1", "iPhone", "Apple-iPhone15C2/2103.69")
	if _, ok := ids["Ideas"]; ok {
		t.Fatalf("FolderSync listed the hidden folder: %v", ids)
	}
	coll, ok := ids["Notes"]
	if !ok {
		t.Fatalf("FolderSync lacks Notes: %v", ids)
	}
	key, items, _ := primeClass(t, g, coll, 2)
	if len(items) != 3 || items["groceries"] != coll+":1" {
		t.Fatalf("merged collection holds %v", items)
	}
	if items["garden"] == items["kitchen"] || !strings.Contains(items["garden"], "/") {
		t.Fatalf("ids of the other folder %q %q", items["garden"], items["kitchen"])
	}

	// A Fetch of a note of Ideas reads it there; an id of a folder that
	// is not merged is not found.
	var fetch eas.SyncCommands
	if err := fetch.FetchCommand(items["garden"]); err != nil {
		t.Fatal(err)
	}
	if err := fetch.FetchCommand(coll + ":zzzzzzzz/1"); err != nil {
		t.Fatal(err)
	}
	got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll, Commands: &fetch})
	if got.Responses == nil || len(got.Responses.Fetch) != 2 || got.Responses.Fetch[0].Status != eas.SyncSuccess ||
		got.Responses.Fetch[1].Status != eas.SyncObjectNotFound || g.mail.calledN("Fetch") != 1 {
		t.Fatalf("Fetch answered %+v (%d fetches upstream)", got.Responses, g.mail.calledN("Fetch"))
	}
	key = got.SyncKey

	// Change a note of Ideas, delete the other, add a new one.
	var cmds eas.SyncCommands
	if err := cmds.ChangeItemCommand(items["garden"], &eas.Note{Subject: "garden plan", Body: &eas.Body{Type: eas.BodyPlain, Data: "roses"}}); err != nil {
		t.Fatal(err)
	}
	if err := cmds.DeleteCommand(items["kitchen"]); err != nil {
		t.Fatal(err)
	}
	if err := cmds.AddItemCommand("n1", &eas.Note{Subject: "new", Body: &eas.Body{Type: eas.BodyPlain, Data: "x"}}); err != nil {
		t.Fatal(err)
	}
	got = rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll, Commands: &cmds})
	if got.Status != eas.SyncSuccess || got.Responses == nil || len(got.Responses.Add) != 1 || got.Responses.Add[0].Status != eas.SyncSuccess {
		t.Fatalf("answer %+v %+v", got, got.Responses)
	}
	if len(got.Responses.Change) != 0 {
		t.Fatalf("Change refused: %+v", got.Responses.Change)
	}
	if m := g.mail.msg("Ideas", "1"); m == nil || m.subject != "garden plan" {
		t.Fatalf("Ideas/1 is %+v, want the phone's change", m)
	}
	if g.mail.msg("Ideas", "2") != nil {
		t.Fatal("the deleted note is still in Ideas")
	}
	if g.mail.count("Notes") != 2 || g.mail.count("Ideas") != 1 {
		t.Fatalf("Notes holds %d, Ideas %d; want the Add in Notes", g.mail.count("Notes"), g.mail.count("Ideas"))
	}
	if sid := got.Responses.Add[0].ServerID; sid != coll+":2" {
		t.Fatalf("added note got %q", sid)
	}
	key = got.SyncKey

	// A note added upstream in Ideas reaches the phone, counted first
	// by GetItemEstimate.
	id := g.mail.add("Ideas", "porch", time.Now())
	est, err := g.phone.GetItemEstimate(context.Background(), &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{
		{SyncKey: key, CollectionID: coll, Options: []eas.SyncOptions{{Class: "Notes"}}},
	}})
	if err != nil || len(est.Response) != 1 || est.Response[0].Collection.Estimate == nil || *est.Response[0].Collection.Estimate != 1 {
		t.Fatalf("estimate %v %+v", err, est)
	}
	got = rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll})
	if a := adds(got); len(a) != 1 || a[0].subject() != "porch" || !strings.HasSuffix(a[0].ServerID, "/"+id) {
		t.Fatalf("server adds %+v", a)
	}
}

// A Ping on the merged folder ends when a hidden folder changes.
func TestMultiplexPing(t *testing.T) {
	g := startMuxGateway(t)
	_, ids := g.muxPhone(t, "iphone1", "iPhone", "Apple-iPhone15C2/2103.69")
	coll := ids["Notes"]
	primeClass(t, g, coll, 10)
	done := make(chan *eas.PingResponse, 1)
	go func() {
		resp, err := g.phone.PingFolders(context.Background(), 10, coll)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	g.subscribed(t, 1)
	g.mail.add("Ideas", "porch", time.Now())
	g.mail.notify("Ideas")
	select {
	case resp := <-done:
		if resp == nil || resp.Status != 2 || !slices.Equal(resp.Folders, []string{coll}) {
			t.Fatalf("Ping answered %+v", resp)
		}
	case <-time.After(waitBound):
		t.Fatal("Ping did not end on a change of the hidden folder")
	}
}

// Clients that show every folder of the class still see both.
func TestMultiplexManyFolders(t *testing.T) {
	for _, tc := range []struct{ client, deviceType, userAgent string }{
		{"Gmail app", "Android", "Android-Mail/7.5.21.159011591.release"},
		{"unknown", "Frobnicator", "Frob/1.0"},
	} {
		t.Run(tc.client, func(t *testing.T) {
			g := startMuxGateway(t)
			_, ids := g.muxPhone(t, "p1", tc.deviceType, tc.userAgent)
			if ids["Notes"] == "" || ids["Ideas"] == "" {
				t.Fatalf("folders %v", ids)
			}
			_, items, _ := primeClass(t, g, ids["Notes"], 10)
			if len(items) != 1 {
				t.Fatalf("Notes holds %v", items)
			}
		})
	}
}

// A folder deleted upstream since the folders were last listed takes its
// items off the phone at the next Sync of the merged collection.
func TestMultiplexMemberGone(t *testing.T) {
	g := startMuxGateway(t)
	_, ids := g.muxPhone(t, "iphone1", "iPhone", "Apple-iPhone15C2/2103.69")
	coll := ids["Notes"]
	key, items, _ := primeClass(t, g, coll, 10)
	g.mail.mu.Lock()
	delete(g.mail.folders, "Ideas")
	g.mail.mu.Unlock()
	got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll})
	var deleted []string
	if got.Commands != nil {
		deleted = idsOf(got.Commands.Delete)
	}
	slices.Sort(deleted)
	want := []string{items["garden"], items["kitchen"]}
	slices.Sort(want)
	if got.Status != eas.SyncSuccess || !slices.Equal(deleted, want) || len(adds(got)) != 0 {
		t.Fatalf("status %d, deletes %v, want %v", got.Status, deleted, want)
	}
}
