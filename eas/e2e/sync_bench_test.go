package e2e_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// heapSampler records the largest HeapInuse of the process while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func sampleHeap(every time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			h.peak = max(h.peak, ms.HeapInuse)
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak in bytes.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak
}

// syncCount syncs a collection from key 0 to the end, as a phone with the
// given window and options would, keeping nothing but the count, and
// returns the count and the last key.
func syncCount(b *testing.B, phone *easclient.Client, collectionID string, window int, opts *eas.SyncOptions) (int, string) {
	ctx := context.Background()
	key, n := "0", 0
	for {
		coll := eas.SyncCollection{SyncKey: key, CollectionID: collectionID, WindowSize: &window}
		if opts != nil {
			coll.Options = []eas.SyncOptions{*opts}
		}
		resp, err := phone.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{coll}})
		if err != nil || resp == nil || len(resp.Collections) != 1 || resp.Collections[0].Status != 1 {
			b.Fatalf("sync: %v %+v", err, resp)
		}
		col := resp.Collections[0]
		if col.Commands != nil {
			n += len(col.Commands.Add)
		}
		first := key == "0"
		key = col.SyncKey
		if !first && !col.MoreAvailable {
			return n, key
		}
	}
}

// BenchmarkSync10k compares the initial sync of a 10,000-message folder
// through the whole gateway (HTTP, WBXML, bridge, SQLite) with a plain IMAP
// "UID FETCH 1:* BODY.PEEK[]" of the same messages, and measures a Sync
// that finds nothing new. The phone asks for whole MIME messages, so both
// sides move the same bytes.
//
//	go test -run '^$' -bench Sync10k -benchtime 3x ./eas/e2e/
func BenchmarkSync10k(b *testing.B) {
	const n = 10000
	e := newMailEnv(b, false, eas.V141)
	e.fill(b, "INBOX", n)
	inbox := e.id(b, "INBOX")
	mime := &eas.SyncOptions{FilterType: intp(0), MIMESupport: intp(2), BodyPreference: []eas.BodyPreference{{Type: eas.BodyMIME}}}
	devices := 0
	newPhone := func() *easclient.Client {
		devices++
		p := e.g.provisioned(b, e.user, e.pw, fmt.Sprintf("bench%d", devices), eas.V141)
		if _, err := p.FolderSync(context.Background(), "0"); err != nil {
			b.Fatal(err)
		}
		return p
	}

	b.Run("initial", func(b *testing.B) {
		// The plain fetch gets a logged-in connection, as the gateway's
		// pool has one.
		plainConn := e.g.Dovecot.Dial(b, e.user, e.pw)
		var gateway, plain time.Duration
		var peak, base uint64
		for b.Loop() {
			b.StopTimer()
			phone := newPhone()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base = max(base, ms.HeapInuse)
			b.StartTimer()

			h := sampleHeap(5 * time.Millisecond)
			start := time.Now()
			got, _ := syncCount(b, phone, inbox, 512, mime)
			gateway += time.Since(start)
			peak = max(peak, h.Stop())
			if got != n {
				b.Fatalf("synced %d messages", got)
			}

			start = time.Now()
			if got := fetchAll(b, plainConn, "INBOX"); got != n {
				b.Fatalf("fetched %d messages", got)
			}
			plain += time.Since(start)
		}
		iters := float64(b.N)
		b.ReportMetric(gateway.Seconds()/iters, "gateway-s")
		b.ReportMetric(plain.Seconds()/iters, "imap-s")
		b.ReportMetric(gateway.Seconds()/plain.Seconds(), "ratio")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(peak-min(base, peak))/(1<<20), "peak-over-idle-MB")
	})

	b.Run("no-change", func(b *testing.B) {
		phone := newPhone()
		_, key := syncCount(b, phone, inbox, 512, mime)
		coll := eas.SyncCollection{SyncKey: key, CollectionID: inbox}
		req := &eas.SyncRequest{Collections: []eas.SyncCollection{coll}}
		ctx := context.Background()
		for b.Loop() {
			resp, err := phone.Sync(ctx, req)
			if err != nil || resp == nil || resp.Collections[0].Commands != nil || resp.Collections[0].SyncKey != key {
				b.Fatalf("no-change sync: %v %+v", err, resp)
			}
		}
	})
}

// fetchAll reads every message of a mailbox with one UID FETCH BODY.PEEK[]
// and returns how many it read.
func fetchAll(b *testing.B, c *imapclient.Client, mailbox string) int {
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	cmd := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	count := 0
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok {
				if _, err := io.Copy(io.Discard, body.Literal); err != nil {
					b.Fatal(err)
				}
				count++
			}
		}
	}
	if err := cmd.Close(); err != nil {
		b.Fatal(err)
	}
	return count
}
