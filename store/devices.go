package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/easgate/easgate/eas"
)

const deviceColumns = `username, device_id, device_type, protocol, user_agent,
	first_seen, last_seen, last_command, requests,
	info_model, info_imei, info_friendly_name, info_os, info_os_language,
	info_phone_number, info_user_agent, info_mobile_operator, info_enable_outbound_sms,
	pending_policy_key, policy_key,
	wipe_requested, wipe_account_only, wipe_requested_at, wipe_acked_at, wipe_ack_status,
	trace, last_error, last_error_at`

type scanner interface {
	Scan(dest ...any) error
}

func scanDevice(row scanner) (eas.Device, error) {
	var (
		d                                     eas.Device
		firstSeen, lastSeen, lastErrorAt      sql.NullInt64
		wipeRequestedAt, wipeAckedAt          sql.NullInt64
		pendingKey, policyKey, requests       int64
		wipeRequested, accountOnly, traceFlag int64
	)
	err := row.Scan(&d.User, &d.ID, &d.Type, &d.Protocol, &d.UserAgent,
		&firstSeen, &lastSeen, &d.LastCommand, &requests,
		&d.Info.Model, &d.Info.IMEI, &d.Info.FriendlyName, &d.Info.OS, &d.Info.OSLanguage,
		&d.Info.PhoneNumber, &d.Info.UserAgent, &d.Info.MobileOperator, &d.Info.EnableOutbound,
		&pendingKey, &policyKey,
		&wipeRequested, &accountOnly, &wipeRequestedAt, &wipeAckedAt, &d.Wipe.AckStatus,
		&traceFlag, &d.LastError, &lastErrorAt)
	if err != nil {
		return eas.Device{}, err
	}
	d.FirstSeen = fromMillis(firstSeen)
	d.LastSeen = fromMillis(lastSeen)
	// The schema's CHECK constraints keep both keys within uint32.
	d.PendingPolicyKey = uint32(pendingKey)
	d.PolicyKey = uint32(policyKey)
	// The schema's CHECK keeps the count from going negative.
	d.Requests = uint64(requests)
	d.Wipe.Requested = wipeRequested != 0
	d.Wipe.AccountOnly = accountOnly != 0
	d.Wipe.RequestedAt = fromMillis(wipeRequestedAt)
	d.Wipe.AckedAt = fromMillis(wipeAckedAt)
	d.Trace = traceFlag != 0
	d.LastErrorAt = fromMillis(lastErrorAt)
	return d, nil
}

// Device returns one device, or an error wrapping eas.ErrNotFound.
func (s *Store) Device(ctx context.Context, user, deviceID string) (*eas.Device, error) {
	row := s.r.QueryRowContext(ctx,
		s.q(`SELECT `+deviceColumns+` FROM devices WHERE username = ? AND device_id = ?`),
		user, deviceID)
	d, err := scanDevice(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.fail("store: %w", deviceNotFound(user, deviceID))
	}
	if err != nil {
		return nil, s.fail("store: read device %q of user %q: %w", deviceID, user, err)
	}
	return &d, nil
}

// Devices lists every device, ordered by user then device id.
func (s *Store) Devices(ctx context.Context) ([]eas.Device, error) {
	rows, err := s.r.QueryContext(ctx,
		s.q(`SELECT `+deviceColumns+` FROM devices ORDER BY username, device_id`))
	if err != nil {
		return nil, s.fail("store: list devices: %w", err)
	}
	defer rows.Close()
	var out []eas.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, s.fail("store: list devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("store: list devices: %w", err)
	}
	return out, nil
}

// Users lists the accounts that have a device, each once, in order. A
// new process learns from it whom it serves before their phones return.
func (s *Store) Users(ctx context.Context) ([]string, error) {
	users, err := s.readStrings(ctx, `SELECT DISTINCT username FROM devices ORDER BY username`)
	if err != nil {
		return nil, s.fail("store: list users: %w", err)
	}
	return users, nil
}

// touchQuery records a request: it creates the device on its first one,
// and on an existing device updates only the request bookkeeping; policy,
// wipe, trace and error state are left alone. The request count goes up in
// the same statement, so that concurrent requests, on any node, each count
// once.
const touchQuery = `
INSERT INTO devices (username, device_id, device_type, user_agent, protocol, last_command, first_seen, last_seen, requests)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
ON CONFLICT (username, device_id) DO UPDATE SET
	device_type  = excluded.device_type,
	user_agent   = excluded.user_agent,
	protocol     = excluded.protocol,
	last_command = excluded.last_command,
	last_seen    = excluded.last_seen,
	requests     = devices.requests + 1`

func touchArgs(seen eas.DeviceSeen) []any {
	at := millis(seen.At)
	return []any{seen.User, seen.DeviceID, seen.DeviceType, seen.UserAgent, seen.Protocol, seen.Command, at, at}
}

