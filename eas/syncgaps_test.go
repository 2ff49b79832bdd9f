package eas_test

import (
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// refusedSubject is a note subject the fake store refuses as invalid
// (eas.ErrInvalidItem), as a CardDAV store refuses a picture over the
// limit.
const refusedSubject = "refused by the store"

// A phone's Add or Change that the store refuses as invalid gets Status 6
// (conversion error) for that item, not 5, and nothing is stored.
func TestSyncInvalidItemStatus6(t *testing.T) {
	g := startClassGateway(t)
	coll := g.id(t, "Notes")
	g.mail.add("Notes", "kept", time.Now())
	key, items, _ := primeClass(t, g, coll, 10)
	var cmds eas.SyncCommands
	if err := cmds.AddItemCommand("n1", &eas.Note{Subject: refusedSubject}); err != nil {
		t.Fatal(err)
	}
	if err := cmds.ChangeItemCommand(items["kept"], &eas.Note{Subject: refusedSubject}); err != nil {
		t.Fatal(err)
	}
	got := rawSyncOne(t, g.phone, eas.SyncCollection{SyncKey: key, CollectionID: coll, Commands: &cmds})
	if got.Status != eas.SyncSuccess || got.Responses == nil {
		t.Fatalf("Sync answered %+v", got)
	}
	var statuses []int
	for _, r := range got.Responses.Add {
		statuses = append(statuses, r.Status)
	}
	for _, r := range got.Responses.Change {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{eas.SyncConversionError, eas.SyncConversionError}) {
		t.Fatalf("Add and Change answered %v, want [6 6]", statuses)
	}
	if n := g.mail.count("Notes"); n != 1 {
		t.Fatalf("%d notes stored, want 1", n)
	}
	if m := g.mail.msg("Notes", items["kept"][len(coll)+1:]); m.subject != "kept" {
		t.Fatalf("stored note %+v", m)
	}
}
