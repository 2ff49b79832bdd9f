package e2e_test

import (
	"context"
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/wbxml"
)

// A phone that lists airsync:Supported in its first Sync of a contacts
// folder (MS-ASCMD 2.2.3.179): what its Change leaves out is cleared when
// the list names it and kept when it does not. Without a list, an iPhone
// (which sends none) has what iOS cannot show kept and what it shows
// cleared; a client not known has only what phones never send back kept.
func TestContactsSupportedGhosting(t *testing.T) {
	g := startCardGateway(t, cardGatewayOptions{})
	book := g.book(t, "contacts", "Contacts")
	card := testCard("ann", "Ann Smith", "TITLE:Engineer\r\nX-OFFICE:Room 4\r\nEMAIL;TYPE=INTERNET:ann@example.org\r\n"+
		"TEL;TYPE=CELL:+49 170 1\r\nTEL;TYPE=HOME:+49 30 2\r\nTEL;TYPE=CAR:+49 171 3\r\nNOTE:met at the fair\r\nORG:Acme\r\n"+
		"X-SPOUSE:Bob\r\nX-PHONETIC-FIRST-NAME:Anne\r\nX-ASSISTANT:Carl\r\nX-MANAGER:Dora\r\nX-EAS-CUSTOMERID:C-77\r\n"+
		"X-ANNIVERSARY:2010-06-12\r\n")
	list := func(names ...string) *wbxml.Element {
		s := wbxml.NewElement("AirSync", "Supported")
		for _, n := range names {
			s.Add(wbxml.NewElement("Contacts", n))
		}
		return s
	}
	iosOnly := []string{"Room 4", "+49 171 3", "X-SPOUSE:Bob", "X-PHONETIC-FIRST-NAME:Anne", "X-ASSISTANT:Carl",
		"X-MANAGER:Dora", "C-77", "2010-06-12"}
	type client struct{ deviceType, userAgent string }
	iphone := client{"iPhone", "Apple-iPhone11C8/2007.75"}
	tests := []struct {
		name      string
		client    client
		supported *wbxml.Element
		change    eas.Contact
		has       []string
		hasnt     []string
	}{
		{name: "short list: unlisted fields kept, listed ones cleared", client: iphone,
			supported: list("JobTitle", "OfficeLocation"),
			change:    eas.Contact{FirstName: "Ann", LastName: "Smith", JobTitle: "Manager"},
			has: append([]string{"TITLE:Manager", "ann@example.org", "+49 170 1", "+49 30 2", "NOTE:met at the fair",
				"ORG:Acme"}, iosOnly[1:]...),
			hasnt: []string{"Room 4"}},
		{name: "iPhone without a list: what iOS cannot show kept, a deleted number deleted", client: iphone,
			change: eas.Contact{FirstName: "Ann", LastName: "Smith", JobTitle: "Manager", Email1Address: "ann@example.org",
				MobilePhoneNumber: "+49 170 1"},
			has:   append([]string{"TITLE:Manager", "ann@example.org", "+49 170 1", "NOTE:met at the fair"}, iosOnly...),
			hasnt: []string{"+49 30 2", "Acme"}},
		{name: "iPad without a list: a field iOS cannot show is written when sent", client: client{"iPad", "Apple-iPad8C1/2103.69"},
			change: eas.Contact{FirstName: "Ann", LastName: "Smith", Spouse: "Eve", MobilePhoneNumber: "+49 170 1",
				HomePhoneNumber: "+49 30 2", CompanyName: "Acme", JobTitle: "Engineer", Email1Address: "ann@example.org"},
			has:   append([]string{"X-SPOUSE:Eve", "+49 30 2", "ORG:Acme", "TITLE:Engineer"}, iosOnly[:2]...),
			hasnt: []string{"X-SPOUSE:Bob"}},
		{name: "client not known, no list: absent fields cleared but the note", client: client{"WP8", "MSFT-WP/8.0.10521"},
			change: eas.Contact{FirstName: "Ann", LastName: "Smith", JobTitle: "Manager", Email1Address: "ann@example.org"},
			has:    []string{"TITLE:Manager", "ann@example.org", "NOTE:met at the fair"},
			hasnt:  append([]string{"+49 170 1", "+49 30 2", "Acme"}, iosOnly...)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.put(t, book+"ann.vcf", card)
			phone := g.phoneAs(t, "supported"+string(rune('a'+i)), tt.client.deviceType, tt.client.userAgent)
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

// phoneAs is a 14.1 phone that names itself with deviceType and
// userAgent, as the gateway tells clients apart.
func (g *cardGateway) phoneAs(t testing.TB, id, deviceType, userAgent string) *cardPhone {
	t.Helper()
	c := easclient.New(g.url, g.user, g.pw, id, eas.V141)
	c.DeviceType, c.UserAgent = deviceType, userAgent
	if _, err := c.Provision(context.Background(), nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return &cardPhone{c}
}
