package eas

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// inflight counts the requests and the background work (prefetches) that
// still use the server's backend and store, so that Close can wait for
// them before the caller closes those.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when n drops to 0 after close
}

// enter counts one piece of work; false once the server is closing.
func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

// leave ends what enter counted.
func (f *inflight) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.closed && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// close refuses new work and returns a channel closed once nothing runs.
func (f *inflight) close() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	done := make(chan struct{})
	if f.n == 0 {
		close(done)
		return done
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	return f.idle
}

// running is how many requests and background jobs are under way.
func (f *inflight) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// Close stops taking requests and waits until the running ones and the
// server's background work are done, or ctx ends: the caller closes the
// backend and the store afterwards. Call it after http.Server.Shutdown,
// which stops the listeners; requests that arrive meanwhile get HTTP 503.
func (s *Server) Close(ctx context.Context) error {
	s.quitOnce.Do(func() {
		close(s.quit)
		// Waiting Pings and Syncs answer at once (Status 1, an empty
		// Sync): the phones come back, to another node if there is one.
		if s.devices != nil {
			s.devices.close()
		}
		if s.stopWatching != nil {
			s.stopWatching()
		}
	})
	select {
	case <-s.inflight.close():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("eas: %d requests or background jobs still running: %w", s.inflight.running(), ctx.Err())
	}
}

// trackedMailbox is a mailbox handed to background work: Close ends the
// work for Server.Close.
type trackedMailbox struct {
	Mailbox
	once sync.Once
	done func()
}

func (m *trackedMailbox) Close() error {
	err := m.Mailbox.Close()
	m.once.Do(m.done)
	return err
}

// background counts mb's use outside a request until it is closed. It is
// called from within a request, which is counted itself, so Close cannot
// have seen the count at zero yet and work started now is always waited
// for.
func (s *Server) background(mb Mailbox) Mailbox {
	s.inflight.mu.Lock()
	s.inflight.n++
	s.inflight.mu.Unlock()
	return &trackedMailbox{Mailbox: mb, done: s.inflight.leave}
}

// bodyReader reads a request body against a deadline that grows with what
// arrived: BodyReadTimeout for the first bytes, then MinBodyRate. A phone
// uploading a large attachment slowly gets all the time it needs; a body
// that never comes is cut off.
type bodyReader struct {
	body     io.Reader
	rc       *http.ResponseController
	start    time.Time
	grace    time.Duration
	rate     float64 // bytes per second
	read     int64
	deadline bool
}

func (s *Server) bodyDeadline(r *request) *bodyReader {
	return &bodyReader{
		body:  r.http.Body,
		rc:    http.NewResponseController(r.w),
		start: time.Now(),
		grace: s.cfg.BodyReadTimeout,
		rate:  float64(s.cfg.MinBodyRate),
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	allowed := b.grace + time.Duration(float64(b.read)/b.rate*float64(time.Second))
	// Not every ResponseWriter supports deadlines (a recorder in tests);
	// there the body is read without one.
	if b.rc.SetReadDeadline(b.start.Add(allowed)) == nil {
		b.deadline = true
	}
	n, err := b.body.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *bodyReader) Close() error { return nil }

// done lifts the deadline once the body is read: after it the server
// reads the connection only to notice the phone hanging up, which a Ping
// must not mistake for a timeout. After a failed read the deadline stays:
// net/http drains what is left of the body before it answers, and must
// not wait for a body that does not come.
func (b *bodyReader) done(err error) {
	if b.deadline && err == nil {
		b.rc.SetReadDeadline(time.Time{})
	}
}
