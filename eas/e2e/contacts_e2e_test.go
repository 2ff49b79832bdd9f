package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/contacts"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/wbxml"
)

// cardGateway is the whole gateway with contacts as serve --carddav makes
// it: easgate in front of a real Dovecot and a real Radicale, the two
// combined, each with its push.
type cardGateway struct {
	*testGateway
	rad      *radicaletest.Server
	user, pw string
	url      string
	server   *eas.Server
	// dav is a CardDAV client of the same account that is not the
	// gateway's: what another device of the user sees and does.
	dav *dav.Client
}

type cardGatewayOptions struct {
	// Poll is the address books' poll interval (--dav-poll-interval).
	Poll time.Duration
	// MailPush gives mail its push too, as serve does.
	MailPush bool
	// Transport carries the gateway's CardDAV requests; nil: the default.
	Transport http.RoundTripper
}

func startCardGateway(t testing.TB, opt cardGatewayOptions) *cardGateway {
	t.Helper()
	g := &cardGateway{testGateway: startGateway(t, gatewayOptions{})}
	g.user, g.pw = g.newUser(t)
	g.rad = radicaletest.New(t, radicaletest.Options{Users: map[string]string{g.user: g.pw}})
	cards := contacts.New(contacts.Config{DAV: dav.Config{URL: g.rad.URL(), Transport: opt.Transport}, PollInterval: opt.Poll})
	var mailPush eas.Notifier
	if opt.MailPush {
		n := bridge.NewNotifier(g.Backend, bridge.WatchConfig{CheckInterval: 200 * time.Millisecond})
		t.Cleanup(func() { n.Close() })
		mailPush = n
	}
	comb := eas.Combine(g.Backend, mailPush, eas.Upstream{Name: "carddav", Backend: cards, Notifier: cards.Notifier()})
	g.server = eas.NewServer(eas.Config{}, comb, g.Store, comb)
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	var err error
	if g.dav, err = dav.NewClient(dav.Config{URL: g.rad.URL()}, dav.Credentials{Username: g.user, Password: g.pw}); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *cardGateway) book(t testing.TB, name, display string) string {
	t.Helper()
	if err := g.rad.AddressBook(g.user, name, display); err != nil {
		t.Fatal(err)
	}
	return "/" + g.user + "/" + name + "/"
}

// put writes a card as another client would; it returns the ETag.
func (g *cardGateway) put(t testing.TB, path string, card string) string {
	t.Helper()
	st, etag, err := g.rad.Do(context.Background(), g.user, http.MethodPut, path, "text/vcard", []byte(card))
	if err != nil || st/100 != 2 {
		t.Fatalf("PUT %s: %d %v", path, st, err)
	}
	return etag
}

func (g *cardGateway) do(t testing.TB, method, path, body string) {
	t.Helper()
	ct := ""
	if body != "" {
		ct = "application/xml"
	}
	st, _, err := g.rad.Do(context.Background(), g.user, method, path, ct, []byte(body))
	if err != nil || st/100 != 2 {
		t.Fatalf("%s %s: %d %v", method, path, st, err)
	}
}

func (g *cardGateway) rename(t testing.TB, path, display string) {
	t.Helper()
	g.do(t, "PROPPATCH", path, `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>`+display+`</D:displayname></D:prop></D:set></D:propertyupdate>`)
}

// serverCards reads an address book as another client would: resource
// name → card text.
func (g *cardGateway) serverCards(t testing.TB, book string) map[string]string {
	t.Helper()
	ctx := context.Background()
	objs, err := g.dav.List(ctx, book)
	if err != nil {
		t.Fatalf("listing %s: %v", book, err)
	}
	out := map[string]string{}
	for _, o := range objs {
		data, _, err := g.dav.Get(ctx, o.Path)
		if err != nil {
			t.Fatalf("GET %s: %v", o.Path, err)
		}
		out[o.Path[strings.LastIndex(o.Path, "/")+1:]] = string(data)
	}
	return out
}

func testCard(uid, fn, extra string) string {
	first, last, _ := strings.Cut(fn, " ")
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + fn + "\r\nN:" + last + ";" + first + ";;;\r\n" + extra + "END:VCARD\r\n"
}

