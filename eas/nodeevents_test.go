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
	// recorded, when set, is called with each request's device as the
	// store recorded it, before the request goes on.
	recorded func(seen eas.DeviceSeen, d *eas.Device)
}

func (s *nodeStore) RecordRequest(ctx context.Context, seen eas.DeviceSeen) (*eas.Device, error) {
	d, err := s.recordingStore.RecordRequest(ctx, seen)
	if err == nil && s.recorded != nil {
		s.recorded(seen, d)
	}
	return d, err
}

// tell has the node hear ev and returns once the server is done with it.
func (s *nodeStore) tell(ev eas.DeviceEvent) {
	s.events <- ev
	<-s.handled
}

func (s *nodeStore) PublishDevice(context.Context, eas.DeviceEvent) error { return nil }

func (s *nodeStore) WatchDevices(ctx context.Context, fn func(eas.DeviceEvent)) error {
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

// TestPingHearsLateEvents: a Ping ends on another node's event only when
// the event is of a newer request than the Ping's own, whether the event
// comes while the Ping waits or while it is still on its way to waiting;
// the event of the Sync before it, late, leaves it waiting, and mail or a
// newer request still answers it.
func TestPingHearsLateEvents(t *testing.T) {
	tests := []struct {
		name string
		// events are the requests the other nodes tell of, by their
		// number less the Ping's.
		events []int
		// early: the events come as soon as the Ping is recorded, before
		// it waits; otherwise once it waits.
		early bool
		// mail arrives after the events.
		mail bool
		want int
	}{
		{"late event of the Sync before, then mail", []int{-1}, false, true, eas.PingChanges},
		{"late events, then a newer request", []int{-2, -1, 1}, false, false, eas.PingExpired},
		{"newer request", []int{1}, false, false, eas.PingExpired},
		{"admin action", []int{adminAction}, false, false, eas.PingExpired},
		{"late event before the Ping waits, then mail", []int{-1}, true, true, eas.PingChanges},
		{"newer request before the Ping waits", []int{-1, 1}, true, false, eas.PingExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &nodeStore{events: make(chan eas.DeviceEvent), handled: make(chan struct{})}
			g := startFakeOn(t, eas.V141, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second},
				func(g *fakeGateway) eas.Store {
					st.recordingStore = recordingStore{g.store}
					return st
				})
			inbox := g.id(t, "INBOX")
			g.primed(t, g.phone, inbox)

			tell := func(ping uint64) {
				for _, delta := range tt.events {
					ev := eas.DeviceEvent{User: fakeUser, DeviceID: "phone1", Request: uint64(int(ping) + delta)}
					if delta == adminAction {
						ev.Request = 0
					}
					st.tell(ev)
				}
			}
			numbered := make(chan uint64, 1)
			st.recorded = func(seen eas.DeviceSeen, d *eas.Device) {
				if seen.Command != "Ping" {
					return
				}
				numbered <- d.Requests
				if tt.early {
					tell(d.Requests)
				}
			}
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
			ping := <-numbered
			if !tt.early {
				g.subscribed(t, 1)
				tell(ping)
			}
			if tt.mail {
				g.subscribed(t, 1)
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
