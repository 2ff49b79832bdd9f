package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/store/pgtest"
)

// TestConcurrentOpenMigratesOnce starts several nodes at the same moment
// on an empty database: each must come up on the full schema, none may
// fail on another's half-made tables.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	const nodes = 8
	for round := range 3 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			url := pgServer.Database(t)
			var (
				wg     sync.WaitGroup
				start  = make(chan struct{})
				stores = make([]*Store, nodes)
				errs   = make([]error, nodes)
			)
			for i := range nodes {
				wg.Go(func() {
					<-start
					stores[i], errs[i] = Open(t.Context(), url)
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("node %d: Open: %v", i, err)
					continue
				}
				defer stores[i].Close()
			}
			if t.Failed() {
				return
			}
			var rows, v int
			if err := stores[0].r.QueryRowContext(t.Context(),
				"SELECT count(*), max(version) FROM easgate_schema").Scan(&rows, &v); err != nil {
				t.Fatal(err)
			}
			if rows != 1 || v != len(migrations()) {
				t.Errorf("easgate_schema has %d rows, version %d; want 1 row, version %d", rows, v, len(migrations()))
			}
			// Every node works on the one schema.
			for i, s := range stores {
				touch(t, s, "alice", fmt.Sprint("dev", i), t0)
			}
			if ds, err := stores[nodes-1].Devices(t.Context()); err != nil || len(ds) != nodes {
				t.Errorf("Devices = %d devices, %v; want %d", len(ds), err, nodes)
			}
		})
	}
}

// columns maps "table.column" to the type for the rows of query, which
// selects table, column and type.
func columns(t *testing.T, db *sql.DB, query string) map[string]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols := map[string]string{}
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			t.Fatal(err)
		}
		cols[table+"."+col] = typ
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols
}

// TestSchemasMatch checks that the translated schema gives PostgreSQL the
// same tables and columns as SQLite, with the types the dialect promises.
func TestSchemasMatch(t *testing.T) {
	lite, pg := openTest(t), openPostgresTest(t)
	liteCols := columns(t, lite.r, `
SELECT m.name, p.name, p.type FROM sqlite_schema m, pragma_table_info(m.name) p
WHERE m.type = 'table'`)
	pgCols := columns(t, pg.r, `
SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = 'public' AND table_name <> 'easgate_schema'`)
	want := map[string]string{"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea"}
	for col, typ := range liteCols {
		if got := pgCols[col]; got != want[typ] {
			t.Errorf("column %s: SQLite %s, PostgreSQL %q; want %q", col, typ, got, want[typ])
		}
	}
	if len(pgCols) != len(liteCols) || len(liteCols) == 0 {
		t.Errorf("SQLite has %d columns, PostgreSQL %d", len(liteCols), len(pgCols))
	}
}

func TestPostgresRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	url := pgServer.Database(t)
	s := openAt(t, url)
	touch(t, s, "alice", "dev1", t0)
	if _, err := s.w.ExecContext(ctx, "UPDATE easgate_schema SET version = version + 1"); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, url)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database from a newer build succeeded")
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open error = %v, want ErrNewerSchema", err)
	}
	if _, err := s.Device(ctx, "alice", "dev1"); err != nil {
		t.Errorf("device lost after refused Open: %v", err)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/easgate/easgate.db", "/var/lib/easgate/easgate.db"},
		{"postgres://easgate:s3cret@db:5432/easgate?sslmode=require", "postgres://easgate:xxxxx@db:5432/easgate?sslmode=require"},
		{"postgresql://db/easgate", "postgresql://db/easgate"},
		{"postgres://db/easgate?password=s3cret&sslmode=verify-full", "postgres://db/easgate?password=xxxxx&sslmode=verify-full"},
		{"postgres://u:p@[::1/x", "postgres://(unparsable URL)"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	// Nothing listens on port 1.
	_, err := Open(t.Context(), "postgres://easgate:s3cret@127.0.0.1:1/easgate?connect_timeout=5")
	if err == nil {
		t.Fatal("Open of an unreachable database succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open error shows the password: %v", err)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Open error = %v, want ErrUnavailable", err)
	}
	_, err = Open(t.Context(), "postgres://easgate:s3cret@127.0.0.1:x/easgate")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of a bad URL = %v; want an error without the password", err)
	}
}