// The Sync response as a phone reads it for contacts.
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

// summary is what a Sync brought, sorted: "+id", "~id", "-id".
func (c cColl) summary() []string {
	var out []string
	if c.Commands != nil {
		for _, a := range c.Commands.Add {
			out = append(out, "+"+a.ServerID)
		}
		for _, a := range c.Commands.Change {
			out = append(out, "~"+a.ServerID)
		}
		for _, d := range c.Commands.Delete {
			out = append(out, "-"+d.ServerID)
		}
	}
	slices.Sort(out)
	return out
}

// cardPhone is a phone that syncs contacts.
type cardPhone struct {
	*easclient.Client
}

func (g *cardGateway) phone(t testing.TB, id string, v eas.Version) *cardPhone {
	t.Helper()
	c := easclient.New(g.url, g.user, g.pw, id, v)
	if _, err := c.Provision(context.Background(), nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return &cardPhone{c}
}

// sync sends a Sync of one collection and returns its answer; a Sync
// answered with an empty body gives an empty collection.
func (p *cardPhone) sync(ctx context.Context, coll eas.SyncCollection) (cColl, error) {
	var resp cSyncResp
	res, err := p.Do(ctx, "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{coll}}, &resp)
	if err != nil {
		return cColl{}, err
	}
	if len(res.Body) == 0 {
		return cColl{Status: eas.SyncSuccess, SyncKey: coll.SyncKey, CollectionID: coll.CollectionID}, nil
	}
	if len(resp.Collections) != 1 {
		return cColl{}, fmt.Errorf("sync response %+v", resp)
	}
	return resp.Collections[0], nil
}

func (p *cardPhone) mustSync(t testing.TB, coll eas.SyncCollection) cColl {
	t.Helper()
	c, err := p.sync(context.Background(), coll)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// folders runs a FolderSync from key and returns the new key and its
// changes as "+name type", "~name type", "-id", sorted, with the ids of the
// added and updated folders by name.
func (p *cardPhone) folders(t testing.TB, key string, ids map[string]string) (string, []string) {
	t.Helper()
	fs, err := p.FolderSync(context.Background(), key)
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	var out []string
	if fs.Changes != nil {
		for _, f := range fs.Changes.Add {
			ids[f.DisplayName] = f.ServerID
			if key != "0" || f.Type == 9 || f.Type == 14 || f.Type == 2 {
				out = append(out, fmt.Sprintf("+%s %d", f.DisplayName, f.Type))
			}
		}
		for _, f := range fs.Changes.Update {
			ids[f.DisplayName] = f.ServerID
			out = append(out, fmt.Sprintf("~%s %d", f.DisplayName, f.Type))
		}
		for _, f := range fs.Changes.Delete {
			out = append(out, "-"+f.ServerID)
		}
	}
	slices.Sort(out)
	return fs.SyncKey, out
}

func TestContactsEndToEnd(t *testing.T) {
	for _, v := range []eas.Version{eas.V121, eas.V141, eas.V161} {
		t.Run(v.String(), func(t *testing.T) { testContactsEndToEnd(t, v) })
	}
}

func testContactsEndToEnd(t *testing.T, v eas.Version) {
	g := startCardGateway(t, cardGatewayOptions{})
	ctx := context.Background()
	book := g.book(t, "contacts", "Contacts")
	work := g.book(t, "work", "Work")
	for _, f := range []string{"01-apple-basic.vcf", "13-nextcloud-v4.vcf", "15-thunderbird-v4.vcf"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vcard", f))
		if err != nil {
			t.Fatal(err)
		}
		g.put(t, book+f, string(data))
	}
	g.put(t, work+"boss.vcf", testCard("boss", "Big Boss", "EMAIL:boss@example.com\r\n"))
	phone := g.phone(t, "cards"+v.String(), v)

	// FolderSync: the default book is Contacts (9), the other a user
	// contacts folder (14), beside the mail folders.
	ids := map[string]string{}
	fkey, got := phone.folders(t, "0", ids)
	if want := []string{"+Contacts 9", "+INBOX 2", "+Work 14"}; !slices.Equal(got, want) {
		t.Fatalf("folders %q, want %q", got, want)
	}
	id := ids["Contacts"]
	sid := func(name string) string { return id + ":" + name }

	c := phone.mustSync(t, eas.SyncCollection{SyncKey: "0", CollectionID: id})
	c = phone.mustSync(t, eas.SyncCollection{SyncKey: c.SyncKey, CollectionID: id, GetChanges: boolp(true),
		Options: []eas.SyncOptions{{BodyPreference: []eas.BodyPreference{{Type: 1, TruncationSize: 200}}}}})
	if c.Status != eas.SyncSuccess || c.Commands == nil || len(c.Commands.Add) != 3 {
		t.Fatalf("first sync: %+v", c)
	}
	held := map[string]*eas.Contact{}
	for _, a := range c.Commands.Add {
		held[a.ServerID] = a.ApplicationData
	}
	anna := held[sid("01-apple-basic.vcf")]
	if anna == nil || anna.LastName != "Bergström" || anna.Birthday.IsZero() || anna.MobilePhoneNumber != "+49 170 1234567" {
		t.Fatalf("Anna: %+v (ids %v)", anna, slices.Collect(mapKeys(held)))
	}
	key := c.SyncKey

	// Each kind of server-side change shows up exactly once.
	g.put(t, book+"new.vcf", testCard("new", "Nora New", "EMAIL:nora@example.org\r\n"))
	data, _, err := g.dav.Get(ctx, book+"13-nextcloud-v4.vcf")
	if err != nil {
		t.Fatal(err)
	}
	g.put(t, book+"13-nextcloud-v4.vcf", strings.Replace(string(data), "END:VCARD", "NOTE:edited elsewhere\r\nEND:VCARD", 1))
	g.do(t, http.MethodDelete, book+"15-thunderbird-v4.vcf", "")
	c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)})
	if want := []string{"+" + sid("new.vcf"), "-" + sid("15-thunderbird-v4.vcf"), "~" + sid("13-nextcloud-v4.vcf")}; c.Status != 1 || !slices.Equal(c.summary(), want) {
		t.Fatalf("server changes: status %d %q, want %q", c.Status, c.summary(), want)
	}
	if a := c.Commands.Add[0].ApplicationData; a.FirstName != "Nora" || a.Email1Address != "nora@example.org" {
		t.Errorf("new card: %+v", a)
	}
	key = c.SyncKey
	if c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)}); c.Status != 1 || len(c.summary()) != 0 {
		t.Fatalf("changes came twice: %d %q", c.Status, c.summary())
	}
	key = c.SyncKey

	// Address books: new, renamed, deleted, each once in FolderSync.
	fam := g.book(t, "family", "Family")
	fkey, got = phone.folders(t, fkey, ids)
	if want := []string{"+Family 14"}; !slices.Equal(got, want) {
		t.Fatalf("new book: %q, want %q", got, want)
	}
	famID := ids["Family"]
	g.rename(t, work, "Office")
	fkey, got = phone.folders(t, fkey, ids)
	if want := []string{"~Office 14"}; !slices.Equal(got, want) || ids["Office"] != ids["Work"] {
		t.Fatalf("renamed book: %q, want %q (ids %v)", got, want, ids)
	}
	g.do(t, http.MethodDelete, fam, "")
	fkey, got = phone.folders(t, fkey, ids)
	if want := []string{"-" + famID}; !slices.Equal(got, want) {
		t.Fatalf("deleted book: %q, want %q", got, want)
	}
	if _, got = phone.folders(t, fkey, ids); len(got) != 0 {
		t.Fatalf("folder changes came twice: %q", got)
	}

	// The phone's Add, Change and Delete, seen through CardDAV.
	anna.MobilePhoneNumber = "+49 170 9999999"
	var cmds eas.SyncCommands
	must(t, cmds.ChangeItemCommand(sid("01-apple-basic.vcf"), anna))
	must(t, cmds.AddItemCommand("c1", &eas.Contact{FirstName: "Neu", LastName: "Kontakt", Email1Address: "neu@example.org"}))
	must(t, cmds.DeleteCommand(sid("new.vcf")))
	c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, Commands: &cmds})
	if c.Status != 1 || c.Responses == nil || len(c.Responses.Add) != 1 || len(c.Responses.Change) != 0 || len(c.Responses.Delete) != 0 {
		t.Fatalf("phone commands: status %d responses %+v", c.Status, c.Responses)
	}
	added := c.Responses.Add[0]
	if added.Status != 1 || added.ServerID == "" || added.ClientID != "c1" {
		t.Errorf("phone Add: %+v", added)
	}
	if len(c.summary()) != 0 {
		t.Errorf("the phone's own commands came back: %q", c.summary())
	}
	key = c.SyncKey
	cards := g.serverCards(t, book)
	if len(cards) != 3 || cards["new.vcf"] != "" {
		t.Errorf("server has %d cards after the phone's add and delete: %v", len(cards), slices.Collect(mapKeys(cards)))
	}
	if raw := cards["01-apple-basic.vcf"]; !strings.Contains(raw, "+49 170 9999999") || !strings.Contains(raw, "X-ABUID") ||
		!strings.Contains(raw, "item3.X-ABADR") || strings.Contains(raw, "+49 170 1234567") {
		t.Errorf("server card after the phone's change:\n%s", raw)
	}
	if raw := cards[strings.TrimPrefix(added.ServerID, id+":")]; !strings.Contains(raw, "neu@example.org") || !strings.Contains(raw, "Kontakt") {
		t.Errorf("phone's new card %s on the server:\n%s", added.ServerID, raw)
	}
	if c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)}); len(c.summary()) != 0 {
		t.Fatalf("the phone's own commands came back later: %q", c.summary())
	}
	key = c.SyncKey

	// A conflict: another client edits the card the phone changes; the
	// server's version stays and reaches the phone.
	data, _, err = g.dav.Get(ctx, book+"13-nextcloud-v4.vcf")
	if err != nil {
		t.Fatal(err)
	}
	g.put(t, book+"13-nextcloud-v4.vcf", strings.Replace(string(data), "edited elsewhere", "server wins", 1))
	cmds = eas.SyncCommands{}
	must(t, cmds.ChangeItemCommand(sid("13-nextcloud-v4.vcf"), &eas.Contact{FirstName: "Phone", LastName: "Loses"}))
	c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true), Commands: &cmds})
	if c.Status != 1 || c.Responses == nil || len(c.Responses.Change) != 1 || c.Responses.Change[0].Status != eas.SyncConflict {
		t.Fatalf("conflict: status %d responses %+v", c.Status, c.Responses)
	}
	key = c.SyncKey
	if !slices.Equal(c.summary(), []string{"~" + sid("13-nextcloud-v4.vcf")}) {
		c2 := phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)})
		if !slices.Equal(c2.summary(), []string{"~" + sid("13-nextcloud-v4.vcf")}) {
			t.Fatalf("after a conflict the phone got %q then %q, want the server's version once", c.summary(), c2.summary())
		}
		c, key = c2, c2.SyncKey
	}
	if raw := g.serverCards(t, book)["13-nextcloud-v4.vcf"]; !strings.Contains(raw, "server wins") || strings.Contains(raw, "Loses") {
		t.Errorf("server card after a conflict:\n%s", raw)
	}
	if n := c.Commands.Change[0].ApplicationData; n.LastName == "Loses" || n.Body == nil || !strings.Contains(n.Body.Data, "server wins") {
		t.Errorf("phone's copy after a conflict: %+v %+v", n, n.Body)
	}

	// A repeated Add (its answer lost) makes one contact.
	cmds = eas.SyncCommands{}
	must(t, cmds.AddItemCommand("c3", &eas.Contact{FirstName: "Once", LastName: "Only"}))
	req := eas.SyncCollection{SyncKey: key, CollectionID: id, Commands: &cmds}
	first := phone.mustSync(t, req)
	again := phone.mustSync(t, req)
	if first.Responses == nil || again.Responses == nil || len(again.Responses.Add) != 1 ||
		again.Responses.Add[0].ServerID != first.Responses.Add[0].ServerID || again.Responses.Add[0].Status != eas.SyncSuccess {
		t.Fatalf("repeated Add: first %+v %s, again %+v %s", first.Responses, first.SyncKey, again.Responses, again.SyncKey)
	}
	n := 0
	for _, raw := range g.serverCards(t, book) {
		if strings.Contains(raw, "Once") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("a repeated Add made %d contacts", n)
	}
	if c = phone.mustSync(t, eas.SyncCollection{SyncKey: again.SyncKey, CollectionID: id, GetChanges: boolp(true)}); len(c.summary()) != 0 {
		t.Fatalf("after a repeated Add: %q", c.summary())
	}
	key = c.SyncKey

	// A Picture over the spec's 48 KB, as phones write them, is stored;
	// one over eas.PhonePictureMaxSize is refused for that item alone
	// (Status 6), and nothing reaches the server.
	cmds = eas.SyncCommands{}
	must(t, cmds.AddItemCommand("c5", &eas.Contact{FirstName: "Big", LastName: "Photo", Picture: strings.Repeat("QUFB", 13000)}))
	c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, Commands: &cmds})
	if c.Responses == nil || len(c.Responses.Add) != 1 || c.Responses.Add[0].Status != eas.SyncSuccess {
		t.Fatalf("52 KB picture: responses %+v, want Status 1", c.Responses)
	}
	if raw := g.serverCards(t, book)[strings.TrimPrefix(c.Responses.Add[0].ServerID, id+":")]; !strings.Contains(raw, "PHOTO") || !strings.Contains(raw, "Photo") {
		t.Errorf("card with a 52 KB picture on the server:\n%.300s", raw)
	}
	key = c.SyncKey
	before := len(g.serverCards(t, book))
	cmds = eas.SyncCommands{}
	must(t, cmds.AddItemCommand("c4", &eas.Contact{FirstName: "Too", LastName: "Large", Picture: strings.Repeat("QUFB", eas.PhonePictureMaxSize/4+1)}))
	c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, Commands: &cmds})
	if c.Responses == nil || len(c.Responses.Add) != 1 || c.Responses.Add[0].Status != eas.SyncConversionError {
		t.Fatalf("oversized picture: responses %+v, want Status 6", c.Responses)
	}
	if after := len(g.serverCards(t, book)); after != before {
		t.Fatalf("a refused Add changed the address book: %d cards, had %d", after, before)
	}
	key = c.SyncKey

	// Radicale down: contacts answer retryable, with nothing deleted; mail
	// still works; after recovery exactly what changed comes.
	must(t, g.rad.Stop())
	c, err = phone.sync(ctx, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)})
	if err != nil || c.Status != eas.SyncRetry || c.Commands != nil {
		t.Errorf("server down: %v status %d commands %+v, want a retry and nothing else", err, c.Status, c.Commands)
	}
	if fk, got := phone.folders(t, fkey, ids); len(got) != 0 {
		t.Errorf("FolderSync with the address books down: %q", got)
	} else {
		fkey = fk
	}
	inbox := phone.mustSync(t, eas.SyncCollection{SyncKey: "0", CollectionID: ids["INBOX"]})
	if inbox.Status != eas.SyncSuccess {
		t.Errorf("mail with the address books down: status %d", inbox.Status)
	}
	must(t, g.rad.Restart())
	g.put(t, book+"back.vcf", testCard("back", "Back Again", ""))
	g.do(t, http.MethodDelete, book+"13-nextcloud-v4.vcf", "")
	c = phone.mustSync(t, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)})
	if want := []string{"+" + sid("back.vcf"), "-" + sid("13-nextcloud-v4.vcf")}; c.Status != 1 || !slices.Equal(c.summary(), want) {
		t.Fatalf("after recovery: status %d %q, want %q", c.Status, c.summary(), want)
	}
	if _, got := phone.folders(t, fkey, ids); len(got) != 0 {
		t.Errorf("FolderSync after recovery: %q", got)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
