package bridge

import (
	"context"
	"math"
	"math/rand"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
)

// countingConn counts the bytes read from the server.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkPlannedSync measures an initial sync of a folder of N messages
// (N=2000, or $EASGATE_BENCH_N), 30% of them with an attachment of 100 KB
// to 5 MB (log-uniform), the others 2-30 KB of text and HTML, against one
// UID FETCH 1:* BODY.PEEK[] of the same folder on the same connection. The
// kinds are taken in turns so that all see the same load:
//
//	raw:   UID FETCH 1:* BODY.PEEK[], reading every byte;
//	html:  HTML, TruncationSize 5120;
//	plain: plain text, TruncationSize 200 KB;
//	mime:  MIME, whole.
//
// For each: ms per sync, MB read from Dovecot per sync, CPU µs per message
// (this process plus the Dovecot process), the peak of the heap in use
// during the sync above what it held before, and time relative to raw.
//
// go test -run '^$' -bench PlannedSync -benchtime 3x ./bridge/
func BenchmarkPlannedSync(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("EASGATE_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	var read atomic.Int64
	u := startDovecot(b, false, Config{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, n: &read}, nil
	}})
	folderBytes := fillMix(b, u, n)
	b.Logf("folder: %d messages, %.1f MB", n, float64(folderBytes)/1e6)

	kinds := []struct {
		name string
		body *eas.BodyOptions // nil: raw fetch
	}{
		{"raw", nil},
		{"html", &eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 5120}}}},
		{"plain", &eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: 200 << 10}}}},
		{"mime", &eas.BodyOptions{MIMESupport: 2, Preferences: []eas.BodyPreference{{Type: eas.BodyMIME}}}},
	}
	mb := u.open(b)
	if _, err := mb.conn(context.Background()); err != nil {
		b.Fatal(err)
	}
	server := serverProcess(mb.c.netConn)
	wall := make([]time.Duration, len(kinds))
	cpu := make([]time.Duration, len(kinds))
	bytes := make([]int64, len(kinds))
	peak := make([]uint64, len(kinds))
	for b.Loop() {
		for i, k := range kinds {
			stop := watchHeap(&peak[i])
			c0, r0, t0 := cpuTime(server), read.Load(), time.Now()
			if k.body == nil {
				if got := rawFetch(b, mb.c); got != n {
					b.Fatalf("raw fetch: %d messages, want %d", got, n)
				}
			} else if adds := countAdds(b, mb, *k.body, 100); adds != n {
				b.Fatalf("%s: %d adds, want %d", k.name, adds, n)
			}
			wall[i] += time.Since(t0)
			cpu[i] += cpuTime(server) - c0
			bytes[i] += read.Load() - r0
			stop()
		}
	}
	for i, k := range kinds {
		b.ReportMetric(float64(wall[i].Milliseconds())/float64(b.N), k.name+"-ms/op")
		b.ReportMetric(float64(bytes[i])/1e6/float64(b.N), k.name+"-MB/op")
		if server != 0 {
			b.ReportMetric(float64(cpu[i].Microseconds())/float64(b.N)/float64(n), k.name+"-cpu-µs/msg")
		}
		b.ReportMetric(float64(peak[i])/1e6, k.name+"-peakheap-MB")
		if i > 0 {
			b.ReportMetric(float64(wall[i])/float64(wall[0]), k.name+"/raw")
		}
	}
}

// watchHeap samples the heap in use until stop is called, and raises
// *peak to the most it grew above where it stood at the start.
func watchHeap(peak *uint64) (stop func()) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > *peak {
				*peak = ms.HeapInuse - base
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// fillMix fills INBOX with n messages of the benchmark's mix: 100 distinct
// ones copied over; it returns the folder's size.
func fillMix(b *testing.B, u *upstream, n int) int64 {
	g := &mailGen{rng: rand.New(rand.NewSource(42))}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	distinct := min(n, 100)
	msgs := make([]msg, distinct)
	for i := range msgs {
		d := base.Add(time.Duration(i) * time.Minute)
		text, attach := 2<<10+g.rng.Intn(28<<10), 0
		if i%10 < 3 {
			// log-uniform between 100 KB and 5 MB
			attach = int(100e3 * math.Exp(g.rng.Float64()*math.Log(50)))
			text = 1<<10 + g.rng.Intn(8<<10)
		}
		msgs[i] = msg{raw: g.message(i, text, attach, d), date: d}
	}
	c := u.dial(b)
	appendAll(b, c, "INBOX", msgs)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	for have := distinct; have < n; have += min(distinct, n-have) {
		var set imap.SeqSet
		set.AddRange(1, uint32(min(distinct, n-have)))
		if _, err := c.Copy(set, "INBOX").Wait(); err != nil {
			b.Fatal(err)
		}
	}
	return folderSize(b, u.dovecot)
}

// countAdds runs an initial sync of INBOX and counts the Adds, dropping
// the items once "sent" as eas does.
func countAdds(b *testing.B, mb *Mailbox, body eas.BodyOptions, window int) int {
	p := newPhone("INBOX")
	p.window = window
	adds := 0
	for {
		q := p.query()
		q.Body = body
		cs, err := mb.Changes(context.Background(), q)
		if err != nil {
			b.Fatalf("Changes: %v", err)
		}
		p.known.apply(b, cs)
		p.cursor = cs.Cursor
		for _, ch := range cs.Changes {
			if e := asEmail(ch.Item); ch.Kind == eas.ChangeAdd && e != nil && e.Body != nil {
				adds++
			}
		}
		if !cs.More {
			return adds
		}
	}
}
