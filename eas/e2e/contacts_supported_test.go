package e2e_test

import (
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

// A phone that lists airsync:Supported in its first Sync of a contacts
// folder (MS-ASCMD 2.2.3.179): what its Change leaves out is cleared when
// the list names it and kept when it does not. Without a list only what
// phones never send back is kept.
func TestContactsSupportedGhosting(t *testing.T) {
	g := startCardGateway(t, cardGatewayOptions{})
	book := g.book(t, "contacts", "Contacts")
	card := testCard("ann", "Ann Smith", "TITLE:Engineer\r\nX-OFFICE:Room 4\r\nEMAIL;TYPE=INTERNET:ann@example.org\r\n"+
		"TEL;TYPE=CELL:+49 170 1\r\nNOTE:met at the fair\r\nORG:Acme\r\n")
	list := func(names ...string) *wbxml.Element {
		s := wbxml.NewElement("AirSync", "Supported")
		for _, n := range names {
			s.Add(wbxml.NewElement("Contacts", n))
		}
		return s
	}
	tests := []struct {
		name      string
		supported *wbxml.Element
		change    eas.Contact
		has       []string
		hasnt     []string
	}{
		{name: "short list: unlisted fields kept, listed ones cleared", supported: list("JobTitle", "OfficeLocation"),
			change: eas.Contact{FirstName: "Ann", LastName: "Smith", JobTitle: "Manager"},
			has:    []string{"TITLE:Manager", "ann@example.org", "+49 170 1", "NOTE:met at the fair", "ORG:Acme"},
			hasnt:  []string{"Room 4"}},
		{name: "no list: absent fields cleared but the note", supported: nil,
			change: eas.Contact{FirstName: "Ann", LastName: "Smith", JobTitle: "Manager", Email1Address: "ann@example.org"},
			has:    []string{"TITLE:Manager", "ann@example.org", "NOTE:met at the fair"},
			hasnt:  []string{"+49 170 1", "Room 4", "Acme"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.put(t, book+"ann.vcf", card)
			phone := g.phone(t, "supported"+string(rune('a'+i)), eas.V141)
			ids := map[string]string{}
			phone.folders(t, "0", ids)
			id := ids["Contacts"]
			c := phone.mustSync(t, eas.SyncCollection{SyncKey: "0", CollectionID: id, Supported: tt.supported})
			c = phone.mustSync(t, eas.SyncCollection{SyncKey: c.SyncKey, CollectionID: id, GetChanges: boolp(true)})
			if c.Status != eas.SyncSuccess || c.Commands == nil || len(c.Commands.Add) != 1 {
				t.Fatalf("first sync: %+v", c)
			}
			var cmds eas.SyncCommands
			must(t, cmds.ChangeItemCommand(c.Commands.Add[0].ServerID, &tt.change))
			c = phone.mustSync(t, eas.SyncCollection{SyncKey: c.SyncKey, CollectionID: id, Commands: &cmds})
			if c.Status != eas.SyncSuccess || c.Responses != nil && len(c.Responses.Change) != 0 {
				t.Fatalf("change: status %d responses %+v", c.Status, c.Responses)
			}
			raw := g.serverCards(t, book)["ann.vcf"]
			for _, s := range tt.has {
				if !strings.Contains(raw, s) {
					t.Errorf("lost %q:\n%s", s, raw)
				}
			}
			for _, s := range tt.hasnt {
				if strings.Contains(raw, s) {
					t.Errorf("kept %q:\n%s", s, raw)
				}
			}
		})
	}
}
