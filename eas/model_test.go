package eas_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

// modelItem is what a phone holds of one message.
type modelItem struct{ read, flagged bool }

// modelPhone is a phone's copy of several collections, kept the way a
// phone keeps it: from the answers it gets and the changes it makes
// itself. It fails the test on any answer a phone could not apply.
type modelPhone struct {
	t     *testing.T
	e     *mailEnv
	keys  map[string]string               // collection id -> SyncKey
	items map[string]map[string]modelItem // collection id -> ServerId -> item
}

func (p *modelPhone) apply(coll string, col *eas.SyncCollectionResponse) {
	t := p.t
	t.Helper()
	if col.Status != eas.SyncSuccess {
		t.Fatalf("sync %s: status %d", coll, col.Status)
	}
	items := p.items[coll]
	if col.Responses != nil {
		// Status 8: the item went away upstream before the phone's command
		// reached it, which is no fault; anything else is.
		for _, r := range append(slices.Clone(col.Responses.Change), col.Responses.Delete...) {
			if r.Status != eas.SyncObjectNotFound {
				t.Fatalf("sync %s: the phone's command on %s failed with status %d", coll, r.ServerID, r.Status)
			}
		}
	}
	if c := col.Commands; c != nil {
		for _, it := range c.Add {
			if _, ok := items[it.ServerID]; ok {
				t.Fatalf("sync %s: Add of %s, which the phone has", coll, it.ServerID)
			}
			d := it.ApplicationData
			if d == nil || d.Read == nil || d.Flag == nil {
				t.Fatalf("sync %s: Add of %s without Read or Flag: %+v", coll, it.ServerID, d)
			}
			items[it.ServerID] = modelItem{read: *d.Read, flagged: d.Flag.Status != nil && *d.Flag.Status == eas.FlagActive}
		}
		for _, it := range c.Change {
			m, ok := items[it.ServerID]
			if !ok {
				t.Fatalf("sync %s: Change of %s, which the phone lacks", coll, it.ServerID)
			}
			if d := it.ApplicationData; d != nil {
				if d.Read != nil {
					m.read = *d.Read
				}
				if d.Flag != nil {
					m.flagged = d.Flag.Status != nil && *d.Flag.Status == eas.FlagActive
				}
			}
			items[it.ServerID] = m
		}
		for _, list := range [][]eas.SyncItemID{c.Delete, c.SoftDelete} {
			for _, it := range list {
				if _, ok := items[it.ServerID]; !ok {
					t.Fatalf("sync %s: Delete of %s, which the phone lacks", coll, it.ServerID)
				}
				delete(items, it.ServerID)
			}
		}
	}
	p.keys[coll] = col.SyncKey
}

// sync runs one Sync of coll with a small window and the given commands.
func (p *modelPhone) sync(coll string, cmds *eas.SyncCommands) bool {
	p.t.Helper()
	col := p.e.sync(p.t, eas.SyncCollection{SyncKey: p.keys[coll], CollectionID: coll, WindowSize: intp(3), Commands: cmds})
	p.apply(coll, col)
	return col.MoreAvailable
}

// random returns a random ServerId the phone holds in coll, "" for none.
func (p *modelPhone) random(r *rand.Rand, coll string) string {
	ids := make([]string, 0, len(p.items[coll]))
	for id := range p.items[coll] {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return ""
	}
	slices.Sort(ids)
	return ids[r.IntN(len(ids))]
}

// TestMailRandomized drives the gateway with a seeded random mix of what
// other clients do on Dovecot (append, flag, expunge, move) and what the
// phone does (sync in small windows, mark read, flag, delete, move), then
// syncs to the end: the phone must hold exactly each folder's messages
// with their flags, and never get an answer it cannot apply.
func TestMailRandomized(t *testing.T) {
	// Seeds 1 to 100 passed when this was written; CI runs a few.
	seeds := []uint64{1, 2, 3, 4, 5, 6}
	bothModes(t, func(t *testing.T, noCondstore bool) {
		for _, seed := range seeds {
			t.Run(fmt.Sprint(seed), func(t *testing.T) {
				runModel(t, noCondstore, seed)
			})
		}
	})
}

