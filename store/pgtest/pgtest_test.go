package pgtest

import (
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
