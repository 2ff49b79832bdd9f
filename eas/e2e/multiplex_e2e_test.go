package e2e_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// A phone that shows one address book (Android's native client) gets the
// user's two Radicale address books as one Contacts folder; its writes
// land in the book each card came from, its new cards in the default one.
// An iPhone of the same user still sees both books.
func TestMultiplexedAddressBooks(t *testing.T) {
	g := startCardGateway(t, cardGatewayOptions{})
	book := g.book(t, "contacts", "Contacts")
	work := g.book(t, "work", "Work")
	g.put(t, book+"anna.vcf", testCard("anna", "Anna Berg", "EMAIL:anna@example.org\r\n"))
	g.put(t, work+"boss.vcf", testCard("boss", "Big Boss", "EMAIL:boss@example.com\r\n"))

	c := easclient.New(g.url, g.user, g.pw, "android1", eas.V141)
	c.DeviceType, c.UserAgent = "Android", "Android/13-EAS-2.0"
	if _, err := c.Provision(context.Background(), nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	phone := &cardPhone{c}
	ids := map[string]string{}
	_, got := phone.folders(t, "0", ids)
	if want := []string{"+Contacts 9", "+INBOX 2"}; !slices.Equal(got, want) {
		t.Fatalf("folders %q, want %q", got, want)
	}
	id := ids["Contacts"]

	s := phone.mustSync(t, eas.SyncCollection{SyncKey: "0", CollectionID: id})
	s = phone.mustSync(t, eas.SyncCollection{SyncKey: s.SyncKey, CollectionID: id, GetChanges: boolp(true)})
	if s.Status != eas.SyncSuccess || s.Commands == nil || len(s.Commands.Add) != 2 {
		t.Fatalf("first sync: %+v", s)
	}
	byName := map[string]string{}
	for _, a := range s.Commands.Add {
		byName[a.ApplicationData.FirstName] = a.ServerID
	}
	if byName["Anna"] != id+":anna.vcf" || !strings.HasSuffix(byName["Big"], "/boss.vcf") {
		t.Fatalf("merged ids %v", byName)
	}

	// Change the card of the work book, add one, both from the phone.
	var cmds eas.SyncCommands
	must(t, cmds.ChangeItemCommand(byName["Big"], &eas.Contact{FirstName: "Bigger", LastName: "Boss", Email1Address: "boss@example.com"}))
	must(t, cmds.AddItemCommand("c1", &eas.Contact{FirstName: "Nina", LastName: "New"}))
	s = phone.mustSync(t, eas.SyncCollection{SyncKey: s.SyncKey, CollectionID: id, Commands: &cmds})
	if s.Status != eas.SyncSuccess || s.Responses == nil || len(s.Responses.Add) != 1 || s.Responses.Add[0].Status != eas.SyncSuccess || len(s.Responses.Change) != 0 {
		t.Fatalf("phone's writes answered %+v %+v", s, s.Responses)
	}
	if card := g.serverCards(t, work)["boss.vcf"]; !strings.Contains(card, "Bigger") {
		t.Fatalf("work book's card after the phone's change:\n%s", card)
	}
	inBook := g.serverCards(t, book)
	if len(inBook) != 2 || len(g.serverCards(t, work)) != 1 {
		t.Fatalf("default book holds %d cards, work %d; want the new card in the default", len(inBook), len(g.serverCards(t, work)))
	}
	if sid := s.Responses.Add[0].ServerID; strings.Contains(sid, "/") {
		t.Fatalf("new card got %q, an id of another book", sid)
	}

	// A card another client writes in the work book, and one it deletes,
	// reach the phone.
	g.put(t, work+"intern.vcf", testCard("intern", "Ian Intern", ""))
	g.do(t, http.MethodDelete, book+"anna.vcf", "")
	s = phone.mustSync(t, eas.SyncCollection{SyncKey: s.SyncKey, CollectionID: id, GetChanges: boolp(true)})
	sum := s.summary()
	if s.Status != eas.SyncSuccess || len(sum) != 2 || !slices.Contains(sum, "-"+byName["Anna"]) ||
		!strings.HasPrefix(sum[0], "+"+id+":") || !strings.HasSuffix(sum[0], "/intern.vcf") {
		t.Fatalf("server changes %q", sum)
	}

	// Delete the work card from the phone: gone from the work book.
	var del eas.SyncCommands
	must(t, del.DeleteCommand(byName["Big"]))
	s = phone.mustSync(t, eas.SyncCollection{SyncKey: s.SyncKey, CollectionID: id, Commands: &del})
	if s.Status != eas.SyncSuccess {
		t.Fatalf("delete answered %+v", s)
	}
	if _, ok := g.serverCards(t, work)["boss.vcf"]; ok {
		t.Fatal("the phone's delete left the card in the work book")
	}

	// An iPhone shows every address book.
	iphone := g.phone(t, "iphone1", eas.V141)
	_, got = iphone.folders(t, "0", map[string]string{})
	if want := []string{"+Contacts 9", "+INBOX 2", "+Work 14"}; !slices.Equal(got, want) {
		t.Fatalf("iPhone folders %q, want %q", got, want)
	}
}

// A one-address-book phone's Ping on Contacts ends when another client
// writes a card in a book it shows only through the merged folder.
func TestMultiplexedAddressBooksPing(t *testing.T) {
	const poll = 300 * time.Millisecond
	g := startCardGateway(t, cardGatewayOptions{Poll: poll})
	book := g.book(t, "contacts", "Contacts")
	work := g.book(t, "work", "Work")
	g.put(t, book+"anna.vcf", testCard("anna", "Anna Berg", ""))
	g.put(t, work+"boss.vcf", testCard("boss", "Big Boss", ""))
	c := easclient.New(g.url, g.user, g.pw, "android1", eas.V141)
	c.DeviceType, c.UserAgent = "Android", "Android/13-EAS-2.0"
	if _, err := c.Provision(context.Background(), nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	phone := &cardPhone{c}
	ids := map[string]string{}
	phone.folders(t, "0", ids)
	id := ids["Contacts"]
	key := phone.syncToNow(t, id, "0")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan *eas.PingResponse, 1)
	go func() {
		hb := 300
		r, err := phone.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb, Folders: []eas.PingFolder{{ID: id, Class: "Contacts"}}})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	select {
	case r := <-done:
		t.Fatalf("Ping answered before any change: %+v", r)
	case <-time.After(4 * poll):
	}
	g.put(t, work+"intern.vcf", testCard("intern", "Ian Intern", ""))
	select {
	case r := <-done:
		if r == nil || r.Status != eas.PingChanges || !slices.Equal(r.Folders, []string{id}) {
			t.Fatalf("Ping answered %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("the Ping did not end on a change of the work book")
	}
	s := phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)})
	if sum := s.summary(); len(sum) != 1 || !strings.HasSuffix(sum[0], "/intern.vcf") {
		t.Fatalf("after the Ping the phone got %q", sum)
	}
}
