package bridge

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

func TestParsePushSource(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want PushSource
		err  bool
	}{
		{"idle", PushIdle, false},
		{"", PushIdle, false},
		{"dovecot", PushDovecot, false},
		{"both", PushBoth, false},
		{"IDLE", 0, true},
		{"notify", 0, true},
	} {
		got, err := ParsePushSource(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParsePushSource(%q) = %v, %v", tc.in, got, err)
		}
		if !tc.err && tc.in != "" && got.String() != tc.in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

// TestPokeDovecotSource: with PushDovecot, Poke answers the subscriptions
// of the folders it names, and only those, while no connection is held;
// the periodic check still reports a change nobody poked; and a folder
// poked is not reported again by the check to the subscription that
// follows (the phone would sync twice for one message).
func TestPokeDovecotSource(t *testing.T) {
	e := startWatch(t, watchOptions{dovecot: true, accounts: 2, cfg: Config{IdleTimeout: 400 * time.Millisecond}, watch: WatchConfig{
		Source: PushDovecot, CheckInterval: 300 * time.Millisecond, Grace: time.Minute,
	}})
	a, b := e.accounts[0], e.accounts[1]
	ctx := context.Background()
	if e.n.Poke(ctx, a.Username, []string{"INBOX"}) {
		t.Error("Poke knows an account no phone has waited for")
	}
	inbox := e.subscribe(t, a, "INBOX")
	work := e.subscribe(t, a, "Work")
	list := e.subscribe(t, a, eas.FolderListPath)
	other := e.subscribe(t, b, "INBOX")

	if !e.n.Poke(ctx, a.Username, []string{"INBOX"}) {
		t.Fatal("Poke does not know an account with a waiting phone")
	}
	expectNotice(t, inbox, "INBOX")
	if got := drain(work); len(got) != 0 {
		t.Errorf("Work subscription got %v for a poke of INBOX", got)
	}
	if got := drain(other); len(got) != 0 {
		t.Errorf("another account got %v", got)
	}
	if st := e.n.Stats(); st.Connected != 0 {
		t.Errorf("%d watching connections held with the dovecot source", st.Connected)
	}

	// All folders: empty list.
	e.n.Poke(ctx, a.Username, nil)
	expectNotice(t, work, "Work")
	expectNotice(t, list, eas.FolderListPath)

	// A change nobody pokes (a notification lost): the check finds it.
	drain(work)
	appendTo(t, e.other(t, a), "Work")
	expectNotice(t, work, "Work")

	// A delivery poked: the phone is told, syncs and waits again; the
	// check must not tell it once more.
	drain(inbox)
	appendTo(t, e.other(t, a), "INBOX")
	e.n.Poke(ctx, a.Username, []string{"INBOX"})
	expectNotice(t, inbox, "INBOX")
	inbox.Close()
	again := e.subscribe(t, a, "INBOX")
	time.Sleep(3 * 300 * time.Millisecond)
	if got := drain(again); slices.Contains(got, "INBOX") {
		t.Errorf("the periodic check reported the poked delivery again: %v", got)
	}
	if e.n.Stats().Connected != 0 {
		t.Error("a watching connection is held")
	}
	// The checks borrow and give back: none dialled for a check stays.
	eventually(t, "no pooled connection left open by the checks", func() bool { return e.b.Stats().Connections == 0 })
}

// TestPokeKeepsIdle: with PushBoth the IDLE connection stays (the safety
// net) and Poke answers too.
func TestPokeKeepsIdle(t *testing.T) {
	e := startWatch(t, watchOptions{watch: WatchConfig{Source: PushBoth}})
	a := e.accounts[0]
	s := e.subscribe(t, a, "INBOX")
	eventually(t, "the IDLE connection", func() bool { return e.n.Stats().Connected == 1 })
	if !e.n.Poke(context.Background(), a.Username, []string{"INBOX", "Nowhere"}) {
		t.Fatal("Poke does not know the account")
	}
	expectNotice(t, s, "INBOX")
	drain(s)
	appendTo(t, e.other(t, a), "INBOX")
	// IDLE still reports what no notification did.
	expectNotice(t, s, "INBOX")
}

// TestPokeWhileSubscribing: a poke that drops a folder's mark while a
// Subscribe of that folder waits for the marks (the pass it asked for
// over already) has the loop take a fresh one, so the Subscribe returns
// with its mark. It used to wait for the next check or its time limit:
// a phone's Ping sent just before a change went unanswered for a minute.
func TestPokeWhileSubscribing(t *testing.T) {
	e := startWatch(t, watchOptions{dovecot: true, cfg: Config{CommandTimeout: time.Minute}, watch: WatchConfig{
		Source: PushDovecot, CheckInterval: time.Hour, Grace: time.Hour,
	}})
	a := e.accounts[0]
	ctx := context.Background()
	e.subscribe(t, a, "INBOX") // the watcher runs and holds INBOX's mark

	// What Subscribe does, with the poke between the pass and the wait.
	s := newSubscription([]string{"INBOX"})
	_, failures, err := e.n.join(a, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if !e.n.Poke(ctx, a.Username, []string{"INBOX"}) {
		t.Fatal("Poke does not know an account with a waiting phone")
	}
	if err := s.w.await(ctx, s, failures); err != nil {
		t.Fatal(err)
	}
	s.w.mu.Lock()
	seen := s.w.seenAll(s.paths)
	s.w.mu.Unlock()
	if !seen {
		t.Error("Subscribe returned without INBOX's mark: no pass was made after the poke dropped it")
	}
	expectNotice(t, s, "INBOX")
}
