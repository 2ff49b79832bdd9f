package eas_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/wbxml"
)

// fakeGateway is the eas server over HTTP in front of the in-memory mail
// store, with one provisioned phone that has run FolderSync.
type fakeGateway struct {
	mail   *fakeMail
	store  *memStore
	server *eas.Server
	url    string
	phone  *easclient.Client
	// ids maps folder paths to collection ids.
	ids map[string]string
}

const fakeUser = "user@example.com"

func startFake(t *testing.T, v eas.Version) *fakeGateway {
	t.Helper()
	return startFakeConfig(t, v, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second})
}

func startFakeConfig(t *testing.T, v eas.Version, cfg eas.Config) *fakeGateway {
	t.Helper()
	return startFakeStore(t, v, cfg, false)
}

// startFakeStore starts a gateway whose store records requests in one
// call (eas.RequestRecorder) when record is set.
func startFakeStore(t *testing.T, v eas.Version, cfg eas.Config, record bool) *fakeGateway {
	t.Helper()
	return startFakeOn(t, v, cfg, func(g *fakeGateway) eas.Store { return g.storeFor(record) })
}

// startFakeOn starts a gateway on the store that store makes of the
// gateway's in-memory one.
func startFakeOn(t *testing.T, v eas.Version, cfg eas.Config, store func(*fakeGateway) eas.Store) *fakeGateway {
	t.Helper()
	g := &fakeGateway{mail: newFakeMail(), store: newMemStore()}
	g.server = eas.NewServer(cfg, fakeBackend{g.mail}, store(g), fakeNotifier{g.mail})
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	g.phone = g.newPhone(t, "phone1", v)
	return g
}

// newPhone provisions a device and runs FolderSync with it.
func (g *fakeGateway) newPhone(t *testing.T, deviceID string, v eas.Version) *easclient.Client {
	t.Helper()
	ctx := context.Background()
	c := easclient.New(g.url, fakeUser, "secret", deviceID, v)
	if _, err := c.Provision(ctx, nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	ids := map[string]string{}
	byID := map[string]eas.FolderEntry{}
	for _, f := range fs.Changes.Add {
		byID[f.ServerID] = f
	}
	for _, f := range fs.Changes.Add {
		path := f.DisplayName
		if p, ok := byID[f.ParentID]; ok {
			path = p.DisplayName + "/" + path
		}
		ids[path] = f.ServerID
	}
	g.ids = ids
	return c
}

func (g *fakeGateway) id(t *testing.T, path string) string {
	t.Helper()
	id, ok := g.ids[path]
	if !ok {
		t.Fatalf("no collection id for %q (have %v)", path, g.ids)
	}
	return id
}

// sync sends one Sync of one collection and returns its response.
func (g *fakeGateway) sync(t *testing.T, c *easclient.Client, coll eas.SyncCollection) *eas.SyncCollectionResponse {
	t.Helper()
	resp, err := c.Sync(context.Background(), &eas.SyncRequest{Collections: []eas.SyncCollection{coll}})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if resp == nil {
		t.Fatal("sync: empty response")
	}
	col, err := resp.Collection(coll.CollectionID)
	if err != nil {
		t.Fatalf("sync: %v (%+v)", err, resp)
	}
	return col
}

// primed syncs a collection completely and returns the key.
func (g *fakeGateway) primed(t *testing.T, c *easclient.Client, collectionID string) (string, *easclient.SyncResult) {
	t.Helper()
	res, err := c.SyncAll(context.Background(), collectionID, "0", 0, nil)
	if err != nil {
		t.Fatalf("initial sync: %v", err)
	}
	return res.Key, res
}

func serverIDs(items []eas.SyncItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ServerID)
	}
	return out
}

func idsOf(items []eas.SyncItemID) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ServerID)
	}
	return out
}

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }

func TestSyncInitialInWindows(t *testing.T) {
	tests := []struct {
		name    string
		msgs    int
		window  int
		rounds  int // requests after the key-0 one
		version eas.Version
	}{
		{"250 by 100", 250, 100, 3, eas.V141},
		{"default window", 150, 0, 2, eas.V161},
		{"one window", 40, 50, 1, eas.V121},
		{"empty folder", 0, 100, 1, eas.V140},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startFake(t, tc.version)
			base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range tc.msgs {
				g.mail.add("INBOX", fmt.Sprintf("m%d", i), base.Add(time.Duration(i)*time.Minute))
			}
			inbox := g.id(t, "INBOX")
			res, err := g.phone.SyncAll(context.Background(), inbox, "0", tc.window, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Rounds != tc.rounds+1 {
				t.Errorf("took %d requests, want %d", res.Rounds, tc.rounds+1)
			}
			got := serverIDs(res.Commands.Add)
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] {
					t.Fatalf("item %s sent twice", id)
				}
				seen[id] = true
				if !strings.HasPrefix(id, inbox+":") {
					t.Fatalf("ServerId %q lacks the collection prefix", id)
				}
			}
			if len(got) != tc.msgs {
				t.Fatalf("got %d adds, want %d", len(got), tc.msgs)
			}
			// A Sync with nothing new: same key, no commands.
			col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: res.Key, CollectionID: inbox})
			if col.SyncKey != res.Key || col.Commands != nil || col.MoreAvailable {
				t.Fatalf("no-change sync answered %+v", col)
			}
		})
	}
}

