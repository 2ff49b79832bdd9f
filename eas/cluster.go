package eas

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Several nodes on one store.
//
// Nodes sharing a store (PostgreSQL) may each receive any request of any
// device: a load balancer need not keep a phone on one node. Everything a
// request needs for its outcome is in the store; what a node holds in
// memory is either a cache checked against the store (the prefetched Sync
// window, whose plan names the sync key and cursor it was computed for;
// authentication results; pooled upstream connections) or about requests
// it runs itself. Two things cross nodes, through optional extensions of
// Store: a device lock, so that the requests of one device never
// interleave whichever nodes run them, and device events, so that a new
// request of a device on one node ends the device's waiting Ping or Sync
// on another and drops the other node's prefetch.

// DeviceLocker is an optional extension of Store: a lock on one device
// that excludes its requests on every node sharing the store. Server takes
// it, after its own lock within the process, for a request's work, never
// for the wait of a Ping or a Sync with Wait.
type DeviceLocker interface {
	// LockDevice waits until no other holder has the device, or ctx
	// ends; calling unlock more than once is harmless.
	LockDevice(ctx context.Context, user, deviceID string) (unlock func(), err error)
}

// DeviceEvents is an optional extension of Store that tells the other nodes
// sharing the store about the requests of a device.
type DeviceEvents interface {
	// PublishDevice tells every other node that a request of the device
	// began that ends its waiting request (a Ping, a Sync, an admin
	// action). The node that publishes does not hear of it itself.
	PublishDevice(ctx context.Context, ev DeviceEvent) error
	// WatchDevices calls fn, one call at a time, for each device event
	// another node publishes, until ctx ends. It reconnects by itself when
	// the store goes away for a while; it returns only once ctx ends. fn
	// with an empty User means events may have been lost meanwhile.
	WatchDevices(ctx context.Context, fn func(DeviceEvent)) error
}

// DeviceEvent tells of a request of one device.
type DeviceEvent struct {
	User, DeviceID string
	// Request is the request's number among the device's requests
	// (Device.Requests as the store recorded it), 0 when it has none (an
	// admin action, a store that does not record requests in one
	// statement). Events may arrive late: one whose request is older than
	// the waiting one must not end it, or a Ping that began just after a
	// Sync elsewhere would end at once and the phone ask again for
	// nothing. An event numbered 0 ends any wait.
	Request uint64
}

// publishTimeout bounds the publication of a device event: it only hurries
// the end of a wait elsewhere, and must not hold the request long when the
// store is slow.
const publishTimeout = 5 * time.Second

// watchDevices runs the store's device events until the server closes:
// another node's new request of a device ends its wait and its prefetch
// here, unless the wait or the prefetch is newer than that request.
func (s *Server) watchDevices(ctx context.Context, ev DeviceEvents) {
	defer s.inflight.leave()
	err := ev.WatchDevices(ctx, func(e DeviceEvent) {
		if e.User == "" {
			// Events were lost while the store was away: end every wait
			// here, the phones ask again.
			s.devices.wakeAll()
			return
		}
		k := deviceKey{e.User, e.DeviceID}
		s.devices.supersede(k, e.Request)
		if p := s.prefetches.takeBefore(k, e.Request); p != nil {
			s.cfg.Metrics.prefetch("unused")
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error("watching device events stopped", zap.Error(err))
	}
}

// startWatching starts watchDevices when the store carries device events.
// Close stops it.
func (s *Server) startWatching() {
	ev, ok := s.store.(DeviceEvents)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatching = cancel
	s.inflight.enter()
	go s.watchDevices(ctx, ev)
}

// supersedeDevice ends the device's waiting request older than request
// (any, when request is 0), on this node and, through the store, on the
// others.
func (s *Server) supersedeDevice(ctx context.Context, log *zap.Logger, k deviceKey, request uint64) {
	s.devices.supersede(k, request)
	ev, ok := s.store.(DeviceEvents)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := ev.PublishDevice(ctx, DeviceEvent{User: k.user, DeviceID: k.device, Request: request}); err != nil {
		// The other node's wait then ends at its heartbeat: the phone
		// has moved on and only a connection is wasted meanwhile.
		log.Warn("publishing a device event", zap.Error(err))
	}
}

// lockDevice takes the device within the process, then in the store when
// it locks across nodes. The lock within the process keeps a node's own
// contention off the store's lock connections.
func (s *Server) lockDevice(ctx context.Context, k deviceKey) (unlock func(), err error) {
	local, err := s.devices.lock(ctx, k)
	if err != nil {
		return nil, err
	}
	dl, ok := s.store.(DeviceLocker)
	if !ok {
		return local, nil
	}
	shared, err := dl.LockDevice(ctx, k.user, k.device)
	if err != nil {
		local()
		return nil, err
	}
	return sync.OnceFunc(func() {
		shared()
		local()
	}), nil
}
