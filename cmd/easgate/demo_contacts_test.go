package main

import (
	"context"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/demo"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// startDemoPhone runs `easgate demo` until the test ends and returns a
// provisioned phone of the demo account.
func startDemoPhone(t *testing.T, v eas.Version) *easclient.Client {
	t.Helper()
	c := easclient.New(demoURL(t, startDemo(t)), demo.User, demo.Password, "demophone", v)
	if _, err := c.Provision(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// The demo has an address book: the phone lists it as its Contacts
// folder, and the sample people resolve while writing to them.
func TestDemoContacts(t *testing.T) {
	c := startDemoPhone(t, eas.V141)
	ctx := context.Background()
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != 1 {
		t.Fatalf("FolderSync: %+v %v", fs, err)
	}
	found := false
	for _, f := range fs.Changes.Add {
		found = found || (f.DisplayName == "Contacts" && f.Type == int(eas.FolderContacts))
	}
	if !found {
		t.Fatalf("no Contacts folder among %+v", fs.Changes.Add)
	}
	rr, err := c.ResolveRecipients(ctx, &eas.ResolveRecipientsRequest{To: []string{"maria", "tommy", "nobody@example.com"}})
	if err != nil || rr.Status != 1 || len(rr.Response) != 3 {
		t.Fatalf("ResolveRecipients: %+v %v", rr, err)
	}
	for i, want := range []string{"Maria Schneider <maria.schneider@example.org>", "Tom Becker <tom.becker@example.org>", ""} {
		r := rr.Response[i]
		got := ""
		if r.Status == eas.RecipientResolved && len(r.Recipient) == 1 {
			got = r.Recipient[0].DisplayName + " <" + r.Recipient[0].EmailAddress + ">"
		} else if r.Status != eas.RecipientUnresolved {
			got = "status " + r.To
		}
		if got != want {
			t.Errorf("To %q: %q, want %q (%+v)", r.To, got, want, r)
		}
	}
	st, err := c.SearchGAL(ctx, "priya", "0-9", &eas.SearchOptions{Picture: &eas.PictureOptions{}})
	if err != nil || st.Store == nil || len(st.Store.Result) != 1 {
		t.Fatalf("GAL search: %+v %v", st, err)
	}
	g, err := st.Store.Result[0].Properties.GAL()
	if err != nil || g.DisplayName != "Priya Raman" || g.Title != "Designer" || g.Picture == nil || g.Picture.Status != 1 || len(g.Picture.Data) == 0 {
		t.Fatalf("GAL result %+v %v", g, err)
	}
}
