package e2e_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/easgate/easgate/eas"
)

// BenchmarkInitialSync measures initial syncs, the heaviest common work:
// each iteration is one phone syncing its INBOX of 200 messages from
// SyncKey 0 in windows of 100 (three Syncs), through nginx over one node
// and over two, on SQLite and on PostgreSQL, phones in parallel. Run it
// with
//
//	go test ./eas/e2e -run '^$' -bench InitialSync -benchtime 40x
func BenchmarkInitialSync(b *testing.B) {
	const messages, window = 200, 100
	for _, db := range []string{"sqlite", "postgres"} {
		for _, nodes := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/nodes=%d", db, nodes), func(b *testing.B) {
				location := filepath.Join(b.TempDir(), "easgate.db")
				if db == "postgres" {
					location = pg.Database(b)
				}
				c := startClusterOn(b, location, nodes)
				const phones = 4
				devs := make([]*phone, phones)
				for i := range devs {
					devs[i] = c.newPhone(b, c.proxy, fmt.Sprintf("initial%d", i))
					devs[i].appendMessages(b, 1, messages)
				}
				var next, requests atomic.Int64
				b.SetParallelism(1)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					p := devs[int(next.Add(1)-1)%phones]
					inbox := p.ids["INBOX"]
					for pb.Next() {
						key := syncColl(b, p.Client, eas.SyncCollection{SyncKey: "0", CollectionID: inbox}).SyncKey
						requests.Add(1)
						got := 0
						for more := true; more; {
							col := syncColl(b, p.Client, eas.SyncCollection{SyncKey: key, CollectionID: inbox, WindowSize: ptr(window)})
							requests.Add(1)
							if col.Status != eas.SyncSuccess || col.Commands == nil {
								b.Errorf("initial sync window: status %d", col.Status)
								return
							}
							got += len(col.Commands.Add)
							key, more = col.SyncKey, col.MoreAvailable
						}
						if got != messages {
							b.Errorf("initial sync brought %d messages, want %d", got, messages)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(requests.Load())/b.Elapsed().Seconds(), "syncs/s")
				b.ReportMetric(float64(b.N*messages)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
