package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"github.com/easgate/easgate/eas"
)

// ErrUnavailable is wrapped by errors of operations that failed because the
// database could not be reached or is overloaded (PostgreSQL down or
// restarting, a network failure, SQLite locked by another process past the
// busy timeout). Such an operation may succeed if retried later, and the
// store needs no help to recover: broken connections are replaced by new
// ones on the next operation.
//
// The errors also match eas.ErrUnavailable, so that eas answers the phone
// with HTTP 503 and Retry-After, never with a status that makes it drop
// what it holds.
var ErrUnavailable = errors.New("store: database unavailable")

type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }
func (e *unavailableError) Is(target error) bool {
	return target == ErrUnavailable || target == eas.ErrUnavailable
}

// markUnavailable wraps err so that it matches ErrUnavailable when its
// cause says the database is out of reach.
func markUnavailable(err error) error {
	if err == nil || !isUnavailable(err) {
		return err
	}
	return &unavailableError{err}
}

func isUnavailable(err error) bool {
	// The caller gave up: that is an answer, not an outage.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 53: insufficient resources (too
		// many connections, out of memory or disk); 57P01-57P05: the
		// server shutting down, restarting or not yet accepting.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") ||
			strings.HasPrefix(pe.Code, "57P")
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || pgconn.SafeToRetry(err)
}
