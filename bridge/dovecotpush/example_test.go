package dovecotpush_test

import (
	"context"
	"log"
	"net/http"

	"github.com/easgate/easgate/bridge/dovecotpush"
)

// notifier stands for the IMAP Notifier, which wakes the waiting requests.
type notifier struct{}

func (notifier) Poke(ctx context.Context, user string, folders []string) bool { return true }

func ExampleNewHandler() {
	h, err := dovecotpush.NewHandler(dovecotpush.Config{
		Poker:  notifier{},
		Secret: "the content of --push-secret-file",
		Domain: "example.com", // --domain
	})
	if err != nil {
		log.Fatal(err)
	}
	admin := http.NewServeMux()
	admin.Handle("PUT /api/push/dovecot", h)
	admin.Handle("POST /api/push/dovecot", h)
}