// TouchDevice records a request, creating the device on its first one.
func (s *Store) TouchDevice(ctx context.Context, seen eas.DeviceSeen) error {
	if err := checkKey(seen.User, seen.DeviceID); err != nil {
		return s.fail("store: touch device: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, s.q(touchQuery), touchArgs(seen)...); err != nil {
		return s.fail("store: touch device %q of user %q: %w", seen.DeviceID, seen.User, err)
	}
	return nil
}

// RecordRequest is TouchDevice returning the device as the statement left
// it (eas.RequestRecorder): its Requests is this request's own count.
func (s *Store) RecordRequest(ctx context.Context, seen eas.DeviceSeen) (*eas.Device, error) {
	if err := checkKey(seen.User, seen.DeviceID); err != nil {
		return nil, s.fail("store: record request: %w", err)
	}
	row := s.w.QueryRowContext(ctx, s.q(touchQuery+`
RETURNING `+deviceColumns), touchArgs(seen)...)
	d, err := scanDevice(row)
	if err != nil {
		return nil, s.fail("store: record request of device %q of user %q: %w", seen.DeviceID, seen.User, err)
	}
	return &d, nil
}

// updateDevice runs a single-row UPDATE of devices; the statement's last
// two parameters must be the user and device id.
func (s *Store) updateDevice(ctx context.Context, what, user, deviceID, query string, args ...any) error {
	res, err := s.w.ExecContext(ctx, s.q(query), append(args, user, deviceID)...)
	if err == nil {
		err = mustAffect(res, user, deviceID)
	}
	if err != nil {
		return s.fail("store: %s: %w", what, err)
	}
	return nil
}

// SetDeviceInfo stores what Settings or Provision DeviceInformation sent,
// replacing all earlier values.
func (s *Store) SetDeviceInfo(ctx context.Context, user, deviceID string, info eas.DeviceInfo) error {
	return s.updateDevice(ctx, "set device info", user, deviceID, `
UPDATE devices SET
	info_model = ?, info_imei = ?, info_friendly_name = ?, info_os = ?, info_os_language = ?,
	info_phone_number = ?, info_user_agent = ?, info_mobile_operator = ?, info_enable_outbound_sms = ?
WHERE username = ? AND device_id = ?`,
		info.Model, info.IMEI, info.FriendlyName, info.OS, info.OSLanguage,
		info.PhoneNumber, info.UserAgent, info.MobileOperator, info.EnableOutbound)
}

// SetPolicyKeys stores the pending (phase one) and final policy keys.
func (s *Store) SetPolicyKeys(ctx context.Context, user, deviceID string, pending, final uint32) error {
	return s.updateDevice(ctx, "set policy keys", user, deviceID,
		`UPDATE devices SET pending_policy_key = ?, policy_key = ? WHERE username = ? AND device_id = ?`,
		int64(pending), int64(final))
}

// RequestWipe marks the device for remote wipe; an earlier acknowledgement
// is cleared because it answered an earlier request.
func (s *Store) RequestWipe(ctx context.Context, user, deviceID string, accountOnly bool, at time.Time) error {
	return s.updateDevice(ctx, "request wipe", user, deviceID, `
UPDATE devices SET
	wipe_requested = 1, wipe_account_only = ?, wipe_requested_at = ?,
	wipe_acked_at = NULL, wipe_ack_status = 0
WHERE username = ? AND device_id = ?`,
		b2i(accountOnly), millis(at))
}

// AckWipe records the device's answer to a wipe. The request's kind and
// time are kept so the admin API can show what was acknowledged.
func (s *Store) AckWipe(ctx context.Context, user, deviceID string, status int, at time.Time) error {
	return s.updateDevice(ctx, "acknowledge wipe", user, deviceID, `
UPDATE devices SET wipe_requested = 0, wipe_acked_at = ?, wipe_ack_status = ?
WHERE username = ? AND device_id = ?`,
		millis(at), status)
}

// SetTrace switches request/response tracing for the device.
func (s *Store) SetTrace(ctx context.Context, user, deviceID string, on bool) error {
	return s.updateDevice(ctx, "set trace", user, deviceID,
		`UPDATE devices SET trace = ? WHERE username = ? AND device_id = ?`, b2i(on))
}

// RecordError remembers the device's latest item-level problem.
func (s *Store) RecordError(ctx context.Context, user, deviceID, msg string, at time.Time) error {
	return s.updateDevice(ctx, "record error", user, deviceID,
		`UPDATE devices SET last_error = ?, last_error_at = ? WHERE username = ? AND device_id = ?`,
		msg, millis(at))
}

// ResetDevice forgets the device's sync state so that its next request
// starts over with FolderSync 0. The device row (policy keys, wipe state,
// trace) and the user's folder map stay. So do the sent ClientIds: a phone
// that retries a ComposeMail after the reset must still not send the
// message twice.
func (s *Store) ResetDevice(ctx context.Context, user, deviceID string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.deviceExists(ctx, tx, user, deviceID); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM device_states WHERE username = ? AND device_id = ?`,
			`DELETE FROM collection_states WHERE username = ? AND device_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), user, deviceID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("store: reset device %q of user %q: %w", deviceID, user, err)
	}
	return nil
}

// DeleteDevice forgets the device and, through the schema's cascades, all
// its state. An unknown device is an error wrapping eas.ErrNotFound.
func (s *Store) DeleteDevice(ctx context.Context, user, deviceID string) error {
	return s.updateDevice(ctx, "delete device", user, deviceID,
		`DELETE FROM devices WHERE username = ? AND device_id = ?`)
}

func (s *Store) deviceExists(ctx context.Context, tx *sql.Tx, user, deviceID string) error {
	var one int
	err := tx.QueryRowContext(ctx,
		s.q(`SELECT 1 FROM devices WHERE username = ? AND device_id = ?`), user, deviceID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return deviceNotFound(user, deviceID)
	}
	return err
}
