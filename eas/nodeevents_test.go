package eas_test

import (
	"context"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// nodeStore is the store of one node among others: it records requests in
// one statement and the test plays the other nodes' device events.
type nodeStore struct {
	recordingStore
	events chan eas.DeviceEvent
	// handled hears of each event once the server is done with it.
	handled chan struct{}
}

func (s nodeStore) PublishDevice(context.Context, eas.DeviceEvent) error { return nil }

func (s nodeStore) WatchDevices(ctx context.Context, fn func(eas.DeviceEvent)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-s.events:
			fn(ev)
			s.handled <- struct{}{}
		}
	}
}

// adminAction stands for an event with no request number.
const adminAction = -1 << 20

// TestPingHearsLateEvents: a Ping that another node's event reaches only
// after the Ping began ends only when the event is of a newer request
// than the Ping's own; the event of the Sync before it, late, leaves it
// waiting, and mail or a newer request still answers it.
func TestPingHearsLateEvents(t *testing.T) {
	tests := []struct {
		name string
		// events are the requests the other nodes tell of while the Ping
		// waits, by their number less the Ping's.
		events []int
		// mail arrives after the events.
		mail bool
		want int
	}{
		{"late event of the Sync before, then mail", []int{-1}, true, eas.PingChanges},
		{"late events, then a newer request", []int{-2, -1, 1}, false, eas.PingExpired},
		{"newer request", []int{1}, false, eas.PingExpired},
		{"admin action", []int{adminAction}, false, eas.PingExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := nodeStore{events: make(chan eas.DeviceEvent), handled: make(chan struct{})}
			g := startFakeOn(t, eas.V141, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second},
				func(g *fakeGateway) eas.Store {
					st.recordingStore = recordingStore{g.store}
					return st
				})
			inbox := g.id(t, "INBOX")
			g.primed(t, g.phone, inbox)

			hb := 10
			done := make(chan *eas.PingResponse, 1)
			go func() {
				r, err := g.phone.Ping(context.Background(), &eas.PingRequest{HeartbeatInterval: &hb,
					Folders: []eas.PingFolder{{ID: inbox, Class: "Email"}}})
				if err != nil {
					t.Error(err)
				}
				done <- r
			}()
			g.subscribed(t, 1)
			d, err := g.store.Device(context.Background(), fakeUser, "phone1")
			if err != nil {
				t.Fatal(err)
			}
			ping := int(d.Requests)
			for _, delta := range tt.events {
				ev := eas.DeviceEvent{User: fakeUser, DeviceID: "phone1", Request: uint64(ping + delta)}
				if delta == adminAction {
					ev.Request = 0
				}
				st.events <- ev
				<-st.handled
			}
			if tt.mail {
				g.mail.add("INBOX", "pushed", time.Now())
			}
			select {
			case r := <-done:
				if r == nil || r.Status != tt.want {
					t.Fatalf("Ping answered %+v, want Status %d", r, tt.want)
				}
				if tt.want == eas.PingChanges && (len(r.Folders) != 1 || r.Folders[0] != inbox) {
					t.Errorf("Ping answered folders %v, want the inbox", r.Folders)
				}
			case <-time.After(waitBound):
				t.Fatal("the Ping did not answer before its heartbeat")
			}
		})
	}
}
