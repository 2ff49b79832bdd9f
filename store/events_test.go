package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// heard is a device event as a watcher heard it.
type heard = eas.DeviceEvent

// watch runs s.WatchDevices until the test ends and returns what it hears.
func watch(t *testing.T, s *Store) <-chan heard {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := make(chan heard, 100)
	done := make(chan error, 1)
	go func() {
		done <- s.WatchDevices(ctx, func(ev eas.DeviceEvent) { c <- ev })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("WatchDevices ended with %v, want context.Canceled", err)
		}
	})
	return c
}

// publishUntilHeard publishes ev from s until c hears it: the listener may
// not be listening yet at first.
func publishUntilHeard(t *testing.T, s *Store, c <-chan heard, ev eas.DeviceEvent) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if err := s.PublishDevice(t.Context(), ev); err != nil {
			t.Fatalf("PublishDevice: %v", err)
		}
		select {
		case h := <-c:
			if h != ev {
				t.Fatalf("heard %+v, want %+v", h, ev)
			}
			return
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%+v never heard", ev)
		}
	}
}

func TestDeviceEventsAcrossNodes(t *testing.T) {
	url := pgServer.Database(t)
	a, b := openAt(t, url), openAt(t, url)
	heardA, heardB := watch(t, a), watch(t, b)

	// The request's number travels with the event; admin actions have
	// none.
	publishUntilHeard(t, a, heardB, eas.DeviceEvent{User: "ann", DeviceID: "phone-1", Request: 1<<40 + 7})
	publishUntilHeard(t, b, heardA, eas.DeviceEvent{User: "bob", DeviceID: "tablet"})
	// a's own events came before b's on a's connection, had a heard them.
	for _, c := range []<-chan heard{heardA, heardB} {
		select {
		case h := <-c:
			if h.User == "ann" {
				t.Errorf("a node heard its own event %+v", h)
			}
		default:
		}
	}
	drain(heardA)
	drain(heardB)

	// A listener whose connection dies listens again, and says that
	// events may have been lost.
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(),
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = 'LISTEN "+deviceChannel+"'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("terminated %d listeners, want 2", n)
	}
	for _, c := range []<-chan heard{heardA, heardB} {
		select {
		case h := <-c:
			if h != (heard{}) {
				t.Fatalf("after the listener died, heard %+v first, want the news of lost events", h)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the listener did not come back")
		}
	}
	publishUntilHeard(t, b, heardA, eas.DeviceEvent{User: "ann", DeviceID: "phone-2", Request: 3})
}

func drain(c <-chan heard) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func TestDeviceEventsSQLite(t *testing.T) {
	s := openTest(t)
	if err := s.PublishDevice(t.Context(), eas.DeviceEvent{User: "ann", DeviceID: "phone", Request: 1}); err != nil {
		t.Fatalf("PublishDevice on SQLite: %v", err)
	}
	if err := s.PublishDevice(t.Context(), eas.DeviceEvent{DeviceID: "phone"}); err == nil {
		t.Error("PublishDevice with no user: no error")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := s.WatchDevices(ctx, func(ev eas.DeviceEvent) { t.Errorf("heard %+v on SQLite", ev) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WatchDevices = %v, want the context's end", err)
	}
}
