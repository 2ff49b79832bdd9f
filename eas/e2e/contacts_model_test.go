package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"

	"github.com/easgate/easgate/eas"
)

// person is what the randomized contacts test compares: the fields a phone
// carries that both sides write.
type person struct {
	first, last, email, mobile, company string
}

func (p person) String() string {
	return strings.Join([]string{p.first, p.last, p.email, p.mobile, p.company}, "|")
}

func personOf(c *eas.Contact) person {
	return person{c.FirstName, c.LastName, c.Email1Address, c.MobilePhoneNumber, c.CompanyName}
}

func (p person) contact() *eas.Contact {
	return &eas.Contact{FirstName: p.first, LastName: p.last, Email1Address: p.email, MobilePhoneNumber: p.mobile, CompanyName: p.company}
}

// card is the person as another CardDAV client writes it.
func (p person) card(uid string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s %s\r\nN:%s;%s;;;\r\n", uid, p.first, p.last, p.last, p.first)
	if p.email != "" {
		fmt.Fprintf(&b, "EMAIL;TYPE=INTERNET:%s\r\n", p.email)
	}
	if p.mobile != "" {
		fmt.Fprintf(&b, "TEL;TYPE=CELL:%s\r\n", p.mobile)
	}
	if p.company != "" {
		fmt.Fprintf(&b, "ORG:%s\r\n", p.company)
	}
	b.WriteString("X-OTHER-CLIENT:kept\r\nEND:VCARD\r\n")
	return b.String()
}

// personOfCard reads a card as the server holds it, independently of the
// gateway's converter.
func personOfCard(t testing.TB, data string) person {
	t.Helper()
	c, err := vcard.NewDecoder(strings.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("card %q: %v", data, err)
	}
	var p person
	if n := c.Name(); n != nil {
		p.first, p.last = n.GivenName, n.FamilyName
	}
	p.email = c.Value(vcard.FieldEmail)
	for _, f := range c[vcard.FieldTelephone] {
		if slices.ContainsFunc(f.Params.Types(), func(s string) bool { return strings.EqualFold(s, "cell") }) {
			p.mobile = f.Value
		}
	}
	p.company, _, _ = strings.Cut(c.Value(vcard.FieldOrganization), ";")
	return p
}

func randomPerson(r *rand.Rand, n int) person {
	firsts := []string{"Ann", "Bob", "Cleo", "Dan", "Eva", "Finn"}
	p := person{first: firsts[r.IntN(len(firsts))], last: fmt.Sprintf("N%d", n)}
	if r.IntN(3) != 0 {
		p.email = fmt.Sprintf("p%d@example.org", n)
	}
	if r.IntN(2) == 0 {
		p.mobile = fmt.Sprintf("+49 170 %d", n)
	}
	if r.IntN(3) == 0 {
		p.company = fmt.Sprintf("Firm %d", n)
	}
	return p
}

// edit changes one field of p: set, changed or cleared.
func (p person) edit(r *rand.Rand, n int) person {
	switch r.IntN(4) {
	case 0:
		p.last = fmt.Sprintf("E%d", n)
	case 1:
		p.email = []string{"", fmt.Sprintf("e%d@example.net", n)}[r.IntN(2)]
	case 2:
		p.mobile = []string{"", fmt.Sprintf("+49 171 %d", n)}[r.IntN(2)]
	default:
		p.company = []string{"", fmt.Sprintf("Co %d", n)}[r.IntN(2)]
	}
	return p
}

// cardModelPhone is what one phone holds of the address book.
type cardModelPhone struct {
	t      *testing.T
	name   string
	p      *cardPhone
	coll   string
	key    string
	window int
	items  map[string]person
	log    *[]string
}

func (m *cardModelPhone) logf(format string, args ...any) {
	*m.log = append(*m.log, m.name+" "+fmt.Sprintf(format, args...))
}

func (m *cardModelPhone) request(cmds *eas.SyncCommands) eas.SyncCollection {
	return eas.SyncCollection{SyncKey: m.key, CollectionID: m.coll, WindowSize: intp(m.window), GetChanges: boolp(m.key != "0"), Commands: cmds}
}

