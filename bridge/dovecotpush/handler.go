// Package dovecotpush receives Dovecot's push notifications over HTTP, so
// that easgate learns of new mail at delivery time without holding an IMAP
// connection per account.
//
// Dovecot's push_notification plugin calls the Handler in one of two ways:
// its built-in OX driver, which reports messages delivered by LMTP or LDA
// (an HTTP PUT with a JSON body whose "event" is "messageNew"), or its Lua
// driver running the script easgate ships (testdata/dovecot/easgate-push.lua),
// which also reports flag changes, expunges, APPENDs and folders created,
// renamed or deleted by any IMAP client. The Handler authenticates the
// call, reads the user and the changed folders, and hands them to a Poker.
package dovecotpush

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Poker is told which folders of an account changed. The IMAP Notifier
// implements it by waking the account's waiting requests.
type Poker interface {
	// Poke reports that folders of user's account may have changed; no
	// folders means any of them. eas.FolderListPath among them means the
	// folder list changed. user is a login name as a phone would give it
	// (already through eas.NormalizeUser).
	//
	// Poke returns false if easgate serves no account of that name. It must
	// not wait on the network or on a slow lock: it is called for every
	// notification, almost all of them for accounts with nobody waiting.
	Poke(ctx context.Context, user string, folders []string) (known bool)
}

// DefaultMaxBody bounds a notification's body. The OX driver's payload is
// a few hundred bytes (its snippet is cut short); the Lua script's carries
// each event kind and folder once per transaction.
const DefaultMaxBody = 64 << 10

// Config configures a Handler.
type Config struct {
	// Poker receives the notifications. Required.
	Poker Poker
	// Secret is what Dovecot must present: as the password of HTTP Basic
	// auth (any user name; the OX driver takes it from the URL) or as a
	// Bearer token. Required: the endpoint is never open.
	Secret string
	// Domain is easgate's --domain: a user unknown as Dovecot names it is
	// looked up once more with "@Domain" added or removed, the way a
	// phone's login without a domain is completed.
	Domain string
	// MaxBody bounds the request body; 0 means DefaultMaxBody.
	MaxBody int64
	// Registerer receives the Handler's metrics; nil keeps them
	// unregistered.
	Registerer prometheus.Registerer
	// Now is the clock for the delivery delay; nil means time.Now.
	Now func() time.Time
}

// Handler is the http.Handler for Dovecot's notifications.
type Handler struct {
	poker   Poker
	secret  [sha256.Size]byte
	domain  string
	maxBody int64
	now     func() time.Time
	m       *metrics
}

// NewHandler checks cfg and registers the metrics.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Poker == nil {
		return nil, errors.New("dovecotpush: no Poker")
	}
	if strings.TrimSpace(cfg.Secret) == "" {
		return nil, errors.New("dovecotpush: empty secret; the endpoint is never open")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Handler{
		poker:   cfg.Poker,
		secret:  sha256.Sum256([]byte(cfg.Secret)),
		domain:  strings.TrimPrefix(cfg.Domain, "@"),
		maxBody: cfg.MaxBody,
		now:     cfg.Now,
		m:       m,
	}, nil
}

// httpError is a refusal with its status and its reason label.
type httpError struct {
	status int
	reason string
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }

func refuse(status int, reason string, err error) error {
	return &httpError{status, reason, err}
}

// ServeHTTP answers 204 once the notification is handed over, and a 4xx
// without a body worth reading otherwise: Dovecot only logs the status.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := h.serve(r)
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{http.StatusInternalServerError, "internal", err}
	}
	h.m.rejected.WithLabelValues(he.reason).Inc()
	switch he.status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="easgate push", charset="UTF-8"`)
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", "PUT, POST")
	}
	http.Error(w, he.err.Error(), he.status)
}

func (h *Handler) serve(r *http.Request) error {
	// The OX driver PUTs; POST is as good for the script.
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		return refuse(http.StatusMethodNotAllowed, "method", fmt.Errorf("method %s not allowed", r.Method))
	}
	if !h.authorized(r) {
		return refuse(http.StatusUnauthorized, "unauthorized", errors.New("wrong or missing credentials"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return refuse(http.StatusRequestEntityTooLarge, "too_large", fmt.Errorf("body over %d bytes", h.maxBody))
		}
		return refuse(http.StatusBadRequest, "read", fmt.Errorf("read body: %w", err))
	}
	n, err := parse(body)
	if err != nil {
		return refuse(http.StatusBadRequest, "malformed", err)
	}
	for _, k := range n.kinds {
		h.m.received.WithLabelValues(k).Inc()
	}
	if !n.sent.IsZero() {
		h.m.delay.Observe(max(h.now().Sub(n.sent), 0).Seconds())
	}
	if len(n.folders) == 0 {
		// Only subscriptions or kinds this version does not know.
		return nil
	}
	if !h.poke(r.Context(), n) {
		return refuse(http.StatusNotFound, "unknown_user", fmt.Errorf("no account %q", n.user))
	}
	return nil
}

// authorized accepts the secret as a Basic password or a Bearer token.
// Both sides are hashed first so the comparison takes the same time
// whatever their lengths.
func (h *Handler) authorized(r *http.Request) bool {
	var given string
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") {
		given = strings.TrimSpace(auth[7:])
	} else {
		return false
	}
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], h.secret[:]) == 1
}

// poke tells the Poker under the name Dovecot gave and, with a Domain,
// under its other form too: "anna" and "anna@example.com" are the same
// account when example.com is the --domain, and phones may log in with
// either, so waiters may be known under both.
func (h *Handler) poke(ctx context.Context, n *notification) bool {
	known := h.poker.Poke(ctx, n.user, n.folders)
	if alt := h.otherForm(n.user); alt != "" {
		known = h.poker.Poke(ctx, alt, n.folders) || known
	}
	return known
}

func (h *Handler) otherForm(user string) string {
	if h.domain == "" {
		return ""
	}
	at := strings.LastIndexByte(user, '@')
	if at < 0 {
		return user + "@" + h.domain
	}
	if at > 0 && strings.EqualFold(user[at+1:], h.domain) {
		return user[:at]
	}
	return ""
}
