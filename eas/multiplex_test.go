package eas_test

// Phones that show one folder of a class get every folder of it merged
// into the default one, driven here through Notes (one folder on Android's
// own client) with two notes folders in the fake store.

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

// TestOneFolderClasses holds one request of each client as it was seen on
// a real server (the source is named for each), and what easgate makes of
// it.
func TestOneFolderClasses(t *testing.T) {
	calContactsTasksNotes := []eas.Class{eas.ClassCalendar, eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}
	contactsTasksNotes := []eas.Class{eas.ClassContacts, eas.ClassTasks, eas.ClassNotes}
	for _, tc := range []struct {
		client                          string
		deviceID, deviceType, userAgent string
		want                            []eas.Class
	}{
		// iOS 12.4, iPhone XS Max (an Exchange server's capture of a
		// FolderSync, published in a write-up on request smuggling).
		{"iOS 12", "e1568c571e684e0fb1724da85d215dc0", "iPhone", "Apple-iPhone11C8/1804.70", nil},
		// iOS 14 (Z-Push log in Intermesh/groupoffice issue 1036).
		{"iOS 14", "XXX", "iPhone", "Apple-iPhone11C8/2007.75", nil},
		// iPad, iOS 8 (user agents of EAS clients listed in
		// matomo-org/device-detector issue 5301).
		{"iPad iOS 8", "ipad1", "iPad", "Apple-iPad4C1/1202.440", nil},
		// The "iOS/<release> (<build>) dataaccessd/1.0" form iOS's sync
		// daemon sends (browscap/browscap issue 382) and Horde's _isIos
		// accepts; the build here is made up.
		{"iOS, OS-style agent", "ios1", "iPhone", "iOS/16.1 (20B82) dataaccessd/1.0", nil},
		// Outlook for iOS and Android, through Microsoft's cloud (same
		// write-up as iOS 12: OPTIONS ...&DeviceType=Outlook). No public
		// account of it showing one folder was found: the default.
		{"Outlook for iOS and Android", "e1568c571e684e0fb1724da85d215dc0", "Outlook", "Outlook-iOS-Android/1.0", nil},
		// Samsung Galaxy Note II, own email client (Alinto/sogo,
		// ActiveSync/SOGoActiveSyncDispatcher.m comments: DeviceId,
		// DeviceType and the DeviceInformation UserAgent).
		{"Samsung SGH-I317M", "SEC17CD1A3E9E3F2", "SAMSUNGSGHI317M", "SAMSUNG-SGH-I317M/100.40102", calContactsTasksNotes},
		// Samsung Galaxy Ace, own client (tine20/tine20 issue 5429,
		// device table dump).
		{"Samsung GT-S5830", "SAMSUNG1359656041148939", "samsunggts5830", "SAMSUNG GT-S5830/100.20303", calContactsTasksNotes},
		// Samsung clients known by their User-Agent alone, by the prefixes
		// OX App Suite reads as Samsung Email (open-xchange/
		// appsuite-middleware USMEASClientInfoProvider: "SAMSUNG-SM-",
		// "Android-SAMSUNG-"); models and versions made up.
		{"Samsung, agent only", "x1", "SM-G973F", "SAMSUNG-SM-G973F/101.100003", calContactsTasksNotes},
		{"Samsung, older agent", "x2", "GT-I9300", "Android-SAMSUNG-GT-I9300/101.403", calContactsTasksNotes},
		// HTC One mini 2, by the DeviceType Horde's device profile matches;
		// the agent is made up.
		{"HTC One mini 2", "htc1", "HTCOnemini2", "HTC-EAS", calContactsTasksNotes},
		// Android 5.0.1 own client, Huawei GRA-L09 (z-push-admin output
		// in mail-in-a-box/mailinabox issue 937).
		{"Android 5.0.1 native", "androidc195792594", "Android", "Android/5.0.1-EAS-2.0", contactsTasksNotes},
		// Android's own client before and from KitKat, in the form Horde's
		// profile reads ("Android/4.3.3-EAS-1.3"); releases made up.
		{"Android 4.4.2 native", "androidc1", "Android", "Android/4.4.2-EAS-1.3", contactsTasksNotes},
		{"Android 4.1.2 native", "androidc2", "Android", "Android/4.1.2-EAS-1.3", calContactsTasksNotes},
		// Android own client with a release it cannot read: counted as
		// recent.
		{"Android, no release", "androidc3", "Android", "Android/", contactsTasksNotes},
		{"Android, odd release", "androidc4", "Android", "Android/x.y-EAS", contactsTasksNotes},
		// Gmail app 2020.11.29 on a Galaxy M21 (its Provision
		// DeviceInformation, quoted by a public EAS server's source).
		{"Gmail app 2020", "androidc5", "Android", "Android-Mail/2020.11.29.346182102.Release", nil},
		{"Gmail app 7.5", "androidc6", "Android", "Android-Mail/7.5.21.159011591.release", nil},
		// Nine: base64 query of a Sync in mailcow/mailcow-dockerized issue
		// 4594 (DeviceId "Nine342BA3F3E6C6", DeviceType "Android"); SOGo
		// shows the id hex-encoded (issue 1063 of the same project).
		{"Nine, id", "Nine342BA3F3E6C6", "Android", "", nil},
		{"Nine, hex id", "4E696E65343338334146333436383630", "Android", "", nil},
		// Nine by its agent prefix (OX App Suite: "Nine-"); version made
		// up.
		{"Nine, agent", "x3", "Android", "Nine-4.9.4b", nil},
		// TouchDown on Android, which Horde tells by "TouchDown" in the
		// agent; the rest of the string is made up.
		{"TouchDown", "x4", "Android", "TouchDown(MSEAS)/8.5.00083", nil},
		// Windows Phone 8.1 (agent from sabre/dav's tests of that client).
		{"Windows Phone 8.10", "wp1", "WP8", "MSFT-WP/8.10.14219", []eas.Class{eas.ClassContacts}},
		// Windows Phone 8.0 and Windows Mobile, in the forms Horde's
		// profile matches ("MSFT-WP/8.0", "MSFT-PPC"); builds made up.
		{"Windows Phone 8.0", "wp2", "WP8", "MSFT-WP/8.0.10521", []eas.Class{eas.ClassCalendar, eas.ClassContacts}},
		{"Windows Mobile", "wm1", "PocketPC", "MSFT-PPC/5.2.5082", calContactsTasksNotes},
		// Outlook 2016 Click-to-Run (mail-in-a-box issue 937), and the
		// DeviceType Alinto/sogo tests for Outlook 2013/2016 with an
		// "Outlook/15.0" agent (Horde) whose build is made up.
		{"Outlook 2016", "224c6d7124be43638aaf13ebc79d3d46", "WindowsOutlook", "Outlook/16.0 (16.0.7167.6539; C2R; x86)", []eas.Class{eas.ClassContacts}},
		{"Outlook 2013", "ol1", "WindowsOutlook15", "Outlook/15.0 (15.0.4569.1506; MSI; x86)", []eas.Class{eas.ClassContacts}},
		// Windows 10 Mail and Calendar (mobile device listing quoted in
		// tostka's resolve-user.ps1: WindowsMail, MSFT-WIN-3/10.0.17134);
		// no source on its folders, so it keeps the default.
		{"Windows Mail", "wm2", "WindowsMail", "MSFT-WIN-3/10.0.17134", nil},
		{"unknown", "f1", "Frobnicator", "Frob/1.0", nil},
	} {
		t.Run(tc.client, func(t *testing.T) {
			id := eas.ClientIdentity{DeviceID: tc.deviceID, DeviceType: tc.deviceType, UserAgent: tc.userAgent}
			got := eas.OneFolderClasses(id)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("OneFolderClasses(%+v) = %v, want %v", id, got, tc.want)
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

// Android's own client shows one notes folder: it sees Notes alone,
// holding the notes of both folders, and its writes land where each note
// lives.
func TestMultiplexOneFolder(t *testing.T) {
	g := startMuxGateway(t)
	_, ids := g.muxPhone(t, "androidc195792594", "Android", "Android/5.0.1-EAS-2.0")
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
	_, ids := g.muxPhone(t, "androidc195792594", "Android", "Android/5.0.1-EAS-2.0")
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
		{"Gmail app", "Android", "Android-Mail/2020.11.29.346182102.Release"},
		{"iOS 14", "iPhone", "Apple-iPhone11C8/2007.75"},
		{"Outlook for iOS and Android", "Outlook", "Outlook-iOS-Android/1.0"},
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
	_, ids := g.muxPhone(t, "androidc195792594", "Android", "Android/5.0.1-EAS-2.0")
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

// A client no longer merged (easgate now shows iOS every notes folder,
// where it merged them before) gets the other folder at its next
// FolderSync, and the merged collection's next Sync takes the other
// folder's items off it: it holds each note once, in its own folder.
func TestMultiplexNoLongerMerged(t *testing.T) {
	g := startMuxGateway(t)
	c, _ := g.muxPhone(t, "iphone1", "Android", "Android/5.0.1-EAS-2.0")
	ctx := context.Background()
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	coll := ""
	for _, f := range fs.Changes.Add {
		if f.DisplayName == "Notes" {
			coll = f.ServerID
		}
	}
	key, items, _ := primeClass(t, g, coll, 10)
	if len(items) != 3 {
		t.Fatalf("merged Notes holds %v", items)
	}

	c.DeviceType, c.UserAgent = "iPhone", "Apple-iPhone11C8/2007.75"
	fs, err = c.FolderSync(ctx, fs.SyncKey)
	if err != nil || fs.Status != eas.FolderSuccess || fs.Changes == nil {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	var added []string
	for _, f := range fs.Changes.Add {
		added = append(added, f.DisplayName)
	}
	if !slices.Equal(added, []string{"Ideas"}) {
		t.Fatalf("FolderSync added %v, want Ideas", added)
	}
	got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll})
	var deleted []string
	if got.Commands != nil {
		deleted = idsOf(got.Commands.Delete)
	}
	slices.Sort(deleted)
	want := []string{items["garden"], items["kitchen"]}
	slices.Sort(want)
	if got.Status != eas.SyncSuccess || !slices.Equal(deleted, want) || len(adds(got)) != 0 {
		t.Fatalf("status %d, deletes %v, adds %d; want deletes %v", got.Status, deleted, len(adds(got)), want)
	}
}