// sync sends the phone's Sync; with lose, a first copy of it whose answer
// never arrives. It returns whether the server has more, or sent any.
func (m *cardModelPhone) sync(cmds *eas.SyncCommands, lose bool, sent map[string]person) bool {
	m.t.Helper()
	req := m.request(cmds)
	if lose {
		if _, err := m.p.sync(context.Background(), req); err != nil {
			m.t.Fatalf("%s: lost sync: %v", m.name, err)
		}
	}
	c := m.p.mustSync(m.t, req)
	if c.Status != eas.SyncSuccess {
		m.t.Fatalf("%s: sync status %d", m.name, c.Status)
	}
	m.apply(c, sent)
	return c.MoreAvailable || len(c.summary()) > 0
}

func (m *cardModelPhone) apply(c cColl, sent map[string]person) {
	m.t.Helper()
	if rs := c.Responses; rs != nil {
		for _, a := range rs.Add {
			m.logf("add %s → %s status %d", a.ClientID, a.ServerID, a.Status)
			if a.Status != eas.SyncSuccess {
				m.t.Fatalf("%s: Add %s: status %d", m.name, a.ClientID, a.Status)
			}
			if _, ok := m.items[a.ServerID]; ok {
				m.t.Fatalf("%s: Add answered with %s, which the phone holds", m.name, a.ServerID)
			}
			m.items[a.ServerID] = sent[a.ClientID]
		}
		for _, ch := range rs.Change {
			// 7: the server's version wins and comes as a Change; 8:
			// it is gone and its Delete comes.
			m.logf("change %s status %d", ch.ServerID, ch.Status)
			if ch.Status != eas.SyncConflict && ch.Status != eas.SyncObjectNotFound {
				m.t.Fatalf("%s: Change %s: status %d", m.name, ch.ServerID, ch.Status)
			}
		}
		for _, d := range rs.Delete {
			m.logf("delete %s status %d", d.ServerID, d.Status)
			if d.Status != eas.SyncObjectNotFound {
				m.t.Fatalf("%s: Delete %s: status %d", m.name, d.ServerID, d.Status)
			}
		}
	}
	if c.Commands != nil {
		for _, a := range c.Commands.Add {
			if _, ok := m.items[a.ServerID]; ok {
				m.t.Fatalf("%s: server Add of %s, which the phone holds", m.name, a.ServerID)
			}
			m.items[a.ServerID] = personOf(a.ApplicationData)
		}
		for _, a := range c.Commands.Change {
			if _, ok := m.items[a.ServerID]; !ok {
				m.t.Fatalf("%s: server Change of %s, which the phone lacks", m.name, a.ServerID)
			}
			m.items[a.ServerID] = personOf(a.ApplicationData)
		}
		for _, d := range c.Commands.Delete {
			if _, ok := m.items[d.ServerID]; !ok {
				m.t.Fatalf("%s: server Delete of %s, which the phone lacks", m.name, d.ServerID)
			}
			delete(m.items, d.ServerID)
		}
		m.logf("sync %s: %q", m.key, c.summary())
	}
	m.key = c.SyncKey
}

func (m *cardModelPhone) random(r *rand.Rand) string {
	ids := slices.Sorted(mapKeys(m.items))
	if len(ids) == 0 {
		return ""
	}
	return ids[r.IntN(len(ids))]
}

// TestContactsRandomized drives the gateway with a seeded random mix of
// what another CardDAV client does (add, edit, delete cards) and what two
// phones of the account do (sync, one in small windows; add, change,
// delete; send a Sync again when its answer was lost), then syncs to the
// end: each phone must hold exactly the server's cards, and never get an
// answer it cannot apply.
func TestContactsRandomized(t *testing.T) {
	// Seeds 1 to 16 passed when this was written; CI runs a few, add
	// seeds to run more.
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runContactsModel(t, seed) })
	}
}