func TestSyncServerChanges(t *testing.T) {
	g := startFake(t, eas.V141)
	inbox := g.id(t, "INBOX")
	now := time.Now().UTC()
	a := g.mail.add("INBOX", "a", now)
	b := g.mail.add("INBOX", "b", now)
	c := g.mail.add("INBOX", "c", now)
	key, _ := g.primed(t, g.phone, inbox)

	steps := []struct {
		name   string
		change func()
		add    []string
		chg    []string
		del    []string
	}{
		{"append", func() { g.mail.add("INBOX", "d", now) }, []string{inbox + ":4"}, nil, nil},
		{"seen", func() { g.mail.edit("INBOX", a, func(m *fakeMsg) { m.read = true }) }, nil, []string{inbox + ":" + a}, nil},
		{"flagged", func() { g.mail.edit("INBOX", b, func(m *fakeMsg) { m.flagged = true }) }, nil, []string{inbox + ":" + b}, nil},
		{"keyword", func() { g.mail.edit("INBOX", b, func(m *fakeMsg) { m.cats = []string{"Work"} }) }, nil, []string{inbox + ":" + b}, nil},
		{"expunge", func() { g.mail.remove("INBOX", c) }, nil, nil, []string{inbox + ":" + c}},
		{"nothing", func() {}, nil, nil, nil},
	}
	for _, st := range steps {
		st.change()
		col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
		var cmds eas.SyncServerCommands
		if col.Commands != nil {
			cmds = *col.Commands
		}
		if !slices.Equal(serverIDs(cmds.Add), st.add) || !slices.Equal(serverIDs(cmds.Change), st.chg) || !slices.Equal(idsOf(cmds.Delete), st.del) {
			t.Fatalf("%s: got add %v change %v delete %v", st.name, serverIDs(cmds.Add), serverIDs(cmds.Change), idsOf(cmds.Delete))
		}
		if st.name == "nothing" && col.SyncKey != key {
			t.Fatalf("a sync without changes moved the key")
		}
		if st.name != "nothing" && col.SyncKey == key {
			t.Fatalf("%s: key did not move", st.name)
		}
		if st.name == "keyword" {
			if cats := cmds.Change[0].ApplicationData.Categories; cats == nil || !slices.Equal(cats.Category, []string{"Work"}) {
				t.Fatalf("keyword change carries %+v", cmds.Change[0].ApplicationData)
			}
		}
		key = col.SyncKey
	}
}

func TestSyncClientCommands(t *testing.T) {
	g := startFake(t, eas.V141)
	inbox, trash := g.id(t, "INBOX"), g.id(t, "Trash")
	now := time.Now().UTC()
	for i := range 6 {
		g.mail.add("INBOX", fmt.Sprintf("m%d", i), now)
	}
	key, _ := g.primed(t, g.phone, inbox)

	var cmds eas.SyncCommands
	st := eas.FlagActive
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cmds.ChangeCommand(inbox+":1", &eas.Email{Read: boolp(true)}))
	must(cmds.ChangeCommand(inbox+":2", &eas.Email{Flag: &eas.Flag{Status: &st, FlagType: "Flag for follow up"}}))
	must(cmds.ChangeCommand(inbox+":3", &eas.Email{Categories: &eas.Categories{Category: []string{"Blue", "Red"}}}))
	must(cmds.ChangeCommand(inbox+":99", &eas.Email{Read: boolp(true)}))               // vanished
	must(cmds.ChangeCommand("77:1", &eas.Email{Read: boolp(true)}))                    // another collection's id
	must(cmds.ChangeCommand(inbox+":1", &eas.Email{Flag: &eas.Flag{Status: intp(9)}})) // bad data
	must(cmds.DeleteCommand(inbox + ":4"))
	must(cmds.FetchCommand(inbox + ":5"))
	must(cmds.FetchCommand(inbox + ":98"))
	must(cmds.AddCommand(eas.SyncClientAdd{ClientID: "c1", ApplicationData: &eas.Email{Subject: "new"}}))
	col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: inbox, Commands: &cmds})
	if col.Status != eas.SyncSuccess || col.SyncKey == key {
		t.Fatalf("status %d key %q", col.Status, col.SyncKey)
	}
	if col.Commands != nil {
		t.Fatalf("the phone's own changes came back: %+v", col.Commands)
	}
	rs := col.Responses
	if rs == nil {
		t.Fatal("no Responses")
	}
	wantChange := []eas.SyncStatusResponse{{ServerID: inbox + ":99", Status: 8}, {ServerID: "77:1", Status: 8}, {ServerID: inbox + ":1", Status: 6}}
	if !reflect.DeepEqual(rs.Change, wantChange) {
		t.Errorf("change responses %+v", rs.Change)
	}
	if len(rs.Delete) != 0 {
		t.Errorf("a successful delete got a response: %+v", rs.Delete)
	}
	if len(rs.Add) != 1 || rs.Add[0].ClientID != "c1" || rs.Add[0].Status != eas.SyncConversionError {
		t.Errorf("add responses %+v", rs.Add)
	}
	if len(rs.Fetch) != 2 || rs.Fetch[0].Status != 1 || rs.Fetch[0].ApplicationData == nil ||
		rs.Fetch[0].ApplicationData.Subject != "m4" || rs.Fetch[1].Status != 8 {
		t.Errorf("fetch responses %+v", rs.Fetch)
	}
	if m := g.mail.msg("INBOX", "1"); !m.read {
		t.Error("Read change not applied")
	}
	if m := g.mail.msg("INBOX", "2"); !m.flagged {
		t.Error("Flag change not applied")
	}
	if m := g.mail.msg("INBOX", "3"); !slices.Equal(m.cats, []string{"Blue", "Red"}) {
		t.Errorf("categories %v", m.cats)
	}
	if g.mail.msg("INBOX", "4") != nil || g.mail.count("Trash") != 1 {
		t.Error("delete did not move to the trash")
	}

	// Hard delete: DeletesAsMoves 0.
	var hard eas.SyncCommands
	must(hard.DeleteCommand(inbox + ":5"))
	col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox, DeletesAsMoves: boolp(false), Commands: &hard})
	if col.Responses != nil || g.mail.msg("INBOX", "5") != nil || g.mail.count("Trash") != 1 {
		t.Fatalf("hard delete: responses %+v, trash %d", col.Responses, g.mail.count("Trash"))
	}
	if col.Commands != nil {
		t.Fatalf("deleted items came back as %+v", col.Commands)
	}

	// A delete in the trash itself expunges.
	tkey, tres := g.primed(t, g.phone, trash)
	if len(tres.Commands.Add) != 1 {
		t.Fatalf("trash holds %d items", len(tres.Commands.Add))
	}
	var purge eas.SyncCommands
	must(purge.DeleteCommand(tres.Commands.Add[0].ServerID))
	col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: tkey, CollectionID: trash, Commands: &purge})
	if col.Responses != nil || g.mail.count("Trash") != 0 {
		t.Fatalf("delete in trash: responses %+v, trash %d", col.Responses, g.mail.count("Trash"))
	}
}

