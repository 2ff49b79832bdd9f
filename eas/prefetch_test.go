package eas_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/internal/metricstest"
)

// phoneCopy is what a phone holds of one collection, built from the Sync
// answers it applied; it fails the test on an answer a phone could not
// apply (an Add of an item it has, a Change or Delete of one it lacks).
type phoneCopy struct {
	t     *testing.T
	items map[string]bool
}

func (p *phoneCopy) apply(col *eas.SyncCollectionResponse) {
	p.t.Helper()
	if col.Commands == nil {
		return
	}
	for _, it := range col.Commands.Add {
		if p.items[it.ServerID] {
			p.t.Fatalf("Add of %s, which the phone has", it.ServerID)
		}
		p.items[it.ServerID] = true
	}
	for _, it := range col.Commands.Change {
		if !p.items[it.ServerID] {
			p.t.Fatalf("Change of %s, which the phone lacks", it.ServerID)
		}
	}
	for _, list := range [][]eas.SyncItemID{col.Commands.Delete, col.Commands.SoftDelete} {
		for _, it := range list {
			if !p.items[it.ServerID] {
				p.t.Fatalf("Delete of %s, which the phone lacks", it.ServerID)
			}
			delete(p.items, it.ServerID)
		}
	}
}

func (p *phoneCopy) ids() []string {
	var out []string
	for id := range p.items {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// A Sync answered with MoreAvailable has the next window computed while the
// answer travels. Whatever happens before the phone asks for it, the phone
// ends up with exactly the mailbox's messages, and the metric says whether
// the prefetched window was used.
func TestSyncPrefetch(t *testing.T) {
	const msgs, window = 25, 10
	tests := []struct {
		name string
		// between runs after the first window of mail; it returns the
		// commands the phone sends with its next Sync, if any.
		between func(t *testing.T, g *fakeGateway, inbox string, phone *phoneCopy) *eas.SyncCommands
		// window is the WindowSize of the Syncs after the first.
		window       int
		used, unused float64
	}{
		{name: "nothing happens", window: window, used: 2},
		{
			name: "the mailbox changes", window: window, used: 2,
			between: func(t *testing.T, g *fakeGateway, inbox string, phone *phoneCopy) *eas.SyncCommands {
				g.mail.add("INBOX", "late arrival", time.Now())
				g.mail.remove("INBOX", "3") // not sent yet: windows go newest first
				g.mail.remove("INBOX", "25")
				g.mail.edit("INBOX", "24", func(m *fakeMsg) { m.read = true })
				return nil
			},
		},
		{
			name: "the phone deletes", window: window, used: 1, unused: 1,
			between: func(t *testing.T, g *fakeGateway, inbox string, phone *phoneCopy) *eas.SyncCommands {
				var cmds eas.SyncCommands
				if err := cmds.DeleteCommand(inbox + ":25"); err != nil {
					t.Fatal(err)
				}
				delete(phone.items, inbox+":25")
				return &cmds
			},
		},
		{
			name: "the phone asks something else", window: window, used: 1, unused: 1,
			between: func(t *testing.T, g *fakeGateway, inbox string, phone *phoneCopy) *eas.SyncCommands {
				if _, err := g.phone.FolderSync(context.Background(), "0"); err != nil {
					t.Fatal(err)
				}
				return nil
			},
		},
		{name: "the window changes", window: 7, used: 2, unused: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startFake(t, eas.V141)
			admin := httptest.NewServer(g.server.AdminHandler("prefetch-test-token"))
			defer admin.Close()
			base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range msgs {
				g.mail.add("INBOX", fmt.Sprintf("m%d", i), base.Add(time.Duration(i)*time.Minute))
			}
			inbox := g.id(t, "INBOX")
			phone := &phoneCopy{t: t, items: map[string]bool{}}

			col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
			key := col.SyncKey
			col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: intp(window)})
			if !col.MoreAvailable {
				t.Fatal("first window says no MoreAvailable")
			}
			phone.apply(col)
			key = col.SyncKey
			var cmds *eas.SyncCommands
			if tc.between != nil {
				cmds = tc.between(t, g, inbox, phone)
			}
			for range 10 {
				col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: intp(tc.window), Commands: cmds})
				if col.Status != eas.SyncSuccess {
					t.Fatalf("status %d", col.Status)
				}
				cmds = nil
				phone.apply(col)
				key = col.SyncKey
				if !col.MoreAvailable {
					break
				}
			}
			// Anything that raced the last window comes now.
			phone.apply(g.sync(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: inbox}))

			var want []string
			for _, id := range numericIDs(g.mail.folders["INBOX"].msgs) {
				want = append(want, inbox+":"+id)
			}
			slices.Sort(want)
			if got := phone.ids(); !slices.Equal(got, want) {
				t.Errorf("phone has %v\nmailbox has %v", got, want)
			}
			for result, want := range map[string]float64{"used": tc.used, "unused": tc.unused, "failed": 0} {
				if got := metricstest.Scrape(t, admin.URL, "easgate_sync_prefetches_total", map[string]string{"result": result}); got != want {
					t.Errorf("%s prefetches: %v, want %v", result, got, want)
				}
			}
		})
	}
}

