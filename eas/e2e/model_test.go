package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// modelItem is what a phone holds of one message.
type modelItem struct {
	read, flagged bool
	categories    string // sorted, comma-separated
}

func categoriesOf(c *eas.Categories) string {
	if c == nil {
		return ""
	}
	names := slices.Clone(c.Category)
	slices.Sort(names)
	return strings.Join(names, ",")
}

// modelPhone is a phone's copy of several collections, kept the way a
// phone keeps it: from the answers it gets and the changes it makes
// itself. It fails the test on any answer a phone could not apply.
type modelPhone struct {
	t    *testing.T
	e    *mailEnv
	name string
	c    *easclient.Client
	// options go with every Sync, as iOS sends them; nil: none, as AOSP
	// relies on the ones stored with the key.
	options *eas.SyncOptions
	// since drops older messages from what the phone should hold.
	since time.Time
	// v is the protocol version; before 14.0 there are no categories.
	v     eas.Version
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
			items[it.ServerID] = modelItem{read: *d.Read, flagged: d.Flag.Status != nil && *d.Flag.Status == eas.FlagActive,
				categories: categoriesOf(d.Categories)}
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
				if d.Categories != nil {
					m.categories = categoriesOf(d.Categories)
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
	return p.syncCollection(eas.SyncCollection{SyncKey: p.keys[coll], CollectionID: coll, WindowSize: intp(3), Commands: cmds}).MoreAvailable
}

// syncBoth syncs several collections in one request, as phones do.
func (p *modelPhone) syncBoth(colls ...string) {
	p.t.Helper()
	var req eas.SyncRequest
	for _, coll := range colls {
		c := eas.SyncCollection{SyncKey: p.keys[coll], CollectionID: coll, WindowSize: intp(3)}
		if p.options != nil {
			c.Options = []eas.SyncOptions{*p.options}
		}
		req.Collections = append(req.Collections, c)
	}
	resp, err := p.c.Sync(context.Background(), &req)
	if err != nil {
		p.t.Fatalf("%s: sync: %v", p.name, err)
	}
	if resp == nil {
		// Nothing changed in any: the empty answer keeps every key.
		return
	}
	for _, coll := range colls {
		col, err := resp.Collection(coll)
		if err != nil {
			continue // no news in this one
		}
		p.apply(coll, col)
	}
}

// estimate asks GetItemEstimate for coll with the phone's key.
func (p *modelPhone) estimate(coll string) int {
	p.t.Helper()
	c := eas.GetItemEstimateCollection{SyncKey: p.keys[coll], CollectionID: coll}
	if p.options != nil {
		c.Options = []eas.SyncOptions{*p.options}
	}
	resp, err := p.c.GetItemEstimate(context.Background(), &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{c}})
	if err != nil || len(resp.Response) != 1 || resp.Response[0].Status != 1 || resp.Response[0].Collection == nil || resp.Response[0].Collection.Estimate == nil {
		p.t.Fatalf("%s: GetItemEstimate: %v %+v", p.name, err, resp)
	}
	return *resp.Response[0].Collection.Estimate
}

// lose sends a Sync whose answer never reaches the phone: it will send the
// same request again.
func (p *modelPhone) lose(coll string, cmds *eas.SyncCommands) {
	p.t.Helper()
	p.send(eas.SyncCollection{SyncKey: p.keys[coll], CollectionID: coll, WindowSize: intp(3), Commands: cmds})
}

func (p *modelPhone) syncCollection(c eas.SyncCollection) *eas.SyncCollectionResponse {
	p.t.Helper()
	col := p.send(c)
	p.apply(c.CollectionID, col)
	return col
}