func TestSyncReplay(t *testing.T) {
	g := startFake(t, eas.V141)
	inbox := g.id(t, "INBOX")
	now := time.Now().UTC()
	for i := range 5 {
		g.mail.add("INBOX", fmt.Sprintf("m%d", i), now)
	}
	key, _ := g.primed(t, g.phone, inbox)
	// A server change is waiting too, so the lost answer carried an Add.
	g.mail.add("INBOX", "late", now)

	var cmds eas.SyncCommands
	cmds.ChangeCommand(inbox+":1", &eas.Email{Read: boolp(true)})
	cmds.DeleteCommand(inbox + ":2")
	cmds.DeleteCommand(inbox + ":9")
	cmds.FetchCommand(inbox + ":3")
	req := eas.SyncCollection{SyncKey: key, CollectionID: inbox, Commands: &cmds}

	first := g.sync(t, g.phone, req)
	writes := g.mail.calledN("UpdateFlags") + g.mail.calledN("Delete")
	trash := g.mail.count("Trash")
	// The answer was lost: the phone sends the same request again.
	second := g.sync(t, g.phone, req)
	if n := g.mail.calledN("UpdateFlags") + g.mail.calledN("Delete"); n != writes {
		t.Fatalf("replayed commands were applied again: %d upstream writes, was %d", n, writes)
	}
	if g.mail.count("Trash") != trash {
		t.Fatal("replay moved more to the trash")
	}
	if !reflect.DeepEqual(first.Responses, second.Responses) {
		t.Fatalf("replay answered differently:\n%+v\n%+v", first.Responses, second.Responses)
	}
	if !reflect.DeepEqual(serverIDs(first.Commands.Add), serverIDs(second.Commands.Add)) {
		t.Fatalf("replay sent other adds: %v vs %v", serverIDs(first.Commands.Add), serverIDs(second.Commands.Add))
	}
	// The phone now takes the second answer's key: nothing is pending.
	col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: second.SyncKey, CollectionID: inbox})
	if col.Commands != nil || col.Responses != nil {
		t.Fatalf("after the replay: %+v", col)
	}

	// A repeated key with other commands applies them.
	var other eas.SyncCommands
	other.ChangeCommand(inbox+":3", &eas.Email{Read: boolp(true)})
	next := eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox, Commands: &other}
	a := g.sync(t, g.phone, next)
	other2 := eas.SyncCommands{}
	other2.ChangeCommand(inbox+":4", &eas.Email{Read: boolp(true)})
	next.Commands = &other2
	g.sync(t, g.phone, next)
	if !g.mail.msg("INBOX", "4").read || !g.mail.msg("INBOX", "3").read {
		t.Fatal("commands of a repeated key with new content were not applied")
	}
	if a.SyncKey == col.SyncKey {
		t.Fatal("commands did not move the key")
	}
}

func TestSyncKeyAndFolderErrors(t *testing.T) {
	g := startFake(t, eas.V141)
	inbox := g.id(t, "INBOX")
	g.mail.add("INBOX", "a", time.Now())
	key, _ := g.primed(t, g.phone, inbox)

	tests := []struct {
		name   string
		setup  func()
		coll   eas.SyncCollection
		status int
	}{
		{"unknown key", nil, eas.SyncCollection{SyncKey: "{bogus}7", CollectionID: inbox}, eas.SyncInvalidSyncKey},
		{"unknown collection", nil, eas.SyncCollection{SyncKey: key, CollectionID: "999"}, eas.SyncHierarchyChanged},
		{"other class", nil, eas.SyncCollection{Class: "Calendar", SyncKey: key, CollectionID: inbox}, eas.SyncProtocolError},
		{"never synced", nil, eas.SyncCollection{SyncKey: key, CollectionID: g.id(t, "Sent")}, eas.SyncInvalidSyncKey},
		{"uidvalidity", func() { g.mail.mu.Lock(); g.mail.invalid["INBOX"] = true; g.mail.mu.Unlock() }, eas.SyncCollection{SyncKey: key, CollectionID: inbox}, eas.SyncInvalidSyncKey},
		{"state dropped", nil, eas.SyncCollection{SyncKey: key, CollectionID: inbox}, eas.SyncInvalidSyncKey},
	}
	for _, tc := range tests {
		if tc.setup != nil {
			tc.setup()
		}
		col := g.sync(t, g.phone, tc.coll)
		if col.Status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, col.Status, tc.status)
		}
	}
	// After Status 3 the phone starts over and gets everything again.
	res, err := g.phone.SyncAll(context.Background(), inbox, "0", 0, nil)
	if err != nil || len(res.Commands.Add) != 1 {
		t.Fatalf("resync: %v, %d adds", err, len(res.Commands.Add))
	}
}

