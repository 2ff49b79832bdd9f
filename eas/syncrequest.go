package eas

import (
	"context"
	"time"
)

// What a Sync request stands for: an empty body or a Partial one takes
// what it lacks from the device's last full request (MS-ASCMD 2.2.3.131),
// and its waiting parameters and size are checked here, before any
// collection is touched.

// Window sizes (MS-ASCMD 2.2.3.199).
const (
	defaultWindow = 100
	maxWindow     = 512
)

// Wait bounds, in minutes (MS-ASCMD 2.2.3.198).
const (
	minWaitMinutes = 1
	maxWaitMinutes = 59
)

// Request size limits (MS-ASCMD 3.1.5.10). Each command of a phone is an
// upstream round trip, so the request is refused whole before the first.
const (
	// maxSyncCommands bounds the Add, Change, Delete and Fetch elements of
	// one request (the spec's default is 200; Outlook sends up to 512 in a
	// full window).
	maxSyncCommands = 512
	// maxSyncCollections bounds the collections of one request; Status 15
	// tells the phone the limit.
	maxSyncCollections = 1000
)

const stateSyncCache = "synccache"

// syncCache is the last full Sync request of a device, for empty and
// Partial requests (MS-ASCMD 2.2.3.131). Options are not kept here: they
// persist in each collection's state.
type syncCache struct {
	Collections []cachedCollection `json:"collections"`
	Wait        int                `json:"wait,omitempty"`
	Heartbeat   int                `json:"heartbeat,omitempty"`
	WindowSize  *int               `json:"window,omitempty"`
}

type cachedCollection struct {
	ID               string `json:"id"`
	Class            string `json:"class,omitempty"`
	DeletesAsMoves   *bool  `json:"deletesAsMoves,omitempty"`
	GetChanges       *bool  `json:"getChanges,omitempty"`
	WindowSize       *int   `json:"window,omitempty"`
	ConversationMode *bool  `json:"conversationMode,omitempty"`
}

func cacheEntry(c *SyncCollection) cachedCollection {
	return cachedCollection{ID: c.CollectionID, Class: c.Class, DeletesAsMoves: c.DeletesAsMoves,
		GetChanges: c.GetChanges, WindowSize: c.WindowSize, ConversationMode: c.ConversationMode}
}

// collection is a cached collection without its SyncKey, which the
// device's state holds.
func (c cachedCollection) collection() SyncCollection {
	return SyncCollection{Class: c.Class, CollectionID: c.ID, DeletesAsMoves: c.DeletesAsMoves,
		GetChanges: c.GetChanges, WindowSize: c.WindowSize, ConversationMode: c.ConversationMode}
}

// loadSyncCache returns the device's cached Sync request; an unreadable
// cache is a missing one: the phone sends a full request after Status 13.
func (s *Server) loadSyncCache(ctx context.Context, r *request) (*syncCache, error) {
	return loadDeviceState[syncCache](ctx, s, r, stateSyncCache, "cached sync request")
}

func (s *Server) saveSyncCache(ctx context.Context, r *request, c *syncCache) error {
	return s.saveDeviceState(ctx, r, stateSyncCache, "cached sync request", c)
}

// mergedSync is what a Sync request stands for.
type mergedSync struct {
	// colls are the collections to sync; from cached on they come from the
	// cache and still lack their SyncKey.
	colls  []SyncCollection
	cached int
	// wait and heartbeat are the request's Wait and HeartbeatInterval,
	// window its WindowSize, each nil when absent.
	wait, heartbeat, window *int
	// next is the cache to store; nil keeps the stored one.
	next *syncCache
}

