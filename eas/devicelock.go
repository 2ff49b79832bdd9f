package eas

import (
	"context"
	"sync"
)

type deviceKey struct{ user, device string }

// deviceLocks serialise the requests of one device, so that two requests
// never interleave their reads and writes of the device's sync state, and
// let a new Ping or Sync end the device's waiting request at once.
type deviceLocks struct {
	mu    sync.Mutex
	slots map[deviceKey]*deviceSlot
	// closed: the server is closing, a wait ends as soon as it begins.
	closed bool
}

type deviceSlot struct {
	// sem holds one token; whoever holds it owns the device's state.
	sem chan struct{}
	// refs counts the requests that hold or await the lock, and those
	// that track the device.
	refs int
	// wake is closed to end the device's current waiting request, whose
	// number (DeviceEvent.Request) is waiter.
	wake   chan struct{}
	waiter uint64
	// newest is the highest request number that superseded while the
	// slot lived: a request older than it that comes to wait only later
	// (it was still working, or waiting for the device) ends at once.
	newest uint64
}

// supersedes reports whether a newer request than request waits already,
// or superseded while the slot lived: request then has no wait.
func (s *deviceSlot) supersedes(request uint64) bool {
	if request == 0 {
		return false
	}
	return s.newest > request || (s.wake != nil && s.waiter > request)
}

// ends reports whether request ends a wait numbered waiting: requests
// without a number end any wait, and waits without one end on any request,
// as do older ones.
func ends(request, waiting uint64) bool {
	return request == 0 || waiting == 0 || request > waiting
}

func newDeviceLocks() *deviceLocks {
	return &deviceLocks{slots: map[deviceKey]*deviceSlot{}}
}

func (l *deviceLocks) slot(k deviceKey) *deviceSlot {
	s := l.slots[k]
	if s == nil {
		s = &deviceSlot{sem: make(chan struct{}, 1)}
		l.slots[k] = s
	}
	return s
}

func (l *deviceLocks) release(k deviceKey, s *deviceSlot) {
	s.refs--
	if s.refs == 0 && s.wake == nil {
		delete(l.slots, k)
	}
}

// track keeps the device's slot, and with it the newest request that
// superseded (deviceSlot.newest), until untrack: a request that may come to
// wait tracks its device from before it is recorded, so that it learns of
// every newer request whenever that request's event comes.
func (l *deviceLocks) track(k deviceKey) (untrack func()) {
	l.mu.Lock()
	s := l.slot(k)
	s.refs++
	l.mu.Unlock()
	return sync.OnceFunc(func() {
		l.mu.Lock()
		l.release(k, s)
		l.mu.Unlock()
	})
}

// lock waits for the device to be free, or for ctx.
func (l *deviceLocks) lock(ctx context.Context, k deviceKey) (unlock func(), err error) {
	l.mu.Lock()
	s := l.slot(k)
	s.refs++
	l.mu.Unlock()
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		l.mu.Lock()
		l.release(k, s)
		l.mu.Unlock()
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.sem
			l.mu.Lock()
			l.release(k, s)
			l.mu.Unlock()
		})
	}, nil
}

// supersede ends the device's waiting request, if any, unless it is newer
// than request (see DeviceEvent.Request).
func (l *deviceLocks) supersede(k deviceKey, request uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.slots[k]
	if s == nil {
		return
	}
	s.newest = max(s.newest, request)
	if request == 0 {
		// An admin action: after a device is deleted, its numbers start
		// again from 1.
		s.newest = 0
	}
	if s.wake != nil && ends(request, s.waiter) {
		close(s.wake)
		s.wake = nil
		if s.refs == 0 {
			delete(l.slots, k)
		}
	}
}

// wait registers the caller, request number request, as the device's
// waiting request, and ends the one waiting before. The returned channel is
// closed when a newer request supersedes it, at once when one already did;
// done unregisters.
func (l *deviceLocks) wait(k deviceKey, request uint64) (woken <-chan struct{}, done func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := make(chan struct{})
	if l.closed {
		close(w)
		return w, func() {}
	}
	if s := l.slots[k]; s != nil && s.supersedes(request) {
		close(w)
		return w, func() {}
	}
	s := l.slot(k)
	if s.wake != nil {
		close(s.wake)
	}
	s.wake, s.waiter = w, request
	return w, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if cur := l.slots[k]; cur != nil && cur.wake == w {
			cur.wake = nil
			if cur.refs == 0 {
				delete(l.slots, k)
			}
		}
	}
}

// keyedMutex is a mutex per string key (per user: the folder id map).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func newKeyedMutex() *keyedMutex { return &keyedMutex{locks: map[string]*keyedEntry{}} }

func (m *keyedMutex) lock(k string) (unlock func()) {
	m.mu.Lock()
	e := m.locks[k]
	if e == nil {
		e = &keyedEntry{}
		m.locks[k] = e
	}
	e.refs++
	m.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		m.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(m.locks, k)
		}
		m.mu.Unlock()
	}
}

// wakeAll ends every waiting request (the server is closing, or events of
// other nodes may have been lost).
func (l *deviceLocks) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, s := range l.slots {
		if s.wake != nil {
			close(s.wake)
			s.wake = nil
			if s.refs == 0 {
				delete(l.slots, k)
			}
		}
	}
}

// close ends every waiting request and every one that begins from now on.
func (l *deviceLocks) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.wakeAll()
}
