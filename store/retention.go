package store

import (
	"context"
	"time"
)

// DeleteDevicesNotSeenSince deletes every device whose last request came
// before cutoff, with all its state, and returns how many it deleted. A
// phone that comes back later starts over as a new device (FolderSync 0,
// Provision). The users' folder maps stay: they are per user, not per
// device, and bounded by the number of folders.
func (s *Store) DeleteDevicesNotSeenSince(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM devices WHERE last_seen < ?`), cutoff.UnixMilli())
	if err != nil {
		return 0, s.fail("store: delete devices not seen since %v: %w", cutoff, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("store: delete devices not seen since %v: %w", cutoff, err)
	}
	return n, nil
}

// DevicesNotSeenSince counts the devices DeleteDevicesNotSeenSince would
// delete.
func (s *Store) DevicesNotSeenSince(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, s.q(`SELECT count(*) FROM devices WHERE last_seen < ?`), cutoff.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, s.fail("store: count devices not seen since %v: %w", cutoff, err)
	}
	return n, nil
}

// Counts returns the number of rows of each table, for monitoring that the
// state stays bounded.
func (s *Store) Counts(ctx context.Context) ([]TableCount, error) {
	out := make([]TableCount, 0, len(tables))
	for _, table := range tables {
		var n int64
		if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			return nil, s.fail("store: count rows of %s: %w", table, err)
		}
		out = append(out, TableCount{table, n})
	}
	return out, nil
}

// SweepDevices deletes, at once and then periodically until ctx ends,
// the devices not seen for retention (see DeleteDevicesNotSeenSince), and
// hands each sweep's outcome to report. It returns when ctx ends. Several
// nodes sweeping the same database is harmless: a device is deleted once.
func (s *Store) SweepDevices(ctx context.Context, retention time.Duration, report func(deleted int64, err error)) {
	t := time.NewTicker(sweepInterval(retention))
	defer t.Stop()
	for {
		n, err := s.DeleteDevicesNotSeenSince(ctx, time.Now().Add(-retention))
		if ctx.Err() != nil {
			return
		}
		report(n, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepInterval is an hour, or less for a retention under a day, so that
// devices outlive it by a small fraction at most.
func sweepInterval(retention time.Duration) time.Duration {
	return max(time.Second, min(time.Hour, retention/24))
}
