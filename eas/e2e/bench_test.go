package e2e_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/easgate/easgate/eas"
)

// BenchmarkNoChangeSync measures Syncs that find nothing new, the bulk of
// a gateway's traffic, through nginx over one node and over two, on SQLite
// and on PostgreSQL; phones sync in parallel, each its own device. On
// PostgreSQL it also counts the database round trips per Sync. Run it with
//
//	go test ./eas/e2e -run '^$' -bench NoChangeSync -benchtime 2000x
func BenchmarkNoChangeSync(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, nodes := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/nodes=%d", db, nodes), func(b *testing.B) {
				var trips *roundTrips
				location := filepath.Join(b.TempDir(), "easgate.db")
				if db == "postgres" {
					trips = countRoundTrips(b, pg.Database(b))
					location = trips.url
				}
				c := startClusterOn(b, location, nodes)
				const phones = 8
				type device struct {
					p     *phone
					inbox string
					key   string
				}
				devs := make([]*device, phones)
				for i := range devs {
					p := c.newPhone(b, c.proxy, fmt.Sprintf("bench%d", i))
					if i == 0 {
						p.appendMessages(b, 1, 20)
					}
					inbox := p.ids["INBOX"]
					col := syncColl(b, p.Client, eas.SyncCollection{SyncKey: "0", CollectionID: inbox})
					col = syncColl(b, p.Client, eas.SyncCollection{SyncKey: col.SyncKey, CollectionID: inbox})
					devs[i] = &device{p, inbox, col.SyncKey}
				}
				var next atomic.Int64
				var before int64
				if trips != nil {
					before = trips.n.Load()
				}
				b.SetParallelism(2)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					d := devs[int(next.Add(1)-1)%phones]
					for pb.Next() {
						resp, err := d.p.Sync(b.Context(), &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: d.key, CollectionID: d.inbox}}})
						if err != nil {
							b.Error(err)
							return
						}
						if resp != nil {
							if col, err := resp.Collection(d.inbox); err != nil || col.Commands != nil {
								b.Errorf("a Sync without changes: %v %+v", err, col)
								return
							}
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
				if trips != nil {
					b.ReportMetric(float64(trips.n.Load()-before)/float64(b.N), "roundtrips/sync")
				}
			})
		}
	}
}

// roundTrips is a TCP relay in front of PostgreSQL that counts the
// server's ReadyForQuery messages: one ends every round trip of a client,
// whatever the statements.
type roundTrips struct {
	url string
	n   atomic.Int64
}

func countRoundTrips(tb testing.TB, dbURL string) *roundTrips {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	if u.Query().Get("sslmode") != "disable" {
		tb.Fatal("the relay reads the protocol in clear: the URL needs sslmode=disable")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	target := u.Host
	u.Host = ln.Addr().String()
	rt := &roundTrips{url: u.String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() { rt.relay(c, s); c.Close() }()
		}
	}()
	return rt
}

// relay copies the server's messages to the client, counting
// ReadyForQuery ('Z').
func (rt *roundTrips) relay(dst io.Writer, src io.Reader) {
	r := bufio.NewReader(src)
	w := bufio.NewWriter(dst)
	var head [5]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		if head[0] == 'Z' {
			rt.n.Add(1)
		}
		w.Write(head[:])
		if _, err := io.CopyN(w, r, int64(binary.BigEndian.Uint32(head[1:]))-4); err != nil {
			return
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}
