package dovecotpush_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/easgate/easgate/bridge/dovecotpush"
)

// idle is a Poker for accounts with nobody waiting: it knows the user and
// has nothing to wake.
type idle struct{}

func (idle) Poke(context.Context, string, []string) bool { return true }

// BenchmarkNobodyWaiting measures what a notification costs easgate when
// nobody waits: authentication, parsing and the hand-over, without the
// network.
func BenchmarkNobodyWaiting(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"ox", oxBody},
		{"lua", `{"user":"anna","time":1765080001,"events":[{"event":"FlagsSet","folder":"INBOX"},{"event":"MessageExpunge","folder":"INBOX"}]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, err := dovecotpush.NewHandler(dovecotpush.Config{Poker: idle{}, Secret: "s3cret"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPut, "/api/push/dovecot", strings.NewReader(bc.body))
				req.SetBasicAuth("dovecot", "s3cret")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
