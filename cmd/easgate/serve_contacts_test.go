package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/contacts"
	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/wbxml"
)

const (
	contactsUser = "anna@example.com"
	contactsPass = "anna-secret"
)

// contactsGateway starts Dovecot, Radicale (with a default address book
// holding one card) and the gateway on both, and a provisioned 14.1 phone.
func contactsGateway(t *testing.T) (*radicaletest.Server, *easclient.Client) {
	t.Helper()
	dc := dovecottest.New(t, dovecottest.Options{})
	dc.AddUser(t, contactsUser, contactsPass)
	rad := radicaletest.New(t, radicaletest.Options{Users: map[string]string{contactsUser: contactsPass}})
	if err := rad.AddressBook(contactsUser, "contacts", "Contacts"); err != nil {
		t.Fatal(err)
	}
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nEMAIL:ada@example.com\r\nEND:VCARD\r\n"
	if code, _, err := rad.Do(context.Background(), contactsUser, http.MethodPut, "/"+contactsUser+"/contacts/ada.vcf",
		"text/vcard", []byte(card)); err != nil || code/100 != 2 {
		t.Fatalf("PUT card: %d %v", code, err)
	}
	c := &serveConfig{Listen: "127.0.0.1:0", IMAP: dc.Addr(), IMAPSecurity: "none",
		DB: filepath.Join(t.TempDir(), "g.db"), AdminListen: "127.0.0.1:0",
		CardDAV: rad.URL(), DAVPollInterval: 100 * time.Millisecond,
		MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9}
	g, err := startGateway(context.Background(), c, zap.NewNop(), testAdminToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	phone := easclient.New("http://"+g.easLn.Addr().String(), contactsUser, contactsPass, "phone1", eas.V141)
	if _, err := phone.Provision(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return rad, phone
}

// folderIDs runs FolderSync from key 0 and returns the key and the ids by
// display name.
func folderIDs(t *testing.T, phone *easclient.Client) (string, map[string]eas.FolderEntry) {
	t.Helper()
	fs, err := phone.FolderSync(context.Background(), "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	out := map[string]eas.FolderEntry{}
	for _, f := range fs.Changes.Add {
		out[f.DisplayName] = f
	}
	return fs.SyncKey, out
}

// rawSyncAnswer is a Sync answer with the items' data left as trees.
type rawSyncAnswer struct {
	XMLName     wbxml.Name `wbxml:"AirSync:Sync"`
	Collections []struct {
		SyncKey  string `wbxml:"SyncKey"`
		Status   int    `wbxml:"Status"`
		Commands *struct {
			Add []struct {
				ServerID string `wbxml:"ServerId"`
			} `wbxml:"Add"`
		} `wbxml:"Commands,omitempty"`
		Responses *eas.SyncResponses `wbxml:"Responses,omitempty"`
	} `wbxml:"Collections>Collection"`
}

func rawSync(t *testing.T, phone *easclient.Client, coll eas.SyncCollection) rawSyncAnswer {
	t.Helper()
	var resp rawSyncAnswer
	if _, err := phone.Do(context.Background(), "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{coll}}, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Collections) != 1 {
		t.Fatalf("Sync answered %+v", resp)
	}
	return resp
}

// TestServeContacts drives the contacts of a CardDAV server through the
// whole gateway: a contact fetched with ItemOperations, a contact Radicale
// refuses (Status 6, nothing written), an address book made by another
// client answering a Ping with Status 7, and a contacts folder made,
// renamed and deleted from the phone.
func TestServeContacts(t *testing.T) {
	ctx := context.Background()
	rad, phone := contactsGateway(t)
	key, folders := folderIDs(t, phone)
	book, ok := folders["Contacts"]
	if !ok || book.Type != int(eas.FolderContacts) {
		t.Fatalf("folders %+v", folders)
	}

	// ItemOperations Fetch of a contact.
	first := rawSync(t, phone, eas.SyncCollection{SyncKey: "0", CollectionID: book.ServerID})
	got := rawSync(t, phone, eas.SyncCollection{SyncKey: first.Collections[0].SyncKey, CollectionID: book.ServerID})
	c := got.Collections[0]
	if c.Commands == nil || len(c.Commands.Add) != 1 {
		t.Fatalf("contacts sync %+v", c)
	}
	var io eas.ItemOperationsRequest
	if err := io.AddFetch(eas.ItemOperationsFetch{Store: "Mailbox", CollectionID: book.ServerID, ServerID: c.Commands.Add[0].ServerID}); err != nil {
		t.Fatal(err)
	}
	res, err := phone.ItemOperations(ctx, &io, false)
	if err != nil || res.Response == nil {
		t.Fatalf("ItemOperations: %v %+v", err, res)
	}
	fetches, err := res.Response.Fetches()
	if err != nil || len(fetches) != 1 || fetches[0].Status != eas.ItemOpsSuccess || fetches[0].Class != "Contacts" {
		t.Fatalf("fetch of a contact: %v %+v", err, fetches)
	}
	fields := map[string]string{}
	for _, f := range fetches[0].Properties.Fields {
		fields[f.Name()] = f.Text()
	}
	if fields["FirstName"] != "Ada" || fields["Email1Address"] == "" {
		t.Errorf("fetched contact %v", fields)
	}

	// A Picture over the limit: Status 6 and no card written.
	var cmds eas.SyncCommands
	if err := cmds.AddItemCommand("big", &eas.Contact{FirstName: "Big", Picture: strings.Repeat("QUFB", eas.PhonePictureMaxSize/4+1)}); err != nil {
		t.Fatal(err)
	}
	got = rawSync(t, phone, eas.SyncCollection{SyncKey: c.SyncKey, CollectionID: book.ServerID, Commands: &cmds})
	if r := got.Collections[0].Responses; r == nil || len(r.Add) != 1 || r.Add[0].Status != eas.SyncConversionError {
		t.Fatalf("Add of a contact with a huge picture answered %+v", got.Collections[0])
	}
	se := davSession(t, rad)
	if fs, err := se.Changes(ctx, eas.SyncQuery{Path: "/" + contactsUser + "/contacts/", Known: noItems{}, Window: 10}); err != nil || len(fs.Changes) != 1 {
		t.Fatalf("address book after the refused add: %+v %v", fs, err)
	}

	// Another client makes an address book: a waiting Ping hears of it.
	hb := 120
	done := make(chan *eas.PingResponse, 1)
	go func() {
		r, err := phone.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb, Folders: []eas.PingFolder{{ID: book.ServerID, Class: "Contacts"}}})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	// Give the Ping time to wait, so that the notice answers it rather
	// than its first look at the folders (which would answer 7 as well).
	time.Sleep(500 * time.Millisecond)
	if err := rad.AddressBook(contactsUser, "club", "Club"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r == nil || r.Status != eas.PingHierarchyChanged {
			t.Fatalf("Ping answered %+v, want Status 7", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the Ping did not hear of the new address book")
	}
	fs, err := phone.FolderSync(ctx, key)
	if err != nil || fs.Changes == nil || len(fs.Changes.Add) != 1 || fs.Changes.Add[0].DisplayName != "Club" {
		t.Fatalf("FolderSync after the new address book: %v %+v", err, fs)
	}
	key = fs.SyncKey

	// A contacts folder made, renamed and deleted from the phone.
	cr, err := phone.FolderCreate(ctx, key, "0", "Family", int(eas.FolderUserContacts))
	if err != nil || cr.Status != eas.FolderSuccess {
		t.Fatalf("FolderCreate: %v %+v", err, cr)
	}
	if names := bookNames(t, se); !names["Family"] {
		t.Fatalf("address books after FolderCreate: %v", names)
	}
	up, err := phone.FolderUpdate(ctx, cr.SyncKey, cr.ServerID, "0", "Kin")
	if err != nil || up.Status != eas.FolderSuccess {
		t.Fatalf("FolderUpdate: %v %+v", err, up)
	}
	if names := bookNames(t, se); !names["Kin"] || names["Family"] {
		t.Fatalf("address books after FolderUpdate: %v", names)
	}
	if del, err := phone.FolderDelete(ctx, up.SyncKey, book.ServerID); err != nil || del.Status != eas.FolderSpecial {
		t.Fatalf("FolderDelete of the default address book: %v %+v", err, del)
	}
	del, err := phone.FolderDelete(ctx, up.SyncKey, cr.ServerID)
	if err != nil || del.Status != eas.FolderSuccess {
		t.Fatalf("FolderDelete: %v %+v", err, del)
	}
	if names := bookNames(t, se); names["Kin"] || !names["Contacts"] || !names["Club"] {
		t.Fatalf("address books after FolderDelete: %v", names)
	}
}

// davSession is a CardDAV session of the user, as another client.
func davSession(t *testing.T, rad *radicaletest.Server) eas.Session {
	t.Helper()
	se, err := contacts.New(contacts.Config{DAV: dav.Config{URL: rad.URL()}}).Open(context.Background(),
		eas.Credentials{Username: contactsUser, Password: contactsPass})
	if err != nil {
		t.Fatal(err)
	}
	return se
}

func bookNames(t *testing.T, se eas.Session) map[string]bool {
	t.Helper()
	fs, err := se.Folders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range fs {
		out[f.Name] = true
	}
	return out
}

// noItems is a phone that holds nothing.
type noItems struct{}

func (noItems) Len() int                                  { return 0 }
func (noItems) Version(string) (string, bool)             { return "", false }
func (noItems) Range(func(serverID, version string) bool) {}
