package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/eas"
)

// condstoreModes runs a test against Dovecot with and without CONDSTORE,
// which selects the two change trackers.
var condstoreModes = []struct {
	name        string
	noCondstore bool
}{{"condstore", false}, {"nocondstore", true}}

func TestCursorRoundTrip(t *testing.T) {
	tests := []cursor{
		{valid: true, settled: true, folderState: folderState{uidValidity: 1732400000, modSeq: 5012, uidNext: 10001, messages: 10000}, since: "20261120"},
		{valid: true, settled: false, folderState: folderState{uidValidity: 1, modSeq: 0, uidNext: 1, messages: 0}},
	}
	for _, c := range tests {
		got, err := parseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("parseCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
	for _, bad := range []string{"x", "1:s:0:1:1:1:-", "1:q:1:1:1:1:-", "1:s:1:1:1:1:2026", "2:s:1:1:1:1:-"} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("parseCursor(%q) accepted", bad)
		}
	}
}

func TestChangesBadCursor(t *testing.T) {
	u := startMemServer(t, nil, Config{})
	_, err := u.open(t).Changes(context.Background(), eas.SyncQuery{Path: "INBOX", Cursor: "garbage", Known: known{}, Window: 10})
	wantErr(t, err, eas.ErrStateInvalid)
}

func TestInitialSyncInWindows(t *testing.T) {
	for _, mode := range condstoreModes {
		t.Run(mode.name, func(t *testing.T) {
			u := startDovecot(t, mode.noCondstore, Config{})
			const n = 2000
			fill(t, u.dial(t), "INBOX", n, 150, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

			mb := u.open(t)
			p := newPhone("INBOX")
			seen := map[string]int{}
			var order []imap.UID
			windows := 0
			for {
				cs := p.sync(t, mb)
				windows++
				for _, ch := range cs.Changes {
					if ch.Kind != eas.ChangeAdd {
						t.Fatalf("initial sync sent %v", ch.Kind)
					}
					seen[ch.ServerID]++
					uid, _ := parseUID(ch.ServerID)
					order = append(order, uid)
					e, _ := ch.Item.(*eas.Email)
					if ch.Err != nil || e == nil || e.Read == nil || e.Flag == nil || e.Subject == "" {
						t.Fatalf("add %s incomplete: %+v, %v", ch.ServerID, ch.Item, ch.Err)
					}
				}
				if !cs.More {
					break
				}
				if windows > n/100+2 {
					t.Fatalf("still More after %d windows", windows)
				}
			}
			if windows != n/100 {
				t.Errorf("%d windows of 100 for %d messages", windows, n)
			}
			if len(seen) != n {
				t.Errorf("%d distinct messages delivered, want %d", len(seen), n)
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("message %s delivered %d times", id, k)
				}
			}
			if !slices.IsSortedFunc(order, func(a, b imap.UID) int { return int(b) - int(a) }) {
				t.Error("adds are not newest first")
			}
			// Every message arrived with the version of its flags.
			checkMirror(t, u, "INBOX", p)
			if cs := p.sync(t, mb); len(cs.Changes) != 0 || cs.More {
				t.Errorf("synced folder still has changes: %v", summary(cs.Changes))
			}
		})
	}
}

