package eas_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/contacts"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

type cSyncResp struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Status      int        `wbxml:"Status,omitempty"`
	Collections []cColl    `wbxml:"Collections>Collection"`
}
type cColl struct {
	SyncKey       string             `wbxml:"SyncKey"`
	CollectionID  string             `wbxml:"CollectionId"`
	Status        int                `wbxml:"Status"`
	MoreAvailable bool               `wbxml:"MoreAvailable,empty"`
	Commands      *cCmds             `wbxml:"Commands,omitempty"`
	Responses     *eas.SyncResponses `wbxml:"Responses,omitempty"`
}
type cCmds struct {
	Add    []cItem          `wbxml:"Add"`
	Change []cItem          `wbxml:"Change"`
	Delete []eas.SyncItemID `wbxml:"Delete"`
}
type cItem struct {
	ServerID        string       `wbxml:"ServerId"`
	ApplicationData *eas.Contact `wbxml:"ApplicationData,omitempty"`
}

func TestContactsEndToEnd(t *testing.T) {
	g0 := startGateway(t, gatewayOptions{})
	user, pw := g0.newUser(t)
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{user: pw}})
	if err := rad.AddressBook(user, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	if err := rad.AddressBook(user, "work", "Work"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, f := range []string{"01-apple-basic.vcf", "13-nextcloud-v4.vcf", "15-thunderbird-v4.vcf"} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "vcard", f))
		if err != nil {
			t.Fatal(err)
		}
		if st, _, err := rad.Do(ctx, user, http.MethodPut, "/"+user+"/contacts/"+f, "text/vcard", data); err != nil || st != 201 {
			t.Fatalf("PUT %s: %d %v", f, st, err)
		}
	}
	cards := contacts.New(contacts.Config{DAV: dav.Config{URL: rad.URL()}, PollInterval: 100 * time.Millisecond})
	comb := eas.Combine(g0.Backend, nil, eas.Upstream{Name: "carddav", Backend: cards, Notifier: cards.Notifier()})
	srv := eas.NewServer(eas.Config{}, comb, g0.Store, comb)
	g0.HTTP.Config.Handler = srv.Handler()
	phone := g0.provisioned(t, user, pw, "contactphone", eas.V161)

	fs, err := phone.FolderSync(ctx, "0")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, f := range fs.Changes.Add {
		t.Logf("folder %s %q type %d", f.ServerID, f.DisplayName, f.Type)
		if f.Type == 9 || f.Type == 14 {
			ids[f.DisplayName] = f.ServerID
		}
	}
	if len(ids) != 2 || ids["Contacts"] == "" || ids["Work"] == "" {
		t.Fatalf("contacts folders %v", ids)
	}
	id := ids["Contacts"]
	sync := func(req *eas.SyncRequest) cColl {
		t.Helper()
		var resp cSyncResp
		if _, err := phone.Do(ctx, "Sync", req, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Collections) != 1 {
			t.Fatalf("sync response %+v", resp)
		}
		return resp.Collections[0]
	}
	c0 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: id}}})
	yes := true
	c1 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c0.SyncKey, CollectionID: id, GetChanges: &yes,
		Options: []eas.SyncOptions{{BodyPreference: []eas.BodyPreference{{Type: 1, TruncationSize: 200}}}}}}})
	if c1.Status != 1 || c1.Commands == nil || len(c1.Commands.Add) != 3 {
		t.Fatalf("first sync: %+v", c1)
	}
	var anna *eas.Contact
	for _, a := range c1.Commands.Add {
		t.Logf("add %s: %s %s %s", a.ServerID, a.ApplicationData.FileAs, a.ApplicationData.MobilePhoneNumber, a.ApplicationData.Email1Address)
		if a.ServerID == id+":01-apple-basic.vcf" || strings.HasSuffix(a.ServerID, "01-apple-basic.vcf") {
			anna = a.ApplicationData
		}
	}
	if anna == nil || anna.LastName != "Bergström" || anna.Birthday.IsZero() {
		t.Fatalf("Anna: %+v", anna)
	}
	var annaID string
	for _, a := range c1.Commands.Add {
		if a.ApplicationData == anna {
			annaID = a.ServerID
		}
	}
	// Phone changes the mobile number; then adds a contact.
	anna.MobilePhoneNumber = "+49 170 9999999"
	var cmds eas.SyncCommands
	if err := cmds.ChangeItemCommand(annaID, anna); err != nil {
		t.Fatal(err)
	}
	if err := cmds.AddItemCommand("c1", &eas.Contact{FirstName: "Neu", LastName: "Kontakt", Email1Address: "neu@example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := cmds.AddItemCommand("c2", &eas.Contact{FirstName: "Big", Picture: strings.Repeat("QUFB", 13000)}); err != nil {
		t.Fatal(err)
	}
	c2 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c1.SyncKey, CollectionID: id, Commands: &cmds}}})
	if c2.Status != 1 || c2.Responses == nil || len(c2.Responses.Add) != 2 || len(c2.Responses.Change) != 0 {
		t.Fatalf("phone commands: status %d responses %+v", c2.Status, c2.Responses)
	}
	if a := c2.Responses.Add[0]; a.Status != 1 || a.ServerID == "" {
		t.Errorf("phone Add: %+v", a)
	}
	// MS-ASCNTC 2.2.2.58: a Picture over 48 KB gets Status 6.
	if a := c2.Responses.Add[1]; a.Status != eas.SyncConversionError || a.ServerID != "" {
		t.Errorf("phone Add with a large picture: %+v, want Status 6", a)
	}
	cl, _ := dav.NewClient(dav.Config{URL: rad.URL()}, dav.Credentials{Username: user, Password: pw})
	raw, _, err := cl.Get(ctx, "/"+user+"/contacts/01-apple-basic.vcf")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "+49 170 9999999") || !strings.Contains(string(raw), "X-ABUID") || !strings.Contains(string(raw), "item3.X-ABADR") {
		t.Errorf("server card after the phone's change:\n%s", raw)
	}
	if objs, err := cl.List(ctx, "/"+user+"/contacts/"); err != nil || len(objs) != 4 {
		t.Errorf("server has %d cards (%v), want 4", len(objs), err)
	}
	// Upstream change reaches the phone.
	if st, _, err := rad.Do(ctx, user, http.MethodDelete, "/"+user+"/contacts/15-thunderbird-v4.vcf", "", nil); err != nil || st/100 != 2 {
		t.Fatalf("delete: %d %v", st, err)
	}
	c3 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c2.SyncKey, CollectionID: id, GetChanges: &yes}}})
	if c3.Commands == nil || len(c3.Commands.Delete) != 1 {
		t.Errorf("upstream delete not seen: %+v", c3.Commands)
	}
	// Server down: retryable, no deletes.
	if err := rad.Stop(); err != nil {
		t.Fatal(err)
	}
	c4 := sync(&eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: c3.SyncKey, CollectionID: id, GetChanges: &yes}}})
	if c4.Status != eas.SyncRetry || c4.Commands != nil {
		t.Errorf("server down: status %d commands %+v, want a retry and nothing else", c4.Status, c4.Commands)
	}
}
