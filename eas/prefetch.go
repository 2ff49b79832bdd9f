package eas

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Prefetching the next Sync window.
//
// A phone syncing a large folder asks for one window, decodes it, and only
// then asks for the next one, so the gateway's IMAP fetch and conversion,
// its encoding and the phone's decoding all take turns. When a Sync answer
// says MoreAvailable, the request's mailbox computes the next window in the
// background while the answer is encoded and travels, and the phone's next
// Sync takes the result instead of asking the mailbox again.
//
// The prefetched ChangeSet is the mailbox's answer to exactly the query the
// next Sync makes when it comes with the key just issued and nothing else
// happened to the device: same folder, cursor, known items (a copy of the
// state just saved), window and body options. It reflects the mailbox as it
// was a moment before the phone asked, which the cursor it carries records,
// so anything newer comes with the following Sync as it would have anyway.
// The next Sync uses it only if its key, options and window match and it
// brings no commands of its own; any other request of the device drops it,
// and so does the clock after prefetchTTL. One window per device at most.
//
// Dropping on a request only works for requests this node serves. With
// several nodes, a request on another one (a GetItemEstimate, say) never
// reaches this node's prefetches, or reaches them late by a device event,
// so the store's request count of the device decides instead: the window
// is used only by the request counted right after the one that started
// it.

// prefetchTTL bounds how long a prefetch may run and how long its result
// waits for the phone's next Sync, which normally comes within a second.
const prefetchTTL = time.Minute

// prefetchPlan is the next Sync of one collection as the device will send
// it if it takes the window just answered.
type prefetchPlan struct {
	collectionID string
	// key is the SyncKey the phone got with this answer.
	key string
	// query is what that Sync will ask the mailbox; Known is a copy.
	query SyncQuery
	// filterType stands for query.Since, which the next Sync computes
	// from its own clock.
	filterType int
	// requests is the device's request count (Device.Requests) of the
	// request that planned the prefetch.
	requests uint64
}

// matches reports whether q, asked by a Sync of the plan's collection with
// key, is the planned query.
func (p *prefetchPlan) matches(key string, q SyncQuery, filterType int) bool {
	pq := &p.query
	return p.key == key && p.filterType == filterType &&
		pq.Path == q.Path && pq.Cursor == q.Cursor && pq.Window == q.Window &&
		sameBody(pq.Body, q.Body) && knownLen(pq.Known) == knownLen(q.Known)
}

func sameBody(a, b BodyOptions) bool {
	return a.MIMESupport == b.MIMESupport && a.MIMETruncation == b.MIMETruncation &&
		a.Version == b.Version && slices.Equal(a.Preferences, b.Preferences)
}

func knownLen(k KnownItems) int {
	if k == nil {
		return 0
	}
	return k.Len()
}

// prefetch is one window being computed or waiting to be taken.
type prefetch struct {
	plan  *prefetchPlan
	done  chan struct{}
	cs    *ChangeSet // set before done is closed
	err   error
	timer *time.Timer
}

