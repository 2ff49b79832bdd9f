package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-webdav/carddav"

	"github.com/easgate/easgate/eas"
)

// countingTransport counts the gateway's requests upstream and the time
// until their answers' headers.
type countingTransport struct {
	n    atomic.Int64
	wait atomic.Int64 // nanoseconds
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	start := time.Now()
	defer func() { c.wait.Add(int64(time.Since(start))) }()
	return http.DefaultTransport.RoundTrip(r)
}

// fillBook writes n cards into Radicale's storage of an address book, as
// an account that has them would hold them.
func fillBook(b testing.TB, g *cardGateway, book string, n int) {
	b.Helper()
	dir := filepath.Join(g.rad.Dir(), "collection-root", g.user, book)
	for i := range n {
		uid := fmt.Sprintf("card-%05d", i)
		card := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:First%d Last%d\r\nN:Last%d;First%d;;;\r\n"+
			"EMAIL;TYPE=INTERNET:person%d@example.org\r\nTEL;TYPE=CELL:+49 170 %07d\r\nTEL;TYPE=WORK:+49 30 %07d\r\n"+
			"ORG:Company %d;Sales\r\nTITLE:Manager\r\nADR;TYPE=HOME:;;Street %d;Berlin;;10115;Germany\r\n"+
			"NOTE:Met at the fair in %d.\r\nEND:VCARD\r\n", uid, i, i, i, i, i, i, i, i%97, i, 2000+i%25)
		if err := os.WriteFile(filepath.Join(dir, uid+".vcf"), []byte(card), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// syncContacts syncs a contacts collection from key 0 to the end and
// returns the number of Adds and the last key.
func syncContacts(b testing.TB, p *cardPhone, id string, window int) (int, string) {
	key, n := "0", 0
	for {
		c := p.mustSync(b, eas.SyncCollection{SyncKey: key, CollectionID: id, WindowSize: &window, GetChanges: boolp(key != "0")})
		if c.Status != eas.SyncSuccess {
			b.Fatalf("sync status %d", c.Status)
		}
		if c.Commands != nil {
			n += len(c.Commands.Add)
		}
		first := key == "0"
		key = c.SyncKey
		if !first && !c.MoreAvailable {
			return n, key
		}
	}
}

// BenchmarkContacts5k compares the initial sync of a 5,000-card address
// book through the whole gateway (HTTP, WBXML, CardDAV, vCard conversion,
// SQLite) with one addressbook-query REPORT of every card, and measures a
// Sync that finds nothing new and the requests it sends upstream.
//
//	go test -run '^$' -bench Contacts5k -benchtime 3x ./eas/e2e/
func BenchmarkContacts5k(b *testing.B) {
	const n = 5000
	up := &countingTransport{}
	g := startCardGateway(b, cardGatewayOptions{Transport: up})
	book := g.book(b, "contacts", "Contacts")
	fillBook(b, g, "contacts", n)
	ctx := context.Background()
	report := func() int {
		objs, err := g.dav.CardDAV().QueryAddressBook(ctx, book, &carddav.AddressBookQuery{DataRequest: carddav.AddressDataRequest{AllProp: true}})
		if err != nil {
			b.Fatal(err)
		}
		return len(objs)
	}
	// Radicale parses new files once, into its cache: longer than a
	// request of the gateway may take.
	start := time.Now()
	if st, _, err := g.rad.Do(ctx, g.user, "REPORT", book, "application/xml", []byte(`<?xml version="1.0"?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop></C:addressbook-query>`)); err != nil || st != http.StatusMultiStatus {
		b.Fatalf("warming Radicale up: %d %v", st, err)
	}
	if st, _, err := g.rad.Do(ctx, g.user, "REPORT", book, "application/xml", []byte(`<?xml version="1.0"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)); err != nil || st != http.StatusMultiStatus {
		b.Fatalf("warming Radicale up: %d %v", st, err)
	}
	b.Logf("Radicale read %d new cards in %v", n, time.Since(start))
	devices := 0
	newPhone := func() (*cardPhone, string) {
		devices++
		p := g.phone(b, fmt.Sprintf("bench%d", devices), eas.V161)
		ids := map[string]string{}
		p.folders(b, "0", ids)
		return p, ids["Contacts"]
	}

	b.Run("initial", func(b *testing.B) {
		var gateway, plain time.Duration
		var reqs, waited int64
		for b.Loop() {
			b.StopTimer()
			p, id := newPhone()
			b.StartTimer()
			before, waitedBefore := up.n.Load(), up.wait.Load()
			start := time.Now()
			if got, _ := syncContacts(b, p, id, 512); got != n {
				b.Fatalf("synced %d cards", got)
			}
			gateway += time.Since(start)
			reqs += up.n.Load() - before
			waited += up.wait.Load() - waitedBefore
			start = time.Now()
			if got := report(); got != n {
				b.Fatalf("REPORT: %d cards", got)
			}
			plain += time.Since(start)
		}
		iters := float64(b.N)
		b.ReportMetric(gateway.Seconds()/iters, "gateway-s")
		b.ReportMetric(plain.Seconds()/iters, "report-s")
		b.ReportMetric(gateway.Seconds()/plain.Seconds(), "ratio")
		b.ReportMetric(float64(reqs)/iters, "upstream-req")
		// Upstream requests run beside the phone's (prefetch), so this
		// may exceed gateway-s.
		b.ReportMetric(time.Duration(waited).Seconds()/iters, "upstream-wait-s")
	})

	b.Run("no-change", func(b *testing.B) {
		p, id := newPhone()
		_, key := syncContacts(b, p, id, 512)
		before := up.n.Load()
		for b.Loop() {
			c := p.mustSync(b, eas.SyncCollection{SyncKey: key, CollectionID: id, GetChanges: boolp(true)})
			if c.Status != eas.SyncSuccess || c.Commands != nil {
				b.Fatalf("no-change sync: %+v", c)
			}
			key = c.SyncKey
		}
		b.ReportMetric(float64(up.n.Load()-before)/float64(b.N), "upstream-req/op")
	})
}

// BenchmarkContactsWaiting measures what a phone waiting in a Ping costs
// the process, for N accounts that each watch mail and contacts (Ping on
// Inbox and Contacts), beside the same phones watching mail alone. The
// phones run in the same process, so the figures include their side of
// each connection; the difference of the two is what watching contacts
// adds.
//
//	go test -run '^$' -bench ContactsWaiting -benchtime 1x ./eas/e2e/
func BenchmarkContactsWaiting(b *testing.B) {
	const phones = 50
	for b.Loop() {
		// Each on a gateway of its own: what a Ping leaves behind (a
		// watcher that lingers) must not count for the other. A first
		// round warms the process up (pools, buffers that stay).
		waitingCost(b, phones, true)
		mailKB, mailG := waitingCost(b, phones, false)
		bothKB, bothG := waitingCost(b, phones, true)
		b.ReportMetric(mailKB/1024, "mail-KB/phone")
		b.ReportMetric(bothKB/1024, "mail+contacts-KB/phone")
		b.ReportMetric(mailG, "mail-goroutines/phone")
		b.ReportMetric(bothG, "mail+contacts-goroutines/phone")
	}
}

// waitingCost starts a gateway with n accounts of one phone each, holds
// every phone in a Ping of Inbox (and Contacts), and returns the heap and
// stacks and the goroutines above idle per phone.
func waitingCost(b *testing.B, n int, withContacts bool) (float64, float64) {
	g := startCardGateway(b, cardGatewayOptions{Poll: 30 * time.Second, MailPush: true})
	type device struct {
		p            *cardPhone
		inbox, cards string
	}
	var devs []device
	for i := range n {
		user, pw := g.newUser(b)
		must(b, g.rad.AddUser(user, pw))
		must(b, g.rad.AddressBook(user, "contacts", "Contacts"))
		dg := *g
		dg.user, dg.pw = user, pw
		for j := range 3 {
			dg.put(b, fmt.Sprintf("/%s/contacts/c%d.vcf", user, j), testCard(fmt.Sprint(j), fmt.Sprintf("P%d Q%d", i, j), ""))
		}
		p := dg.phone(b, fmt.Sprintf("waiter%d", i), eas.V161)
		ids := map[string]string{}
		p.folders(b, "0", ids)
		p.syncToNow(b, ids["INBOX"], "0")
		p.syncToNow(b, ids["Contacts"], "0")
		devs = append(devs, device{p, ids["INBOX"], ids["Contacts"]})
	}
	mem := func() (uint64, int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse, runtime.NumGoroutine()
	}
	base, gBase := mem()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range devs {
		req := pingContactsAndInbox(d.cards, d.inbox)
		if !withContacts {
			req.Folders = req.Folders[:1]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := d.p.Ping(ctx, req); err == nil {
				b.Errorf("a Ping ended while nothing changed: %+v", r)
			}
		}()
	}
	time.Sleep(3 * time.Second)
	held, gHeld := mem()
	cancel()
	wg.Wait()
	return float64(held-base) / float64(n), float64(gHeld-gBase) / float64(n)
}
