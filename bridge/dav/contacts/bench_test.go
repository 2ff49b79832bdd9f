package contacts

import (
	"context"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/upstream/radicaletest"
	"github.com/easgate/easgate/eas"
)

// BenchmarkInitialSync: the initial sync of a 1,700-card book in windows
// of 100, as a phone does it, with both change strategies. It reports the
// requests and the listings of the book (PROPFIND or sync-collection)
// each whole sync sends upstream.
//
//	go test -run '^$' -bench BenchmarkInitialSync -benchtime 3x ./bridge/dav/contacts
func BenchmarkInitialSync(b *testing.B) {
	const cards = 1700
	srv, err := radicaletest.Start(radicaletest.Options{Users: map[string]string{user: pass}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	fillBook(b, srv, cards)
	for _, st := range []struct {
		name   string
		noSync bool
	}{{"sync-collection", false}, {"propfind", true}} {
		b.Run(st.name, func(b *testing.B) {
			count := &countingTransport{}
			cfg := dav.Config{URL: srv.URL(), Timeout: 5 * time.Minute, NoSyncCollection: st.noSync, Transport: count}
			s, err := New(Config{DAV: cfg}).Open(context.Background(), cred)
			if err != nil {
				b.Fatal(err)
			}
			se := s.(*Session)
			ctx := context.Background()
			count.n.Store(0)
			count.listings.Store(0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				phone := known{}
				q := eas.SyncQuery{Path: book, Window: 100}
				n := 0
				for {
					q.Known = phone
					cs, err := se.Changes(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					n += len(cs.Changes)
					phone.apply(cs)
					q.Cursor = cs.Cursor
					if !cs.More {
						break
					}
				}
				if n != cards {
					b.Fatalf("%d cards synced", n)
				}
			}
			b.ReportMetric(float64(count.n.Load())/float64(b.N), "requests/sync")
			b.ReportMetric(float64(count.listings.Load())/float64(b.N), "listings/sync")
		})
	}
}
