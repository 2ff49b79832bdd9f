package bridge

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// BenchmarkSync measures, on a Dovecot folder of 10,000 small messages:
//
//	initial:   a first sync through Changes in windows of 512, converting
//	           every message;
//	raw-fetch: one UID FETCH 1:* BODY.PEEK[] of the same folder on the same
//	           kind of connection, reading every byte and nothing more, the
//	           floor for initial;
//	no-change: a Changes of the synced folder when nothing happened.
//
// go test -run '^$' -bench Sync -benchtime 5x ./bridge/
func BenchmarkSync(b *testing.B) {
	const n = 10000
	u := startDovecot(b, false, Config{})
	fill(b, u.dial(b), "INBOX", n, 200, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

	b.Run("initial", func(b *testing.B) {
		mb := u.open(b)
		for b.Loop() {
			p := newPhone("INBOX")
			p.window = 512
			if got := len(p.syncAll(b, mb)); got != n {
				b.Fatalf("%d changes, want %d", got, n)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})

	b.Run("raw-fetch", func(b *testing.B) {
		mb := u.open(b)
		c := mb.c
		if _, err := c.selectFolder(context.Background(), "INBOX"); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			got := 0
			cmd := c.client.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
				BodySection: []*imap.FetchItemBodySection{{Peek: true}},
			})
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
						if _, err := io.ReadAll(body.Literal); err != nil {
							b.Fatal(err)
						}
						got++
					}
				}
			}
			if err := cmd.Close(); err != nil {
				b.Fatal(err)
			}
			if got != n {
				b.Fatalf("%d messages, want %d", got, n)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})

	b.Run("no-change", func(b *testing.B) {
		mb := u.open(b)
		p := newPhone("INBOX")
		p.window = 512
		p.syncAll(b, mb)
		for b.Loop() {
			if cs := p.sync(b, mb); len(cs.Changes) != 0 {
				b.Fatalf("changes in a quiet folder: %d", len(cs.Changes))
			}
		}
	})
}
