package eas_test

// The engine's shared machinery (windows, replay of a lost answer,
// conflicts) driven through two classes: mail in a mail folder and notes
// in a Notes folder of the same fake store.

import (
	"context"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/wbxml"
)

// classCase is one class as a test drives it.
type classCase struct {
	class eas.Class
	// path is the folder of the class in the fake store.
	path string
	// phoneChange is a phone's Change of an item to subject (mail: the
	// subject stays, the item is marked read).
	phoneChange func(subject string) eas.Item
	// changed reports whether the store holds the phone's change.
	changed func(m *fakeMsg, subject string) bool
	// serverWins: a phone's change of an item changed meanwhile upstream
	// is refused with Status 7 (notes, Conflict absent); mail flags are
	// written whatever happened to the message.
	serverWins bool
}

var classCases = []classCase{
	{
		class:       eas.ClassEmail,
		path:        "Work",
		phoneChange: func(string) eas.Item { return &eas.Email{Read: boolp(true)} },
		changed:     func(m *fakeMsg, _ string) bool { return m.read },
	},
	{
		class: eas.ClassNotes,
		path:  "Notes",
		phoneChange: func(subject string) eas.Item {
			return &eas.Note{Subject: subject, Body: &eas.Body{Type: eas.BodyPlain, Data: "text of " + subject}}
		},
		changed:    func(m *fakeMsg, subject string) bool { return m.subject == subject && m.body == "text of "+subject },
		serverWins: true,
	},
}

// startClassGateway starts a gateway on a fake store that also has a
// Notes folder, with a 14.1 phone that knows it.
func startClassGateway(t *testing.T) *fakeGateway {
	t.Helper()
	g := &fakeGateway{mail: newFakeMail(), store: newMemStore()}
	g.mail.addFolder("Notes", "", eas.FolderNotes)
	g.server = eas.NewServer(eas.Config{MinHeartbeat: time.Second, MaxHeartbeat: 10 * time.Second},
		fakeBackend{g.mail}, g.store, fakeNotifier{g.mail})
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	g.phone = g.newPhone(t, "phone1", eas.V141)
	return g
}

// rawItem is a server Add or Change of any class, its data left as a tree.
type rawItem struct {
	ServerID string         `wbxml:"ServerId"`
	Data     *wbxml.Element `wbxml:"ApplicationData,omitempty"`
}

type rawCommands struct {
	Add    []rawItem        `wbxml:"Add"`
	Change []rawItem        `wbxml:"Change"`
	Delete []eas.SyncItemID `wbxml:"Delete"`
}

type rawCollection struct {
	SyncKey       string             `wbxml:"SyncKey"`
	CollectionID  string             `wbxml:"CollectionId"`
	Status        int                `wbxml:"Status"`
	MoreAvailable bool               `wbxml:"MoreAvailable,empty"`
	Commands      *rawCommands       `wbxml:"Commands,omitempty"`
	Responses     *eas.SyncResponses `wbxml:"Responses,omitempty"`
}

type rawSync struct {
	XMLName     wbxml.Name      `wbxml:"AirSync:Sync"`
	Status      int             `wbxml:"Status,omitempty"`
	Collections []rawCollection `wbxml:"Collections>Collection"`
}

// subject is the Subject of an item of any class.
func (it rawItem) subject() string {
	if it.Data == nil {
		return ""
	}
	for _, c := range it.Data.Children {
		if c.Name() == "Subject" {
			return c.Text()
		}
	}
	return ""
}

// rawSyncOne sends one Sync of one collection and returns its answer.
func rawSyncOne(t *testing.T, c *easclient.Client, coll eas.SyncCollection) rawCollection {
	t.Helper()
	var resp rawSync
	if _, err := c.Do(context.Background(), "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{coll}}, &resp); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if len(resp.Collections) != 1 {
		t.Fatalf("sync answered %+v", resp)
	}
	return resp.Collections[0]
}