func TestSyncEmptyAndPartial(t *testing.T) {
	g := startFake(t, eas.V141)
	ctx := context.Background()
	inbox, work := g.id(t, "INBOX"), g.id(t, "Work")
	if resp, err := g.phone.SyncEmpty(ctx); err != nil || resp == nil || resp.Status != eas.SyncIncompleteRequest {
		t.Fatalf("empty sync without cache: %v %+v", err, resp)
	}
	if resp, err := g.phone.Sync(ctx, &eas.SyncRequest{Partial: true}); err != nil || resp == nil || resp.Status != eas.SyncIncompleteRequest {
		t.Fatalf("partial sync without cache: %v %+v", err, resp)
	}
	g.mail.add("INBOX", "i1", time.Now())
	g.mail.add("Work", "w1", time.Now())
	ik, _ := g.primed(t, g.phone, inbox)
	wk, _ := g.primed(t, g.phone, work)
	// The full request the cache keeps: both collections.
	resp, err := g.phone.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: ik, CollectionID: inbox}, {SyncKey: wk, CollectionID: work}}})
	if err != nil || len(resp.Collections) != 2 {
		t.Fatalf("full sync: %v %+v", err, resp)
	}

	g.mail.add("Work", "w2", time.Now())
	resp, err = g.phone.SyncEmpty(ctx)
	if err != nil || resp == nil {
		t.Fatalf("empty sync: %v", err)
	}
	wc, err := resp.Collection(work)
	if err != nil || wc.Commands == nil || len(wc.Commands.Add) != 1 {
		t.Fatalf("empty sync did not bring the new item of Work: %v %+v", err, resp)
	}
	if _, err := resp.Collection(inbox); err != nil {
		t.Fatalf("empty sync left INBOX out: %v", err)
	}
	wk = wc.SyncKey

	// Partial: INBOX gets a new WindowSize, Work keeps its cached settings.
	g.mail.add("INBOX", "i2", time.Now())
	g.mail.add("Work", "w3", time.Now())
	ic, _ := resp.Collection(inbox)
	resp, err = g.phone.Sync(ctx, &eas.SyncRequest{Partial: true, Collections: []eas.SyncCollection{{SyncKey: ic.SyncKey, CollectionID: inbox, WindowSize: intp(5)}}})
	if err != nil || resp == nil || len(resp.Collections) != 2 {
		t.Fatalf("partial sync: %v %+v", err, resp)
	}
	for _, c := range resp.Collections {
		if c.Commands == nil || len(c.Commands.Add) != 1 {
			t.Fatalf("partial sync, collection %s: %+v", c.CollectionID, c)
		}
	}
	if c, _ := resp.Collection(work); c.SyncKey == wk {
		t.Fatal("cached collection kept its old key")
	}
}

