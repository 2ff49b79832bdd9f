package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

// TestMultiNodeMailFlow: a phone behind nginx balancing round robin over
// three nodes on one PostgreSQL syncs 2,000 messages in windows, one node
// dying after it saved a window and before it answered, then changes and
// deletes mail (a second node dying after applying them), and learns of
// deletions on Dovecot, its consecutive
// requests landing on different nodes: every message exactly once, every
// change on Dovecot.
func TestMultiNodeMailFlow(t *testing.T) {
	const total, window = 2000, 100
	c := startCluster(t, 3)
	p := c.newPhone(t, c.proxy, "roundrobin")
	p.appendMessages(t, 1, total)
	inbox := p.ids["INBOX"]

	// The fifth Sync node 2 receives kills it after its work.
	victim := c.nodes[1]
	seen := 0
	kill := func(r *http.Request) bool {
		if r.URL.Query().Get("Cmd") != "Sync" {
			return false
		}
		seen++
		return seen == 5
	}
	victim.killOn.Store(&kill)

	col := syncColl(t, p.Client, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
	key := col.SyncKey
	got := map[string]int{}
	ids := map[string]string{} // subject: server id
	for rounds := 0; ; rounds++ {
		if rounds > 3*total/window {
			t.Fatalf("no end after %d windows", rounds)
		}
		col = syncColl(t, p.Client, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: ptr(window)})
		if col.Status != eas.SyncSuccess {
			t.Fatalf("window %d: status %d", rounds, col.Status)
		}
		key = col.SyncKey
		if col.Commands != nil {
			if n := len(col.Commands.Change) + len(col.Commands.Delete); n > 0 {
				t.Fatalf("window %d: %d changes or deletes of mail the phone never had", rounds, n)
			}
			for _, it := range col.Commands.Add {
				s := it.ApplicationData.Subject
				got[s]++
				ids[s] = it.ServerID
			}
		}
		if !col.MoreAvailable {
			break
		}
	}
	if !victim.stopped.Load() {
		t.Fatal("the node to kill never got its fifth Sync: the balancing is not round robin")
	}
	if len(got) != total {
		t.Errorf("the phone got %d distinct messages, want %d", len(got), total)
	}
	for i := 1; i <= total; i++ {
		if n := got[fmt.Sprintf("Message %d", i)]; n != 1 {
			t.Errorf("Message %d came %d times", i, n)
		}
	}
	for _, n := range c.nodes {
		if n.syncs.Load() == 0 {
			t.Errorf("%s served no Sync", n.name)
		}
	}

	// Changes and deletions from the phone, through whichever node; the
	// node that gets them dies after applying them, and the phone sends
	// them again to the last one.
	var fired atomic.Bool
	killNext := func(r *http.Request) bool {
		return r.URL.Query().Get("Cmd") == "Sync" && fired.CompareAndSwap(false, true)
	}
	for _, n := range c.nodes {
		if !n.stopped.Load() {
			n.killOn.Store(&killNext)
		}
	}
	var cmds eas.SyncCommands
	for i := 1; i <= 10; i++ {
		cmds.ChangeCommand(ids[fmt.Sprintf("Message %d", i)], &eas.Email{Read: ptr(true)})
	}
	for i := 11; i <= 20; i++ {
		cmds.DeleteCommand(ids[fmt.Sprintf("Message %d", i)])
	}
	col = syncColl(t, p.Client, eas.SyncCollection{SyncKey: key, CollectionID: inbox, DeletesAsMoves: ptr(false), Commands: &cmds})
	if col.Status != eas.SyncSuccess || col.Commands != nil {
		t.Fatalf("phone's changes: status %d, server commands %+v", col.Status, col.Commands)
	}
	if !fired.Load() {
		t.Fatal("no node died with the phone's changes")
	}
	key = col.SyncKey
	// Nothing comes back, on any node.
	for range 3 {
		col = syncColl(t, p.Client, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
		if col.Status != eas.SyncSuccess || col.Commands != nil {
			t.Fatalf("after the phone's changes: status %d, commands %+v", col.Status, col.Commands)
		}
		key = col.SyncKey
	}
	flags := imapFlags(t, p)
	if len(flags) != total-10 {
		t.Errorf("Dovecot holds %d messages, want %d", len(flags), total-10)
	}
	for i := 1; i <= 20; i++ {
		s := fmt.Sprintf("Message %d", i)
		f, ok := flags[s]
		switch {
		case i <= 10 && (!ok || !slices.Contains(f, imap.FlagSeen)):
			t.Errorf("%s on Dovecot: %v %v, want \\Seen", s, ok, f)
		case i > 10 && ok:
			t.Errorf("%s still on Dovecot", s)
		}
	}

	// Deletions on Dovecot reach the phone once.
	if _, err := p.imap.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var gone imap.SeqSet
	gone.AddRange(1, 5)
	if err := p.imap.Store(gone, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.imap.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for range 3 {
		col = syncColl(t, p.Client, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
		key = col.SyncKey
		if col.Commands != nil {
			deleted += len(col.Commands.Delete) + len(col.Commands.SoftDelete)
			if len(col.Commands.Add)+len(col.Commands.Change) > 0 {
				t.Errorf("after an expunge: %+v", col.Commands)
			}
		}
	}
	if deleted != 5 {
		t.Errorf("the phone learnt of %d deletions, want 5", deleted)
	}
}

// TestMultiNodePush: a waiting Ping on one node ends at once when the same
// device's Sync reaches another; mail arriving answers a Ping on either
// node; an admin reset on one node ends the Ping on the other and the
// phone's next request there sees the reset.
func TestMultiNodePush(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	p := c.newPhone(t, a.URL(), "pusher")
	onA, onB := p.on(a.URL()), p.on(b.URL())
	inbox := p.ids["INBOX"]
	col := syncColl(t, onA, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
	col = syncColl(t, onB, eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox})
	key := col.SyncKey

	// A Sync on B supersedes the Ping waiting on A.
	pa := ping(onA, inbox)
	a.waiting(t, 1)
	col = syncColl(t, onB, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
	key = col.SyncKey
	if r := answered(t, "Sync on the other node", pa, 2*time.Second); r.Status != eas.PingExpired {
		t.Errorf("superseded Ping: status %d, want %d", r.Status, eas.PingExpired)
	}

	// A Ping on A ends the Sync hanging on B the same way, and takes
	// its place.
	hung := make(chan error, 1)
	go func() {
		resp, err := onB.Sync(context.Background(), &eas.SyncRequest{HeartbeatInterval: ptr(900),
			Collections: []eas.SyncCollection{{SyncKey: key, CollectionID: inbox}}})
		if err == nil && resp != nil {
			err = fmt.Errorf("a superseded hanging Sync answered %+v, want an empty answer", resp)
		}
		hung <- err
	}()
	b.waiting(t, 1)
	pa = ping(onA, inbox)
	select {
	case err := <-hung:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a Ping on A left the Sync hanging on B")
	}
	a.waiting(t, 1)
	col = syncColl(t, onB, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
	key = col.SyncKey
	answered(t, "Sync on B", pa, 2*time.Second)

	// Mail answers a Ping on either node, and the phone fetches it on
	// the other.
	for i, n := range []struct {
		wait, fetch *node
	}{{a, b}, {b, a}} {
		pc := ping(p.on(n.wait.URL()), inbox)
		n.wait.waiting(t, 1)
		p.appendMessages(t, 100+i, 1)
		r := answered(t, "APPEND on "+n.wait.name, pc, 30*time.Second)
		if r.Status != eas.PingChanges || !slices.Equal(r.Folders, []string{inbox}) {
			t.Fatalf("Ping on %s after an APPEND: %+v", n.wait.name, r)
		}
		col = syncColl(t, p.on(n.fetch.URL()), eas.SyncCollection{SyncKey: key, CollectionID: inbox})
		key = col.SyncKey
		if col.Commands == nil || len(col.Commands.Add) != 1 || col.Commands.Add[0].ApplicationData.Subject != fmt.Sprintf("Message %d", 100+i) {
			t.Fatalf("Sync on %s after the Ping: %+v", n.fetch.name, col.Commands)
		}
	}

	// An admin reset on B ends the Ping waiting on A, and A then knows
	// the phone's sync key no more.
	pa = ping(onA, inbox)
	a.waiting(t, 1)
	req, _ := http.NewRequest(http.MethodPost, b.admin.URL+"/api/devices/"+p.user+"/pusher/reset", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin reset on B: %v %v", err, resp)
	}
	resp.Body.Close()
	answered(t, "admin reset on the other node", pa, 2*time.Second)
	col = syncColl(t, onA, eas.SyncCollection{SyncKey: key, CollectionID: inbox})
	if col.Status == eas.SyncSuccess {
		t.Errorf("Sync on A after a reset on B: status %d, want the key refused", col.Status)
	}
}

// TestMultiNodeGracefulStop: a node stopped while Pings wait on it answers
// them at once and stops within a bound; the phones carry on with the
// other node and lose nothing.
func TestMultiNodeGracefulStop(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	var phones []*phone
	var keys []string
	for i := range 3 {
		p := c.newPhone(t, a.URL(), fmt.Sprintf("stopping%d", i))
		col := syncColl(t, p.Client, eas.SyncCollection{SyncKey: "0", CollectionID: p.ids["INBOX"]})
		phones, keys = append(phones, p), append(keys, col.SyncKey)
	}
	var pings []<-chan pinged
	for _, p := range phones {
		pings = append(pings, ping(p.Client, p.ids["INBOX"]))
	}
	a.waiting(t, len(phones))
	start := time.Now()
	a.stop(t)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopping a node with waiting Pings took %v", took)
	}
	for i, pc := range pings {
		if r := answered(t, "graceful stop", pc, time.Second); r.Status != eas.PingExpired {
			t.Errorf("phone %d: Ping answered status %d at the stop, want %d", i, r.Status, eas.PingExpired)
		}
	}
	for i, p := range phones {
		onB := p.on(b.URL())
		pc := ping(onB, p.ids["INBOX"])
		b.waiting(t, 1)
		p.appendMessages(t, 1, 1)
		if r := answered(t, "APPEND after the stop", pc, 30*time.Second); r.Status != eas.PingChanges {
			t.Fatalf("phone %d: Ping on B: %+v", i, r)
		}
		col := syncColl(t, onB, eas.SyncCollection{SyncKey: keys[i], CollectionID: p.ids["INBOX"]})
		if col.Status != eas.SyncSuccess || col.Commands == nil || len(col.Commands.Add) != 1 {
			t.Fatalf("phone %d: Sync on B: status %d %+v", i, col.Status, col.Commands)
		}
	}
}

func imapFlags(t *testing.T, p *phone) map[string][]imap.Flag {
	t.Helper()
	if _, err := p.imap.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := p.imap.Fetch(all, &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
	if err != nil && !strings.Contains(err.Error(), "No matching messages") {
		t.Fatal(err)
	}
	out := map[string][]imap.Flag{}
	for _, m := range msgs {
		out[m.Envelope.Subject] = m.Flags
	}
	return out
}

// TestMultiNodeDeviceLock: while one node holds a device (its request
// running), the device's request on another node waits for it, and runs
// once it is free.
func TestMultiNodeDeviceLock(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.nodes[0], c.nodes[1]
	p := c.newPhone(t, b.URL(), "locked")
	inbox := p.ids["INBOX"]
	col := syncColl(t, p.Client, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})

	unlock, err := a.store.LockDevice(t.Context(), p.user, "locked")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		resp *eas.SyncResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := p.Sync(context.Background(), &eas.SyncRequest{
			Collections: []eas.SyncCollection{{SyncKey: col.SyncKey, CollectionID: inbox}}})
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		unlock()
		t.Fatalf("a Sync on B ran while A held the device: %+v %v", r.resp, r.err)
	case <-time.After(time.Second):
	}
	unlock()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Sync after the device was free: %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the Sync on B did not run once the device was free")
	}
}
