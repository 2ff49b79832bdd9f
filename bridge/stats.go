package bridge

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/easgate/easgate/eas"
)

// Stats are counters for monitoring the upstream side.
type Stats struct {
	// Connections is the number of IMAP connections open for requests
	// (in use, idle in the pool, or being dialled).
	Connections int
	// DialFailures counts connection attempts that failed for another
	// reason than refused credentials (server down, TLS, timeout).
	DialFailures uint64
}

// upstreamCounters are the Backend's cumulative counters.
type upstreamCounters struct {
	dialFailures atomic.Uint64
}

// countDial records the outcome of a connection attempt.
func (b *Backend) countDial(ctx context.Context, err error) {
	if err != nil && !errors.Is(err, eas.ErrUnauthorized) && ctx.Err() == nil {
		b.counters.dialFailures.Add(1)
	}
}

// Stats returns the Backend's counters.
func (b *Backend) Stats() Stats {
	p := b.pool
	p.mu.Lock()
	n := 0
	for _, a := range p.accounts {
		n += a.open
	}
	p.mu.Unlock()
	return Stats{Connections: n, DialFailures: b.counters.dialFailures.Load()}
}

// WatchStats are the Notifier's counters.
type WatchStats struct {
	// Watchers is the number of accounts watched; Connected those whose
	// watching connection is up.
	Watchers, Connected int
	// Reconnects counts watching connections lost and dialled again.
	Reconnects uint64
}

// Stats returns the Notifier's counters.
func (n *Notifier) Stats() WatchStats {
	n.mu.Lock()
	ws := make([]*watcher, 0, len(n.watchers))
	for _, w := range n.watchers {
		ws = append(ws, w)
	}
	n.mu.Unlock()
	s := WatchStats{Watchers: len(ws), Reconnects: n.reconnects.Load()}
	for _, w := range ws {
		if w.connected.Load() {
			s.Connected++
		}
	}
	return s
}
