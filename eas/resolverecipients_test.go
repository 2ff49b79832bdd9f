package eas_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/eas/internal/recipienttest"
)

// fakeDirectory is an address book in memory.
type fakeDirectory struct {
	people []eas.Recipient
	err    error
}

func (d *fakeDirectory) Lookup(ctx context.Context, query string, limit int) ([]eas.Recipient, error) {
	if d.err != nil {
		return nil, d.err
	}
	var out []eas.Recipient
	for _, p := range d.people {
		if p.Matches(query) {
			out = append(out, p)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// dirBackend opens mailboxes that are also a Directory.
type dirBackend struct {
	fakeBackend
	dir *fakeDirectory
}

type dirMailbox struct {
	eas.Mailbox
	*fakeDirectory
}

func (b dirBackend) Open(ctx context.Context, cred eas.Credentials) (eas.Mailbox, error) {
	mb, err := b.fakeBackend.Open(ctx, cred)
	if err != nil || b.dir == nil {
		return mb, err
	}
	return dirMailbox{mb, b.dir}, nil
}

var (
	smallPhoto = append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{7}, 100)...)
	largePhoto = append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{9}, 5000)...)
)

func samplePeople() []eas.Recipient {
	people := []eas.Recipient{
		{Type: eas.RecipientContact, DisplayName: "Ann Smith", FirstName: "Ann", LastName: "Smith",
			Emails: []string{"ann@example.org", "a.smith@work.example"}, MobilePhone: "+49 170 1", Company: "ACME",
			Title: "Engineer", Office: "B2", Picture: smallPhoto},
		{Type: eas.RecipientContact, DisplayName: "Anna Berg", FirstName: "Anna", LastName: "Berg",
			Emails: []string{"anna.berg@example.net"}, HomePhone: "+49 30 2"},
		{Type: eas.RecipientContact, DisplayName: "Bob Jones", FirstName: "Bob", LastName: "Jones", Alias: "bobby",
			Emails: []string{"bob@example.org"}, Phone: "+1 555 3", Picture: largePhoto},
		{Type: eas.RecipientContact, DisplayName: "Zed Nomail", FirstName: "Zed", LastName: "Nomail", MobilePhone: "+44 7"},
	}
	for i := 1; i <= 25; i++ {
		people = append(people, eas.Recipient{Type: eas.RecipientContact, DisplayName: fmt.Sprintf("Carol %02d", i),
			FirstName: "Carol", LastName: fmt.Sprintf("%02d", i), Emails: []string{fmt.Sprintf("carol%02d@example.com", i)}})
	}
	return people
}