// A request of the device on another node, between a Sync answered with
// MoreAvailable and the phone's next Sync, makes the prefetched window
// stale although this node never hears of it: the next Sync computes its
// window again, and the Syncs bring what GetItemEstimate said they would.
func TestSyncPrefetchOtherNode(t *testing.T) {
	const msgs, window = 25, 10
	tests := []struct {
		name string
		// otherNode sends the GetItemEstimate to the second node.
		otherNode bool
		// record has the store record requests in one call.
		record       bool
		used, unused float64
	}{
		{name: "estimate on this node", used: 1, unused: 1},
		{name: "estimate on another node", otherNode: true, used: 1, unused: 1},
		{name: "estimate on another node, store records requests", otherNode: true, record: true, used: 1, unused: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startFakeStore(t, eas.V141, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second}, tc.record)
			admin := httptest.NewServer(g.server.AdminHandler("prefetch-test-token"))
			defer admin.Close()
			// The second node shares the store and the mailbox, and
			// hears of nothing the first one does.
			other := eas.NewServer(eas.Config{}, fakeBackend{g.mail}, g.storeFor(tc.record), fakeNotifier{g.mail})
			otherHTTP := httptest.NewServer(other.Handler())
			defer otherHTTP.Close()
			base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range msgs {
				g.mail.add("INBOX", fmt.Sprintf("m%d", i), base.Add(time.Duration(i)*time.Minute))
			}
			inbox := g.id(t, "INBOX")
			phone := &phoneCopy{t: t, items: map[string]bool{}}

			col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
			key := col.SyncKey
			col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: intp(window)})
			if !col.MoreAvailable {
				t.Fatal("first window says no MoreAvailable")
			}
			phone.apply(col)
			key = col.SyncKey

			// Mail arrives after the prefetch was computed; the phone asks
			// how much is left.
			g.mail.add("INBOX", "late arrival", base.Add(time.Hour))
			asker := *g.phone
			if tc.otherNode {
				asker.URL = otherHTTP.URL
			}
			est, err := asker.GetItemEstimate(context.Background(), &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{
				{SyncKey: key, CollectionID: inbox, Options: []eas.SyncOptions{{Class: "Email", FilterType: intp(0)}}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if len(est.Response) != 1 || est.Response[0].Collection.Estimate == nil {
				t.Fatalf("GetItemEstimate: %+v", est)
			}
			estimate := *est.Response[0].Collection.Estimate

			brought := 0
			for range 10 {
				col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: intp(window)})
				if col.Status != eas.SyncSuccess {
					t.Fatalf("status %d", col.Status)
				}
				if col.Commands != nil {
					brought += len(col.Commands.Add)
				}
				phone.apply(col)
				key = col.SyncKey
				if !col.MoreAvailable {
					break
				}
			}
			if brought != estimate {
				t.Errorf("GetItemEstimate said %d, the Syncs brought %d", estimate, brought)
			}
			if got, want := len(phone.items), msgs+1; got != want {
				t.Errorf("phone has %d messages, want %d", got, want)
			}
			for result, want := range map[string]float64{"used": tc.used, "unused": tc.unused, "failed": 0} {
				if got := metricstest.Scrape(t, admin.URL, "easgate_sync_prefetches_total", map[string]string{"result": result}); got != want {
					t.Errorf("%s prefetches: %v, want %v", result, got, want)
				}
			}
		})
	}
}

// TestHangingSyncLetsPrefetchGo: a Sync with a heartbeat that did not use
// the window prefetched for another collection lets it go before it
// hangs, as a Ping does, rather than hold it for the whole heartbeat.
func TestHangingSyncLetsPrefetchGo(t *testing.T) {
	g := startFake(t, eas.V141)
	admin := httptest.NewServer(g.server.AdminHandler("prefetch-test-token"))
	defer admin.Close()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		g.mail.add("INBOX", fmt.Sprintf("m%d", i), base.Add(time.Duration(i)*time.Minute))
	}
	inbox, work := g.id(t, "INBOX"), g.id(t, "Work")
	workKey, _ := g.primed(t, g.phone, work)
	col := g.sync(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
	col = g.sync(t, g.phone, eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox, WindowSize: intp(10)})
	if !col.MoreAvailable {
		t.Fatal("first window says no MoreAvailable")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *eas.SyncResponse, 1)
	go func() {
		r, err := g.phone.Sync(ctx, &eas.SyncRequest{HeartbeatInterval: intp(10),
			Collections: []eas.SyncCollection{{SyncKey: workKey, CollectionID: work}}})
		if err != nil && ctx.Err() == nil {
			t.Error(err)
		}
		done <- r
	}()
	g.subscribed(t, 1)
	unused := func() float64 {
		return metricstest.Scrape(t, admin.URL, "easgate_sync_prefetches_total", map[string]string{"result": "unused"})
	}
	if got := unused(); got != 1 {
		t.Errorf("unused prefetches while the Sync hangs: %v, want 1", got)
	}
	g.mail.add("Work", "ends the wait", time.Now())
	if r := answered(t, done); r == nil || len(r.Collections) != 1 {
		t.Fatalf("wait ended with %+v", r)
	}
	if got := unused(); got != 1 {
		t.Errorf("unused prefetches once the Sync answered: %v, want 1", got)
	}
}
