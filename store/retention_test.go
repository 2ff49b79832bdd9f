package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

func TestDeleteDevicesNotSeenSince(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		day := 24 * time.Hour
		seen := map[string]time.Time{
			"old":      t0.Add(-40 * day),
			"boundary": t0.Add(-30 * day), // exactly at the cutoff: kept
			"recent":   t0.Add(-time.Hour),
		}
		for dev, at := range seen {
			touch(t, s, "alice", dev, at)
			if err := s.PutCollectionState(ctx, "alice", dev, "1", []byte("x")); err != nil {
				t.Fatal(err)
			}
			if err := s.PutDeviceState(ctx, "alice", dev, "hierarchy", []byte("h")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.MarkSent(ctx, "alice", dev, "c-"+dev, at); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SaveFolderIDs(ctx, "alice", []eas.FolderID{{ID: "1", Path: "INBOX"}}); err != nil {
			t.Fatal(err)
		}
		cutoff := t0.Add(-30 * day)
		if n, err := s.DevicesNotSeenSince(ctx, cutoff); err != nil || n != 1 {
			t.Errorf("DevicesNotSeenSince = %d, %v; want 1", n, err)
		}
		if n, err := s.DeleteDevicesNotSeenSince(ctx, cutoff); err != nil || n != 1 {
			t.Fatalf("DeleteDevicesNotSeenSince = %d, %v; want 1", n, err)
		}
		for dev := range seen {
			_, err := s.Device(ctx, "alice", dev)
			if gone := dev == "old"; gone != (err != nil) {
				t.Errorf("device %s after the sweep: %v", dev, err)
			}
			want := 1
			if dev == "old" {
				want = 0
			}
			for _, table := range []string{"device_states", "collection_states"} {
				if n := countRows(t, s, table, "alice", dev); n != want {
					t.Errorf("%s of device %s: %d rows, want %d", table, dev, n, want)
				}
			}
		}
		if ids, err := s.FolderIDs(ctx, "alice"); err != nil || len(ids) != 1 {
			t.Errorf("folder map after the sweep = %v, %v", ids, err)
		}
		if n, err := s.DeleteDevicesNotSeenSince(ctx, cutoff); err != nil || n != 0 {
			t.Errorf("second sweep = %d, %v; want 0", n, err)
		}
	})
}

// TestSweepDevices runs the periodic sweep on real time: a device last
// seen long ago goes at once, and the sweep stops with its context.
func TestSweepDevices(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		touch(t, s, "alice", "stale", time.Now().Add(-48*time.Hour))
		touch(t, s, "alice", "fresh", time.Now())
		ctx, cancel := context.WithCancel(t.Context())
		reports := make(chan error, 16)
		var wg sync.WaitGroup
		wg.Go(func() {
			s.SweepDevices(ctx, 24*time.Hour, func(n int64, err error) {
				if err == nil && n != 1 {
					err = fmt.Errorf("first sweep deleted %d devices, want 1", n)
				}
				select {
				case reports <- err:
				default:
				}
			})
		})
		if err := <-reports; err != nil {
			t.Error(err)
		}
		cancel()
		wg.Wait()
		devs, err := s.Devices(t.Context())
		if err != nil || len(devs) != 1 || devs[0].ID != "fresh" {
			t.Errorf("devices after the sweep = %v, %v; want fresh only", devs, err)
		}
	})
}

func TestSweepInterval(t *testing.T) {
	tests := []struct{ retention, want time.Duration }{
		{90 * 24 * time.Hour, time.Hour},
		{24 * time.Hour, time.Hour},
		{6 * time.Hour, 15 * time.Minute},
		{time.Second, time.Second},
	}
	for _, tt := range tests {
		if got := sweepInterval(tt.retention); got != tt.want {
			t.Errorf("sweepInterval(%v) = %v, want %v", tt.retention, got, tt.want)
		}
	}
}

// TestStateStaysBounded plays a device's traffic for many rounds (what
// every Sync, Ping and FolderSync writes, and a ComposeMail per round over
// more than the ClientId retention) and checks that no table grows with
// the rounds.
func TestStateStaysBounded(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		var after []TableCount
		for round := range 400 {
			at := t0.Add(time.Duration(round) * time.Hour)
			touch(t, s, "alice", "dev1", at)
			for _, kind := range []string{"hierarchy", "ping", "synccache"} {
				if err := s.PutDeviceState(ctx, "alice", "dev1", kind, fmt.Appendf(nil, "%s %d", kind, round)); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []string{"1", "2", "5"} {
				if err := s.PutCollectionState(ctx, "alice", "dev1", c, fmt.Appendf(nil, "sync key %d", round)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.SaveFolderIDs(ctx, "alice", []eas.FolderID{{ID: "1", Path: "INBOX", Stamp: fmt.Sprint(round)}, {ID: "2", Path: "Sent"}, {ID: "5", Path: "Drafts"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.MarkSent(ctx, "alice", "dev1", fmt.Sprint("client", round), at); err != nil {
				t.Fatal(err)
			}
			if round == 199 {
				var err error
				if after, err = s.Counts(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		final, err := s.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range final {
			if c.Rows != after[i].Rows {
				t.Errorf("%s: %d rows after 200 rounds, %d after 400", c.Table, after[i].Rows, c.Rows)
			}
		}
		// A week of hourly ComposeMails, pruned beyond that.
		if sent := final[len(final)-1]; sent.Table != "sent_client_ids" || sent.Rows != 7*24+1 {
			t.Errorf("%v, want 169 sent ClientIds", sent)
		}
	})
}
