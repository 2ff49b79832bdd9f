package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestServer checks that a cluster starts, hands out separate databases,
// and comes back after Stop with its data.
func TestServer(t *testing.T) {
	s := New(t)
	ctx := t.Context()
	a, b := s.Database(t), s.Database(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, a); err == nil {
		t.Fatal("connected to a stopped server")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var x int
	if err := conn.QueryRow(ctx, "SELECT x FROM t").Scan(&x); err != nil || x != 7 {
		t.Fatalf("after restart: x = %d, %v; want 7", x, err)
	}
	other, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, "SELECT x FROM t"); err == nil {
		t.Error("table of one database seen from another")
	}
}

func TestMissingInstallationFails(t *testing.T) {
	if _, err := Start(Options{BinDir: t.TempDir()}); err == nil {
		t.Fatal("Start without PostgreSQL succeeded")
	}
}

// TestReapsOrphans leaves a running cluster behind as a crashed test
// binary would, and checks that the next Start stops and removes it.
func TestReapsOrphans(t *testing.T) {
	// Not t.TempDir: under root, the postgres user must reach the
	// clusters inside, and t.TempDir's parent is private.
	parent, err := os.MkdirTemp("", "pgtest-reap-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	orphan, err := Start(Options{Dir: parent})
	if err != nil {
		t.Fatal(err)
	}
	// A pid that is surely not running: a finished child's.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.ProcessState.Pid())
	if err := os.WriteFile(filepath.Join(orphan.dir, ownerFile), []byte(dead), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{Dir: parent})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(orphan.dir); !os.IsNotExist(err) {
		t.Errorf("orphaned cluster directory still there: %v", err)
	}
	if _, err := pgx.Connect(t.Context(), orphan.URL("postgres")); err == nil {
		t.Error("orphaned cluster still accepts connections")
	}
	if _, err := os.Stat(s.dir); err != nil {
		t.Errorf("the new cluster's directory: %v", err)
	}
}
