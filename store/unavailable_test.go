package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"github.com/easgate/easgate/eas"
)

func TestUnavailableClassification(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"server starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"sqlite busy", sqlite3.Error{Code: sqlite3.ErrBusy}, true},
		{"sqlite constraint", sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"bad connection", driver.ErrBadConn, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"caller gave up", context.Canceled, false},
		{"deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), false},
		{"not found", eas.ErrNotFound, false},
		{"plain", errors.New("empty user"), false},
	}
	for _, tt := range tests {
		err := markUnavailable(fmt.Errorf("store: op: %w", tt.err))
		if got := errors.Is(err, ErrUnavailable); got != tt.want {
			t.Errorf("%s: errors.Is(ErrUnavailable) = %v, want %v", tt.name, got, tt.want)
		}
		if got := errors.Is(err, eas.ErrUnavailable); got != tt.want {
			t.Errorf("%s: errors.Is(eas.ErrUnavailable) = %v, want %v", tt.name, got, tt.want)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: the cause is lost", tt.name)
		}
	}
}
