package eas

import (
	"context"
	"sync"
	"testing"
	"time"
)

// eventStore is a Store whose only working part is DeviceEvents: the test
// plays the other nodes through events.
type eventStore struct {
	Store
	events    chan DeviceEvent
	published chan DeviceEvent
	mu        sync.Mutex
	watching  bool
}

func (s *eventStore) PublishDevice(_ context.Context, ev DeviceEvent) error {
	s.published <- ev
	return nil
}

func (s *eventStore) WatchDevices(ctx context.Context, fn func(DeviceEvent)) error {
	s.mu.Lock()
	s.watching = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.watching = false
		s.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-s.events:
			fn(ev)
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	case <-time.After(time.Second):
		return false
	}
}

// TestDeviceEventsFromOtherNodes: another node's event ends the device's
// wait and drops its prefetch here, leaves other devices alone; news of
// lost events ends every wait; Close stops the watch and ends waits that
// begin afterwards too.
func TestDeviceEventsFromOtherNodes(t *testing.T) {
	st := &eventStore{events: make(chan DeviceEvent), published: make(chan DeviceEvent, 10)}
	s := NewServer(Config{}, nil, st, nil)
	ann, bob := deviceKey{"ann", "phone"}, deviceKey{"bob", "tablet"}
	event := func(k deviceKey, request uint64) DeviceEvent {
		return DeviceEvent{User: k.user, DeviceID: k.device, Request: request}
	}

	annWoken, annDone := s.devices.wait(ann, 0)
	defer annDone()
	bobWoken, bobDone := s.devices.wait(bob, 0)
	s.prefetches.mu.Lock()
	s.prefetches.m[ann] = &prefetch{timer: time.NewTimer(time.Hour), done: make(chan struct{})}
	s.prefetches.mu.Unlock()

	st.events <- event(ann, 0)
	if !isClosed(annWoken) {
		t.Fatal("an event of another node did not end the device's wait")
	}
	// The watcher handles events one at a time: once it takes the next,
	// the first is done with.
	st.events <- event(deviceKey{"carl", "x"}, 0)
	if s.prefetches.take(ann) != nil {
		t.Error("an event of another node left the device's prefetch")
	}
	select {
	case <-bobWoken:
		t.Fatal("an event of one device ended another's wait")
	default:
	}

	st.events <- DeviceEvent{}
	if !isClosed(bobWoken) {
		t.Fatal("news of lost events did not end every wait")
	}
	bobDone()

	// A request here publishes for the other nodes, with its number.
	s.supersedeDevice(context.Background(), s.log, bob, 7)
	if got := <-st.published; got != event(bob, 7) {
		t.Errorf("published %+v, want %+v", got, event(bob, 7))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st.mu.Lock()
	watching := st.watching
	st.mu.Unlock()
	if watching {
		t.Error("the watch of device events outlived Close")
	}
	late, lateDone := s.devices.wait(ann, 0)
	defer lateDone()
	if !isClosed(late) {
		t.Error("a wait that began after Close did not end at once")
	}
}

// lockStore is a Store whose only working part is a DeviceLocker that
// fails or counts.
type lockStore struct {
	Store
	err             error
	locked, unlocks int
}

func (s *lockStore) LockDevice(context.Context, string, string) (func(), error) {
	if s.err != nil {
		return nil, s.err
	}
	s.locked++
	return func() { s.unlocks++ }, nil
}

// TestLockDeviceAcrossNodes: the device is taken in the process, then in
// the store; a store that cannot lock leaves the device free here.
func TestLockDeviceAcrossNodes(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"locks", nil},
		{"store fails", ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &lockStore{err: tt.err}
			s := NewServer(Config{}, nil, st, nil)
			k := deviceKey{"ann", "phone"}
			unlock, err := s.lockDevice(context.Background(), k)
			if tt.err != nil {
				if err != tt.err {
					t.Fatalf("lockDevice = %v, want %v", err, tt.err)
				}
			} else {
				if err != nil || st.locked != 1 {
					t.Fatalf("lockDevice = %v, store locks %d", err, st.locked)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				if _, err := s.devices.lock(ctx, k); err == nil {
					t.Fatal("the device was free in the process while locked")
				}
				unlock()
				unlock()
				if st.unlocks != 1 {
					t.Errorf("store unlocked %d times, want 1", st.unlocks)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			again, err := s.devices.lock(ctx, k)
			if err != nil {
				t.Fatalf("the device stayed locked in the process: %v", err)
			}
			again()
		})
	}
}

// TestDeviceEventNumbers: an event of another node ends the device's wait
// and drops its prefetch only when its request is newer than theirs; an
// event that comes late, for a request older than the wait, leaves both.
func TestDeviceEventNumbers(t *testing.T) {
	tests := []struct {
		name string
		// waiting is the number of the waiting request, and of the one
		// that planned the prefetch; event the number the event carries.
		waiting, event uint64
		ended          bool
	}{
		{"older request, late", 5, 4, false},
		{"newer request", 5, 6, true},
		{"unnumbered event (admin action)", 5, 0, true},
		{"unnumbered wait", 0, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &eventStore{events: make(chan DeviceEvent), published: make(chan DeviceEvent, 10)}
			s := NewServer(Config{}, nil, st, nil)
			defer s.Close(context.Background())
			k := deviceKey{"ann", "phone"}
			woken, done := s.devices.wait(k, tt.waiting)
			defer done()
			s.prefetches.mu.Lock()
			s.prefetches.m[k] = &prefetch{plan: &prefetchPlan{requests: tt.waiting},
				timer: time.NewTimer(time.Hour), done: make(chan struct{})}
			s.prefetches.mu.Unlock()

			st.events <- DeviceEvent{User: k.user, DeviceID: k.device, Request: tt.event}
			// Taken once the first is done with.
			st.events <- DeviceEvent{User: "carl", DeviceID: "x", Request: 1}
			ended := false
			select {
			case <-woken:
				ended = true
			default:
			}
			if ended != tt.ended {
				t.Errorf("wait ended: %v, want %v", ended, tt.ended)
			}
			if kept := s.prefetches.take(k) != nil; kept == tt.ended {
				t.Errorf("prefetch kept: %v, want %v", kept, !tt.ended)
			}
		})
	}
}

