package eas_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// testClock is a server clock a test moves forward.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// A hanging Sync waits what is left of its heartbeat once its first look
// at the folders is done, not a whole heartbeat more: the phone gives up
// on a request that takes longer than the heartbeat it asked for.
func TestSyncWaitCountsFirstPass(t *testing.T) {
	clock := &testClock{}
	g := startFakeConfig(t, eas.V141, eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second, Now: clock.Now})
	inbox := g.id(t, "INBOX")
	g.mail.add("INBOX", "a", time.Now())
	key, _ := g.primed(t, g.phone, inbox)

	// The first pass takes 9 of the 10 seconds, by the server's clock.
	var once sync.Once
	g.mail.mu.Lock()
	g.mail.onChanges = func() { once.Do(func() { clock.advance(9 * time.Second) }) }
	g.mail.mu.Unlock()

	done := make(chan *eas.SyncResponse, 1)
	go func() {
		r, err := g.phone.Sync(context.Background(), &eas.SyncRequest{
			Collections:       []eas.SyncCollection{{SyncKey: key, CollectionID: inbox}},
			HeartbeatInterval: intp(10),
		})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	if r := answered(t, done); r != nil {
		t.Fatalf("expired wait answered %+v", r)
	}
}