// TestPostgresDownAndBack stops the server under an open store: every
// operation must fail with ErrUnavailable (which eas answers with 503 and
// Retry-After), and the store must work again once the server is back,
// without being reopened.
func TestPostgresDownAndBack(t *testing.T) {
	srv := pgtest.New(t)
	s := openAt(t, srv.Database(t))
	touch(t, s, "alice", "dev1", t0)
	if err := s.PutCollectionState(t.Context(), "alice", "dev1", "1", []byte("before")); err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"Device", func(ctx context.Context) error { _, err := s.Device(ctx, "alice", "dev1"); return err }},
		{"Devices", func(ctx context.Context) error { _, err := s.Devices(ctx); return err }},
		{"TouchDevice", func(ctx context.Context) error {
			return s.TouchDevice(ctx, eas.DeviceSeen{User: "alice", DeviceID: "dev1", Command: "Sync", At: t0})
		}},
		{"CollectionState", func(ctx context.Context) error {
			_, err := s.CollectionState(ctx, "alice", "dev1", "1")
			return err
		}},
		{"PutCollectionState", func(ctx context.Context) error {
			return s.PutCollectionState(ctx, "alice", "dev1", "1", []byte("after"))
		}},
		{"MarkSent", func(ctx context.Context) error { _, err := s.MarkSent(ctx, "alice", "dev1", "c1", t0); return err }},
		{"SaveFolderIDs", func(ctx context.Context) error {
			return s.SaveFolderIDs(ctx, "alice", []eas.FolderID{{ID: "1", Path: "INBOX"}})
		}},
		{"LockDevice", func(ctx context.Context) error {
			unlock, err := s.LockDevice(ctx, "alice", "dev1")
			if err == nil {
				unlock()
			}
			return err
		}},
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err := op.do(ctx)
		cancel()
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, eas.ErrUnavailable) {
			t.Errorf("%s with the server down = %v; want ErrUnavailable and eas.ErrUnavailable", op.name, err)
		}
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		// A connection broken by the restart may still be handed out
		// once; the pool must replace it without help.
		if err := retry(t, op.do); err != nil {
			t.Errorf("%s after the server came back: %v", op.name, err)
		}
	}
	if got, err := s.CollectionState(t.Context(), "alice", "dev1", "1"); err != nil || string(got) != "after" {
		t.Errorf("state after restart = %q, %v; want after", got, err)
	}
}