func TestSyncWait(t *testing.T) {
	g := startFake(t, eas.V141)
	ctx := context.Background()
	inbox := g.id(t, "INBOX")
	g.mail.add("INBOX", "a", time.Now())
	key, _ := g.primed(t, g.phone, inbox)
	coll := []eas.SyncCollection{{SyncKey: key, CollectionID: inbox}}

	tests := []struct {
		name  string
		req   eas.SyncRequest
		st    int
		limit int
	}{
		{"both", eas.SyncRequest{Collections: coll, Wait: intp(5), HeartbeatInterval: intp(5)}, eas.SyncProtocolError, 0},
		{"wait too long", eas.SyncRequest{Collections: coll, Wait: intp(60)}, eas.SyncInvalidInterval, 59},
		{"wait zero", eas.SyncRequest{Collections: coll, Wait: intp(0)}, eas.SyncInvalidInterval, 1},
		{"heartbeat too short", eas.SyncRequest{Collections: coll, HeartbeatInterval: intp(0)}, eas.SyncInvalidInterval, 1},
		{"heartbeat too long", eas.SyncRequest{Collections: coll, HeartbeatInterval: intp(11)}, eas.SyncInvalidInterval, 10},
	}
	for _, tc := range tests {
		resp, err := g.phone.Sync(ctx, &tc.req)
		if err != nil || resp == nil || resp.Status != tc.st || resp.Limit != tc.limit || len(resp.Collections) != 0 {
			t.Errorf("%s: %v %+v", tc.name, err, resp)
		}
	}

	// Nothing changes: an empty answer after the heartbeat.
	resp, err := g.phone.Sync(ctx, &eas.SyncRequest{Collections: coll, HeartbeatInterval: intp(1)})
	if err != nil || resp != nil {
		t.Fatalf("expired wait answered %v %+v", err, resp)
	}

	// A change while waiting ends the wait with that change. The change
	// comes once the Sync waits (it holds its subscription), so only the
	// wait can deliver it.
	done := make(chan *eas.SyncResponse, 1)
	go func() {
		r, err := g.phone.Sync(ctx, &eas.SyncRequest{Collections: coll, HeartbeatInterval: intp(10)})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	g.subscribed(t, 1)
	g.mail.add("INBOX", "b", time.Now())
	r := answered(t, done)
	if r == nil || len(r.Collections) != 1 || r.Collections[0].Commands == nil || len(r.Collections[0].Commands.Add) != 1 {
		t.Fatalf("wait ended with %+v", r)
	}
	key = r.Collections[0].SyncKey

	// A newer Sync of the device ends the waiting one with an empty body,
	// long before its heartbeat would.
	coll = []eas.SyncCollection{{SyncKey: key, CollectionID: inbox}}
	go func() {
		r, err := g.phone.Sync(ctx, &eas.SyncRequest{Collections: coll, HeartbeatInterval: intp(10)})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	g.subscribed(t, 1)
	col := g.sync(t, g.phone, coll[0])
	if col.SyncKey != key {
		t.Fatalf("superseding sync: %+v", col)
	}
	if r := answered(t, done); r != nil {
		t.Fatalf("superseded wait answered %+v", r)
	}
}

// waitBound is how long a test waits for a waiting Sync to answer: well
// within the 10 s heartbeat the tests ask for, so that an answer that only
// came when the heartbeat ran out fails the test.
const waitBound = 4 * time.Second

// subscribed waits until the fake mail store has n subscriptions: the
// waiting requests are past their first look at the folders.
func (g *fakeGateway) subscribed(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for g.mail.subscriptions() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions, want %d", g.mail.subscriptions(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// answered returns the answer of a waiting Sync, failing the test when
// it takes longer than waitBound.
func answered(t *testing.T, done <-chan *eas.SyncResponse) *eas.SyncResponse {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(waitBound):
		t.Fatal("the waiting Sync did not answer in time")
		return nil
	}
}

func TestSyncVersionFields(t *testing.T) {
	tests := []struct {
		v                 eas.Version
		email2, cats, v16 bool
	}{
		{eas.V121, false, false, false},
		{eas.V140, true, true, false},
		{eas.V141, true, true, false},
		{eas.V160, true, true, true},
		{eas.V161, true, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.v.String(), func(t *testing.T) {
			g := startFake(t, tc.v)
			g.mail.add("INBOX", "a", time.Now())
			_, res := g.primed(t, g.phone, g.id(t, "INBOX"))
			e := res.Commands.Add[0].ApplicationData
			if (e.ConversationID != nil) != tc.email2 || (e.Sender != "") != tc.email2 {
				t.Errorf("Email2 fields: %v", e.ConversationID)
			}
			if (e.Categories != nil) != tc.cats {
				t.Errorf("Categories: %+v", e.Categories)
			}
			if (e.IsDraft != nil) != tc.v16 || (e.Bcc != "") != tc.v16 {
				t.Errorf("16.x fields: %v %q", e.IsDraft, e.Bcc)
			}
			if e.Importance == nil || *e.Importance != 1 {
				t.Errorf("Importance %v", e.Importance)
			}
		})
	}
}

func TestSyncOptionsPersist(t *testing.T) {
	g := startFake(t, eas.V141)
	inbox := g.id(t, "INBOX")
	g.mail.add("INBOX", "a long subject for truncation", time.Now())
	opts := &eas.SyncOptions{FilterType: intp(0), BodyPreference: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 4}}}
	// Options only with key 0; later rounds carry none.
	col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: inbox, Options: []eas.SyncOptions{*opts}})
	col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox})
	b := col.Commands.Add[0].ApplicationData.Body
	if b == nil || !b.Truncated || len(b.Data) != 4 {
		t.Fatalf("body %+v", b)
	}
	// An old message outside a new filter leaves the phone as SoftDelete.
	g.mail.add("INBOX", "old", time.Now().AddDate(0, -2, 0))
	col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox, Options: []eas.SyncOptions{{FilterType: intp(3)}}})
	if col.Commands != nil {
		t.Fatalf("old message sent despite the filter: %+v", col.Commands)
	}
	g.mail.edit("INBOX", "1", func(m *fakeMsg) { m.date = time.Now().AddDate(0, -1, 0) })
	col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox})
	if col.Commands == nil || !slices.Equal(idsOf(col.Commands.SoftDelete), []string{inbox + ":1"}) {
		t.Fatalf("aged-out message: %+v", col.Commands)
	}
}

func TestSyncBrokenMessage(t *testing.T) {
	g := startFake(t, eas.V141)
	inbox := g.id(t, "INBOX")
	g.mail.add("INBOX", "good", time.Now())
	bad := g.mail.add("INBOX", "bad", time.Now())
	g.mail.edit("INBOX", bad, func(m *fakeMsg) { m.broken = true })
	g.mail.add("INBOX", "good2", time.Now())
	_, res := g.primed(t, g.phone, inbox)
	if len(res.Commands.Add) != 3 {
		t.Fatalf("a broken message blocked the folder: %d adds", len(res.Commands.Add))
	}
	d, err := g.store.Device(context.Background(), fakeUser, "phone1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.LastError, "broken MIME") || !strings.Contains(d.LastError, bad) {
		t.Fatalf("LastError %q", d.LastError)
	}
}

func TestGetItemEstimate(t *testing.T) {
	for _, v := range []eas.Version{eas.V121, eas.V141} {
		t.Run(v.String(), func(t *testing.T) {
			g := startFake(t, v)
			ctx := context.Background()
			inbox := g.id(t, "INBOX")
			for i := range 7 {
				g.mail.add("INBOX", fmt.Sprint(i), time.Now())
			}
			col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
			key := col.SyncKey
			coll := func(id, k string) eas.GetItemEstimateCollection {
				if v.AtLeast(eas.V140) {
					return eas.GetItemEstimateCollection{SyncKey: k, CollectionID: id, Options: []eas.SyncOptions{{Class: "Email", FilterType: intp(0)}}}
				}
				return eas.GetItemEstimateCollection{Class: "Email", CollectionID: id, FilterType: intp(0), SyncKey: k}
			}
			resp, err := g.phone.GetItemEstimate(ctx, &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{
				coll(inbox, key), coll("999", key), coll(g.id(t, "Sent"), "0"), coll(inbox, "{nope}3"),
			}})
			if err != nil {
				t.Fatal(err)
			}
			want := []int{1, 2, 3, 4}
			for i, r := range resp.Response {
				if r.Status != want[i] {
					t.Errorf("collection %d: status %d, want %d", i, r.Status, want[i])
				}
			}
			if e := resp.Response[0].Collection.Estimate; e == nil || *e != 7 {
				t.Fatalf("estimate %v", e)
			}
		})
	}
}