func runContactsModel(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0xca4d))
	g := startCardGateway(t, cardGatewayOptions{})
	book := g.book(t, "contacts", "Contacts")
	next := 0
	uids := map[string]bool{}
	for range 6 {
		next++
		uid := fmt.Sprintf("s%d", next)
		g.put(t, book+uid+".vcf", randomPerson(r, next).card(uid))
		uids[uid] = true
	}
	var log []string
	defer func() {
		if t.Failed() {
			t.Logf("seed %d steps:\n%s", seed, strings.Join(log, "\n"))
		}
	}()
	var phones []*cardModelPhone
	for i, v := range []eas.Version{eas.V141, eas.V161} {
		p := &cardModelPhone{t: t, name: fmt.Sprintf("phone %c", 'A'+i), p: g.phone(t, fmt.Sprintf("model%d", i), v),
			key: "0", window: []int{2, 100}[i], items: map[string]person{}, log: &log}
		ids := map[string]string{}
		p.p.folders(t, "0", ids)
		p.coll = ids["Contacts"]
		p.sync(nil, false, nil)
		phones = append(phones, p)
	}
	ctx := context.Background()
	serverUID := func() string {
		all := slices.Sorted(mapKeys(uids))
		if len(all) == 0 {
			return ""
		}
		return all[r.IntN(len(all))]
	}
	for step := range 60 {
		p := phones[r.IntN(len(phones))]
		next++
		lose := r.IntN(4) == 0
		switch op := r.IntN(10); op {
		case 0:
			uid := fmt.Sprintf("s%d", next)
			g.put(t, book+uid+".vcf", randomPerson(r, next).card(uid))
			uids[uid] = true
			log = append(log, fmt.Sprintf("%d server add %s", step, uid))
		case 1:
			if uid := serverUID(); uid != "" {
				data, _, err := g.dav.Get(ctx, book+uid+".vcf")
				if err != nil {
					t.Fatal(err)
				}
				np := personOfCard(t, string(data)).edit(r, next)
				g.put(t, book+uid+".vcf", np.card(uid))
				log = append(log, fmt.Sprintf("%d server edit %s: %s", step, uid, np))
			}
		case 2:
			if uid := serverUID(); uid != "" {
				g.do(t, http.MethodDelete, book+uid+".vcf", "")
				delete(uids, uid)
				log = append(log, fmt.Sprintf("%d server delete %s", step, uid))
			}
		case 3, 4, 5:
			log = append(log, fmt.Sprintf("%d %s sync (lost %v)", step, p.name, lose))
			p.sync(nil, lose, nil)
		case 6, 7:
			np := randomPerson(r, next)
			cid := fmt.Sprint(next)
			var cmds eas.SyncCommands
			must(t, cmds.AddItemCommand(cid, np.contact()))
			log = append(log, fmt.Sprintf("%d %s add %s: %s (lost %v)", step, p.name, cid, np, lose))
			p.sync(&cmds, lose, map[string]person{cid: np})
		case 8:
			if id := p.random(r); id != "" {
				np := p.items[id].edit(r, next)
				var cmds eas.SyncCommands
				must(t, cmds.ChangeItemCommand(id, np.contact()))
				p.items[id] = np
				log = append(log, fmt.Sprintf("%d %s change %s: %s (lost %v)", step, p.name, id, np, lose))
				p.sync(&cmds, lose, nil)
			}
		default:
			if id := p.random(r); id != "" {
				var cmds eas.SyncCommands
				must(t, cmds.DeleteCommand(id))
				delete(p.items, id)
				log = append(log, fmt.Sprintf("%d %s delete %s (lost %v)", step, p.name, id, lose))
				p.sync(&cmds, lose, nil)
			}
		}
		// The phones' adds are cards too, under names the gateway chose.
		uids = map[string]bool{}
		for name := range g.serverCards(t, book) {
			uids[strings.TrimSuffix(name, ".vcf")] = true
		}
	}

	want := map[string]string{}
	for name, data := range g.serverCards(t, book) {
		want[phones[0].coll+":"+name] = personOfCard(t, data).String()
	}
	for _, p := range phones {
		for i := 0; ; i++ {
			if i > 100 {
				t.Fatalf("%s: no end of syncing", p.name)
			}
			if !p.sync(nil, false, nil) {
				break
			}
		}
		got := map[string]string{}
		for id, it := range p.items {
			got[id] = it.String()
		}
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s: %s holds %q, server %q", p.name, id, got[id], w)
			}
		}
		for id, g := range got {
			if _, ok := want[id]; !ok {
				t.Errorf("%s: holds %s (%q), which the server lacks", p.name, id, g)
			}
		}
	}
}
