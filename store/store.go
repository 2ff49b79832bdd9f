// Package store keeps easgate's per-device state in SQLite or PostgreSQL:
// devices and their policy and wipe state, each user's folder id map, and
// the opaque sync-state blobs eas hands it. *Store implements eas.Store.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/easgate/easgate/eas"
)

var _ eas.Store = (*Store)(nil)

// Store is the SQLite or PostgreSQL implementation of eas.Store. It is safe
// for concurrent use, and several processes may share one database.
//
// On SQLite it holds two pools on the same file: one writer connection and
// a pool of read-only connections. SQLite allows a single writer at a time
// whatever the number of connections, so letting many connections write
// only makes them poll each other through the busy handler, which sleeps
// in growing steps and can time out under a burst of Sync requests.
// Funnelling writes through one connection makes writers wait in
// database/sql instead, where each is handed the connection the moment it
// is free and can give up through its context, while WAL lets readers run
// alongside the writer. The writer still begins its transactions with
// BEGIN IMMEDIATE so that another process on the same file (an admin
// command, a second instance during a restart) cannot drive it into the
// deferred read-then-write upgrade that SQLite answers with SQLITE_BUSY
// without waiting.
//
// On PostgreSQL both are the same pool: the server runs writers side by
// side.
type Store struct {
	w *sql.DB
	r *sql.DB
	d dialect
	// lk holds the connections of LockDevice's advisory locks
	// (PostgreSQL only), apart from w so that held locks cannot starve
	// the store's operations of connections.
	lk *sql.DB
	// locks serializes LockDevice within this process (SQLite only).
	locks deviceLocks
	// errs counts failed operations (Errors).
	errs atomic.Uint64
	// pgcfg is how to connect for the device events' listener, node the
	// id that tells this Store's own events from other nodes' (see
	// events.go; PostgreSQL only).
	pgcfg *pgx.ConnConfig
	node  string
	// onListenError, when set, hears why listening for device events
	// failed before it is tried again.
	onListenError func(error)
	// onAccount, when set, hears the account events of other nodes
	// (accounts.go).
	onAccount func(user string, folders []string)
}

// IsPostgres reports whether location names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than an SQLite file.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Redact returns location fit for a log: a URL's password, given before
// the host or as a parameter, is replaced by xxxxx.
func Redact(location string) string {
	if !IsPostgres(location) {
		return location
	}
	u, err := url.Parse(location)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Open opens the database at location, a file path (SQLite, created if
// needed) or a postgres:// URL, and brings its schema up to date. A
// database written by a newer easgate is refused with an error wrapping
// ErrNewerSchema rather than risk misreading it.
func Open(ctx context.Context, location string) (*Store, error) {
	var (
		s   *Store
		err error
	)
	if IsPostgres(location) {
		s, err = openPostgres(ctx, location)
	} else {
		s, err = openSQLite(ctx, location)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", Redact(location), markUnavailable(err))
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := createPrivate(abs); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite3", dsn(abs, true))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	d := dialect{}
	if err := migrate(ctx, w, d, migrations()); err != nil {
		return nil, errors.Join(err, w.Close())
	}

	// The readers are opened after the migrations so that the file is
	// already in WAL mode (a persistent setting) and has its schema.
	r, err := sql.Open("sqlite3", dsn(abs, false))
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open for reading: %w", err), r.Close(), w.Close())
	}
	return &Store{w: w, r: r, d: d}, nil
}

// createPrivate makes sure the database file and SQLite's companions exist
// readable by their owner only: they hold phone numbers and IMEIs. SQLite
// creates a file with mode 0644 but gives its -wal and -shm files the mode
// of the database, so creating the database 0600 first is enough for new
// installations; older ones, created 0644, lose their world access here.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if mode := fi.Mode().Perm(); mode&0o007 != 0 {
			if err := os.Chmod(p, mode&^0o007); err != nil {
				return err
			}
		}
	}
	return nil
}

// pgConns is the PostgreSQL pool's size. Store operations are short; a few
// connections per core keep the server busy without each node of a
// cluster holding dozens of idle ones.
func pgConns() int { return max(8, 2*runtime.GOMAXPROCS(0)) }

// pgLockConns caps the connections held by LockDevice: one per device
// locked at the same moment on this node.
const pgLockConns = 64