// startDirectory starts the fake gateway with dir (nil: no directory) and
// a provisioned phone of version v.
func startDirectory(t *testing.T, v eas.Version, dir *fakeDirectory) *fakeGateway {
	t.Helper()
	g := &fakeGateway{mail: newFakeMail(), store: newMemStore()}
	g.server = eas.NewServer(eas.Config{}, dirBackend{fakeBackend{g.mail}, dir}, g.store, fakeNotifier{g.mail})
	hs := httptest.NewServer(g.server.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	g.phone = g.newPhone(t, "phone1", v)
	return g
}

var summary = recipienttest.Summary

func TestResolveRecipients(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Hour)
	window := &eas.RecipientsTimeWindow{StartTime: start.Format("2006-01-02T15:04:05.000Z"),
		EndTime: start.Add(4 * time.Hour).Format("2006-01-02T15:04:05.000Z")}
	tests := []struct {
		name    string
		v       eas.Version
		noDir   bool
		to      []string
		opts    *eas.ResolveRecipientsOptions
		status  int
		want    []string
		wantSub bool // want are substrings of the summaries
	}{
		{name: "first name, one person", to: []string{"bob"}, status: 1,
			want: []string{"1 1: 2 Bob Jones <bob@example.org>"}},
		{name: "alias", to: []string{"Bobby"}, status: 1,
			want: []string{"1 1: 2 Bob Jones <bob@example.org>"}},
		{name: "last name", to: []string{"berg"}, status: 1,
			want: []string{"1 1: 2 Anna Berg <anna.berg@example.net>"}},
		{name: "whole address", to: []string{"BOB@example.org"}, status: 1,
			want: []string{"1 1: 2 Bob Jones <bob@example.org>"}},
		{name: "second address of a person", to: []string{"a.smith@work.example"}, status: 1,
			want: []string{"1 1: 2 Ann Smith <a.smith@work.example>"}},
		{name: "address start", to: []string{"anna.b"}, status: 1,
			want: []string{"1 1: 2 Anna Berg <anna.berg@example.net>"}},
		{name: "name and address form", to: []string{`"Bob J" <bob@example.org>`}, status: 1,
			want: []string{"1 1: 2 Bob Jones <bob@example.org>"}},
		{name: "display name of a person with two addresses", to: []string{"ann smith"}, status: 1,
			want: []string{"2 2: 2 Ann Smith <ann@example.org> 2 Ann Smith <a.smith@work.example>"}},
		{name: "ambiguous", to: []string{"ann"}, status: 1,
			want: []string{"2 3: 2 Ann Smith <ann@example.org> 2 Ann Smith <a.smith@work.example> 2 Anna Berg <anna.berg@example.net>"}},
		{name: "ambiguous past MaxAmbiguousRecipients", to: []string{"carol"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{MaxAmbiguousRecipients: intp(2)},
			want: []string{"3 25: 2 Carol 01 <carol01@example.com> 2 Carol 02 <carol02@example.com>"}},
		{name: "MaxAmbiguousRecipients 0: only the count", to: []string{"carol", "ann"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{MaxAmbiguousRecipients: intp(0)},
			want: []string{"2 25:", "2 3:"}},
		{name: "MaxAmbiguousRecipients 0: one match is no suggestion", to: []string{"bob", "ann smith"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{MaxAmbiguousRecipients: intp(0)},
			want: []string{"1 1: 2 Bob Jones <bob@example.org>", "2 2:"}},
		{name: "ambiguous past the default limit", to: []string{"carol"}, status: 1,
			want: []string{"3 25:"}, wantSub: true},
		{name: "not resolved", to: []string{"nobody", "zed"}, status: 1,
			want: []string{"4 0:", "4 0:"}},
		{name: "own address", to: []string{fakeUser}, status: 1,
			want: []string{"1 1: 1 user@example.com <user@example.com>"}},
		{name: "several To in order", to: []string{"bob", "nobody", "berg"}, status: 1,
			want: []string{"1 1: 2 Bob Jones <bob@example.org>", "4 0:", "1 1: 2 Anna Berg <anna.berg@example.net>"}},
		{name: "certificates: none kept", to: []string{"bob", "ann"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{CertificateRetrieval: 2},
			want: []string{"1 1: 2 Bob Jones <bob@example.org> certs=7/0",
				"2 3: 2 Ann Smith <ann@example.org> 2 Ann Smith <a.smith@work.example> 2 Anna Berg <anna.berg@example.net>"}},
		{name: "availability: not available", to: []string{"bob", "ann"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{Availability: window},
			want: []string{"1 1: 2 Bob Jones <bob@example.org> avail=163",
				"2 3: 2 Ann Smith <ann@example.org> 2 Ann Smith <a.smith@work.example> 2 Anna Berg <anna.berg@example.net>"}},
		{name: "availability ignored in 12.1", v: eas.V121, to: []string{"bob"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{Availability: window},
			want: []string{"1 1: 2 Bob Jones <bob@example.org>"}},
		{name: "pictures within MaxSize and MaxPictures", v: eas.V141, to: []string{"ann", "bob"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{Picture: &eas.PictureOptions{MaxSize: 1000, MaxPictures: 1}},
			want: []string{
				fmt.Sprintf("2 3: 2 Ann Smith <ann@example.org> pic=1/%d 2 Ann Smith <a.smith@work.example> pic=175 2 Anna Berg <anna.berg@example.net> pic=173", len(smallPhoto)),
				"1 1: 2 Bob Jones <bob@example.org> pic=174"}},
		{name: "pictures without limits", v: eas.V141, to: []string{"bob"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{Picture: &eas.PictureOptions{}},
			want: []string{fmt.Sprintf("1 1: 2 Bob Jones <bob@example.org> pic=1/%d", len(largePhoto))}},
		{name: "no pictures before 14.1", v: eas.V140, to: []string{"bob"}, status: 1,
			opts: &eas.ResolveRecipientsOptions{Picture: &eas.PictureOptions{}},
			want: []string{"1 1: 2 Bob Jones <bob@example.org>"}},
		{name: "bad availability window", to: []string{"bob"}, status: 5,
			opts: &eas.ResolveRecipientsOptions{Availability: &eas.RecipientsTimeWindow{StartTime: window.EndTime, EndTime: window.StartTime}}},
		{name: "bad CertificateRetrieval", to: []string{"bob"}, status: 5,
			opts: &eas.ResolveRecipientsOptions{CertificateRetrieval: 9}},
		{name: "MaxAmbiguousRecipients out of range", to: []string{"bob"}, status: 5,
			opts: &eas.ResolveRecipientsOptions{MaxAmbiguousRecipients: intp(10000)}},
		{name: "MaxCertificates out of range", to: []string{"bob"}, status: 5,
			opts: &eas.ResolveRecipientsOptions{CertificateRetrieval: 3, MaxCertificates: intp(-1)}},
		{name: "To too long", to: []string{strings.Repeat("a", 257)}, status: 5},
		{name: "no directory: own address", noDir: true, to: []string{"user@", "bob"}, status: 1,
			want: []string{"1 1: 1 user@example.com <user@example.com>", "4 0:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			if v == 0 {
				v = eas.V161
			}
			dir := &fakeDirectory{people: samplePeople()}
			if tt.noDir {
				dir = nil
			}
			g := startDirectory(t, v, dir)
			resp, err := g.phone.ResolveRecipients(context.Background(), &eas.ResolveRecipientsRequest{To: tt.to, Options: tt.opts})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status {
				t.Fatalf("status %d, want %d (%+v)", resp.Status, tt.status, resp)
			}
			var got []string
			for i, r := range resp.Response {
				if r.To != tt.to[i] {
					t.Errorf("response %d for To %q, want %q", i, r.To, tt.to[i])
				}
				got = append(got, summary(r))
			}
			if tt.wantSub {
				for i := range tt.want {
					if i >= len(got) || !strings.HasPrefix(got[i], tt.want[i]) {
						t.Fatalf("got %q, want prefixes %q", got, tt.want)
					}
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

// TestPictureDataIsOpaque reads the answers' bytes: a photo travels as
// WBXML opaque data holding the image itself (MS-ASCMD gives Data the byte
// array type, which MS-ASDTYPE 2.7.1 sends as opaque; Horde's server and
// Exchange-era GAL clients read it so), not as base64 text.
func TestPictureDataIsOpaque(t *testing.T) {
	g := startDirectory(t, eas.V141, &fakeDirectory{people: samplePeople()})
	tests := []struct {
		name, cmd, req string
		path           []string
	}{
		{"ResolveRecipients", "ResolveRecipients",
			`<ResolveRecipients xmlns="ResolveRecipients"><To>bob</To><Options><Picture/></Options></ResolveRecipients>`,
			[]string{"Response", "Recipient", "Picture", "Data"}},
		{"Search GAL", "Search",
			`<Search xmlns="Search"><Store><Name>GAL</Name><Query>bob</Query><Options><Range>0-0</Range><Picture/></Options></Store></Search>`,
			[]string{"Response", "Store", "Result", "Properties"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := postXML(t, g.phone, tt.cmd, tt.req)
			if err != nil || resp == nil {
				t.Fatalf("%v %v", resp, err)
			}
			data := path(resp, tt.path...)
			if tt.cmd == "Search" && data != nil {
				data = path(data.ChildNS("GAL", "Picture"), "Data")
			}
			if data == nil {
				t.Fatalf("no %v in %s", tt.path, resp.XML())
			}
			if !data.Opaque || !bytes.Equal(data.Data, largePhoto) {
				t.Fatalf("Data opaque=%v, %d bytes starting % x; want the %d bytes of the photo as opaque",
					data.Opaque, len(data.Data), data.Data[:min(4, len(data.Data))], len(largePhoto))
			}
		})
	}
}

func TestResolveRecipientsDefaultLimit(t *testing.T) {
	g := startDirectory(t, eas.V161, &fakeDirectory{people: samplePeople()})
	resp, err := g.phone.ResolveRecipients(context.Background(), &eas.ResolveRecipientsRequest{To: []string{"carol"}})
	if err != nil || resp.Status != 1 || len(resp.Response) != 1 {
		t.Fatalf("%v %+v", err, resp)
	}
	if r := resp.Response[0]; r.Status != eas.RecipientAmbiguousPartial || r.RecipientCount != 25 || len(r.Recipient) != 20 {
		t.Fatalf("status %d count %d recipients %d", r.Status, r.RecipientCount, len(r.Recipient))
	}
}

func TestResolveRecipientsUpstreamDown(t *testing.T) {
	g := startDirectory(t, eas.V161, &fakeDirectory{err: fmt.Errorf("address books: %w", eas.ErrUnavailable)})
	resp, err := g.phone.ResolveRecipients(context.Background(), &eas.ResolveRecipientsRequest{To: []string{"bob"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != eas.ResolveServerError || len(resp.Response) != 0 {
		t.Fatalf("got %+v, want status 6 alone", resp)
	}
	st, err := g.phone.SearchGAL(context.Background(), "bob", "", nil)
	if err != nil || st.Status != 1 || st.Store == nil || st.Store.Status != eas.SearchServerError {
		t.Fatalf("GAL search with the directory down: %v %+v", err, st)
	}
}

func TestOptionsListResolveRecipients(t *testing.T) {
	g := startDirectory(t, eas.V161, nil)
	h, err := easclient.New(g.url, fakeUser, "secret", "phone1", eas.V161).Options(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cmds := strings.Split(h.Get("MS-ASProtocolCommands"), ",")
	for _, c := range []string{"ResolveRecipients", "Search"} {
		if !slices.Contains(cmds, c) {
			t.Errorf("MS-ASProtocolCommands %q lacks %s", cmds, c)
		}
	}
}

// Free/busy is given for at most 100 To (MS-ASCMD 2.2.3.16): past that
// every resolved recipient's Availability says so (Status 160).
func TestResolveRecipientsAvailabilityLimit(t *testing.T) {
	g := startDirectory(t, eas.V161, &fakeDirectory{people: samplePeople()})
	start := time.Now().UTC().Truncate(time.Hour)
	window := &eas.RecipientsTimeWindow{StartTime: start.Format("2006-01-02T15:04:05.000Z"),
		EndTime: start.Add(time.Hour).Format("2006-01-02T15:04:05.000Z")}
	for _, tt := range []struct {
		n, want int
	}{{100, eas.AvailabilityNotAvailable}, {101, eas.AvailabilityTooManyRecipients}} {
		to := slices.Repeat([]string{"bob"}, tt.n)
		resp, err := g.phone.ResolveRecipients(context.Background(), &eas.ResolveRecipientsRequest{To: to,
			Options: &eas.ResolveRecipientsOptions{Availability: window}})
		if err != nil || resp.Status != 1 || len(resp.Response) != tt.n {
			t.Fatalf("%d To: %v status %d, %d responses", tt.n, err, resp.Status, len(resp.Response))
		}
		for _, r := range resp.Response {
			if len(r.Recipient) != 1 || r.Recipient[0].Availability == nil || r.Recipient[0].Availability.Status != tt.want {
				t.Fatalf("%d To: %+v, want Availability %d", tt.n, r, tt.want)
			}
		}
	}
}

// An address-book server that refuses the login the mail server took
// fails the lookup with a retryable status, never with HTTP 401: the
// phone would ask for a new password.
func TestResolveRecipientsDirectoryRefusesLogin(t *testing.T) {
	g := startDirectory(t, eas.V161, &fakeDirectory{err: fmt.Errorf("carddav: %w", eas.ErrUnauthorized)})
	resp, err := g.phone.ResolveRecipients(context.Background(), &eas.ResolveRecipientsRequest{To: []string{"bob"}})
	if err != nil || resp.Status != eas.ResolveServerError {
		t.Fatalf("got %v %+v, want status 6", err, resp)
	}
	st, err := g.phone.SearchGAL(context.Background(), "bob", "", nil)
	if err != nil || st.Store == nil || st.Store.Status != eas.SearchServerError {
		t.Fatalf("GAL search: %v %+v, want store status 3", err, st)
	}
}
