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

// TestRefusedLoginDuringWait: a notice whose check meets a refused login
// ends a waiting Ping or Sync with HTTP 401, as the same refusal does
// before the wait, so the phone asks for the new password: it is not
// checked again and again with a password the upstream refuses.
func TestRefusedLoginDuringWait(t *testing.T) {
	tests := []struct {
		name string
		wait func(ctx context.Context, g *fakeGateway, inbox, key string) error
	}{
		{"Ping", func(ctx context.Context, g *fakeGateway, inbox, key string) error {
			hb := 1800
			_, err := g.phone.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb,
				Folders: []eas.PingFolder{{ID: inbox, Class: "Email"}}})
			return err
		}},
		{"Sync with a heartbeat", func(ctx context.Context, g *fakeGateway, inbox, key string) error {
			_, err := g.phone.Sync(ctx, &eas.SyncRequest{HeartbeatInterval: intp(1800),
				Collections: []eas.SyncCollection{{SyncKey: key, CollectionID: inbox}}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startFakeConfig(t, eas.V141, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: time.Hour})
			inbox := g.id(t, "INBOX")
			key, _ := g.primed(t, g.phone, inbox)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tt.wait(ctx, g, inbox, key) }()
			g.subscribed(t, 1)
			g.mail.mu.Lock()
			g.mail.pendingFails, g.mail.pendingErr = 1000, fmt.Errorf("open mailbox: %w", eas.ErrUnauthorized)
			g.mail.mu.Unlock()
			g.mail.add("INBOX", "pushed", time.Now())
			select {
			case err := <-done:
				if !easclient.IsHTTP(err, http.StatusUnauthorized) {
					t.Fatalf("answer = %v, want HTTP 401", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("still waiting after its check met a refused login")
			}
		})
	}
}

// TestFailingFolderHidesNoChange: a watched folder whose check keeps
// failing does not keep another folder's change from the phone.
func TestFailingFolderHidesNoChange(t *testing.T) {
	g := startFakeConfig(t, eas.V141, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: time.Hour})
	inbox, work := g.id(t, "INBOX"), g.id(t, "Work")
	g.primed(t, g.phone, inbox)
	g.primed(t, g.phone, work)
	g.mail.mu.Lock()
	g.mail.pendingFailPath = "Work"
	g.mail.mu.Unlock()
	g.mail.add("INBOX", "arrived before the Ping", time.Now())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hb := 1800
	done := make(chan *eas.PingResponse, 1)
	go func() {
		r, err := g.phone.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb, Folders: []eas.PingFolder{
			{ID: work, Class: "Email"}, {ID: inbox, Class: "Email"}}})
		if err != nil && ctx.Err() == nil {
			t.Error(err)
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r == nil || r.Status != eas.PingChanges || len(r.Folders) != 1 || r.Folders[0] != inbox {
			t.Fatalf("Ping answered %+v, want Status %d naming the inbox only", r, eas.PingChanges)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the inbox's change waited behind the failing folder")
	}
}