// retry runs op until it succeeds or a minute passes, and returns its last
// error.
func retry(t *testing.T, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		err := op(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLockDeviceAcrossNodes holds a device's lock in one store and checks
// that a second store on the same database (another node) waits for it,
// that other devices are free, and that the lock of a node whose
// connection dies is released.
func TestLockDeviceAcrossNodes(t *testing.T) {
	url := pgServer.Database(t)
	a, b := openAt(t, url), openAt(t, url)
	ctx := t.Context()
	unlock, err := a.LockDevice(ctx, "alice", "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if err := lockedFor(b, "alice", "dev1"); err != nil {
		t.Fatal(err)
	}
	if u, err := b.LockDevice(ctx, "alice", "dev2"); err != nil {
		t.Fatalf("another device: %v", err)
	} else {
		u()
	}
	unlock()
	unlock() // harmless
	u, err := b.LockDevice(ctx, "alice", "dev1")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}

	// b's node dies while holding the lock: its session ends.
	var pid int
	err = a.r.QueryRowContext(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1`).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.w.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if _, err := lockAndRelease(a, "alice", "dev1"); err != nil {
		t.Errorf("lock of a dead session not released: %v", err)
	}
	u() // unlocking over the dead connection must not panic or hang
	if _, err := lockAndRelease(b, "alice", "dev1"); err != nil {
		t.Errorf("the node whose session died cannot lock again: %v", err)
	}
}

func TestLockDevice(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		unlock, err := s.LockDevice(ctx, "alice", "dev1")
		if err != nil {
			t.Fatal(err)
		}
		if err := lockedFor(s, "alice", "dev1"); err != nil {
			t.Fatal(err)
		}
		for _, other := range [][2]string{{"alice", "dev2"}, {"bob", "dev1"}} {
			if _, err := lockAndRelease(s, other[0], other[1]); err != nil {
				t.Errorf("device %v: %v", other, err)
			}
		}
		// A waiter gets the lock as soon as it is released.
		got := make(chan error, 1)
		go func() { _, err := lockAndRelease(s, "alice", "dev1"); got <- err }()
		unlock()
		if err := <-got; err != nil {
			t.Errorf("waiter: %v", err)
		}
		if _, err := s.LockDevice(ctx, "", "dev1"); err == nil {
			t.Error("LockDevice with an empty user succeeded")
		}
	})
}

// lockedFor checks that the device's lock cannot be had from s for a
// moment.
func lockedFor(s *Store, user, deviceID string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	unlock, err := s.LockDevice(ctx, user, deviceID)
	if err == nil {
		unlock()
		return fmt.Errorf("device %s/%s locked twice", user, deviceID)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("waiting for a held lock: %v, want the context's error", err)
	}
	return nil
}

func lockAndRelease(s *Store, user, deviceID string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	unlock, err := s.LockDevice(ctx, user, deviceID)
	if err != nil {
		return false, err
	}
	unlock()
	return true, nil
}

// TestSQLiteFilesArePrivate checks that the database and its WAL and
// shared-memory files are readable by their owner only, also for a file
// an older easgate created world-readable.
func TestSQLiteFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	s, err := Open(t.Context(), old)
	if err != nil {
		t.Fatal(err)
	}
	touch(t, s, "alice", "dev1", t0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := chmodAll(old, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		deny os.FileMode // permission bits that must be off
	}{
		{filepath.Join(dir, "new.db"), 0o077},
		// Group access to an existing file may be deliberate (a backup
		// group); world access is not.
		{old, 0o007},
	}
	for _, tt := range tests {
		path := tt.path
		s := openAt(t, path)
		touch(t, s, "alice", "dev2", t0)
		files, _ := filepath.Glob(path + "*")
		sort.Strings(files)
		if len(files) != 3 {
			t.Errorf("files of %s: %v; want the database, -shm and -wal", path, files)
		}
		for _, f := range files {
			if mode := fileMode(t, f); mode&tt.deny != 0 {
				t.Errorf("%s has mode %v, want none of %v", f, mode, tt.deny)
			}
		}
	}
}

func chmodAll(path string, mode os.FileMode) error {
	files, err := filepath.Glob(path + "*")
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Chmod(f, mode); err != nil {
			return err
		}
	}
	return nil
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestConcurrentFolderMapSaves replaces one user's folder map from many
// requests on two nodes at once: each replacement must land whole.
func TestConcurrentFolderMapSaves(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		stores := []*Store{s}
		if s.d.postgres {
			var name string
			if err := s.r.QueryRowContext(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
				t.Fatal(err)
			}
			stores = append(stores, openAt(t, pgServer.URL(name)))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for w := range 10 {
			st := stores[w%len(stores)]
			wg.Go(func() {
				for i := range 10 {
					ids := []eas.FolderID{{ID: "1", Path: "INBOX", Stamp: fmt.Sprint(w, i)}, {ID: fmt.Sprint(w + 2), Path: fmt.Sprint("F", w)}}
					if err := st.SaveFolderIDs(t.Context(), "alice", ids); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		ids, err := s.FolderIDs(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 2 || fmt.Sprint("F", mustAtoi(t, ids[1].ID)-2) != ids[1].Path {
			t.Errorf("folder map mixes two saves: %v", ids)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPostgresConnectTimeout(t *testing.T) {
	tests := []struct {
		url  string
		want time.Duration
	}{
		{"postgres://db/easgate", pgConnectTimeout},
		{"postgres://db/easgate?connect_timeout=3", 3 * time.Second},
	}
	for _, tt := range tests {
		cfg, err := pgConfig(tt.url)
		if err != nil {
			t.Errorf("pgConfig(%q): %v", tt.url, err)
		} else if cfg.ConnectTimeout != tt.want {
			t.Errorf("pgConfig(%q): connect timeout %v, want %v", tt.url, cfg.ConnectTimeout, tt.want)
		}
	}
}