// wait returns the prefetched ChangeSet, or an error when the prefetch
// failed or ctx ended first.
func (p *prefetch) wait(ctx context.Context) (*ChangeSet, error) {
	select {
	case <-p.done:
		return p.cs, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// prefetches holds at most one prefetch per device.
type prefetches struct {
	mu      sync.Mutex
	m       map[deviceKey]*prefetch
	metrics *Metrics
}

func newPrefetches(m *Metrics) *prefetches {
	return &prefetches{m: map[deviceKey]*prefetch{}, metrics: m}
}

// start computes plan's window on mb in the background and closes mb when
// done. It replaces the device's previous prefetch.
func (ps *prefetches) start(k deviceKey, plan *prefetchPlan, mb Mailbox, log *zap.Logger) {
	p := &prefetch{plan: plan, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), prefetchTTL)
	ps.mu.Lock()
	if old := ps.m[k]; old != nil {
		old.timer.Stop()
		ps.metrics.prefetch("unused")
	}
	ps.m[k] = p
	p.timer = time.AfterFunc(prefetchTTL, func() { ps.remove(k, p) })
	ps.mu.Unlock()
	go func() {
		defer cancel()
		cs, err := mb.Changes(ctx, plan.query)
		mb.Close()
		if err != nil {
			log.Debug("prefetching the next sync window failed", zap.String("collection", plan.collectionID), zap.Error(err))
		}
		p.cs, p.err = cs, err
		close(p.done)
	}()
}

// take removes and returns the device's prefetch, nil when there is none.
// Whatever the caller does with it, it no longer waits for the device.
func (ps *prefetches) take(k deviceKey) *prefetch {
	return ps.takeBefore(k, 0)
}

// takeBefore is take for a request numbered request (DeviceEvent.Request)
// that began elsewhere: a prefetch planned by a newer request is left, as
// that request came after and the window may still be the next one.
func (ps *prefetches) takeBefore(k deviceKey, request uint64) *prefetch {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.m[k]
	if p == nil || request != 0 && p.plan != nil && p.plan.requests > request {
		return nil
	}
	delete(ps.m, k)
	p.timer.Stop()
	return p
}

func (ps *prefetches) remove(k deviceKey, p *prefetch) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m[k] == p {
		delete(ps.m, k)
		ps.metrics.prefetch("unused")
	}
}

// planPrefetch records the Sync that will follow an answer with
// MoreAvailable, for the first such collection of the request.
func (run *syncRun) planPrefetch(collectionID string, st *collectionState, q SyncQuery) {
	if run.plan != nil {
		return
	}
	q.Cursor = st.Meta.Cursor
	q.Known = knownItems(maps.Clone(st.Known))
	run.plan = &prefetchPlan{collectionID: collectionID, key: st.Meta.Key, query: q,
		filterType: st.Meta.Options.FilterType, requests: run.r.dev.Requests}
}

// startPrefetch hands the request's mailbox to the planned prefetch; the
// request must not use the mailbox afterwards. A request whose answer came
// from a prefetch itself opens one: the connection that prefetch used is
// idle in the pool again.
func (run *syncRun) startPrefetch(ctx context.Context) {
	r := run.r
	if run.plan == nil {
		return
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		r.log.Debug("no mailbox to prefetch the next sync window with", zap.Error(err))
		return
	}
	r.mbox = nil
	run.s.prefetches.start(deviceKey{r.user, r.q.DeviceID}, run.plan, run.s.background(mb), r.log)
	run.plan = nil
}

// prefetched returns the window prefetched for q, asked by a Sync of
// collectionID with key, or nil when there is none that fits (the caller
// then asks the mailbox). It waits for a prefetch still running.
func (run *syncRun) prefetched(ctx context.Context, collectionID, key string, q SyncQuery, filterType int) *ChangeSet {
	p := run.r.prefetched
	if p == nil || p.plan.collectionID != collectionID {
		return nil
	}
	run.r.prefetched = nil
	if p.plan.requests+1 != run.r.dev.Requests {
		run.r.log.Debug("another request of the device came between the prefetch and this sync",
			zap.String("collection", collectionID), zap.Uint64("planned", p.plan.requests), zap.Uint64("requests", run.r.dev.Requests))
		run.s.cfg.Metrics.prefetch("unused")
		return nil
	}
	if !p.plan.matches(key, q, filterType) {
		run.r.log.Debug("prefetched sync window does not fit the request", zap.String("collection", collectionID))
		run.s.cfg.Metrics.prefetch("unused")
		return nil
	}
	cs, err := p.wait(ctx)
	if err != nil {
		// The request asks the mailbox itself, which reports any error
		// that is not the prefetch's own.
		run.s.cfg.Metrics.prefetch("failed")
		return nil
	}
	run.s.cfg.Metrics.prefetch("used")
	return cs
}
