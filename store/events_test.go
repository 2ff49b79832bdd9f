package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"
)

type heard struct{ user, device string }

// watch runs s.WatchDevices until the test ends and returns what it hears.
func watch(t *testing.T, s *Store) <-chan heard {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := make(chan heard, 100)
	done := make(chan error, 1)
	go func() {
		done <- s.WatchDevices(ctx, func(u, d string) { c <- heard{u, d} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("WatchDevices ended with %v, want context.Canceled", err)
		}
	})
	return c
}

// publishUntilHeard publishes from s until c hears the device: the
// listener may not be listening yet at first.
func publishUntilHeard(t *testing.T, s *Store, c <-chan heard, user, device string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if err := s.PublishDevice(t.Context(), user, device); err != nil {
			t.Fatalf("PublishDevice: %v", err)
		}
		select {
		case h := <-c:
			if h != (heard{user, device}) {
				t.Fatalf("heard %+v, want %s/%s", h, user, device)
			}
			return
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%s/%s never heard", user, device)
		}
	}
}

func TestDeviceEventsAcrossNodes(t *testing.T) {
	url := pgServer.Database(t)
	a, b := openAt(t, url), openAt(t, url)
	heardA, heardB := watch(t, a), watch(t, b)

	publishUntilHeard(t, a, heardB, "ann", "phone-1")
	publishUntilHeard(t, b, heardA, "bob", "tablet")
	// a's own events came before b's on a's connection, had a heard them.
	for _, c := range []<-chan heard{heardA, heardB} {
		select {
		case h := <-c:
			if h.user == "ann" {
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
	publishUntilHeard(t, b, heardA, "ann", "phone-2")
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
	if err := s.PublishDevice(t.Context(), "ann", "phone"); err != nil {
		t.Fatalf("PublishDevice on SQLite: %v", err)
	}
	if err := s.PublishDevice(t.Context(), "", "phone"); err == nil {
		t.Error("PublishDevice with no user: no error")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := s.WatchDevices(ctx, func(u, d string) { t.Errorf("heard %s/%s on SQLite", u, d) }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WatchDevices = %v, want the context's end", err)
	}
}