func TestItemOperations(t *testing.T) {
	g := startFake(t, eas.V141)
	ctx := context.Background()
	inbox := g.id(t, "INBOX")
	id := g.mail.add("INBOX", "hello", time.Now())
	data := []byte("0123456789abcdefghij")
	g.mail.atts["att:"+id] = eas.AttachmentData{ContentType: "text/plain", Data: data}

	fetch := func(f eas.ItemOperationsFetch, multipart bool) (eas.ItemOperationsFetchResult, [][]byte) {
		t.Helper()
		var req eas.ItemOperationsRequest
		if err := req.AddFetch(f); err != nil {
			t.Fatal(err)
		}
		res, err := g.phone.ItemOperations(ctx, &req, multipart)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := res.Response.Fetches()
		if err != nil || len(fs) != 1 {
			t.Fatalf("fetches %v %v", err, fs)
		}
		return fs[0], res.Parts
	}
	ref := func(s string) *string { return &s }

	r, _ := fetch(eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: inbox, ServerID: inbox + ":" + id,
		Options: &eas.ItemOperationsFetchOptions{MIMESupport: intp(2), BodyPreference: []eas.BodyPreference{{Type: eas.BodyMIME}}}}, false)
	e, err := r.Properties.Email()
	if err != nil || r.Status != 1 || r.Class != "Email" || e.Body == nil || e.Body.Type != eas.BodyMIME || !strings.HasPrefix(e.Body.Data, "Subject: hello") {
		t.Fatalf("item fetch: %v %+v %+v", err, r, e)
	}
	r, parts := fetch(eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: inbox, ServerID: inbox + ":" + id}, true)
	e, _ = r.Properties.Email()
	if e.Body == nil || e.Body.Part == nil || e.Body.Data != "" || string(parts[*e.Body.Part]) != "Body of hello" {
		t.Fatalf("multipart item fetch: %+v parts %q", e.Body, parts)
	}

	tests := []struct {
		name    string
		f       eas.ItemOperationsFetch
		status  int
		data    string
		rng     string
		total   int64
		multi   bool
		partLen int
	}{
		{"whole", eas.ItemOperationsFetch{Store: "Mailbox", FileReference: ref("att:" + id)}, 1, string(data), "", 0, false, 0},
		{"range", eas.ItemOperationsFetch{Store: "Mailbox", FileReference: ref("att:" + id), Options: &eas.ItemOperationsFetchOptions{Range: "5-9"}}, 1, "56789", "5-9", 20, false, 0},
		{"range past end", eas.ItemOperationsFetch{Store: "Mailbox", FileReference: ref("att:" + id), Options: &eas.ItemOperationsFetchOptions{Range: "15-99"}}, 1, "fghij", "15-19", 20, false, 0},
		{"bad range", eas.ItemOperationsFetch{Store: "Mailbox", FileReference: ref("att:" + id), Options: &eas.ItemOperationsFetchOptions{Range: "30-40"}}, 8, "", "", 0, false, 0},
		{"malformed range", eas.ItemOperationsFetch{Store: "Mailbox", FileReference: ref("att:" + id), Options: &eas.ItemOperationsFetchOptions{Range: "9-2"}}, 8, "", "", 0, false, 0},
		{"empty reference", eas.ItemOperationsFetch{Store: "Mailbox", FileReference: ref("")}, 15, "", "", 0, false, 0},
		{"unknown reference", eas.ItemOperationsFetch{Store: "Mailbox", FileReference: ref("att:nope")}, 15, "", "", 0, false, 0},
		{"multipart", eas.ItemOperationsFetch{Store: "Mailbox", FileReference: ref("att:" + id)}, 1, "", "", 0, true, 20},
		{"document library", eas.ItemOperationsFetch{Store: "DocumentLibrary", LinkID: `\\server\share\file`}, 9, "", "", 0, false, 0},
		{"foreign server id", eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: inbox, ServerID: "77:" + id}, 6, "", "", 0, false, 0},
		{"bad long id", eas.ItemOperationsFetch{Store: "Mailbox", LongID: "garbage"}, 6, "", "", 0, false, 0},
	}
	for _, tc := range tests {
		r, parts := fetch(tc.f, tc.multi)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.Status, tc.status)
			continue
		}
		if tc.status != 1 {
			continue
		}
		p := r.Properties
		if tc.multi {
			if p.Part == nil || len(parts[*p.Part]) != tc.partLen || p.Data != "" {
				t.Errorf("%s: part %v of %d parts", tc.name, p.Part, len(parts))
			}
			continue
		}
		got, _ := base64.StdEncoding.DecodeString(p.Data)
		if string(got) != tc.data || p.Range != tc.rng || p.ContentType != "text/plain" {
			t.Errorf("%s: data %q range %q type %q", tc.name, got, p.Range, p.ContentType)
		}
		if tc.total != 0 && (p.Total == nil || *p.Total != tc.total) {
			t.Errorf("%s: total %v", tc.name, p.Total)
		}
	}

	// EmptyFolderContents, then the phone's next Sync deletes its copies.
	key, _ := g.primed(t, g.phone, inbox)
	var req eas.ItemOperationsRequest
	req.AddEmptyFolder(eas.ItemOperationsEmptyFolder{CollectionID: inbox})
	req.AddEmptyFolder(eas.ItemOperationsEmptyFolder{CollectionID: "999"})
	res, err := g.phone.ItemOperations(ctx, &req, false)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := res.Response.EmptyFolders()
	if err != nil || len(ef) != 2 || ef[0].Status != 1 || ef[1].Status != 6 || g.mail.count("INBOX") != 0 {
		t.Fatalf("empty folder: %v %+v, %d left", err, ef, g.mail.count("INBOX"))
	}
	col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
	if col.Commands == nil || len(col.Commands.Delete) != 1 {
		t.Fatalf("sync after emptying: %+v", col.Commands)
	}
}

