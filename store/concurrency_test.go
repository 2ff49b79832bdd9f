package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// hammer runs workers goroutines of rounds iterations each against the
// stores (round-robin), every iteration touching a device, writing a
// collection state, reading it back, recording a ClientId and resetting a
// device of its own (a transaction that reads before it writes), and
// returns every error seen.
func hammer(ctx context.Context, stores []*Store, workers, rounds int) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	counted := &requestCounts{seen: map[[2]string]map[uint64]bool{}}
	for w := range workers {
		s := stores[w%len(stores)]
		// Several workers share each device so that writes collide on the
		// same rows, not only on the database lock.
		user, dev := fmt.Sprintf("user%d", w%3), fmt.Sprintf("dev%d", w%4)
		wg.Go(func() {
			for i := range rounds {
				seen := eas.DeviceSeen{
					User: user, DeviceID: dev, DeviceType: "Android", Protocol: "16.1",
					Command: "Sync", At: t0.Add(time.Duration(i) * time.Second),
				}
				if err := touchOrRecord(ctx, s, seen, w%2 == 0, counted); err != nil {
					fail(fmt.Errorf("worker %d round %d: %w", w, i, err))
					return
				}
				coll := fmt.Sprintf("w%d-c%d", w, i%5)
				data := bytes.Repeat([]byte{byte(w), byte(i)}, 2048)
				if err := s.PutCollectionState(ctx, user, dev, coll, data); err != nil {
					fail(fmt.Errorf("worker %d round %d: %w", w, i, err))
					return
				}
				got, err := s.CollectionState(ctx, user, dev, coll)
				if err != nil {
					fail(fmt.Errorf("worker %d round %d: %w", w, i, err))
					return
				}
				// Only this worker writes this collection, so it must read
				// its own latest write.
				if !bytes.Equal(got, data) {
					fail(fmt.Errorf("worker %d round %d: read %d bytes back, not what was written", w, i, len(got)))
					return
				}
				if _, err := s.MarkSent(ctx, user, dev, fmt.Sprintf("w%d-%d", w, i), seen.At); err != nil {
					fail(fmt.Errorf("worker %d round %d: %w", w, i, err))
					return
				}
				own := eas.DeviceSeen{User: "resetter", DeviceID: fmt.Sprintf("r%d", w), Command: "Sync", At: t0}
				if err := s.TouchDevice(ctx, own); err != nil {
					fail(fmt.Errorf("worker %d round %d: %w", w, i, err))
					return
				}
				if err := s.PutDeviceState(ctx, own.User, own.DeviceID, "hierarchy", data); err != nil {
					fail(fmt.Errorf("worker %d round %d: %w", w, i, err))
					return
				}
				if err := s.ResetDevice(ctx, own.User, own.DeviceID); err != nil {
					fail(fmt.Errorf("worker %d round %d: %w", w, i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// requestCounts are the counts RecordRequest returned, per device.
type requestCounts struct {
	mu   sync.Mutex
	seen map[[2]string]map[uint64]bool
}

// touchOrRecord records seen with TouchDevice, or with RecordRequest when
// record is set; a count RecordRequest returns twice for one device means
// two requests took one count.
func touchOrRecord(ctx context.Context, s *Store, seen eas.DeviceSeen, record bool, counted *requestCounts) error {
	if !record {
		return s.TouchDevice(ctx, seen)
	}
	d, err := s.RecordRequest(ctx, seen)
	if err != nil {
		return err
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	k := [2]string{seen.User, seen.DeviceID}
	if counted.seen[k] == nil {
		counted.seen[k] = map[uint64]bool{}
	}
	if counted.seen[k][d.Requests] {
		return fmt.Errorf("RecordRequest returned count %d of %s/%s twice", d.Requests, seen.User, seen.DeviceID)
	}
	counted.seen[k][d.Requests] = true
	return nil
}

func checkHammered(t *testing.T, s *Store, workers, rounds int) {
	t.Helper()
	ctx := t.Context()
	all, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ds []eas.Device
	resetters := 0
	for _, d := range all {
		if d.User != "resetter" {
			ds = append(ds, d)
			continue
		}
		resetters++
		if got, err := s.DeviceState(ctx, d.User, d.ID, "hierarchy"); err != nil || got != nil {
			t.Errorf("device %s was reset last, but has a hierarchy state (%d bytes, %v)", d.ID, len(got), err)
		}
	}
	if resetters != workers {
		t.Errorf("%d reset devices, want %d", resetters, workers)
	}
	// Workers w use user w%3 and device w%4: 12 distinct pairs for w < 12.
	if want := min(workers, 12); len(ds) != want {
		t.Errorf("%d devices, want %d", len(ds), want)
	}
	total, requests := 0, uint64(0)
	for _, d := range ds {
		requests += d.Requests
		// Workers share devices, so which round was last varies.
		last := t0.Add(time.Duration(rounds-1) * time.Second)
		if !d.FirstSeen.Equal(t0) || d.LastSeen.Before(t0) || d.LastSeen.After(last) {
			t.Errorf("device %s/%s seen %v .. %v", d.User, d.ID, d.FirstSeen, d.LastSeen)
		}
		ids, err := s.CollectionIDs(ctx, d.User, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		total += len(ids)
	}
	// Every TouchDevice counts once, however many collide on one device.
	if want := uint64(workers * rounds); requests != want {
		t.Errorf("devices counted %d requests, want %d", requests, want)
	}
	if want := workers * min(rounds, 5); total != want {
		t.Errorf("%d collection states, want %d", total, want)
	}
	var sent int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM sent_client_ids").Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if sent != workers*rounds {
		t.Errorf("%d sent ClientIds, want %d", sent, workers*rounds)
	}
}

func TestConcurrentWriters(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		const workers, rounds = 20, 50
		for _, err := range hammer(t.Context(), []*Store{s}, workers, rounds) {
			t.Error(err)
		}
		checkHammered(t, s, workers, rounds)
	})
}

// TestConcurrentWritersTwoHandles opens the file twice, as two processes
// would: writers then meet on SQLite's lock rather than in one pool, which
// BEGIN IMMEDIATE and the busy timeout must absorb.
func TestConcurrentWritersTwoHandles(t *testing.T) {
	const workers, rounds = 20, 50
	path := filepath.Join(t.TempDir(), "twice.db")
	a := openAt(t, path)
	b := openAt(t, path)
	for _, err := range hammer(t.Context(), []*Store{a, b}, workers, rounds) {
		t.Error(err)
	}
	checkHammered(t, a, workers, rounds)
}

// TestConcurrentWritersTwoPostgresHandles is the same with two stores on
// one PostgreSQL database, as two nodes of a cluster would be.
func TestConcurrentWritersTwoPostgresHandles(t *testing.T) {
	const workers, rounds = 20, 50
	dsn := pgServer.Database(t)
	a := openAt(t, dsn)
	b := openAt(t, dsn)
	for _, err := range hammer(t.Context(), []*Store{a, b}, workers, rounds) {
		t.Error(err)
	}
	checkHammered(t, a, workers, rounds)
}

// TestCancelledWriteIsRolledBack checks that a write abandoned through its
// context neither lands nor wedges the single writer connection.
func TestCancelledWriteIsRolledBack(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		touch(t, s, "alice", "dev1", t0)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.PutCollectionState(ctx, "alice", "dev1", "1", []byte("x")); err == nil {
			t.Error("PutCollectionState with a cancelled context succeeded")
		}
		if _, err := s.MarkSent(ctx, "alice", "dev1", "c1", t0); err == nil {
			t.Error("MarkSent with a cancelled context succeeded")
		}
		if got, err := s.CollectionState(t.Context(), "alice", "dev1", "1"); err != nil || got != nil {
			t.Errorf("state after cancelled put = %q, %v", got, err)
		}
		if first, err := s.MarkSent(t.Context(), "alice", "dev1", "c1", t0); err != nil || !first {
			t.Errorf("MarkSent after a cancelled one = %v, %v; want true", first, err)
		}
	})
}
