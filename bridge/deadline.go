package bridge

import (
	"net"
	"sync"
	"time"
)

// limitConn is the connection imapclient reads and writes. imapclient sets
// read and write deadlines of its own (none while it waits for a response
// to begin); a command running under conn.guard has a limit besides, and
// the earlier of the two applies. Moving the limit into the past fails the
// reads and writes in progress at once, which is how a cancelled context
// ends a command: imapclient has no other way to abandon one.
type limitConn struct {
	net.Conn

	mu          sync.Mutex
	limit       time.Time // zero: none
	stopped     bool      // the limit was moved into the past for good
	read, write time.Time // imapclient's deadlines
}

func (l *limitConn) SetDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.read, l.write = t, t
	return l.apply()
}

func (l *limitConn) SetReadDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.read = t
	return l.Conn.SetReadDeadline(earlier(t, l.limit))
}

func (l *limitConn) SetWriteDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write = t
	return l.Conn.SetWriteDeadline(earlier(t, l.limit))
}

// setLimit bounds every read and write until t (zero: no bound). After
// stop it does nothing.
func (l *limitConn) setLimit(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.limit = t
		l.apply()
	}
}

// stop fails every read and write from now on.
func (l *limitConn) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	l.limit = time.Unix(1, 0)
	l.apply()
}

// expired reports whether the limit has passed.
func (l *limitConn) expired() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.limit.IsZero() && !time.Now().Before(l.limit)
}

// apply sets the underlying deadlines. The caller holds l.mu.
func (l *limitConn) apply() error {
	err := l.Conn.SetReadDeadline(earlier(l.read, l.limit))
	if werr := l.Conn.SetWriteDeadline(earlier(l.write, l.limit)); err == nil {
		err = werr
	}
	return err
}

// earlier is the earlier of two deadlines, where zero means none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
