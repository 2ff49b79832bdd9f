package eas_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// TestPingRechecksAfterFailedCheck: a notice whose check meets an upstream
// that does not answer is looked at again, so the mail it announced still
// answers the Ping long before its heartbeat, instead of waiting for the
// next periodic check.
func TestPingRechecksAfterFailedCheck(t *testing.T) {
	for _, fails := range []int{1, 2} {
		t.Run(map[int]string{1: "one failure", 2: "two failures"}[fails], func(t *testing.T) {
			g := startFakeConfig(t, eas.V141, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: time.Hour})
			inbox := g.id(t, "INBOX")
			g.primed(t, g.phone, inbox)
			hb := 1800
			// Hung up when the test ends, answered or not.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan *eas.PingResponse, 1)
			go func() {
				r, err := g.phone.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb,
					Folders: []eas.PingFolder{{ID: inbox, Class: "Email"}}})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
				}
				done <- r
			}()
			g.subscribed(t, 1)
			g.mail.mu.Lock()
			g.mail.pendingFails = fails
			g.mail.mu.Unlock()
			g.mail.add("INBOX", "pushed", time.Now())
			// The pauses before the checks again are 1 s, then 2 s; the
			// bound only keeps a lost notice from hanging the test for
			// the half hour of its heartbeat.
			select {
			case r := <-done:
				if r == nil || r.Status != eas.PingChanges || len(r.Folders) != 1 || r.Folders[0] != inbox {
					t.Fatalf("Ping answered %+v, want Status %d naming the inbox", r, eas.PingChanges)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the mail announced while the upstream failed never answered the Ping")
			}
		})
	}
}

// TestPingRefusedLoginDuringWait: a notice whose check meets a refused
// login ends the Ping with HTTP 401, as the same refusal does before the
// wait, so the phone asks for the new password: it is not checked again
// and again with a password the upstream refuses.
func TestPingRefusedLoginDuringWait(t *testing.T) {
	g := startFakeConfig(t, eas.V141, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: time.Hour})
	inbox := g.id(t, "INBOX")
	g.primed(t, g.phone, inbox)
	hb := 1800
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := g.phone.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb,
			Folders: []eas.PingFolder{{ID: inbox, Class: "Email"}}})
		done <- err
	}()
	g.subscribed(t, 1)
	g.mail.mu.Lock()
	g.mail.pendingFails, g.mail.pendingErr = 1000, fmt.Errorf("open mailbox: %w", eas.ErrUnauthorized)
	g.mail.mu.Unlock()
	g.mail.add("INBOX", "pushed", time.Now())
	select {
	case err := <-done:
		if !easclient.IsHTTP(err, http.StatusUnauthorized) {
			t.Fatalf("Ping = %v, want HTTP 401", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the Ping still waits after its check met a refused login")
	}
}