func TestServerSideChanges(t *testing.T) {
	type setup struct {
		c      *imapclient.Client
		uids   []imap.UID // the five messages of folder
		mb     *Mailbox
		folder string
	}
	store := func(t *testing.T, s setup, i int, op imap.StoreFlagsOp, flags ...imap.Flag) {
		t.Helper()
		if _, err := s.c.Select(s.folder, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := s.c.Store(imap.UIDSetNum(s.uids[i]), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		act    func(t *testing.T, s setup) (want []string)
		verify func(t *testing.T, s setup, chs []eas.ItemChange)
	}{{
		name: "append",
		act: func(t *testing.T, s setup) []string {
			uid := appendOne(t, s.c, s.folder, textMessage(99, time.Now(), "", ""), time.Now())
			return []string{"Add:" + uidString(uid)}
		},
	}, {
		name: "seen",
		act: func(t *testing.T, s setup) []string {
			store(t, s, 1, imap.StoreFlagsAdd, imap.FlagSeen)
			return []string{"Change:" + uidString(s.uids[1])}
		},
		verify: func(t *testing.T, s setup, chs []eas.ItemChange) {
			e := asEmail(chs[0].Item)
			if e.Read == nil || !*e.Read || e.Flag == nil || e.Flag.Status != nil || e.Categories == nil || len(e.Categories.Category) != 0 {
				t.Errorf("change %+v", e)
			}
		},
	}, {
		name: "flagged",
		act: func(t *testing.T, s setup) []string {
			store(t, s, 2, imap.StoreFlagsAdd, imap.FlagFlagged)
			return []string{"Change:" + uidString(s.uids[2])}
		},
		verify: func(t *testing.T, s setup, chs []eas.ItemChange) {
			f := asEmail(chs[0].Item).Flag
			if f == nil || f.Status == nil || *f.Status != eas.FlagActive || f.FlagType != flagTypeFollowUp {
				t.Errorf("flag %+v", f)
			}
		},
	}, {
		name: "unflagged",
		act: func(t *testing.T, s setup) []string {
			store(t, s, 4, imap.StoreFlagsDel, imap.FlagFlagged)
			return []string{"Change:" + uidString(s.uids[4])}
		},
		verify: func(t *testing.T, s setup, chs []eas.ItemChange) {
			if f := asEmail(chs[0].Item).Flag; f == nil || f.Status != nil {
				t.Errorf("flag %+v, want empty", f)
			}
		},
	}, {
		name: "keyword",
		act: func(t *testing.T, s setup) []string {
			store(t, s, 3, imap.StoreFlagsAdd, "Urgent", "Privat&20&26&20B&C3&BCro")
			return []string{"Change:" + uidString(s.uids[3])}
		},
		verify: func(t *testing.T, s setup, chs []eas.ItemChange) {
			got := asEmail(chs[0].Item).Categories.Category
			slices.Sort(got)
			if !slices.Equal(got, []string{"Privat & Büro", "Urgent"}) {
				t.Errorf("categories %q", got)
			}
		},
	}, {
		name: "system keyword only",
		act: func(t *testing.T, s setup) []string {
			// $MDNSent says nothing the phone shows; no change.
			store(t, s, 3, imap.StoreFlagsAdd, imap.FlagMDNSent)
			return nil
		},
	}, {
		name: "forwarded",
		act: func(t *testing.T, s setup) []string {
			store(t, s, 0, imap.StoreFlagsAdd, imap.FlagForwarded)
			return []string{"Change:" + uidString(s.uids[0])}
		},
		verify: func(t *testing.T, s setup, chs []eas.ItemChange) {
			if asEmail(chs[0].Item).LastVerbExecuted != 3 {
				t.Errorf("LastVerbExecuted %d, want 3", asEmail(chs[0].Item).LastVerbExecuted)
			}
		},
	}, {
		name: "expunge",
		act: func(t *testing.T, s setup) []string {
			store(t, s, 1, imap.StoreFlagsAdd, imap.FlagDeleted)
			if err := s.c.UIDExpunge(imap.UIDSetNum(s.uids[1])).Close(); err != nil {
				t.Fatal(err)
			}
			return []string{"Delete:" + uidString(s.uids[1])}
		},
	}, {
		name: "flagged deleted, not expunged",
		act: func(t *testing.T, s setup) []string {
			store(t, s, 2, imap.StoreFlagsAdd, imap.FlagDeleted)
			return []string{"Delete:" + uidString(s.uids[2])}
		},
	}, {
		name: "moved away",
		act: func(t *testing.T, s setup) []string {
			if _, err := s.c.Select(s.folder, nil).Wait(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.c.Move(imap.UIDSetNum(s.uids[0]), "Archive").Wait(); err != nil {
				t.Fatal(err)
			}
			return []string{"Delete:" + uidString(s.uids[0])}
		},
	}, {
		name: "several at once",
		act: func(t *testing.T, s setup) []string {
			store(t, s, 0, imap.StoreFlagsAdd, imap.FlagSeen)
			store(t, s, 1, imap.StoreFlagsAdd, imap.FlagDeleted)
			uid := appendOne(t, s.c, s.folder, textMessage(98, time.Now(), "", ""), time.Now())
			return []string{"Delete:" + uidString(s.uids[1]), "Change:" + uidString(s.uids[0]), "Add:" + uidString(uid)}
		},
	}}
	for _, mode := range condstoreModes {
		t.Run(mode.name, func(t *testing.T) {
			u := startDovecot(t, mode.noCondstore, Config{})
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					folder := fmt.Sprintf("F%d", i)
					c := u.dial(t)
					if err := c.Create(folder, nil).Wait(); err != nil {
						t.Fatal(err)
					}
					s := setup{c: c, mb: u.open(t), folder: folder}
					now := time.Now()
					var msgs []msg
					for k := 0; k < 5; k++ {
						var fl []imap.Flag
						if k == 4 {
							fl = []imap.Flag{imap.FlagFlagged}
						}
						msgs = append(msgs, msg{raw: textMessage(k, now, "", ""), date: now, flags: fl})
					}
					s.uids = appendAll(t, c, folder, msgs)
					p := newPhone(folder)
					if got := len(p.syncAll(t, s.mb)); got != 5 {
						t.Fatalf("initial sync: %d changes", got)
					}
					want := tt.act(t, s)
					chs := p.syncAll(t, s.mb)
					if got := summary(chs); !slices.Equal(got, want) {
						t.Fatalf("changes %v, want %v", got, want)
					}
					if tt.verify != nil {
						tt.verify(t, s, chs)
					}
					if cs := p.sync(t, s.mb); len(cs.Changes) != 0 || cs.More {
						t.Errorf("second sync: %v", summary(cs.Changes))
					}
					// What the phone holds now is what the server has.
					checkMirror(t, u, folder, p)
				})
			}
		})
	}
}