func (p *modelPhone) send(c eas.SyncCollection) *eas.SyncCollectionResponse {
	p.t.Helper()
	if p.options != nil {
		c.Options = []eas.SyncOptions{*p.options}
	}
	resp, err := p.c.Sync(context.Background(), &eas.SyncRequest{Collections: []eas.SyncCollection{c}})
	if err != nil || resp == nil {
		p.t.Fatalf("%s: sync: %v", p.name, err)
	}
	col, err := resp.Collection(c.CollectionID)
	if err != nil {
		p.t.Fatalf("%s: sync: %v", p.name, err)
	}
	return col
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
// other clients do on Dovecot (append, flags, keywords, expunge, move) and
// what two phones of the account do (sync in small windows, mark read,
// flag, set categories, delete, move, and send a Sync again when its
// answer was lost; GetItemEstimate must count what the Syncs then bring),
// then syncs to the end: each phone
// must hold exactly each folder's messages with their flags and
// categories, and never get an answer it cannot apply.
func TestMailRandomized(t *testing.T) {
	// Seeds 1 to 120 passed on one node when this was written, 1 to 20 on
	// two; CI runs a few. Over two nodes, 8, 13 and 19 caught a prefetched
	// Sync window used after a GetItemEstimate on the other node.
	for _, top := range topologies([]uint64{1, 2, 3, 4, 5, 6}, []uint64{1, 2, 3, 8, 13, 19}) {
		t.Run(top.name, func(t *testing.T) {
			bothModes(t, func(t *testing.T, noCondstore bool) {
				for _, seed := range top.seeds {
					t.Run(fmt.Sprint(seed), func(t *testing.T) {
						runModel(t, top.start(t, noCondstore), seed)
					})
				}
			})
		})
	}
}

func runModel(t *testing.T, g *testGateway, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	// One phone speaks 16.1, the other 12.1.
	versions := []eas.Version{eas.V161, eas.V121}
	e := newMailEnvOn(t, g, versions[0], "Work")
	folders := []string{"INBOX", "Work", "Trash"}
	second := e.g.provisioned(t, e.user, e.pw, "mailphone-b", versions[1])
	if _, err := second.FolderSync(context.Background(), "0"); err != nil {
		t.Fatal(err)
	}
	var phones []*modelPhone
	for i, c := range []*easclient.Client{e.phone, second} {
		p := &modelPhone{t: t, e: e, name: fmt.Sprintf("phone %c", 'A'+i), c: c, v: versions[i], keys: map[string]string{}, items: map[string]map[string]modelItem{}}
		if i == 1 {
			// Three days of mail: old messages, and changes to them, never
			// reach this phone.
			p.options = &eas.SyncOptions{FilterType: intp(2)}
			p.since = time.Now().Add(-3 * 24 * time.Hour)
		}
		for _, f := range folders {
			coll := e.id(t, f)
			p.items[coll] = map[string]modelItem{}
			p.syncCollection(eas.SyncCollection{SyncKey: "0", CollectionID: coll})
		}
		phones = append(phones, p)
	}
	e.appendN(t, "INBOX", 1, 8)
	next := 100
	ctx := context.Background()
	categories := []string{"Blue", "Red"}

	// serverUID picks a random message of mailbox through the independent
	// connection, 0 when it is empty.
	serverUID := func(mailbox string) imap.UID {
		uids := e.uids(t, mailbox)
		if len(uids) == 0 {
			return 0
		}
		return uids[r.IntN(len(uids))]
	}
	store := func(uid imap.UID, op imap.StoreFlagsOp, flag imap.Flag) {
		if err := e.imap.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Flags: []imap.Flag{flag}, Silent: true}, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	var log []string
	defer func() {
		if t.Failed() {
			t.Logf("seed %d steps:\n%s", seed, strings.Join(log, "\n"))
		}
	}()
	for step := range 80 {
		f := folders[r.IntN(2)] // INBOX or Work
		coll := e.id(t, f)
		p := phones[r.IntN(len(phones))]
		switch op := r.IntN(10); op {
		case 0:
			if r.IntN(3) == 0 {
				date := time.Now().Add(-10 * 24 * time.Hour).UTC().Truncate(time.Second)
				appendRaw(t, e.imap, f, [][]byte{mailMessage(next, fmt.Sprintf("Old %d", next), "Old news.", date)}, []time.Time{date})
				log = append(log, fmt.Sprintf("%d server append old %s", step, f))
			} else {
				e.appendN(t, f, next, 1+r.IntN(3))
				log = append(log, fmt.Sprintf("%d server append %s", step, f))
			}
			next += 10
		case 1, 2:
			if uid := serverUID(f); uid != 0 {
				flag := []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.Flag(categories[0]), imap.Flag(categories[1])}[r.IntN(4)]
				op := []imap.StoreFlagsOp{imap.StoreFlagsAdd, imap.StoreFlagsDel}[r.IntN(2)]
				store(uid, op, flag)
				log = append(log, fmt.Sprintf("%d server store %v %s %s/%d", step, op, flag, f, uid))
			}
		case 3:
			if uid := serverUID(f); uid != 0 {
				store(uid, imap.StoreFlagsAdd, imap.FlagDeleted)
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
			if p.options != nil && r.IntN(6) == 0 {
				// The user changes how much mail the phone keeps.
				if *p.options.FilterType == 0 {
					p.options = &eas.SyncOptions{FilterType: intp(2)}
					p.since = time.Now().Add(-3 * 24 * time.Hour)
				} else {
					p.options = &eas.SyncOptions{FilterType: intp(0)}
					p.since = time.Time{}
				}
				// It syncs every folder with the new filter at once.
				p.syncBoth(e.id(t, "INBOX"), e.id(t, "Work"))
				log = append(log, fmt.Sprintf("%d %s filter now %d, synced", step, p.name, *p.options.FilterType))
				continue
			}
			if r.IntN(3) == 0 {
				// GetItemEstimate counts what syncing to the end brings.
				est := p.estimate(coll)
				n := 0
				for more := true; more; {
					col := p.syncCollection(eas.SyncCollection{SyncKey: p.keys[coll], CollectionID: coll, WindowSize: intp(3)})
					n += col.Commands.Len()
					more = col.MoreAvailable
				}
				log = append(log, fmt.Sprintf("%d %s estimate %s: %d, synced %d", step, p.name, f, est, n))
				if est != n {
					t.Fatalf("%s, %s: GetItemEstimate said %d, the Syncs brought %d", p.name, f, est, n)
				}
				continue
			}
			if r.IntN(4) == 0 {
				// A Ping answers at once, naming exactly the folders with
				// something for the phone, when there are any.
				var pending []string
				for _, f := range []string{"INBOX", "Work"} {
					if p.estimate(e.id(t, f)) > 0 {
						pending = append(pending, e.id(t, f))
					}
				}
				if len(pending) == 0 {
					continue
				}
				pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				resp, err := p.c.PingFolders(pctx, 60, e.id(t, "INBOX"), e.id(t, "Work"))
				cancel()
				log = append(log, fmt.Sprintf("%d %s ping: %v %+v", step, p.name, err, resp))
				if err != nil || resp.Status != 2 {
					t.Fatalf("%s: Ping with %v pending: %v %+v", p.name, pending, err, resp)
				}
				got := slices.Clone(resp.Folders)
				slices.Sort(got)
				slices.Sort(pending)
				if !slices.Equal(got, pending) {
					t.Fatalf("%s: Ping named %v, pending are %v", p.name, got, pending)
				}
				continue
			}
			if r.IntN(4) == 0 {
				p.syncBoth(e.id(t, "INBOX"), e.id(t, "Work"))
				log = append(log, fmt.Sprintf("%d %s sync INBOX and Work", step, p.name))
				continue
			}
			if r.IntN(4) == 0 {
				p.lose(coll, nil)
				log = append(log, fmt.Sprintf("%d %s sync %s, answer lost", step, p.name, f))
			}
			more := p.sync(coll, nil)
			log = append(log, fmt.Sprintf("%d %s sync %s (more %v)", step, p.name, f, more))
		case 7:
			// The phone changes or deletes one of its items.
			id := p.random(r, coll)
			if id == "" {
				continue
			}
			var cmds eas.SyncCommands
			m := p.items[coll][id]
			deleted := false
			switch r.IntN(4) {
			case 0:
				m.read = !m.read
				cmds.ChangeCommand(id, &eas.Email{Read: boolp(m.read)})
				log = append(log, fmt.Sprintf("%d %s read=%v %s", step, p.name, m.read, id))
			case 1:
				m.flagged = !m.flagged
				fl := &eas.Flag{}
				if m.flagged {
					fl = &eas.Flag{Status: intp(eas.FlagActive), FlagType: "Flag for follow up"}
				}
				cmds.ChangeCommand(id, &eas.Email{Flag: fl})
				log = append(log, fmt.Sprintf("%d %s flagged=%v %s", step, p.name, m.flagged, id))
			case 2:
				if !p.v.AtLeast(eas.V140) {
					continue
				}
				var names []string
				for _, c := range categories {
					if r.IntN(2) == 0 {
						names = append(names, c)
					}
				}
				cats := &eas.Categories{Category: names}
				m.categories = categoriesOf(cats)
				cmds.ChangeCommand(id, &eas.Email{Categories: cats})
				log = append(log, fmt.Sprintf("%d %s categories=%q %s", step, p.name, m.categories, id))
			default:
				cmds.DeleteCommand(id)
				deleted = true
				log = append(log, fmt.Sprintf("%d %s delete %s", step, p.name, id))
			}
			if deleted {
				delete(p.items[coll], id)
			} else {
				p.items[coll][id] = m
			}
			if r.IntN(4) == 0 {
				p.lose(coll, &cmds)
				log = append(log, fmt.Sprintf("%d %s answer lost, sent again", step, p.name))
			}
			p.sync(coll, &cmds)
		case 8:
			id := p.random(r, coll)
			if id == "" {
				continue
			}
			dst := e.id(t, folders[1-slices.Index(folders, f)])
			resp, err := p.c.MoveItems(ctx, eas.MoveItem{SrcMsgID: id, SrcFldID: coll, DstFldID: dst})
			if err != nil || len(resp.Response) != 1 {
				t.Fatalf("MoveItems: %v %+v", err, resp)
			}
			res := resp.Response[0]
			log = append(log, fmt.Sprintf("%d %s move %s to %s: status %d -> %s", step, p.name, id, dst, res.Status, res.DstMsgID))
			switch res.Status {
			case eas.MoveSuccess:
				p.items[dst][res.DstMsgID] = p.items[coll][id]
				delete(p.items[coll], id)
			case eas.MoveInvalidSource:
				// Gone upstream meanwhile: the next Sync deletes it.
			default:
				t.Fatalf("MoveItems answered %+v", res)
			}
		case 9:
			// Trash is emptied by another client now and then.
			if uid := serverUID("Trash"); uid != 0 {
				e.imapSelect(t, "Trash")
				store(uid, imap.StoreFlagsAdd, imap.FlagDeleted)
				if err := e.imap.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
					t.Fatal(err)
				}
				log = append(log, fmt.Sprintf("%d server expunge Trash/%d", step, uid))
			}
		}
	}

	// Everything to the end, until a folder answers a Sync with nothing. A
	// window computed ahead (while the previous answer travelled) may lack
	// a change made just before the phone asked for it; the next Sync
	// brings it, and a Ping would have said so at once.
	for _, f := range folders {
		coll := e.id(t, f)
		want := map[string]modelItem{}
		dates := map[string]time.Time{}
		uids := e.uids(t, f)
		if len(uids) > 0 {
			msgs, err := e.imap.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, Flags: true, InternalDate: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				var cats []string
				for _, fl := range m.Flags {
					if slices.Contains(categories, string(fl)) {
						cats = append(cats, string(fl))
					}
				}
				slices.Sort(cats)
				want[fmt.Sprintf("%s:%d", coll, m.UID)] = modelItem{read: hasFlag(m.Flags, imap.FlagSeen),
					flagged: hasFlag(m.Flags, imap.FlagFlagged), categories: strings.Join(cats, ",")}
				dates[fmt.Sprintf("%s:%d", coll, m.UID)] = m.InternalDate
			}
		}
		for _, p := range phones {
			for round := 0; ; round++ {
				if round == 20 {
					t.Fatalf("%s, %s: still not quiet after %d Syncs", p.name, f, round)
				}
				key := p.keys[coll]
				if !p.sync(coll, nil) && p.keys[coll] == key {
					break
				}
			}
			got := p.items[coll]
			for id, w := range want {
				if dates[id].Before(p.since) {
					if _, ok := got[id]; ok {
						t.Errorf("%s, %s: the phone has %s, older than its filter", p.name, f, id)
					}
					delete(got, id)
					continue
				}
				if !p.v.AtLeast(eas.V140) {
					w.categories = ""
				}
				if g, ok := got[id]; !ok {
					t.Errorf("%s, %s: the phone lacks %s", p.name, f, id)
				} else if g != w {
					t.Errorf("%s, %s: %s is %+v on the phone, %+v upstream", p.name, f, id, g, w)
				}
			}
			for id := range got {
				if _, ok := want[id]; !ok {
					t.Errorf("%s, %s: the phone has %s, which is gone upstream", p.name, f, id)
				}
			}
		}
	}
}