// pgConnectTimeout bounds a connection attempt when the URL sets no
// connect_timeout.
const pgConnectTimeout = 10 * time.Second

// pgConfig parses a postgres:// URL.
func pgConfig(location string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(location)
	if err != nil {
		// pgx's parse errors repeat the URL, password included.
		return nil, errors.New("invalid PostgreSQL URL")
	}
	if cfg.ConnectTimeout == 0 {
		// A server that does not answer (a dead host, a dropped route)
		// must give a retryable error soon, not hold the request for as
		// long as its context allows, which for a Ping is an hour.
		cfg.ConnectTimeout = pgConnectTimeout
	}
	return cfg, nil
}

func openPostgres(ctx context.Context, location string) (*Store, error) {
	cfg, err := pgConfig(location)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	n := pgConns()
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	// Connections are recycled so that a failover or a server restart is
	// followed without keeping stale connections for long.
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	d := dialect{postgres: true}
	if err := migrate(ctx, db, d, migrations()); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	lk := stdlib.OpenDB(*cfg)
	lk.SetMaxOpenConns(pgLockConns)
	lk.SetMaxIdleConns(4)
	lk.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{w: db, r: db, d: d, lk: lk, pgcfg: cfg, node: newNodeID()}, nil
}

// Close closes the database. Callers must not use the Store afterwards.
func (s *Store) Close() error {
	var errs []error
	if s.lk != nil {
		if err := s.lk.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: close lock connections: %w", err))
		}
	}
	if !s.d.postgres {
		if err := s.r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: close readers: %w", err))
		}
		// SQLite recommends running optimize before closing a long-lived
		// connection: it refreshes the query planner's statistics cheaply.
		if _, err := s.w.ExecContext(context.Background(), "PRAGMA optimize"); err != nil {
			errs = append(errs, fmt.Errorf("store: optimize: %w", err))
		}
	}
	if err := s.w.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: close writer: %w", err))
	}
	return errors.Join(errs...)
}

// dsn builds the go-sqlite3 connection string for path. The "file:" URI
// form is used so that any path works: the characters URIs give a meaning
// to are percent-encoded, and SQLite decodes them again.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", "5000")
	q.Set("_synchronous", "NORMAL")
	if writer {
		q.Set("_journal_mode", "WAL")
		q.Set("_foreign_keys", "on")
		q.Set("_txlock", "immediate")
	} else {
		// Readers never write; query_only turns a mistake into an error
		// instead of a second writer contending for the lock.
		q.Set("_query_only", "on")
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	return "file:" + esc + "?" + q.Encode()
}

// write runs fn in one write transaction.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// Times are stored as unix milliseconds in UTC, NULL for the zero time.
// Integers compare correctly in SQL (pruning by age), which RFC 3339 text
// with trimmed fractional seconds does not; EAS timestamps never need
// sub-millisecond precision.
func millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}

func deviceNotFound(user, deviceID string) error {
	return fmt.Errorf("device %q of user %q: %w", deviceID, user, eas.ErrNotFound)
}

// mustAffect turns "no row matched" into ErrNotFound for the device.
func mustAffect(res sql.Result, user, deviceID string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return deviceNotFound(user, deviceID)
	}
	return nil
}

func checkKey(user, deviceID string) error {
	if user == "" {
		return errors.New("empty user")
	}
	if deviceID == "" {
		return errors.New("empty device id")
	}
	return nil
}

// fail builds a store error and counts it, unless it only says that a
// device does not exist or that the caller gave up: those are answers, not
// failures of the database. An error caused by the database being out of
// reach matches ErrUnavailable.
func (s *Store) fail(format string, args ...any) error {
	err := markUnavailable(fmt.Errorf(format, args...))
	if !errors.Is(err, eas.ErrNotFound) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		s.errs.Add(1)
	}
	return err
}

// q adapts a query written for SQLite to the store's database.
func (s *Store) q(query string) string { return s.d.rebind(query) }

// b2i stores a boolean as the schema's 0/1: PostgreSQL does not convert
// a bool parameter to an integer column by itself.
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Errors is the number of failed database operations since Open, for
// monitoring.
func (s *Store) Errors() uint64 { return s.errs.Load() }

// Ping checks that the database answers, for /healthz: an error matches
// ErrUnavailable when it is out of reach.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return s.fail("store: ping: %w", err)
	}
	return nil
}