func adds(c rawCollection) []rawItem {
	if c.Commands == nil {
		return nil
	}
	return c.Commands.Add
}

// primeClass syncs the collection completely and returns its key and the
// phone's items by subject.
func primeClass(t *testing.T, g *fakeGateway, coll string, window int) (string, map[string]string, int) {
	t.Helper()
	got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: coll})
	key, items, rounds := got.SyncKey, map[string]string{}, 0
	for {
		got = rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll, WindowSize: &window})
		rounds++
		if got.Status != eas.SyncSuccess || len(adds(got)) > window {
			t.Fatalf("window %d answered %d adds, status %d", window, len(adds(got)), got.Status)
		}
		for _, a := range adds(got) {
			if _, dup := items[a.subject()]; dup {
				t.Fatalf("%q sent twice", a.subject())
			}
			items[a.subject()] = a.ServerID
		}
		key = got.SyncKey
		if !got.MoreAvailable {
			return key, items, rounds
		}
	}
}

func TestSyncClassesInWindows(t *testing.T) {
	for _, cc := range classCases {
		t.Run(string(cc.class), func(t *testing.T) {
			g := startClassGateway(t)
			coll := g.id(t, cc.path)
			for i := range 7 {
				g.mail.add(cc.path, fmt.Sprintf("item %d", i), time.Now())
			}
			_, items, rounds := primeClass(t, g, coll, 3)
			if len(items) != 7 || rounds != 3 {
				t.Fatalf("%d items in %d windows, want 7 in 3", len(items), rounds)
			}
			// What the phone got is of the folder's class.
			got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: coll})
			got = rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: got.SyncKey, CollectionID: coll, WindowSize: intp(1)})
			if d := adds(got); len(d) != 1 || d[0].Data == nil || d[0].Data.Children[0].Namespace() != map[eas.Class]string{eas.ClassEmail: "Email", eas.ClassNotes: "Notes"}[cc.class] {
				t.Fatalf("first add %+v", d)
			}
		})
	}
}

// The phone's answer is lost: it repeats its request with the same key and
// commands and gets the same answer, without the commands applied twice.
func TestSyncClassesReplay(t *testing.T) {
	for _, cc := range classCases {
		t.Run(string(cc.class), func(t *testing.T) {
			g := startClassGateway(t)
			coll := g.id(t, cc.path)
			for i := range 3 {
				g.mail.add(cc.path, fmt.Sprintf("item %d", i), time.Now())
			}
			key, items, _ := primeClass(t, g, coll, 10)
			g.mail.add(cc.path, "late", time.Now())

			var cmds eas.SyncCommands
			if err := cmds.ChangeItemCommand(items["item 0"], cc.phoneChange("edited")); err != nil {
				t.Fatal(err)
			}
			if err := cmds.DeleteCommand(items["item 1"]); err != nil {
				t.Fatal(err)
			}
			req := eas.SyncCollection{SyncKey: key, CollectionID: coll, Commands: &cmds}
			writes := func() int {
				return g.mail.calledN("UpdateFlags") + g.mail.calledN("Delete") + g.mail.calledN("ChangeItem") + g.mail.calledN("DeleteItem")
			}
			first := rawSyncOne(t, g.phone, req)
			n := writes()
			second := rawSyncOne(t, g.phone, req)
			if writes() != n || n != 2 {
				t.Fatalf("upstream writes %d after the first request, %d after the repeat; want 2 and 2", n, writes())
			}
			if !reflect.DeepEqual(first.Responses, second.Responses) {
				t.Fatalf("replay answered differently:\n%+v\n%+v", first, second)
			}
			subjects := func(c rawCollection) []string {
				var s []string
				for _, a := range adds(c) {
					s = append(s, a.subject())
				}
				return s
			}
			if !slices.Equal(subjects(first), []string{"late"}) || !slices.Equal(subjects(first), subjects(second)) {
				t.Fatalf("adds %v, then %v", subjects(first), subjects(second))
			}
			id := items["item 0"][len(coll)+1:]
			if !cc.changed(g.mail.msg(cc.path, id), "edited") {
				t.Fatalf("the phone's change is not upstream: %+v", g.mail.msg(cc.path, id))
			}
			after := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: second.SyncKey, CollectionID: coll})
			if after.Commands != nil || after.Responses != nil {
				t.Fatalf("after the replay: %+v", after)
			}
		})
	}
}