// A change another client made is not hidden by the phone acting on the
// same message before it synced: neither by its own flag change nor by its
// move to another folder.
func TestMailConcurrentChange(t *testing.T) {
	bothModes(t, func(t *testing.T, noCondstore bool) {
		e := newMailEnv(t, noCondstore, eas.V141, "Work")
		inbox, work := e.id(t, "INBOX"), e.id(t, "Work")
		uid := e.appendN(t, "INBOX", 1, 1)[0]
		key, cmds := e.syncAll(t, inbox, "0")
		if len(cmds.Add) != 1 {
			t.Fatalf("adds %+v", cmds.Add)
		}
		id := cmds.Add[0].ServerID
		workKey, _ := e.syncAll(t, work, "0")
		e.imapSelect(t, "INBOX")
		flag := func(op imap.StoreFlagsOp, f imap.Flag) {
			if err := e.imap.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Flags: []imap.Flag{f}, Silent: true}, nil).Close(); err != nil {
				t.Fatal(err)
			}
		}

		// Flagged elsewhere; the phone, not knowing, marks it read.
		flag(imap.StoreFlagsAdd, imap.FlagFlagged)
		var read eas.SyncCommands
		read.ChangeCommand(id, &eas.Email{Read: boolp(true)})
		col := e.sync(t, eas.SyncCollection{SyncKey: key, CollectionID: inbox, Commands: &read})
		if col.Commands == nil || len(col.Commands.Change) != 1 {
			t.Fatalf("the other client's flag did not come: %+v", col.Commands)
		}
		if d := col.Commands.Change[0].ApplicationData; d.Flag == nil || d.Flag.Status == nil || *d.Flag.Status != eas.FlagActive || d.Read == nil || !*d.Read {
			t.Fatalf("Change %+v", d)
		}
		key = col.SyncKey
		e.quiet(t, inbox, key)

		// Marked unread elsewhere; the phone, not knowing, moves it.
		flag(imap.StoreFlagsDel, imap.FlagSeen)
		resp, err := e.phone.MoveItems(context.Background(), eas.MoveItem{SrcMsgID: id, SrcFldID: inbox, DstFldID: work})
		if err != nil || len(resp.Response) != 1 || resp.Response[0].Status != eas.MoveSuccess {
			t.Fatalf("MoveItems: %v %+v", err, resp)
		}
		moved := resp.Response[0].DstMsgID
		col = e.sync(t, eas.SyncCollection{SyncKey: workKey, CollectionID: work})
		if col.Commands == nil || len(col.Commands.Add) != 0 || len(col.Commands.Change) != 1 || col.Commands.Change[0].ServerID != moved {
			t.Fatalf("after the move: %+v", col.Commands)
		}
		if d := col.Commands.Change[0].ApplicationData; d.Read == nil || *d.Read {
			t.Fatalf("Change %+v", d)
		}
		e.quiet(t, inbox, key)
	})
}

