package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// dialect holds every difference between the SQLite and the PostgreSQL
// store; the rest of the package is one code path. Queries are written for
// SQLite (? placeholders, the schema as released) and translated here.
type dialect struct {
	postgres bool
}

// Advisory lock keys (PostgreSQL). The two-int key space does not overlap
// the one-bigint space LockDevice uses, so classes cannot collide with
// device hashes; "easg" in ASCII marks the class as ours.
const (
	lockClassMigrate = 0x65617367
	lockClassFolders = 0x65617368
)

// rebind turns ? placeholders into PostgreSQL's $1, $2, …. No query of the
// store has a ? inside a string literal.
func (d dialect) rebind(q string) string {
	if !d.postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// pgTypes maps the schema's SQLite words to PostgreSQL's. The migrations
// keep their released SQLite text; these three words are all that differ.
// SQLite's INTEGER is 64-bit, so it becomes BIGINT (the policy key CHECKs
// go up to 2^32-1); STRICT is SQLite's type enforcement, which PostgreSQL
// always does.
var pgTypes = strings.NewReplacer(
	") STRICT;", ");",
	"INTEGER", "BIGINT",
	" BLOB ", " BYTEA ",
)

// ddl adapts a migration's text to the dialect.
func (d dialect) ddl(q string) string {
	if !d.postgres {
		return q
	}
	return pgTypes.Replace(q)
}

// schemaVersion locks the schema against other migrators for the rest of
// tx and returns its version: the number of migration steps applied.
//
// SQLite keeps the version in PRAGMA user_version and needs no lock of its
// own: the writer's transactions are BEGIN IMMEDIATE, which already
// excludes every other writer of the file. PostgreSQL keeps it in a table
// and takes a transaction-scoped advisory lock first, so nodes starting
// together on an empty database wait for each other instead of racing to
// create the same tables; a node that dies mid-step releases the lock with
// its connection.
func (d dialect) schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var v int
	if !d.postgres {
		err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
		return v, err
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, 0)", lockClassMigrate); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS easgate_schema (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
)`); err != nil {
		return 0, err
	}
	err := tx.QueryRowContext(ctx, "SELECT version FROM easgate_schema WHERE id = 1").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// setSchemaVersion records v in tx.
func (d dialect) setSchemaVersion(ctx context.Context, tx *sql.Tx, v int) error {
	if !d.postgres {
		// PRAGMA takes no bound parameters; v is an int we computed.
		_, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(v))
		return err
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO easgate_schema (id, version) VALUES (1, $1)
ON CONFLICT (id) DO UPDATE SET version = excluded.version`, v)
	return err
}

// lockFolders serializes, until tx ends, the transactions that replace a
// user's folder map. SQLite's single writer does so already; under
// PostgreSQL's READ COMMITTED two replacements would each delete the rows
// they saw and then collide on the rows the other inserted.
func (d dialect) lockFolders(ctx context.Context, tx *sql.Tx, user string) error {
	if !d.postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockClassFolders, user)
	return err
}

// isForeignKeyViolation reports whether err is the database refusing a row
// whose device does not exist.
func isForeignKeyViolation(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintForeignKey
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