func runModel(t *testing.T, noCondstore bool, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	e := newMailEnv(t, noCondstore, eas.V141, "Work")
	folders := []string{"INBOX", "Work", "Trash"}
	p := &modelPhone{t: t, e: e, keys: map[string]string{}, items: map[string]map[string]modelItem{}}
	for _, f := range folders {
		coll := e.id(t, f)
		p.items[coll] = map[string]modelItem{}
		p.apply(coll, e.sync(t, eas.SyncCollection{SyncKey: "0", CollectionID: coll}))
	}
	e.appendN(t, "INBOX", 1, 8)
	next := 100
	ctx := context.Background()

	// serverUID picks a random message of mailbox through the independent
	// connection, 0 when it is empty.
	serverUID := func(mailbox string) imap.UID {
		uids := e.uids(t, mailbox)
		if len(uids) == 0 {
			return 0
		}
		return uids[r.IntN(len(uids))]
	}
	var log []string
	defer func() {
		if t.Failed() {
			t.Logf("seed %d steps:\n%s", seed, strings.Join(log, "\n"))
		}
	}()
	for step := range 60 {
		f := folders[r.IntN(2)] // INBOX or Work
		coll := e.id(t, f)
		switch op := r.IntN(9); op {
		case 0:
			e.appendN(t, f, next, 1+r.IntN(3))
			next += 10
			log = append(log, fmt.Sprintf("%d server append %s", step, f))
		case 1, 2:
			if uid := serverUID(f); uid != 0 {
				flag := []imap.Flag{imap.FlagSeen, imap.FlagFlagged}[r.IntN(2)]
				opName := imap.StoreFlagsAdd
				if r.IntN(2) == 0 {
					opName = imap.StoreFlagsDel
				}
				if err := e.imap.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: opName, Flags: []imap.Flag{flag}, Silent: true}, nil).Close(); err != nil {
					t.Fatal(err)
				}
				log = append(log, fmt.Sprintf("%d server store %v %s %s/%d", step, opName, flag, f, uid))
			}
		case 3:
			if uid := serverUID(f); uid != 0 {
				if err := e.imap.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
					t.Fatal(err)
				}
				if err := e.imap.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
					t.Fatal(err)
				}
				log = append(log, fmt.Sprintf("%d server expunge %s/%d", step, f, uid))
			}
		case 4:
			if uid := serverUID(f); uid != 0 {
				dst := folders[1-slices.Index(folders, f)]
				if _, err := e.imap.Move(imap.UIDSetNum(uid), dst).Wait(); err != nil {
					t.Fatal(err)
				}
				log = append(log, fmt.Sprintf("%d server move %s/%d to %s", step, f, uid, dst))
			}
		case 5, 6:
			more := p.sync(coll, nil)
			log = append(log, fmt.Sprintf("%d phone sync %s (more %v)", step, f, more))
		case 7:
			// The phone changes or deletes one of its items.
			id := p.random(r, coll)
			if id == "" {
				continue
			}
			var cmds eas.SyncCommands
			m := p.items[coll][id]
			switch r.IntN(3) {
			case 0:
				m.read = !m.read
				cmds.ChangeCommand(id, &eas.Email{Read: boolp(m.read)})
				p.items[coll][id] = m
				log = append(log, fmt.Sprintf("%d phone read=%v %s", step, m.read, id))
			case 1:
				m.flagged = !m.flagged
				fl := &eas.Flag{}
				if m.flagged {
					fl = &eas.Flag{Status: intp(eas.FlagActive), FlagType: "Flag for follow up"}
				}
				cmds.ChangeCommand(id, &eas.Email{Flag: fl})
				p.items[coll][id] = m
				log = append(log, fmt.Sprintf("%d phone flagged=%v %s", step, m.flagged, id))
			default:
				cmds.DeleteCommand(id)
				delete(p.items[coll], id)
				log = append(log, fmt.Sprintf("%d phone delete %s", step, id))
			}
			p.sync(coll, &cmds)
		case 8:
			id := p.random(r, coll)
			if id == "" {
				continue
			}
			dst := e.id(t, folders[1-slices.Index(folders, f)])
			resp, err := e.phone.MoveItems(ctx, eas.MoveItem{SrcMsgID: id, SrcFldID: coll, DstFldID: dst})
			if err != nil || len(resp.Response) != 1 {
				t.Fatalf("MoveItems: %v %+v", err, resp)
			}
			res := resp.Response[0]
			log = append(log, fmt.Sprintf("%d phone move %s to %s: status %d -> %s", step, id, dst, res.Status, res.DstMsgID))
			switch res.Status {
			case eas.MoveSuccess:
				p.items[dst][res.DstMsgID] = p.items[coll][id]
				delete(p.items[coll], id)
			case eas.MoveInvalidSource:
				// Gone upstream meanwhile: the next Sync deletes it.
			default:
				t.Fatalf("MoveItems answered %+v", res)
			}
		}
	}

	// Everything to the end, until a folder answers a Sync with nothing. A
	// window computed ahead (while the previous answer travelled) may lack
	// a change made just before the phone asked for it; the next Sync
	// brings it, and a Ping would have said so at once.
	for _, f := range folders {
		coll := e.id(t, f)
		for round := 0; ; round++ {
			if round == 20 {
				t.Fatalf("%s: still not quiet after %d Syncs", f, round)
			}
			key := p.keys[coll]
			if !p.sync(coll, nil) && p.keys[coll] == key {
				break
			}
		}
		e.quiet(t, coll, p.keys[coll])
		want := map[string]modelItem{}
		e.imapSelect(t, f)
		uids := e.uids(t, f)
		if len(uids) > 0 {
			msgs, err := e.imap.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, Flags: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				want[fmt.Sprintf("%s:%d", coll, m.UID)] = modelItem{read: hasFlag(m.Flags, imap.FlagSeen), flagged: hasFlag(m.Flags, imap.FlagFlagged)}
			}
		}
		got := p.items[coll]
		for id, w := range want {
			if g, ok := got[id]; !ok {
				t.Errorf("%s: the phone lacks %s", f, id)
			} else if g != w {
				t.Errorf("%s: %s is %+v on the phone, %+v upstream", f, id, g, w)
			}
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				t.Errorf("%s: the phone has %s, which is gone upstream", f, id)
			}
		}
	}
}
