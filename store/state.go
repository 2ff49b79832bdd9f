package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/easgate/easgate/eas"
)

// sentRetention is how long a ComposeMail ClientId is remembered. Phones
// retry a failed send within minutes; a week covers a phone that was
// switched off right after sending.
const sentRetention = 7 * 24 * time.Hour

// FolderIDs returns the user's folder id map in the order it was saved.
func (s *Store) FolderIDs(ctx context.Context, user string) ([]eas.FolderID, error) {
	rows, err := s.r.QueryContext(ctx,
		s.q(`SELECT folder_id, path, stamp FROM folder_ids WHERE username = ? ORDER BY position`), user)
	if err != nil {
		return nil, s.fail("store: folder ids of user %q: %w", user, err)
	}
	defer rows.Close()
	var out []eas.FolderID
	for rows.Next() {
		var f eas.FolderID
		if err := rows.Scan(&f.ID, &f.Path, &f.Stamp); err != nil {
			return nil, s.fail("store: folder ids of user %q: %w", user, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("store: folder ids of user %q: %w", user, err)
	}
	return out, nil
}

// SaveFolderIDs replaces the user's folder id map. Numeric ids in the map
// also raise the user's id counter past them, so that NextFolderID cannot
// hand out an id the map already uses even if the map came from elsewhere.
func (s *Store) SaveFolderIDs(ctx context.Context, user string, ids []eas.FolderID) error {
	if user == "" {
		return errors.New("store: save folder ids: empty user")
	}
	seen := make(map[string]bool, len(ids))
	var highest uint64
	for _, f := range ids {
		if f.ID == "" {
			return s.fail("store: save folder ids of user %q: empty id for %q", user, f.Path)
		}
		if seen[f.ID] {
			return s.fail("store: save folder ids of user %q: duplicate id %q", user, f.ID)
		}
		seen[f.ID] = true
		if n, err := strconv.ParseUint(f.ID, 10, 63); err == nil && n > highest {
			highest = n
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.d.lockFolders(ctx, tx, user); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM folder_ids WHERE username = ?`), user); err != nil {
			return err
		}
		if len(ids) > 0 {
			stmt, err := tx.PrepareContext(ctx,
				s.q(`INSERT INTO folder_ids (username, folder_id, position, path, stamp) VALUES (?, ?, ?, ?, ?)`))
			if err != nil {
				return err
			}
			defer stmt.Close()
			for i, f := range ids {
				if _, err := stmt.ExecContext(ctx, user, f.ID, i, f.Path, f.Stamp); err != nil {
					return fmt.Errorf("folder %q: %w", f.ID, err)
				}
			}
		}
		if highest > 0 {
			_, err := tx.ExecContext(ctx, s.q(`
INSERT INTO folder_id_counters (username, last_id) VALUES (?, ?)
ON CONFLICT (username) DO UPDATE SET last_id = CASE
	WHEN excluded.last_id > folder_id_counters.last_id THEN excluded.last_id
	ELSE folder_id_counters.last_id END`),
				user, int64(highest))
			return err
		}
		return nil
	})
	if err != nil {
		return s.fail("store: save folder ids of user %q: %w", user, err)
	}
	return nil
}

// NextFolderID hands out the user's next folder id: "1", "2", … The
// counter is kept apart from the map, so deleting folders never makes an
// id come back.
func (s *Store) NextFolderID(ctx context.Context, user string) (string, error) {
	if user == "" {
		return "", errors.New("store: next folder id: empty user")
	}
	var id int64
	err := s.w.QueryRowContext(ctx, s.q(`
INSERT INTO folder_id_counters (username, last_id) VALUES (?, 1)
ON CONFLICT (username) DO UPDATE SET last_id = folder_id_counters.last_id + 1
RETURNING last_id`), user).Scan(&id)
	if err != nil {
		return "", s.fail("store: next folder id of user %q: %w", user, err)
	}
	return strconv.FormatInt(id, 10), nil
}

// DeviceState reads the device's blob of the given kind; (nil, nil) when
// there is none.
func (s *Store) DeviceState(ctx context.Context, user, deviceID, kind string) ([]byte, error) {
	data, err := s.readBlob(ctx,
		`SELECT data FROM device_states WHERE username = ? AND device_id = ? AND kind = ?`,
		user, deviceID, kind)
	if err != nil {
		return nil, s.fail("store: %s state of device %q of user %q: %w", kind, deviceID, user, err)
	}
	return data, nil
}

// PutDeviceState stores the device's blob of the given kind. A device the
// store does not know is an error wrapping eas.ErrNotFound: state must not
// outlive a device an administrator deleted during a request.
func (s *Store) PutDeviceState(ctx context.Context, user, deviceID, kind string, data []byte) error {
	err := s.putBlob(ctx, user, deviceID, `
INSERT INTO device_states (username, device_id, kind, data) VALUES (?, ?, ?, ?)
ON CONFLICT (username, device_id, kind) DO UPDATE SET data = excluded.data`,
		user, deviceID, kind, nonNil(data))
	if err != nil {
		return s.fail("store: put %s state of device %q of user %q: %w", kind, deviceID, user, err)
	}
	return nil
}

// CollectionState reads a collection's sync state; (nil, nil) when there is
// none.
func (s *Store) CollectionState(ctx context.Context, user, deviceID, collectionID string) ([]byte, error) {
	data, err := s.readBlob(ctx,
		`SELECT data FROM collection_states WHERE username = ? AND device_id = ? AND collection_id = ?`,
		user, deviceID, collectionID)
	if err != nil {
		return nil, s.fail("store: state of collection %q of device %q of user %q: %w", collectionID, deviceID, user, err)
	}
	return data, nil
}

// PutCollectionState stores a collection's sync state; like PutDeviceState
// it refuses a device the store does not know.
func (s *Store) PutCollectionState(ctx context.Context, user, deviceID, collectionID string, data []byte) error {
	err := s.putBlob(ctx, user, deviceID, `
INSERT INTO collection_states (username, device_id, collection_id, data) VALUES (?, ?, ?, ?)
ON CONFLICT (username, device_id, collection_id) DO UPDATE SET data = excluded.data`,
		user, deviceID, collectionID, nonNil(data))
	if err != nil {
		return s.fail("store: put state of collection %q of device %q of user %q: %w", collectionID, deviceID, user, err)
	}
	return nil
}

// DeleteCollectionState forgets a collection's sync state; deleting one
// that is not there is not an error.
func (s *Store) DeleteCollectionState(ctx context.Context, user, deviceID, collectionID string) error {
	_, err := s.w.ExecContext(ctx,
		s.q(`DELETE FROM collection_states WHERE username = ? AND device_id = ? AND collection_id = ?`),
		user, deviceID, collectionID)
	if err != nil {
		return s.fail("store: delete state of collection %q of device %q of user %q: %w", collectionID, deviceID, user, err)
	}
	return nil
}

// CollectionIDs lists, in byte order, the collections with a stored state
// for the device.
func (s *Store) CollectionIDs(ctx context.Context, user, deviceID string) ([]string, error) {
	ids, err := s.readStrings(ctx,
		`SELECT collection_id FROM collection_states WHERE username = ? AND device_id = ? ORDER BY collection_id`,
		user, deviceID)
	if err != nil {
		return nil, s.fail("store: collections of device %q of user %q: %w", deviceID, user, err)
	}
	return ids, nil
}

// readStrings returns the rows of a query of one text column; the caller
// wraps its error.
func (s *Store) readStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// MarkSent records a ComposeMail ClientId and reports whether it is new for
// the device. Ids older than sentRetention (measured from at) are pruned
// in the same transaction; the age index makes that cheap enough to do on
// every call rather than from a timer.
func (s *Store) MarkSent(ctx context.Context, user, deviceID, clientID string, at time.Time) (bool, error) {
	// An empty id would make every later message without one look like a
	// retry, and dropping those would lose mail.
	if clientID == "" {
		return false, s.fail("store: mark sent for device %q of user %q: empty ClientId", deviceID, user)
	}
	var first bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM sent_client_ids WHERE sent_at < ?`),
			at.Add(-sentRetention).UnixMilli()); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		res, err := tx.ExecContext(ctx, s.q(`
INSERT INTO sent_client_ids (username, device_id, client_id, sent_at) VALUES (?, ?, ?, ?)
ON CONFLICT (username, device_id, client_id) DO NOTHING`),
			user, deviceID, clientID, at.UnixMilli())
		if isForeignKeyViolation(err) {
			return deviceNotFound(user, deviceID)
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("rows affected: %w", err)
		}
		first = n == 1
		return nil
	})
	if err != nil {
		return false, s.fail("store: mark ClientId %q sent for device %q of user %q: %w", clientID, deviceID, user, err)
	}
	return first, nil
}