func TestMoveItems(t *testing.T) {
	g := startFake(t, eas.V141)
	ctx := context.Background()
	inbox, work := g.id(t, "INBOX"), g.id(t, "Work")
	a := g.mail.add("INBOX", "a", time.Now())
	g.mail.add("INBOX", "b", time.Now())
	g.mail.add("Work", "w", time.Now())
	ik, _ := g.primed(t, g.phone, inbox)
	wk, _ := g.primed(t, g.phone, work)

	resp, err := g.phone.MoveItems(ctx,
		eas.MoveItem{SrcMsgID: inbox + ":" + a, SrcFldID: inbox, DstFldID: work},
		eas.MoveItem{SrcMsgID: inbox + ":42", SrcFldID: inbox, DstFldID: work},
		eas.MoveItem{SrcMsgID: inbox + ":2", SrcFldID: inbox, DstFldID: "999"},
		eas.MoveItem{SrcMsgID: inbox + ":2", SrcFldID: inbox, DstFldID: inbox},
		eas.MoveItem{SrcMsgID: "77:2", SrcFldID: inbox, DstFldID: work},
		eas.MoveItem{SrcMsgID: inbox + ":2", SrcFldID: "999", DstFldID: work},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{eas.MoveSuccess, eas.MoveInvalidSource, eas.MoveInvalidDestination, eas.MoveSameFolder, eas.MoveInvalidSource, eas.MoveInvalidSource}
	for i, r := range resp.Response {
		if r.Status != want[i] {
			t.Errorf("move %d: status %d, want %d", i, r.Status, want[i])
		}
	}
	if len(resp.Response) != len(want) {
		t.Fatalf("%d responses", len(resp.Response))
	}
	dst := resp.Response[0].DstMsgID
	if !strings.HasPrefix(dst, work+":") || g.mail.count("Work") != 2 || g.mail.count("INBOX") != 1 {
		t.Fatalf("DstMsgId %q; Work %d INBOX %d", dst, g.mail.count("Work"), g.mail.count("INBOX"))
	}
	// Neither folder sends the move back, with the current or the previous key.
	for _, tc := range []struct{ coll, key string }{{inbox, ik}, {work, wk}} {
		col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: tc.key, CollectionID: tc.coll})
		if col.Commands != nil {
			t.Errorf("collection %s re-sent the move: %+v", tc.coll, col.Commands)
		}
	}
}

