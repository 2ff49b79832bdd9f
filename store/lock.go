package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
	"time"
)

// LockDevice waits until no other holder has the device, locks it and
// returns the function that unlocks it; calling that more than once is
// harmless. Requests of one phone that must not interleave (two Syncs of
// the same collection, say) hold the lock for their work.
//
// On PostgreSQL the lock is a session advisory lock, so it excludes every
// node sharing the database; a node that dies releases its locks with its
// connections. Each held lock occupies a connection of a pool kept for
// locks (pgLockConns per node), so it is for a request's work, not for
// the wait of a Ping. On SQLite, which one node uses, the lock is within the
// process.
//
// A cancelled ctx ends the wait with its error.
func (s *Store) LockDevice(ctx context.Context, user, deviceID string) (unlock func(), err error) {
	if err := checkKey(user, deviceID); err != nil {
		return nil, s.fail("store: lock device: %w", err)
	}
	if !s.d.postgres {
		unlock, err := s.locks.lock(ctx, user+"\x00"+deviceID)
		if err != nil {
			return nil, s.fail("store: lock device %q of user %q: %w", deviceID, user, err)
		}
		return unlock, nil
	}
	unlock, err = s.pgLockDevice(ctx, user, deviceID)
	if err != nil {
		return nil, s.fail("store: lock device %q of user %q: %w", deviceID, user, err)
	}
	return unlock, nil
}

// deviceLockKey is the advisory lock key of a device: a 64-bit hash, in
// the one-bigint key space that the schema's two-int locks do not share.
// PostgreSQL text cannot hold NUL, so the unit separator joins the two
// names; a collision only serializes two devices needlessly.
const deviceLockKey = "hashtextextended($1 || chr(31) || $2, 0)"

func (s *Store) pgLockDevice(ctx context.Context, user, deviceID string) (func(), error) {
	conn, err := s.lk.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// discard closes the connection rather than pool it, for when it may
	// still hold the lock: only its end would release it.
	discard := func() error {
		return errors.Join(conn.Raw(func(any) error { return driver.ErrBadConn }), conn.Close())
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+deviceLockKey+")", user, deviceID); err != nil {
		// The lock may have been granted just as ctx ended.
		return nil, errors.Join(err, discard())
	}
	return sync.OnceFunc(func() {
		// The caller's context may be gone by now; the unlock must still
		// happen, but cannot wait forever on a dead server.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var released bool
		err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock("+deviceLockKey+")", user, deviceID).Scan(&released)
		if err != nil || !released {
			s.errs.Add(1)
			discard()
			return
		}
		conn.Close()
	}), nil
}

// deviceLocks is an in-process lock per key whose waits can be cancelled.
// The zero value is ready to use.
type deviceLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	held    chan struct{} // holds a token while locked
	waiters int           // holders and waiters; the entry goes at zero
}

func (l *deviceLocks) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*keyLock)
	}
	k := l.m[key]
	if k == nil {
		k = &keyLock{held: make(chan struct{}, 1)}
		l.m[key] = k
	}
	k.waiters++
	l.mu.Unlock()

	select {
	case k.held <- struct{}{}:
		return sync.OnceFunc(func() {
			<-k.held
			l.release(key, k)
		}), nil
	case <-ctx.Done():
		l.release(key, k)
		return nil, ctx.Err()
	}
}

func (l *deviceLocks) release(key string, k *keyLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.waiters--; k.waiters == 0 {
		delete(l.m, key)
	}
}
