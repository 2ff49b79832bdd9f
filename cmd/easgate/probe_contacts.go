package main

import (
	"context"
	"fmt"

	"github.com/easgate/easgate/eas"
)

// contactsStep syncs the first window of the Contacts folder, when the
// server lists one: a gateway without an address book upstream has none.
func (p *prober) contactsStep(ctx context.Context) {
	if p.contactsID == "" {
		p.skip("contacts", "the server lists no Contacts folder")
		return
	}
	p.run(ctx, "contacts", p.syncContacts)
}

func (p *prober) syncContacts(ctx context.Context) (string, error) {
	window := 25
	opts := []eas.SyncOptions{{BodyPreference: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 1024}}}}
	first, err := p.c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: p.contactsID}}})
	if err != nil {
		return "", err
	}
	if first == nil || len(first.Collections) == 0 {
		return "", &statusError{cmd: "Sync", explain: "the server answered the first Sync of Contacts with nothing"}
	}
	if st := first.Collections[0].Status; st != 1 {
		return "", commandStatus("Sync", st)
	}
	resp, err := p.c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: first.Collections[0].SyncKey,
		CollectionID: p.contactsID, WindowSize: &window, Options: opts}}})
	if err != nil {
		return "", err
	}
	if resp == nil || len(resp.Collections) == 0 {
		return "Contacts is empty", nil
	}
	c := resp.Collections[0]
	if c.Status != 1 {
		return "", commandStatus("Sync", c.Status)
	}
	adds := 0
	if c.Commands != nil {
		adds = len(c.Commands.Add)
	}
	more := ""
	if c.MoreAvailable {
		more = ", more available"
	}
	return fmt.Sprintf("%d contacts in the first window%s", adds, more), nil
}