// A folder deleted and made again upstream has a new UIDVALIDITY, and its
// new messages the UIDs the old ones had. The phone's commands on what it
// still holds of the old folder must not act on the new messages.
func TestMailFolderMadeAnew(t *testing.T) {
	e := newMailEnv(t, false, eas.V141, "Work")
	ctx := context.Background()
	inbox, work := e.id(t, "INBOX"), e.id(t, "Work")
	e.appendN(t, "Work", 1, 2)
	key, cmds := e.syncAll(t, work, "0")
	if len(cmds.Add) != 2 {
		t.Fatalf("adds %+v", cmds.Add)
	}
	e.syncAll(t, inbox, "0")

	e.imapSelect(t, "INBOX")
	if err := e.imap.Delete("Work").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := e.imap.Create("Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	fresh := e.appendN(t, "Work", 10, 2)
	if fresh[0] != 1 || fresh[1] != 2 {
		t.Fatalf("the new folder's UIDs are %v", fresh)
	}
	old1, old2 := work+":1", work+":2"

	resp, err := e.phone.MoveItems(ctx, eas.MoveItem{SrcMsgID: old1, SrcFldID: work, DstFldID: inbox})
	if err != nil || len(resp.Response) != 1 || resp.Response[0].Status != eas.MoveInvalidSource {
		t.Fatalf("MoveItems of an item of the old folder: %v %+v", err, resp)
	}
	var req eas.ItemOperationsRequest
	req.AddFetch(eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: work, ServerID: old2})
	res, err := e.phone.ItemOperations(ctx, &req, false)
	if err != nil {
		t.Fatal(err)
	}
	if fs, err := res.Response.Fetches(); err != nil || len(fs) != 1 || fs[0].Status == 1 {
		t.Fatalf("ItemOperations of an item of the old folder: %v %+v", err, fs)
	}
	var del eas.SyncCommands
	del.DeleteCommand(old2)
	col := e.sync(t, eas.SyncCollection{SyncKey: key, CollectionID: work, Commands: &del})
	if col.Status != eas.SyncInvalidSyncKey {
		t.Fatalf("Sync of the old folder answered status %d", col.Status)
	}
	if n := e.imapCount(t, "Work"); n != 2 {
		t.Fatalf("Work holds %d messages, want the 2 new ones", n)
	}
	if n := e.imapCount(t, "Trash"); n != 0 {
		t.Fatalf("Trash holds %d messages", n)
	}
	if _, cmds := e.syncAll(t, work, "0"); len(cmds.Add) != 2 {
		t.Fatalf("the new folder synced %+v", cmds)
	}
}
