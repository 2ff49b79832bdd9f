// Package bridge implements eas.Backend and eas.Mailbox on an IMAP server.
//
// Every account gets a small pool of logged-in IMAP connections; a Mailbox
// borrows one for the length of a request. Items are identified by their IMAP
// UID, folders by their IMAP name, and change detection uses CONDSTORE when
// the server offers it (see changes.go).
package bridge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/eas"
)

// Security says how the connection to the IMAP server is protected.
type Security int

const (
	// SecurityTLS is implicit TLS (usually port 993). It is the zero value
	// so that a Config that forgets to choose stays encrypted.
	SecurityTLS Security = iota
	// SecuritySTARTTLS upgrades a plain connection (usually port 143); a
	// server that refuses the upgrade is not used.
	SecuritySTARTTLS
	// SecurityNone sends everything, passwords included, in the clear. Use
	// it only for a server on the same host or a trusted network.
	SecurityNone
)

func (s Security) String() string {
	switch s {
	case SecurityTLS:
		return "tls"
	case SecuritySTARTTLS:
		return "starttls"
	case SecurityNone:
		return "none"
	}
	return fmt.Sprintf("Security(%d)", int(s))
}

// Defaults for the zero fields of Config.
const (
	DefaultMaxConnsPerAccount = 4
	DefaultIdleTimeout        = 5 * time.Minute
	DefaultCommandTimeout     = 60 * time.Second
)

// Config describes the upstream IMAP server.
type Config struct {
	// Addr is the server's "host:port".
	Addr     string
	Security Security
	// TLSConfig overrides the TLS settings. nil verifies the server's
	// certificate against the system roots for the host of Addr.
	TLSConfig *tls.Config
	// MaxConnsPerAccount bounds the connections one account holds, in use
	// and idle together (default 4). Open waits for a free one.
	MaxConnsPerAccount int
	// IdleTimeout closes pooled connections unused for this long (default
	// 5 minutes).
	IdleTimeout time.Duration
	// CommandTimeout bounds every wait for the server: a connection that
	// stays silent longer is closed (default 60 seconds).
	CommandTimeout time.Duration
	// Domain completes PrimaryAddress for logins without "@".
	Domain string
	// Logger receives connection and conversion problems; nil discards.
	Logger *zap.Logger
	// DialContext opens the TCP connections to Addr and SMTPAddr; nil uses
	// net.Dialer. It lets a deployment route through a proxy and tests
	// watch the wire.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// SMTPAddr is the submission server's "host:port"; "" disables sending.
	// Messages go out with the user's own credentials (AUTH PLAIN, or LOGIN
	// when only that is offered).
	SMTPAddr string
	// SMTPSecurity protects the submission connection. Its zero value is
	// implicit TLS (port 465); `easgate serve` defaults to STARTTLS (587).
	SMTPSecurity Security
	// SMTPTLSConfig overrides the TLS settings for SMTP. nil verifies the
	// server's certificate against the system roots for the host of
	// SMTPAddr.
	SMTPTLSConfig *tls.Config
	// NoSentCopy skips the copy in the Sent folder even when the phone asks
	// for one: for upstreams that file submitted mail themselves (Gmail,
	// Exchange Online, servers with a Sieve or milter doing it), where a
	// second copy would be a duplicate.
	NoSentCopy bool
}

// Backend opens IMAP mailboxes. It is safe for concurrent use.
type Backend struct {
	cfg      Config
	log      *zap.Logger
	pool     *pool
	counters upstreamCounters

	stop     chan struct{}
	stopOnce sync.Once
	reaper   sync.WaitGroup
	// bg counts the pool's background logins, which Close waits for.
	bg sync.WaitGroup
}

var _ eas.Backend = (*Backend)(nil)

// New returns a Backend for cfg with defaults filled in. It does not connect;
// the first Open does.
func New(cfg Config) *Backend {
	if cfg.MaxConnsPerAccount <= 0 {
		cfg.MaxConnsPerAccount = DefaultMaxConnsPerAccount
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.DialContext == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		cfg.DialContext = d.DialContext
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	b := &Backend{
		cfg:  cfg,
		log:  log.With(zap.String("imap", cfg.Addr)),
		stop: make(chan struct{}),
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a fixed key would
		// only weaken the in-memory password fingerprints, not break them.
		b.log.Error("no randomness for the pool key", zap.Error(err))
	}
	b.pool = newPool(b, key)
	b.reaper.Add(1)
	go b.reap()
	return b
}

// Open logs in as cred (or reuses an idle connection of the same account and
// password). It returns an error wrapping eas.ErrUnauthorized when the server
// refuses the credentials and eas.ErrUnavailable when it cannot be reached.
func (b *Backend) Open(ctx context.Context, cred eas.Credentials) (eas.Mailbox, error) {
	if cred.Username == "" {
		return nil, fmt.Errorf("open mailbox: empty user name: %w", eas.ErrUnauthorized)
	}
	c, err := b.pool.get(ctx, cred)
	if err != nil {
		return nil, err
	}
	return &Mailbox{b: b, user: cred.Username, password: cred.Password, origin: cred.RemoteAddr, c: c}, nil
}

// Close closes the idle connections and stops the pool. Mailboxes still open
// keep working; their connections are closed when they are closed.
func (b *Backend) Close() error {
	b.stopOnce.Do(func() {
		close(b.stop)
		b.reaper.Wait()
		b.pool.close()
		b.bg.Wait()
	})
	return nil
}

// reap closes connections idle for longer than IdleTimeout.
func (b *Backend) reap() {
	defer b.reaper.Done()
	every := b.cfg.IdleTimeout / 4
	every = max(every, 100*time.Millisecond)
	every = min(every, time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.pool.expire(now.Add(-b.cfg.IdleTimeout))
		}
	}
}

// primaryAddress is the login when it is an address, else login@Domain.
func (b *Backend) primaryAddress(user string) string {
	if strings.Contains(user, "@") || b.cfg.Domain == "" {
		return user
	}
	return user + "@" + b.cfg.Domain
}

func (b *Backend) tlsConfig() (*tls.Config, error) {
	return clientTLSConfig(b.cfg.TLSConfig, b.cfg.Addr, "IMAP")
}

// clientTLSConfig is base (or a default that verifies against the system
// roots) with the server name taken from addr.
func clientTLSConfig(base *tls.Config, addr, what string) (*tls.Config, error) {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("%s address %q: %w", what, addr, err)
		}
		cfg.ServerName = host
	}
	return cfg, nil
}

// errBackendClosed is returned by Open after Close.
var errBackendClosed = errors.New("bridge: backend closed")