// mergeSyncRequest works out what req stands for, given the cached request
// (nil when there is none). empty marks a request without a body. A
// non-zero status refuses the request.
func mergeSyncRequest(req SyncRequest, empty bool, cache *syncCache) (mergedSync, int) {
	m := mergedSync{wait: req.Wait, heartbeat: req.HeartbeatInterval, window: req.WindowSize}
	switch {
	case empty || (len(req.Collections) == 0 && !req.Partial):
		if cache == nil {
			return m, SyncIncompleteRequest
		}
		if empty {
			m.wait, m.heartbeat, m.window = cachedWait(cache.Wait), cachedWait(cache.Heartbeat), cache.WindowSize
		}
		m.colls = fromCache(nil, cache.Collections)
		next := *cache
		m.next = &next
	case req.Partial:
		if cache == nil {
			return m, SyncIncompleteRequest
		}
		listed := map[string]bool{}
		for _, c := range req.Collections {
			listed[c.CollectionID] = true
		}
		var kept []cachedCollection
		for _, c := range cache.Collections {
			if !listed[c.ID] {
				kept = append(kept, c)
			}
		}
		m.colls = dedupe(req.Collections)
		m.cached = len(m.colls)
		m.colls = fromCache(m.colls, kept)
		next := *cache
		next.Collections = cacheEntries(m.colls)
		m.next = &next
		if m.wait == nil && m.heartbeat == nil {
			m.wait, m.heartbeat = cachedWait(cache.Wait), cachedWait(cache.Heartbeat)
		}
		if m.window == nil {
			m.window = cache.WindowSize
		}
	default:
		m.colls = dedupe(req.Collections)
		m.cached = len(m.colls)
		m.next = &syncCache{Collections: cacheEntries(m.colls)}
	}
	if empty {
		m.cached = 0
		m.next = nil
		return m, 0
	}
	m.next.Wait, m.next.Heartbeat, m.next.WindowSize = 0, 0, m.window
	if m.wait != nil {
		m.next.Wait = *m.wait
	}
	if m.heartbeat != nil {
		m.next.Heartbeat = *m.heartbeat
	}
	return m, 0
}

// cachedWait is a cached Wait or HeartbeatInterval, nil for none.
func cachedWait(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

func fromCache(colls []SyncCollection, cached []cachedCollection) []SyncCollection {
	for _, c := range cached {
		colls = append(colls, c.collection())
	}
	return colls
}

func cacheEntries(colls []SyncCollection) []cachedCollection {
	out := make([]cachedCollection, 0, len(colls))
	for i := range colls {
		out = append(out, cacheEntry(&colls[i]))
	}
	return out
}

// dedupe keeps the first of repeated collections.
func dedupe(cs []SyncCollection) []SyncCollection {
	seen := map[string]bool{}
	out := make([]SyncCollection, 0, len(cs))
	for _, c := range cs {
		if seen[c.CollectionID] {
			continue
		}
		seen[c.CollectionID] = true
		out = append(out, c)
	}
	return out
}

// withKeys gives the collections taken from the cache the device's
// current keys.
func (s *Server) withKeys(ctx context.Context, r *request, colls []SyncCollection) error {
	for i := range colls {
		meta, err := s.loadCollectionMeta(ctx, r.user, r.q.DeviceID, colls[i].CollectionID)
		if err != nil {
			return err
		}
		if meta != nil {
			colls[i].SyncKey = meta.Key
		}
	}
	return nil
}

// waitDuration checks the request's Wait or HeartbeatInterval against the
// bounds (heartbeats in [lo, hi]) and returns how long a request with
// nothing to answer is held; a non-nil reply refuses the request.
func waitDuration(m mergedSync, lo, hi time.Duration) (time.Duration, *reply) {
	switch {
	case m.wait != nil && m.heartbeat != nil:
		return 0, syncStatus(SyncProtocolError)
	case m.wait != nil:
		if w := *m.wait; w < minWaitMinutes || w > maxWaitMinutes {
			return 0, syncLimit(SyncInvalidInterval, min(max(w, minWaitMinutes), maxWaitMinutes))
		}
		return time.Duration(*m.wait) * time.Minute, nil
	case m.heartbeat != nil:
		l, h := int(lo/time.Second), int(hi/time.Second)
		if hb := *m.heartbeat; hb < l || hb > h {
			return 0, syncLimit(SyncInvalidInterval, min(max(hb, l), h))
		}
		return time.Duration(*m.heartbeat) * time.Second, nil
	}
	return 0, nil
}

// sizeLimit refuses a request with more collections or commands than the
// server takes (MS-ASCMD 3.1.5.10); nil when it is within the limits.
func sizeLimit(colls []SyncCollection) *reply {
	if len(colls) > maxSyncCollections {
		return syncLimit(SyncTooManyFolders, maxSyncCollections)
	}
	n := 0
	for _, c := range colls {
		if c.Commands != nil {
			n += len(c.Commands.Items)
		}
	}
	if n > maxSyncCommands {
		return syncStatus(SyncProtocolError)
	}
	return nil
}

func syncStatus(status int) *reply {
	return &reply{body: &SyncResponse{Status: status}, easStatus: status}
}

func syncLimit(status, limit int) *reply {
	return &reply{body: &SyncResponse{Status: status, Limit: limit}, easStatus: status}
}

// windowSize applies MS-ASCMD's rules: absent 100, 0 or above 512 means 512.
func windowSize(collection, request *int) int {
	w := defaultWindow
	switch {
	case collection != nil:
		w = *collection
	case request != nil:
		w = *request
	}
	if w <= 0 || w > maxWindow {
		w = maxWindow
	}
	return w
}