// Another client changes an item, then the phone changes it too.
func TestSyncClassesConflict(t *testing.T) {
	for _, cc := range classCases {
		t.Run(string(cc.class), func(t *testing.T) {
			g := startClassGateway(t)
			coll := g.id(t, cc.path)
			g.mail.add(cc.path, "shared", time.Now())
			key, items, _ := primeClass(t, g, coll, 10)
			sid := items["shared"]
			id := sid[len(coll)+1:]
			g.mail.edit(cc.path, id, func(m *fakeMsg) { m.subject, m.flagged = "theirs", true })

			var cmds eas.SyncCommands
			if err := cmds.ChangeItemCommand(sid, cc.phoneChange("mine")); err != nil {
				t.Fatal(err)
			}
			got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll, Commands: &cmds})
			var statuses []int
			if got.Responses != nil {
				for _, r := range got.Responses.Change {
					statuses = append(statuses, r.Status)
				}
			}
			msg := g.mail.msg(cc.path, id)
			if cc.serverWins {
				if !slices.Equal(statuses, []int{eas.SyncConflict}) || cc.changed(msg, "mine") {
					t.Fatalf("Change answered %v, store holds %+v; want Status 7 and the other client's version", statuses, msg)
				}
			} else if len(statuses) != 0 || !cc.changed(msg, "mine") {
				t.Fatalf("Change answered %v, store holds %+v; want the phone's change", statuses, msg)
			}
			// Either way the phone learns of the other client's change.
			if got.Commands == nil || len(got.Commands.Change) != 1 || got.Commands.Change[0].ServerID != sid {
				t.Fatalf("server changes %+v", got.Commands)
			}
		})
	}
}

// A phone adds a note and then changes only its body: the note keeps the
// subject the phone left out (MS-ASNOTE: a missing Subject is no delete).
func TestSyncNotesAddAndGhosting(t *testing.T) {
	g := startClassGateway(t)
	coll := g.id(t, "Notes")
	key, _, _ := primeClass(t, g, coll, 10)
	var cmds eas.SyncCommands
	if err := cmds.AddItemCommand("n1", &eas.Note{Subject: "Shopping", Body: &eas.Body{Type: eas.BodyPlain, Data: "milk"}}); err != nil {
		t.Fatal(err)
	}
	got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll, Commands: &cmds})
	if got.Responses == nil || len(got.Responses.Add) != 1 || got.Responses.Add[0].Status != eas.SyncSuccess {
		t.Fatalf("Add answered %+v", got.Responses)
	}
	sid := got.Responses.Add[0].ServerID
	if len(adds(got)) != 0 {
		t.Fatalf("the phone's own note came back: %+v", adds(got))
	}
	var edit eas.SyncCommands
	if err := edit.ChangeItemCommand(sid, &eas.Note{Body: &eas.Body{Type: eas.BodyPlain, Data: "milk, bread"}}); err != nil {
		t.Fatal(err)
	}
	got = rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: got.SyncKey, CollectionID: coll, Commands: &edit})
	if got.Responses != nil || got.Commands != nil {
		t.Fatalf("Change answered %+v %+v", got.Responses, got.Commands)
	}
	m := g.mail.msg("Notes", sid[len(coll)+1:])
	if m == nil || m.subject != "Shopping" || m.body != "milk, bread" {
		t.Fatalf("stored note %+v", m)
	}
}

