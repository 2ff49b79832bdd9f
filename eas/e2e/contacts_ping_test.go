package e2e_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// syncToNow brings a phone's collection up to date and returns its key.
func (p *cardPhone) syncToNow(t testing.TB, id, key string) string {
	t.Helper()
	for {
		c := p.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(key != "0"), WindowSize: intp(500)})
		if c.Status != eas.SyncSuccess {
			t.Fatalf("sync of %s: status %d", id, c.Status)
		}
		was := key
		key = c.SyncKey
		if was != "0" && !c.MoreAvailable {
			return key
		}
	}
}

// pingContactsAndInbox is the Ping of a phone that watches mail and
// contacts.
func pingContactsAndInbox(contacts, inbox string) *eas.PingRequest {
	hb := 300
	return &eas.PingRequest{HeartbeatInterval: &hb, Folders: []eas.PingFolder{
		{ID: inbox, Class: "Email"}, {ID: contacts, Class: "Contacts"}}}
}

// A Ping on Inbox and Contacts is answered with the contacts folder within
// the poll interval of a change another CardDAV client makes.
func TestContactsPing(t *testing.T) {
	const poll = 300 * time.Millisecond
	g := startCardGateway(t, cardGatewayOptions{Poll: poll, MailPush: true})
	book := g.book(t, "contacts", "Contacts")
	g.put(t, book+"a.vcf", testCard("a", "Ann Alpha", ""))
	g.put(t, book+"b.vcf", testCard("b", "Bob Beta", ""))
	phone := g.phone(t, "pinger", eas.V161)
	ids := map[string]string{}
	phone.folders(t, "0", ids)
	id, inbox := ids["Contacts"], ids["INBOX"]
	key := phone.syncToNow(t, id, "0")
	phone.syncToNow(t, inbox, "0")

	tests := []struct {
		name   string
		change func()
	}{
		{"new card", func() { g.put(t, book+"c.vcf", testCard("c", "Cleo Gamma", "")) }},
		{"edited card", func() { g.put(t, book+"a.vcf", testCard("a", "Ann Alpha-Edited", "")) }},
		{"deleted card", func() { g.do(t, http.MethodDelete, book+"b.vcf", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			type answer struct {
				resp *eas.PingResponse
				err  error
				at   time.Time
			}
			done := make(chan answer, 1)
			go func() {
				r, err := phone.Ping(ctx, pingContactsAndInbox(id, inbox))
				done <- answer{r, err, time.Now()}
			}()
			// Let the Ping settle on its wait, so that the change comes
			// while it waits rather than before it.
			select {
			case a := <-done:
				t.Fatalf("Ping answered before any change: %+v %v", a.resp, a.err)
			case <-time.After(4 * poll):
			}
			changed := time.Now()
			tt.change()
			a := <-done
			if a.err != nil || a.resp.Status != 2 || !slices.Equal(a.resp.Folders, []string{id}) {
				t.Fatalf("Ping: %v %+v, want status 2 with folder %s", a.err, a.resp, id)
			}
			// Generous: the poll interval is 300 ms; a missed change waits
			// for the 300 s heartbeat and fails above with the context.
			if d := a.at.Sub(changed); d > 20*time.Second {
				t.Errorf("Ping answered %v after the change", d)
			} else {
				t.Logf("Ping answered %v after the change (poll interval %v)", d, poll)
			}
			c := phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)})
			if len(c.summary()) != 1 {
				t.Errorf("the Sync after the Ping: %q, want one change", c.summary())
			}
			key = c.SyncKey
		})
	}
}
