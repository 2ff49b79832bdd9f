package e2e_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/store"
)

// eventGate is a node's store, through which the test may hold back a
// device event the node heard from PostgreSQL, as a slow network or a busy
// listening connection would: the node handles it only when the test
// releases it.
type eventGate struct {
	*store.Store
	mu sync.Mutex
	// catch, when set, picks the event to hold back; held hears of it.
	catch func(eas.DeviceEvent) bool
	held  chan *heldEvent
}

// heldEvent is a device event held back on its way to the server.
type heldEvent struct {
	eas.DeviceEvent
	release, handled chan struct{}
}

// holdNext holds back the next event that catch picks.
func (g *eventGate) holdNext(catch func(eas.DeviceEvent) bool) <-chan *heldEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.catch, g.held = catch, make(chan *heldEvent, 1)
	return g.held
}

// deliver hands the held event to the server and returns once the server
// is done with it.
func (h *heldEvent) deliver() {
	close(h.release)
	<-h.handled
}

func (g *eventGate) WatchDevices(ctx context.Context, fn func(eas.DeviceEvent)) error {
	return g.Store.WatchDevices(ctx, func(ev eas.DeviceEvent) {
		g.mu.Lock()
		catch, held := g.catch, g.held
		if catch != nil && catch(ev) {
			g.catch = nil
		} else {
			catch = nil
		}
		g.mu.Unlock()
		if catch == nil {
			fn(ev)
			return
		}
		h := &heldEvent{DeviceEvent: ev, release: make(chan struct{}), handled: make(chan struct{})}
		held <- h
		select {
		case <-h.release:
		case <-ctx.Done():
			return
		}
		fn(ev)
		close(h.handled)
	})
}

// TestMultiNodeLateDeviceEvent: the event of a Sync on B reaches A only
// after the phone's next request, a Ping, began on A. The Ping keeps
// waiting, as the Sync was over before it began, and mail answers it; a
// Sync that does come after the Ping still ends it.
func TestMultiNodeLateDeviceEvent(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	const device = "late"
	p := c.newPhone(t, a.URL(), device)
	onA, onB := p.on(a.URL()), p.on(b.URL())
	inbox := p.ids["INBOX"]
	col := syncColl(t, onA, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
	key := col.SyncKey

	dev, err := a.store.Device(t.Context(), p.user, device)
	if err != nil {
		t.Fatal(err)
	}
	before := dev.Requests
	held := a.events.holdNext(func(ev eas.DeviceEvent) bool {
		return ev.User == p.user && ev.DeviceID == device && ev.Request > before
	})
	col = syncColl(t, onB, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
	key = col.SyncKey
	var late *heldEvent
	select {
	case late = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("A never heard of the Sync on B")
	}
	if dev, err = a.store.Device(t.Context(), p.user, device); err != nil {
		t.Fatal(err)
	}
	if late.Request != dev.Requests {
		t.Fatalf("the Sync on B told of request %d, the store counted it as %d", late.Request, dev.Requests)
	}

	pa := ping(onA, inbox)
	a.waiting(t, 1)
	late.deliver()
	p.appendMessages(t, 1, 1)
	r := answered(t, "mail after a late event", pa, 30*time.Second)
	if r.Status != eas.PingChanges || !slices.Equal(r.Folders, []string{inbox}) {
		t.Fatalf("Ping on A, the Sync's event heard late, then mail: %+v, want the inbox changed", r)
	}
	col = syncColl(t, onB, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
	key = col.SyncKey
	if col.Commands == nil || len(col.Commands.Add) != 1 {
		t.Fatalf("Sync on B after the Ping: %+v", col.Commands)
	}

	// A Sync on B after the Ping on A began ends it at once.
	pa = ping(onA, inbox)
	a.waiting(t, 1)
	syncColl(t, onB, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
	if r := answered(t, "Sync on B after the Ping", pa, 10*time.Second); r.Status != eas.PingExpired {
		t.Errorf("superseded Ping: status %d, want %d", r.Status, eas.PingExpired)
	}
}