// checkMirror compares the phone's copy with the folder as an independent
// client sees it.
func checkMirror(t *testing.T, u *upstream, folder string, p *phone) {
	t.Helper()
	c := u.dial(t)
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	server := known{}
	for _, m := range msgs {
		if f := parseFlags(m.Flags); !f.deleted {
			server[uidString(m.UID)] = f.version()
		}
	}
	if got, want := strings.Join(sortedKeys(p.known), ","), strings.Join(sortedKeys(server), ","); got != want {
		t.Errorf("phone holds %s, server has %s", got, want)
	}
	for id, v := range server {
		if p.known[id] != v {
			t.Errorf("message %s: phone version %q, server %q", id, p.known[id], v)
		}
	}
}

func TestUIDValidityChange(t *testing.T) {
	u := startDovecot(t, false, Config{})
	c := u.dial(t)
	if err := c.Create("Projekt", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendOne(t, c, "Projekt", textMessage(1, time.Now(), "", ""), time.Now())
	mb := u.open(t)
	p := newPhone("Projekt")
	p.syncAll(t, mb)

	// Delete and create again from another client, while the pooled
	// connection still has the folder selected.
	if err := c.Delete("Projekt").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Projekt", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendOne(t, c, "Projekt", textMessage(2, time.Now(), "", ""), time.Now())
	_, err := mb.Changes(context.Background(), p.query())
	wantErr(t, err, eas.ErrStateInvalid)

	// The phone starts over and gets the new folder's content.
	p = newPhone("Projekt")
	if got := p.syncAll(t, mb); len(got) != 1 || got[0].Kind != eas.ChangeAdd {
		t.Errorf("resync: %v", summary(got))
	}
}

func TestSoftDelete(t *testing.T) {
	for _, mode := range condstoreModes {
		t.Run(mode.name, func(t *testing.T) {
			u := startDovecot(t, mode.noCondstore, Config{})
			c := u.dial(t)
			day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
			uids := appendAll(t, c, "INBOX", []msg{
				{raw: textMessage(1, day(1), "", ""), date: day(1)},
				{raw: textMessage(2, day(5), "", ""), date: day(5)},
				{raw: textMessage(3, day(10), "", ""), date: day(10)},
				{raw: textMessage(4, day(20), "", ""), date: day(20)},
			})
			mb := u.open(t)
			p := newPhone("INBOX")
			p.since = day(3)
			if got, want := summary(p.syncAll(t, mb)), []string{"Add:" + uidString(uids[3]), "Add:" + uidString(uids[2]), "Add:" + uidString(uids[1])}; !slices.Equal(got, want) {
				t.Fatalf("first sync %v, want %v", got, want)
			}

			// The window moves past message 2; message 3 is deleted meanwhile.
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			if err := c.Store(imap.UIDSetNum(uids[2]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.UIDExpunge(imap.UIDSetNum(uids[2])).Close(); err != nil {
				t.Fatal(err)
			}
			p.since = day(7)
			if got, want := summary(p.syncAll(t, mb)), []string{"Delete:" + uidString(uids[2]), "SoftDelete:" + uidString(uids[1])}; !slices.Equal(got, want) {
				t.Errorf("after the window moved: %v, want %v", got, want)
			}
			// Widening the window brings old messages back.
			p.since = time.Time{}
			if got, want := summary(p.syncAll(t, mb)), []string{"Add:" + uidString(uids[1]), "Add:" + uidString(uids[0])}; !slices.Equal(got, want) {
				t.Errorf("after the window grew: %v, want %v", got, want)
			}
			if cs := p.sync(t, mb); len(cs.Changes) != 0 {
				t.Errorf("nothing new, but %v", summary(cs.Changes))
			}
		})
	}
}

func TestOwnFlagUpdateNotEchoed(t *testing.T) {
	for _, mode := range condstoreModes {
		t.Run(mode.name, func(t *testing.T) {
			u := startDovecot(t, mode.noCondstore, Config{})
			c := u.dial(t)
			now := time.Now()
			uids := appendAll(t, c, "INBOX", []msg{
				{raw: textMessage(1, now, "", ""), date: now},
				{raw: textMessage(2, now, "", ""), date: now, flags: []imap.Flag{imap.FlagFlagged, "Work"}},
			})
			mb := u.open(t)
			p := newPhone("INBOX")
			p.syncAll(t, mb)

			yes := true
			active, complete := eas.FlagActive, eas.FlagComplete
			cats := []string{"Privat & Büro", "Work"}
			none := []string{}
			updates := []struct {
				uid  imap.UID
				u    eas.FlagUpdate
				want mailFlags
			}{
				{uids[0], eas.FlagUpdate{Read: &yes}, mailFlags{seen: true}},
				{uids[0], eas.FlagUpdate{Flag: &eas.Flag{Status: &active, FlagType: "Follow up"}}, mailFlags{seen: true, flagged: true}},
				{uids[0], eas.FlagUpdate{Categories: &cats}, mailFlags{seen: true, flagged: true, keywords: []string{"Privat&20&26&20B&C3&BCro", "Work"}}},
				{uids[1], eas.FlagUpdate{Flag: &eas.Flag{Status: &complete}}, mailFlags{keywords: []string{"Work"}}},
				{uids[1], eas.FlagUpdate{Categories: &none}, mailFlags{}},
				{uids[0], eas.FlagUpdate{Flag: &eas.Flag{}}, mailFlags{seen: true, keywords: []string{"Privat&20&26&20B&C3&BCro", "Work"}}},
			}
			for i, up := range updates {
				id := uidString(up.uid)
				v, err := mb.UpdateFlags(context.Background(), eas.ItemRef{Path: "INBOX", ServerID: id}, up.u)
				if err != nil {
					t.Fatalf("update %d: %v", i, err)
				}
				if v != up.want.version() {
					t.Errorf("update %d: version %q, want %q", i, v, up.want.version())
				}
				p.known[id] = v
				if cs := p.sync(t, mb); len(cs.Changes) != 0 {
					t.Errorf("update %d came back: %v", i, summary(cs.Changes))
				}
			}
			checkMirror(t, u, "INBOX", p)

			// An independent client sees the categories as keywords.
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			msgs, err := c.Fetch(imap.UIDSetNum(uids[0]), &imap.FetchOptions{Flags: true}).Collect()
			if err != nil || len(msgs) != 1 {
				t.Fatal(msgs, err)
			}
			got := parseFlags(msgs[0].Flags).categories()
			slices.Sort(got)
			if !slices.Equal(got, cats) {
				t.Errorf("categories on the server %q, want %q", got, cats)
			}

			_, err = mb.UpdateFlags(context.Background(), eas.ItemRef{Path: "INBOX", ServerID: "4711"}, eas.FlagUpdate{Read: &yes})
			wantErr(t, err, eas.ErrNotFound)
		})
	}
}

func TestChangesInMemory(t *testing.T) {
	// go-imap's server: no CONDSTORE, no ESEARCH, no LIST-STATUS.
	u := startMemServer(t, []imap.Cap{imap.CapUIDPlus}, Config{})
	c := u.dial(t)
	now := time.Now()
	uids := appendAll(t, c, "INBOX", []msg{
		{raw: textMessage(1, now, "", ""), date: now},
		{raw: textMessage(2, now, "", ""), date: now},
		{raw: textMessage(3, now, "", ""), date: now},
	})
	mb := u.open(t)
	p := newPhone("INBOX")
	p.window = 2
	if got := summary(p.syncAll(t, mb)); len(got) != 3 {
		t.Fatalf("initial sync %v", got)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(uids[0]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(uids[1]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := summary(p.syncAll(t, mb)), []string{"Delete:" + uidString(uids[1]), "Change:" + uidString(uids[0])}; !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	checkMirror(t, u, "INBOX", p)
}

// asEmail is the message an ItemChange or Fetch carries, nil for none.
func asEmail(it eas.Item) *eas.Email {
	e, _ := it.(*eas.Email)
	return e
}

// fetchMail fetches a message.
func fetchMail(ctx context.Context, mb *Mailbox, ref eas.ItemRef, body eas.BodyOptions) (*eas.Email, error) {
	it, err := mb.Fetch(ctx, ref, body)
	return asEmail(it), err
}
