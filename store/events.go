package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/easgate/easgate/eas"
)

var _ eas.DeviceEvents = (*Store)(nil)
var _ eas.DeviceLocker = (*Store)(nil)

// deviceChannel is the PostgreSQL notification channel of device events.
const deviceChannel = "easgate_device"

// deviceEvent is the payload of a notification on deviceChannel.
type deviceEvent struct {
	Node   string `json:"n"`
	User   string `json:"u"`
	Device string `json:"d"`
	// Kind is empty for a device event, accountKind for an account event
	// (accounts.go), whose Folders are those that changed.
	Kind    string   `json:"k,omitempty"`
	Folders []string `json:"f,omitempty"`
	// Request is eas.DeviceEvent.Request; nodes of earlier versions send
	// none, which ends any wait as their events always did.
	Request uint64 `json:"r,omitempty"`
}

// maxEventPayload is below PostgreSQL's limit of 8000 bytes per payload.
const maxEventPayload = 7900

// Device events are checked for a dead server this often while none come,
// and the check may take this long: a listener on a server that vanished
// without closing its connections (a dropped route) notices within both.
const (
	listenIdle  = 30 * time.Second
	listenCheck = 10 * time.Second
)

// listenRetry bounds the pause between attempts to listen again.
const listenRetry = 10 * time.Second

func newNodeID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// PublishDevice tells the other nodes sharing the database that a request
// of the device began (eas.DeviceEvents): a notification on PostgreSQL,
// carrying the request's number, so that a node that hears of it late can
// tell it from a newer request. On SQLite, which one node uses, there is no
// one to tell.
func (s *Store) PublishDevice(ctx context.Context, ev eas.DeviceEvent) error {
	if err := checkKey(ev.User, ev.DeviceID); err != nil {
		return s.fail("store: publish device event: %w", err)
	}
	if !s.d.postgres {
		return nil
	}
	payload, err := json.Marshal(deviceEvent{Node: s.node, User: ev.User, Device: ev.DeviceID, Request: ev.Request})
	if err != nil {
		return s.fail("store: publish device event: %w", err)
	}
	if len(payload) > maxEventPayload {
		return s.fail("store: publish device event: user and device id take %d bytes, more than a notification holds", len(payload))
	}
	if _, err := s.w.ExecContext(ctx, "SELECT pg_notify($1, $2)", deviceChannel, string(payload)); err != nil {
		return s.fail("store: publish device event of %q of user %q: %w", ev.DeviceID, ev.User, err)
	}
	return nil
}

// WatchDevices calls fn for each device event another node publishes
// (eas.DeviceEvents) until ctx ends, listening on a connection of its own.
// When that connection fails it listens again on a new one, and then calls
// fn with an empty event since events may have been published meanwhile.
// On SQLite it only waits for ctx.
func (s *Store) WatchDevices(ctx context.Context, fn func(eas.DeviceEvent)) error {
	if !s.d.postgres {
		<-ctx.Done()
		return ctx.Err()
	}
	resumed := false
	pause := time.Second
	for {
		listening, err := s.listen(ctx, fn, resumed)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.errs.Add(1)
		if listening {
			pause = time.Second
		}
		if s.onListenError != nil {
			s.onListenError(err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, listenRetry)
		resumed = true
	}
}

// listen listens for device events on a new connection until it fails;
// listening reports whether it got as far as listening.
func (s *Store) listen(ctx context.Context, fn func(eas.DeviceEvent), resumed bool) (listening bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pgcfg)
	if err != nil {
		return false, fmt.Errorf("store: connect to listen: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+deviceChannel); err != nil {
		return false, fmt.Errorf("store: listen: %w", err)
	}
	if resumed {
		fn(eas.DeviceEvent{})
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// Quiet for a while: make sure the server is still there.
			pctx, cancel := context.WithTimeout(ctx, listenCheck)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("store: listening connection: %w", err)
			}
			continue
		}
		if err != nil {
			return true, fmt.Errorf("store: wait for device events: %w", err)
		}
		var ev deviceEvent
		if json.Unmarshal([]byte(n.Payload), &ev) != nil || ev.Node == s.node || ev.User == "" {
			continue
		}
		if ev.Kind == accountKind {
			if s.onAccount != nil {
				s.onAccount(ev.User, ev.Folders)
			}
			continue
		}
		fn(eas.DeviceEvent{User: ev.User, DeviceID: ev.Device, Request: ev.Request})
	}
}

// OnListenError sets f to hear why listening for device events failed,
// each time before it is tried again. Call it before WatchDevices.
func (s *Store) OnListenError(f func(error)) { s.onListenError = f }
