package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/contacts"
	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/eas/internal/recipienttest"
	"github.com/easgate/easgate/store"
)

// contactsGateway is the whole gateway with contacts: easgate in front of
// a real Dovecot and a real Radicale, combined as serve --carddav does.
type contactsGateway struct {
	url            string
	user, password string
	radicale       *radicaletest.Server
}

var gatewayPhoto = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0x17}, 2000)...)

func startContactsGateway(t *testing.T) *contactsGateway {
	t.Helper()
	g := &contactsGateway{user: "gal@example.com", password: "gal-secret"}
	dc := dovecottest.New(t, dovecottest.Options{})
	dc.AddUser(t, g.user, g.password)
	g.radicale = radicaletest.New(t, radicaletest.Options{Users: map[string]string{g.user: g.password}})
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "easgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mail := bridge.New(bridge.Config{Addr: dc.Addr(), Security: bridge.SecurityNone})
	t.Cleanup(func() { mail.Close() })
	cards := contacts.New(contacts.Config{DAV: dav.Config{URL: g.radicale.URL()}})
	comb := eas.Combine(mail, nil, eas.Upstream{Name: "carddav", Backend: cards})
	hs := httptest.NewServer(eas.NewServer(eas.Config{}, comb, st, nil).Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	return g
}

// seed puts people into the user's two address books.
func (g *contactsGateway) seed(t *testing.T) {
	t.Helper()
	for _, b := range [][2]string{{"contacts", "Contacts"}, {"work", "Work"}} {
		if err := g.radicale.AddressBook(g.user, b[0], b[1]); err != nil {
			t.Fatal(err)
		}
	}
	cards := []struct{ book, uid, fn, n, extra string }{
		{"contacts", "ann", "Ann Smith", "Smith;Ann;;;", "EMAIL:ann@example.org\r\nTEL;TYPE=CELL:+49 170 1\r\nPHOTO;ENCODING=b;TYPE=JPEG:" +
			base64.StdEncoding.EncodeToString(gatewayPhoto) + "\r\n"},
		{"contacts", "bob", "Bob Jones", "Jones;Bob;;;", "EMAIL:bob@example.org\r\nORG:ACME\r\nTITLE:Engineer\r\n"},
		{"work", "berg", "Anna Berg", "Berg;Anna;;;", "EMAIL:anna.berg@example.net\r\nTEL;TYPE=WORK:+49 30 2\r\n"},
		{"work", "miller", "Joanne Miller", "Miller;Joanne;;;", "EMAIL:jm@example.com\r\nNICKNAME:Jo\r\n"},
	}
	for _, c := range cards {
		data := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + c.uid + "\r\nFN:" + c.fn + "\r\nN:" + c.n + "\r\n" + c.extra + "END:VCARD\r\n"
		path := "/" + g.user + "/" + c.book + "/" + c.uid + ".vcf"
		status, _, err := g.radicale.Do(context.Background(), g.user, http.MethodPut, path, "text/vcard", []byte(data))
		if err != nil || status/100 != 2 {
			t.Fatalf("PUT %s: %d %v", path, status, err)
		}
	}
}

func (g *contactsGateway) phone(t *testing.T, v eas.Version) *easclient.Client {
	t.Helper()
	c := easclient.New(g.url, g.user, g.password, "galphone", v)
	if _, err := c.Provision(context.Background(), nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return c
}

func TestGatewayResolveRecipientsCardDAV(t *testing.T) {
	g := startContactsGateway(t)
	g.seed(t)
	ctx := context.Background()
	phone := g.phone(t, eas.V141)
	fs, err := phone.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: %v %+v", err, fs)
	}
	var books []string
	for _, f := range fs.Changes.Add {
		if f.Type == int(eas.FolderContacts) || f.Type == int(eas.FolderUserContacts) {
			books = append(books, fmt.Sprintf("%s %d", f.DisplayName, f.Type))
		}
	}
	slices.Sort(books)
	if !slices.Equal(books, []string{"Contacts 9", "Work 14"}) {
		t.Fatalf("contacts folders %q", books)
	}

	tests := []struct {
		name string
		to   string
		want string
	}{
		{"first name, two books", "ann", "2 2: 2 Ann Smith <ann@example.org> pic=1/2004 2 Anna Berg <anna.berg@example.net> pic=173"},
		{"last name", "Miller", "1 1: 2 Joanne Miller <jm@example.com> certs=7/0 pic=173"},
		{"display name prefix", "Bob J", "1 1: 2 Bob Jones <bob@example.org> certs=7/0 pic=173"},
		{"nickname", "jo", "2 2: 2 Bob Jones <bob@example.org> pic=173 2 Joanne Miller <jm@example.com> pic=173"},
		{"address", "anna.berg@example.net", "1 1: 2 Anna Berg <anna.berg@example.net> certs=7/0 pic=173"},
		{"start of an address", "anna.b", "1 1: 2 Anna Berg <anna.berg@example.net> certs=7/0 pic=173"},
		{"own address", g.user, "1 1: 1 gal@example.com <gal@example.com> certs=7/0 pic=173"},
		{"nobody", "zoe", "4 0:"},
	}
	var to []string
	for _, tt := range tests {
		to = append(to, tt.to)
	}
	resp, err := phone.ResolveRecipients(ctx, &eas.ResolveRecipientsRequest{To: to, Options: &eas.ResolveRecipientsOptions{
		CertificateRetrieval: 2, Picture: &eas.PictureOptions{MaxSize: 10000}}})
	if err != nil || resp.Status != eas.ResolveSuccess || len(resp.Response) != len(tests) {
		t.Fatalf("ResolveRecipients: %v %+v", err, resp)
	}
	for i, tt := range tests {
		if got := recipienttest.Summary(resp.Response[i]); got != tt.want || resp.Response[i].To != tt.to {
			t.Errorf("%s: To %q got %q, want %q", tt.name, resp.Response[i].To, got, tt.want)
		}
	}

	// The GAL store of Search: the same books.
	st, err := phone.SearchGAL(ctx, "ann", "0-0", &eas.SearchOptions{Picture: &eas.PictureOptions{MaxPictures: 1}})
	if err != nil || st.Status != 1 || st.Store == nil || st.Store.Status != 1 {
		t.Fatalf("GAL search: %v %+v", err, st)
	}
	if st.Store.Total == nil || *st.Store.Total != 2 || st.Store.Range != "0-0" || len(st.Store.Result) != 1 {
		t.Fatalf("GAL search: total %v range %q results %d", st.Store.Total, st.Store.Range, len(st.Store.Result))
	}
	if got := recipienttest.GALSummary(t, st.Store.Result[0]); got != "Ann Smith <ann@example.org> Ann|Smith mobile=+49 170 1 pic=1/2004" {
		t.Errorf("GAL result %q", got)
	}
	st, err = phone.SearchGAL(ctx, "ENGINEER", "", nil)
	if err != nil || st.Store == nil || st.Store.Total == nil || *st.Store.Total != 0 {
		t.Errorf("a job title is no name: %v %+v", err, st)
	}
	st, err = phone.SearchGAL(ctx, "berg", "", nil)
	if err != nil || st.Store == nil || len(st.Store.Result) != 1 {
		t.Fatalf("GAL berg: %v %+v", err, st)
	}
	if got := recipienttest.GALSummary(t, st.Store.Result[0]); got != "Anna Berg <anna.berg@example.net> Anna|Berg phone=+49 30 2" {
		t.Errorf("GAL result %q", got)
	}
}

func TestGatewayResolveRecipientsCardDAVDown(t *testing.T) {
	g := startContactsGateway(t)
	g.seed(t)
	ctx := context.Background()
	phone := g.phone(t, eas.V161)
	if err := g.radicale.Stop(); err != nil {
		t.Fatal(err)
	}
	resp, err := phone.ResolveRecipients(ctx, &eas.ResolveRecipientsRequest{To: []string{"ann"}})
	if err != nil || resp.Status != eas.ResolveServerError {
		t.Fatalf("with the address books down: %v %+v, want status 6", err, resp)
	}
}

// Without --carddav both commands still answer: the user's own address
// resolves, nobody else does.
func TestGatewayResolveRecipientsWithoutCardDAV(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	user, pw := g.newUser(t)
	phone := g.provisioned(t, user, pw, "plain", eas.V161)
	ctx := context.Background()
	resp, err := phone.ResolveRecipients(ctx, &eas.ResolveRecipientsRequest{To: []string{strings.ToUpper(user), "bob"}})
	if err != nil || resp.Status != 1 || len(resp.Response) != 2 {
		t.Fatalf("%v %+v", err, resp)
	}
	want := []string{fmt.Sprintf("1 1: 1 %s <%s>", user, user), "4 0:"}
	if got := []string{recipienttest.Summary(resp.Response[0]), recipienttest.Summary(resp.Response[1])}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	st, err := phone.SearchGAL(ctx, "bob", "0-9", nil)
	if err != nil || st.Store == nil || st.Store.Status != 1 || st.Store.Total == nil || *st.Store.Total != 0 {
		t.Errorf("GAL bob: %v %+v", err, st)
	}
	st, err = phone.SearchGAL(ctx, user[:4], "0-9", nil)
	if err != nil || st.Store == nil || len(st.Store.Result) != 1 || st.Store.Result[0].Properties == nil {
		t.Fatalf("GAL own address: %v %+v", err, st)
	}
	if got := recipienttest.GALSummary(t, st.Store.Result[0]); got != fmt.Sprintf("%s <%s> |", user, user) {
		t.Errorf("GAL own address %q", got)
	}
}
