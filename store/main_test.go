package store

import (
	"fmt"
	"os"
	"testing"

	"github.com/easgate/easgate/store/pgtest"
)

// pgServer is the PostgreSQL cluster the tests of this package share; each
// test gets a database of its own on it.
var pgServer *pgtest.Server

func TestMain(m *testing.M) {
	srv, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pgServer = srv
	code := m.Run()
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	os.Exit(code)
}

// backends are the databases every store test runs against.
var backends = []struct {
	name string
	open func(testing.TB) *Store
}{
	{"sqlite", openTest},
	{"postgres", openPostgresTest},
}

// openPostgresTest opens a store on a fresh PostgreSQL database.
func openPostgresTest(t testing.TB) *Store {
	t.Helper()
	return openAt(t, pgServer.Database(t))
}

// eachBackend runs fn as a subtest per backend, each with a new store.
func eachBackend(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}