// TestDeviceWaitOrder: of two requests of a device that come to wait on
// one node, the newer waits and the older ends, whichever comes first; a
// request that a newer one superseded before it came to wait ends at once.
func TestDeviceWaitOrder(t *testing.T) {
	k := deviceKey{"ann", "phone"}
	open := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return false
		default:
			return true
		}
	}
	tests := []struct {
		name string
		// superseded is called with the device held, before the waits.
		superseded []uint64
		// waits are the numbers of the requests that come to wait, in
		// order; waiting says which of them still wait at the end.
		waits   []uint64
		waiting []bool
	}{
		{"newer comes second", nil, []uint64{5, 6}, []bool{false, true}},
		{"newer comes first", nil, []uint64{6, 5}, []bool{true, false}},
		{"unnumbered", nil, []uint64{0, 0}, []bool{false, true}},
		{"superseded while working", []uint64{7}, []uint64{5}, []bool{false}},
		{"newer than what superseded", []uint64{7}, []uint64{8}, []bool{true}},
		{"own request superseded", []uint64{5}, []uint64{5}, []bool{true}},
		{"admin action since", []uint64{7, 0}, []uint64{5}, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newDeviceLocks()
			unlock, err := l.lock(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.superseded {
				l.supersede(k, n)
			}
			var woken []<-chan struct{}
			for _, n := range tt.waits {
				w, done := l.wait(k, n)
				defer done()
				woken = append(woken, w)
			}
			unlock()
			for i, w := range woken {
				if got := open(w); got != tt.waiting[i] {
					t.Errorf("request %d waits: %v, want %v", tt.waits[i], got, tt.waiting[i])
				}
			}
		})
	}
	// A request that tracks its device from its start learns of a newer
	// one that comes before it holds the device; nothing is remembered of
	// a device once none of its requests runs.
	for _, tracked := range []bool{true, false} {
		l := newDeviceLocks()
		untrack := func() {}
		if tracked {
			untrack = l.track(k)
		}
		l.supersede(k, 9)
		unlock, _ := l.lock(context.Background(), k)
		w, done := l.wait(k, 5)
		unlock()
		done()
		untrack()
		if open(w) != !tracked {
			t.Errorf("tracked %v: the request waits: %v after a newer one came", tracked, open(w))
		}
		if len(l.slots) != 0 {
			t.Errorf("tracked %v: %d slots left behind", tracked, len(l.slots))
		}
	}
}