// SentBefore implements eas.Store.
func (s *Store) SentBefore(ctx context.Context, user, deviceID, clientID string, since time.Time) (bool, error) {
	var n int
	err := s.r.QueryRowContext(ctx, s.q(`
SELECT count(*) FROM sent_client_ids
WHERE username = ? AND device_id = ? AND client_id = ? AND sent_at >= ?`),
		user, deviceID, clientID, since.UnixMilli()).Scan(&n)
	if err != nil {
		return false, s.fail("store: look up ClientId %q of device %q of user %q: %w", clientID, deviceID, user, err)
	}
	return n > 0, nil
}

func (s *Store) readBlob(ctx context.Context, query string, args ...any) ([]byte, error) {
	var data []byte
	err := s.r.QueryRowContext(ctx, s.q(query), args...).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A stored empty state is still a state: keep it distinct from absent.
	return nonNil(data), nil
}

func (s *Store) putBlob(ctx context.Context, user, deviceID, query string, args ...any) error {
	_, err := s.w.ExecContext(ctx, s.q(query), args...)
	if isForeignKeyViolation(err) {
		return deviceNotFound(user, deviceID)
	}
	return err
}

// nonNil makes an empty state a zero-length blob: the driver would store a
// nil slice as NULL, which the schema refuses and a read could not tell
// from an absent state.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