// A Notes collection exists from 14.0 on; a 12.1 phone that asks for one
// gets a protocol error rather than items it cannot read.
func TestSyncNotesNeeds14(t *testing.T) {
	g := startClassGateway(t)
	old := g.newPhone(t, "old", eas.V121)
	got := rawSyncOne(t, old, eas.SyncCollection{SyncKey: "0", CollectionID: g.id(t, "Notes")})
	if got.Status != eas.SyncProtocolError {
		t.Fatalf("12.1 Notes sync answered %+v", got)
	}
}

// MS-ASNOTE: a Notes collection takes no Supported.
func TestSyncNotesRefuseSupported(t *testing.T) {
	g := startClassGateway(t)
	got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: "0", CollectionID: g.id(t, "Notes"),
		Supported: wbxml.NewElement("AirSync", "Supported").Add(wbxml.NewElement("Notes", "Subject"))})
	if got.Status != eas.SyncProtocolError {
		t.Fatalf("Supported in a Notes collection answered %+v", got)
	}
}

// With Conflict 0 in its Options the phone's change of a note wins over
// one another client made meanwhile.
func TestSyncNotesClientWins(t *testing.T) {
	g := startClassGateway(t)
	coll := g.id(t, "Notes")
	g.mail.add("Notes", "shared", time.Now())
	key, items, _ := primeClass(t, g, coll, 10)
	sid := items["shared"]
	g.mail.edit("Notes", sid[len(coll)+1:], func(m *fakeMsg) { m.subject = "theirs" })
	var cmds eas.SyncCommands
	if err := cmds.ChangeItemCommand(sid, &eas.Note{Subject: "mine"}); err != nil {
		t.Fatal(err)
	}
	got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll, Commands: &cmds,
		Options: []eas.SyncOptions{{Conflict: intp(0)}}})
	if got.Responses != nil {
		t.Fatalf("Change answered %+v", got.Responses)
	}
	if m := g.mail.msg("Notes", sid[len(coll)+1:]); m.subject != "mine" {
		t.Fatalf("stored note %+v, want the phone's subject", m)
	}
}

// A phone's Add or Change without ApplicationData (malformed: MS-ASCMD
// requires it) is refused with Status 6 and writes nothing; read as an
// empty item it would clear every field that is not ghosted.
func TestSyncClassesNoApplicationData(t *testing.T) {
	text := func(name, v string) *wbxml.Element {
		return &wbxml.Element{Tag: wbxml.MustLookup("AirSync", name), Data: []byte(v)}
	}
	g := startClassGateway(t)
	coll := g.id(t, "Notes")
	g.mail.add("Notes", "kept", time.Now())
	key, items, _ := primeClass(t, g, coll, 10)
	sid := items["kept"]
	before := *g.mail.msg("Notes", sid[len(coll)+1:])
	n := g.mail.count("Notes")
	for _, tc := range []struct {
		name string
		cmd  *wbxml.Element
	}{
		{"Change", &wbxml.Element{Tag: wbxml.MustLookup("AirSync", "Change"), Children: []*wbxml.Element{text("ServerId", sid)}}},
		{"Add", &wbxml.Element{Tag: wbxml.MustLookup("AirSync", "Add"), Children: []*wbxml.Element{text("ClientId", "c1")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmds := eas.SyncCommands{Items: []*wbxml.Element{tc.cmd}}
			got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll, Commands: &cmds})
			key = got.SyncKey
			var statuses []int
			if r := got.Responses; r != nil {
				for _, a := range r.Add {
					statuses = append(statuses, a.Status)
				}
				for _, c := range r.Change {
					statuses = append(statuses, c.Status)
				}
			}
			if !slices.Equal(statuses, []int{eas.SyncConversionError}) {
				t.Errorf("answered %v, want [%d]", statuses, eas.SyncConversionError)
			}
			if m := g.mail.msg("Notes", sid[len(coll)+1:]); m == nil || m.subject != before.subject || m.body != before.body {
				t.Errorf("note now %+v, was %+v", m, before)
			}
			if c := g.mail.count("Notes"); c != n {
				t.Errorf("%d notes, want %d", c, n)
			}
		})
	}
}
