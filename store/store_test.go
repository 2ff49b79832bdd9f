package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// t0 is an arbitrary fixed instant, with milliseconds, in UTC.
var t0 = time.Date(2026, 11, 3, 9, 30, 15, 123_000_000, time.UTC)

func openTest(t testing.TB) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "easgate.db"))
}

// openAt opens path and closes it when the test ends.
func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func touch(t testing.TB, s *Store, user, deviceID string, at time.Time) {
	t.Helper()
	err := s.TouchDevice(t.Context(), eas.DeviceSeen{
		User: user, DeviceID: deviceID, DeviceType: "iPhone",
		UserAgent: "Apple-iPhone/2101.1", Protocol: "16.1", Command: "Sync", At: at,
	})
	if err != nil {
		t.Fatalf("TouchDevice(%s, %s): %v", user, deviceID, err)
	}
}

// countRows counts the rows of table that belong to the device.
func countRows(t *testing.T, s *Store, table, user, deviceID string) int {
	t.Helper()
	var n int
	err := s.r.QueryRowContext(t.Context(),
		s.q("SELECT count(*) FROM "+table+" WHERE username = ? AND device_id = ?"), user, deviceID).Scan(&n)
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOpenConnectionSettings(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	tests := []struct {
		name   string
		pragma string
		pool   string
		want   string
	}{
		{"journal mode", "journal_mode", "writer", "wal"},
		{"journal mode seen by readers", "journal_mode", "reader", "wal"},
		{"foreign keys", "foreign_keys", "writer", "1"},
		{"busy timeout", "busy_timeout", "writer", "5000"},
		{"reader busy timeout", "busy_timeout", "reader", "5000"},
		{"synchronous NORMAL", "synchronous", "writer", "1"},
		{"readers are query-only", "query_only", "reader", "1"},
		{"writer is not query-only", "query_only", "writer", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := s.w
			if tt.pool == "reader" {
				db = s.r
			}
			var got string
			if err := db.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s on %s = %q, want %q", tt.pragma, tt.pool, got, tt.want)
			}
		})
	}
	if _, err := s.r.ExecContext(ctx, "DELETE FROM devices"); err == nil {
		t.Error("a write through the reader pool succeeded")
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	// Characters that mean something in a URI must survive the DSN.
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.db")

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	touch(t, s, "alice", "dev1", t0)
	if err := s.SetPolicyKeys(ctx, "alice", "dev1", 0, 42); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCollectionState(ctx, "alice", "dev1", "5", []byte("state-5")); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveFolderIDs(ctx, "alice", []eas.FolderID{{ID: "1", Path: "INBOX", Stamp: "7"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}

	s = openAt(t, path)
	d, err := s.Device(ctx, "alice", "dev1")
	if err != nil {
		t.Fatalf("Device after reopen: %v", err)
	}
	if d.PolicyKey != 42 || !d.FirstSeen.Equal(t0) {
		t.Errorf("device after reopen = %+v", d)
	}
	if got, err := s.CollectionState(ctx, "alice", "dev1", "5"); err != nil || string(got) != "state-5" {
		t.Errorf("CollectionState after reopen = %q, %v", got, err)
	}
	if got, err := s.FolderIDs(ctx, "alice"); err != nil || len(got) != 1 || got[0].Path != "INBOX" {
		t.Errorf("FolderIDs after reopen = %v, %v", got, err)
	}
	if id, err := s.NextFolderID(ctx, "alice"); err != nil || id != "2" {
		t.Errorf("NextFolderID after reopen = %q, %v; want 2", id, err)
	}
}

func TestOpenRefusesNonDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "garbage.db")
	junk := bytes.Repeat([]byte("this is not an SQLite database\n"), 200)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a non-database file succeeded")
	}
	got, rerr := os.ReadFile(path)
	if rerr != nil || !bytes.Equal(got, junk) {
		t.Errorf("Open modified the file it refused (read err %v)", rerr)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "x.db")
	s, err := Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
}

func TestOpenCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open error = %v, want context.Canceled", err)
	}
}

func TestDSNEscapesPath(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{"/var/lib/easgate/state.db", "file:/var/lib/easgate/state.db?"},
		{"/tmp/a?b", "file:/tmp/a%3fb?"},
		{"/tmp/a#b", "file:/tmp/a%23b?"},
		{"/tmp/100%", "file:/tmp/100%25?"},
	}
	for _, tt := range tests {
		got := dsn(tt.path, true)
		if len(got) < len(tt.want) || got[:len(tt.want)] != tt.want {
			t.Errorf("dsn(%q) = %q, want prefix %q", tt.path, got, tt.want)
		}
	}
}
