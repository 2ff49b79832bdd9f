package store

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// rawDB opens path with the writer's settings but without the migrations.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func tableExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	err := db.QueryRowContext(t.Context(),
		"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestMigrationsAreOrderedAndNamed(t *testing.T) {
	steps := migrations()
	if len(steps) < 2 {
		t.Fatalf("%d migration steps; the upgrade test needs at least 2", len(steps))
	}
	for i, m := range steps {
		if m.name == "" || m.sql == "" {
			t.Errorf("step %d has an empty name or body", i+1)
		}
	}
}

func TestNewDatabaseIsAtLatestVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s := openAt(t, path)
	if got, want := userVersion(t, s.w), len(migrations()); got != want {
		t.Errorf("user_version = %d, want %d", got, want)
	}
	// Opening again applies nothing and keeps the version.
	if err := migrate(t.Context(), s.w, dialect{}, migrations()); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if got, want := userVersion(t, s.w), len(migrations()); got != want {
		t.Errorf("user_version after second migrate = %d, want %d", got, want)
	}
}

func TestOpenUpgradesVersion1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v1.db")

	db := rawDB(t, path)
	if err := migrate(ctx, db, dialect{}, migrations()[:1]); err != nil {
		t.Fatalf("migrate to v1: %v", err)
	}
	if v := userVersion(t, db); v != 1 {
		t.Fatalf("user_version after first step = %d, want 1", v)
	}
	if tableExists(t, db, "sent_client_ids") {
		t.Fatal("version 1 already has sent_client_ids; the test no longer tests an upgrade")
	}
	// Data written by a version-1 binary.
	for _, q := range []string{
		`INSERT INTO devices (username, device_id, device_type, policy_key, first_seen)
		 VALUES ('alice', 'dev1', 'Android', 77, 1762162215123)`,
		`INSERT INTO collection_states (username, device_id, collection_id, data)
		 VALUES ('alice', 'dev1', '3', x'0102')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("seed v1: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path)
	if got, want := userVersion(t, s.w), len(migrations()); got != want {
		t.Errorf("user_version after Open = %d, want %d", got, want)
	}
	d, err := s.Device(ctx, "alice", "dev1")
	if err != nil {
		t.Fatalf("Device after upgrade: %v", err)
	}
	if d.Type != "Android" || d.PolicyKey != 77 || d.FirstSeen.UnixMilli() != 1762162215123 {
		t.Errorf("device after upgrade = %+v", d)
	}
	if got, err := s.CollectionState(ctx, "alice", "dev1", "3"); err != nil || string(got) != "\x01\x02" {
		t.Errorf("collection state after upgrade = %x, %v", got, err)
	}
	// The step 2 table works and cascades like the others.
	first, err := s.MarkSent(ctx, "alice", "dev1", "c1", time.Now())
	if err != nil || !first {
		t.Fatalf("MarkSent after upgrade = %v, %v", first, err)
	}
	if err := s.DeleteDevice(ctx, "alice", "dev1"); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, "sent_client_ids", "alice", "dev1"); n != 0 {
		t.Errorf("%d sent ClientIds left after deleting an upgraded device", n)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "future.db")
	s := openAt(t, path)
	touch(t, s, "alice", "dev1", t0)
	future := len(migrations()) + 1
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", future)); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(ctx, path)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database from a newer build succeeded")
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open error = %v, want ErrNewerSchema", err)
	}
	// Refusing must not touch the database.
	if v := userVersion(t, s.w); v != future {
		t.Errorf("user_version after refused Open = %d, want %d", v, future)
	}
	if _, err := s.Device(ctx, "alice", "dev1"); err != nil {
		t.Errorf("device lost after refused Open: %v", err)
	}
}

func TestFailedStepLeavesVersion(t *testing.T) {
	ctx := t.Context()
	db := rawDB(t, filepath.Join(t.TempDir(), "bad.db"))
	defer db.Close()
	steps := []migration{
		{name: "good", sql: "CREATE TABLE a (x INTEGER) STRICT"},
		{name: "bad", sql: "CREATE TABLE b (x INTEGER) STRICT; THIS IS NOT SQL"},
	}
	if err := migrate(ctx, db, dialect{}, steps); err == nil {
		t.Fatal("migrate with a broken step succeeded")
	}
	if v := userVersion(t, db); v != 1 {
		t.Errorf("user_version = %d, want 1 (the good step only)", v)
	}
	if tableExists(t, db, "b") {
		t.Error("the failed step's first statement was committed")
	}
}
