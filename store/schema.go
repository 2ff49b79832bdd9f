package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrNewerSchema is returned by Open for a database whose schema version is
// higher than this build knows: it was written by a newer easgate.
var ErrNewerSchema = errors.New("store: database schema is newer than this build")

// migration is one step of the schema's history. Steps are never edited
// once released: a change to the schema is a new step at the end, because
// existing databases have already run the old ones.
type migration struct {
	name string
	sql  string
}

// migrations is the schema's history; the schema version of a database
// (PRAGMA user_version in SQLite, table easgate_schema in PostgreSQL) is
// the number of steps applied to it. The text is SQLite's; dialect.ddl
// adapts it to PostgreSQL, so both databases follow one schema.
//
// Conventions: times are unix milliseconds UTC, NULL for the zero time;
// booleans are 0/1; every device-scoped table is keyed by (username,
// device_id) and cascades from devices, so deleting a device leaves
// nothing behind.
func migrations() []migration {
	return []migration{
		{
			name: "devices, folder ids and sync state",
			sql: `
CREATE TABLE devices (
	username                 TEXT    NOT NULL,
	device_id                TEXT    NOT NULL,
	device_type              TEXT    NOT NULL DEFAULT '',
	protocol                 TEXT    NOT NULL DEFAULT '',
	user_agent               TEXT    NOT NULL DEFAULT '',
	first_seen               INTEGER,
	last_seen                INTEGER,
	last_command             TEXT    NOT NULL DEFAULT '',
	info_model               TEXT    NOT NULL DEFAULT '',
	info_imei                TEXT    NOT NULL DEFAULT '',
	info_friendly_name       TEXT    NOT NULL DEFAULT '',
	info_os                  TEXT    NOT NULL DEFAULT '',
	info_os_language         TEXT    NOT NULL DEFAULT '',
	info_phone_number        TEXT    NOT NULL DEFAULT '',
	info_user_agent          TEXT    NOT NULL DEFAULT '',
	info_mobile_operator     TEXT    NOT NULL DEFAULT '',
	info_enable_outbound_sms TEXT    NOT NULL DEFAULT '',
	pending_policy_key       INTEGER NOT NULL DEFAULT 0 CHECK (pending_policy_key BETWEEN 0 AND 4294967295),
	policy_key               INTEGER NOT NULL DEFAULT 0 CHECK (policy_key BETWEEN 0 AND 4294967295),
	wipe_requested           INTEGER NOT NULL DEFAULT 0 CHECK (wipe_requested IN (0, 1)),
	wipe_account_only        INTEGER NOT NULL DEFAULT 0 CHECK (wipe_account_only IN (0, 1)),
	wipe_requested_at        INTEGER,
	wipe_acked_at            INTEGER,
	wipe_ack_status          INTEGER NOT NULL DEFAULT 0,
	trace                    INTEGER NOT NULL DEFAULT 0 CHECK (trace IN (0, 1)),
	last_error               TEXT    NOT NULL DEFAULT '',
	last_error_at            INTEGER,
	PRIMARY KEY (username, device_id)
) STRICT;

-- The folder id map is per user, not per device, so that every phone of
-- the user sees the same ServerIds. position keeps the caller's order.
CREATE TABLE folder_ids (
	username  TEXT    NOT NULL,
	folder_id TEXT    NOT NULL,
	position  INTEGER NOT NULL,
	path      TEXT    NOT NULL,
	stamp     TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (username, folder_id),
	UNIQUE (username, position)
) STRICT;

-- last_id survives the deletion of every folder, so ids are never reused.
CREATE TABLE folder_id_counters (
	username TEXT    NOT NULL PRIMARY KEY,
	last_id  INTEGER NOT NULL CHECK (last_id >= 0)
) STRICT;

CREATE TABLE device_states (
	username  TEXT NOT NULL,
	device_id TEXT NOT NULL,
	kind      TEXT NOT NULL,
	data      BLOB NOT NULL,
	PRIMARY KEY (username, device_id, kind),
	FOREIGN KEY (username, device_id) REFERENCES devices (username, device_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE collection_states (
	username      TEXT NOT NULL,
	device_id     TEXT NOT NULL,
	collection_id TEXT NOT NULL,
	data          BLOB NOT NULL,
	PRIMARY KEY (username, device_id, collection_id),
	FOREIGN KEY (username, device_id) REFERENCES devices (username, device_id) ON DELETE CASCADE
) STRICT;
`,
		},
		{
			name: "sent ClientIds",
			sql: `
CREATE TABLE sent_client_ids (
	username  TEXT    NOT NULL,
	device_id TEXT    NOT NULL,
	client_id TEXT    NOT NULL,
	sent_at   INTEGER NOT NULL,
	PRIMARY KEY (username, device_id, client_id),
	FOREIGN KEY (username, device_id) REFERENCES devices (username, device_id) ON DELETE CASCADE
) STRICT;

-- Pruning deletes by age across all devices.
CREATE INDEX sent_client_ids_sent_at ON sent_client_ids (sent_at);
`,
		},
		{
			// A node checks the count against the one a prefetched Sync
			// window was computed for: any request in between, on any
			// node, makes the window stale.
			name: "device request count",
			sql: `
ALTER TABLE devices ADD COLUMN requests INTEGER NOT NULL DEFAULT 0 CHECK (requests >= 0);
`,
		},
	}
}

// migrate applies the steps db has not run yet, each in its own
// transaction together with the new version number, so that a crash leaves
// the database at a well-defined version. The version is read inside the
// transaction, under the dialect's lock (see schemaVersion), so that two
// processes opening the same database at once cannot both apply a step.
func migrate(ctx context.Context, db *sql.DB, d dialect, steps []migration) error {
	for {
		done, err := migrateStep(ctx, db, d, steps)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func migrateStep(ctx context.Context, db *sql.DB, d dialect, steps []migration) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	v, err := d.schemaVersion(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("migrate: read schema version: %w", err)
	}
	switch {
	case v > len(steps):
		return false, fmt.Errorf("migrate: schema version %d, this build knows up to %d: %w", v, len(steps), ErrNewerSchema)
	case v < 0:
		return false, fmt.Errorf("migrate: invalid schema version %d", v)
	case v == len(steps):
		return true, rollback(tx)
	}
	step := steps[v]
	if _, err := tx.ExecContext(ctx, d.ddl(step.sql)); err != nil {
		return false, fmt.Errorf("migrate: step %d (%s): %w", v+1, step.name, err)
	}
	if err := d.setSchemaVersion(ctx, tx, v+1); err != nil {
		return false, fmt.Errorf("migrate: step %d (%s): set version: %w", v+1, step.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate: step %d (%s): commit: %w", v+1, step.name, err)
	}
	return false, nil
}