func TestSearchAndFind(t *testing.T) {
	g := startFake(t, eas.V161)
	ctx := context.Background()
	inbox, work, old := g.id(t, "INBOX"), g.id(t, "Work"), g.id(t, "Work/Old")
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	g.mail.add("INBOX", "Quarterly report", base)
	g.mail.add("INBOX", "Lunch", base.Add(time.Hour))
	g.mail.add("Work", "Report draft", base.Add(2*time.Hour))
	g.mail.add("Work/Old", "Old report", base.Add(3*time.Hour))

	search := func(name string, q eas.MailboxQuery, o *eas.SearchOptions) *eas.SearchStoreResult {
		t.Helper()
		resp, err := g.phone.Search(ctx, &eas.SearchRequest{Store: eas.SearchStore{Name: name, Query: q.Element(), Options: o}})
		if err != nil || resp.Status != 1 || resp.Store == nil {
			t.Fatalf("search: %v %+v", err, resp)
		}
		return resp.Store
	}
	subjects := func(s *eas.SearchStoreResult) []string {
		var out []string
		for _, r := range s.Result {
			if r.Properties == nil {
				continue
			}
			e, err := r.Properties.Email()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e.Subject)
		}
		return out
	}
	tests := []struct {
		name  string
		q     eas.MailboxQuery
		o     *eas.SearchOptions
		want  []string
		total int
	}{
		{"all folders", eas.MailboxQuery{Class: "Email", FreeText: "report"}, nil, []string{"Old report", "Report draft", "Quarterly report"}, 3},
		{"one folder", eas.MailboxQuery{Class: "Email", CollectionIDs: []string{work}, FreeText: "report"}, nil, []string{"Report draft"}, 1},
		{"deep", eas.MailboxQuery{Class: "Email", CollectionIDs: []string{work}, FreeText: "report"}, &eas.SearchOptions{DeepTraversal: true}, []string{"Old report", "Report draft"}, 2},
		{"range", eas.MailboxQuery{Class: "Email", FreeText: "report"}, &eas.SearchOptions{Range: "1-1"}, []string{"Report draft"}, 3},
		{"date", eas.MailboxQuery{Class: "Email", FreeText: "report", ReceivedBefore: base.Add(90 * time.Minute)}, nil, []string{"Quarterly report"}, 1},
		{"no match", eas.MailboxQuery{Class: "Email", FreeText: "zebra"}, nil, nil, 0},
	}
	for _, tc := range tests {
		st := search("Mailbox", tc.q, tc.o)
		if got := subjects(st); st.Status != 1 || !slices.Equal(got, tc.want) || st.Total == nil || *st.Total != tc.total {
			t.Errorf("%s: status %d subjects %v total %v", tc.name, st.Status, got, st.Total)
		}
	}

	// A result's LongId fetches it through ItemOperations.
	st := search("Mailbox", eas.MailboxQuery{Class: "Email", CollectionIDs: []string{inbox}, FreeText: "lunch"}, &eas.SearchOptions{
		BodyPreference: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 3}}})
	if len(st.Result) != 1 || st.Result[0].LongID == "" || st.Result[0].CollectionID != inbox || st.Range != "0-0" {
		t.Fatalf("result %+v", st)
	}
	var req eas.ItemOperationsRequest
	req.AddFetch(eas.ItemOperationsFetch{Store: "Mailbox", LongID: st.Result[0].LongID})
	res, err := g.phone.ItemOperations(ctx, &req, false)
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := res.Response.Fetches()
	if len(fs) != 1 || fs[0].Status != 1 || fs[0].LongID != st.Result[0].LongID {
		t.Fatalf("fetch by LongId: %+v", fs)
	}
	if e, _ := fs[0].Properties.Email(); e.Subject != "Lunch" {
		t.Fatalf("fetched %+v", e)
	}

	for _, tc := range []struct {
		store  string
		status int
	}{{"GAL", 1}, {"DocumentLibrary", 3}, {"Nonsense", 2}} {
		resp, err := g.phone.Search(ctx, &eas.SearchRequest{Store: eas.SearchStore{Name: tc.store, Query: (&wbxml.Element{Tag: wbxml.MustLookup("Search", "Query")}).SetText("bob")}})
		if err != nil || resp.Status != 1 || resp.Store.Status != tc.status {
			t.Errorf("store %s: %v %+v", tc.store, err, resp)
		}
	}

	// Find (16.1).
	find := func(q eas.FindQuery, rng string) *eas.FindResponse {
		t.Helper()
		resp, err := g.phone.Find(ctx, &eas.FindRequest{SearchID: "s1", ExecuteSearch: eas.FindExecute{
			MailBoxSearchCriterion: &eas.FindMailboxCriterion{Query: q, Options: &eas.FindOptions{Range: rng, DeepTraversal: true}}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	fr := find(eas.FindQuery{Class: "Email", CollectionID: work, FreeText: "report"}, "0-9")
	if fr.Status != 1 || fr.Response == nil || fr.Response.Total == nil || *fr.Response.Total != 2 || len(fr.Response.Result) != 2 {
		t.Fatalf("find: %+v", fr)
	}
	r0 := fr.Response.Result[0]
	if r0.CollectionID != old || !strings.HasPrefix(r0.ServerID, old+":") || r0.Properties.Subject != "Old report" ||
		!strings.HasPrefix(r0.Properties.Preview, "preview") || r0.Properties.HasAttachments == nil || !*r0.Properties.HasAttachments {
		t.Fatalf("find result %+v %+v", r0, r0.Properties)
	}
	if fr := find(eas.FindQuery{Class: "Email", FreeText: "report"}, "1-5"); fr.Status != eas.FindBadRange {
		t.Fatalf("range not at 0: %+v", fr)
	}
	if fr := find(eas.FindQuery{Class: "Email", CollectionID: "999", FreeText: "report"}, ""); fr.Status != eas.FindFolderSyncNeeds {
		t.Fatalf("unknown folder: %+v", fr)
	}
}

func TestGetAttachment(t *testing.T) {
	g := startFake(t, eas.V121)
	g.mail.atts["att:1"] = eas.AttachmentData{ContentType: "image/png", Data: []byte("\x89PNG....")}
	data, ct, err := g.phone.GetAttachment(context.Background(), "att:1")
	if err != nil || ct != "image/png" || string(data) != "\x89PNG...." {
		t.Fatalf("GetAttachment: %v %q %q", err, ct, data)
	}
	if _, _, err := g.phone.GetAttachment(context.Background(), "att:2"); !easclient.IsHTTP(err, 500) {
		t.Fatalf("missing attachment: %v", err)
	}
}

func TestSyncLegacyClient(t *testing.T) {
	// A 12.1 client in the AOSP style: Class first in the collection, the
	// 2.5-era Truncation instead of BodyPreference.
	g := startFake(t, eas.V121)
	inbox := g.id(t, "INBOX")
	g.mail.add("INBOX", "hello", time.Now())
	col := g.sync(t, g.phone, eas.SyncCollection{Class: "Email", SyncKey: "0", CollectionID: inbox,
		Options: []eas.SyncOptions{{FilterType: intp(0), Truncation: intp(0)}}})
	if col.Class != "Email" {
		t.Fatalf("12.1 answer lacks Class: %+v", col)
	}
	col = g.sync(t, g.phone, eas.SyncCollection{Class: "Email", SyncKey: col.SyncKey, CollectionID: inbox})
	if col.Class != "Email" || col.Commands == nil || len(col.Commands.Add) != 1 {
		t.Fatalf("12.1 sync: %+v", col)
	}
	if b := col.Commands.Add[0].ApplicationData.Body; b == nil || !b.Truncated || b.Type != eas.BodyPlain || len(b.Data) != 1 {
		t.Fatalf("legacy truncation gave body %+v", b)
	}
	// 14.0 and later never get Class in the collection.
	g14 := startFake(t, eas.V141)
	col = g14.sync(t, g14.phone, eas.SyncCollection{Class: "Email", SyncKey: "0", CollectionID: g14.id(t, "INBOX")})
	if col.Class != "" {
		t.Fatalf("14.1 answer has Class %q", col.Class)
	}
}
