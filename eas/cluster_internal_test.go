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
	events    chan deviceKey
	published chan deviceKey
	mu        sync.Mutex
	watching  bool
}

func (s *eventStore) PublishDevice(_ context.Context, user, deviceID string) error {
	s.published <- deviceKey{user, deviceID}
	return nil
}

func (s *eventStore) WatchDevices(ctx context.Context, fn func(user, deviceID string)) error {
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
		case k := <-s.events:
			fn(k.user, k.device)
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
	st := &eventStore{events: make(chan deviceKey), published: make(chan deviceKey, 10)}
	s := NewServer(Config{}, nil, st, nil)
	ann, bob := deviceKey{"ann", "phone"}, deviceKey{"bob", "tablet"}

	annWoken, annDone := s.devices.wait(ann)
	defer annDone()
	bobWoken, bobDone := s.devices.wait(bob)
	s.prefetches.mu.Lock()
	s.prefetches.m[ann] = &prefetch{timer: time.NewTimer(time.Hour), done: make(chan struct{})}
	s.prefetches.mu.Unlock()

	st.events <- ann
	if !isClosed(annWoken) {
		t.Fatal("an event of another node did not end the device's wait")
	}
	// The watcher handles events one at a time: once it takes the next,
	// the first is done with.
	st.events <- deviceKey{"carl", "x"}
	if s.prefetches.take(ann) != nil {
		t.Error("an event of another node left the device's prefetch")
	}
	select {
	case <-bobWoken:
		t.Fatal("an event of one device ended another's wait")
	default:
	}

	st.events <- deviceKey{}
	if !isClosed(bobWoken) {
		t.Fatal("news of lost events did not end every wait")
	}
	bobDone()

	// A request here publishes for the other nodes.
	s.supersedeDevice(context.Background(), s.log, bob)
	if got := <-st.published; got != bob {
		t.Errorf("published %+v, want %+v", got, bob)
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
	late, lateDone := s.devices.wait(ann)
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
