package eas_test

import (
	"context"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// A /healthz caller that hangs up mid-check must not leave "degraded" in
// the cache for the next callers: the check runs to its own deadline.
func TestCheckUpstreamsCallerGone(t *testing.T) {
	check := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
			return nil
		}
	}
	s := eas.NewServer(eas.Config{Upstreams: []eas.HealthCheck{{Name: "imap", Addr: "127.0.0.1:143", Check: check}}},
		fakeBackend{newFakeMail()}, newMemStore(), nil)
	for _, tc := range []struct {
		name   string
		cancel bool
	}{
		{"caller gone", true},
		{"next caller", false},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		if tc.cancel {
			cancel()
		}
		h := s.CheckUpstreams(ctx)
		cancel()
		if h.Status != "ok" || len(h.Upstreams) != 1 || !h.Upstreams[0].Up {
			t.Errorf("%s: health %+v, want ok", tc.name, h)
		}
	}
}
