// Package contacts serves the EAS Contacts class from the user's CardDAV
// address books: the default one as the phone's Contacts folder (type 9),
// the others as user contacts folders (type 14). It is an eas.SessionOpener
// and, through Notifier, an eas.Notifier; eas.Combine puts it beside the
// mail store.
package contacts

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// DefaultNames are the last path segments of a default address book, in the
// order they are preferred: Nextcloud "contacts", Baïkal "default", SOGo
// "personal", others "addressbook". Without any, the first book by path is
// the default.
var DefaultNames = []string{"contacts", "default", "personal", "addressbook"}

// NewBookName is the address book made for a user who has none.
const NewBookName = "contacts"

// Config configures the contacts store.
type Config struct {
	// DAV is the CardDAV server; each user logs in with their own
	// credentials.
	DAV dav.Config
	// PollInterval is how often watched address books are polled for
	// push; 0 means dav.DefaultPollInterval.
	PollInterval time.Duration
	// Zone is the users' zone, for the birthdays and anniversaries phones
	// send as a UTC instant of local midnight; nil: not known, the date is
	// read from the instant alone.
	Zone *time.Location
	Log  *zap.Logger
}

// Backend opens users' contacts sessions. It keeps each user's home set so
// that a request does not rediscover it.
type Backend struct {
	cfg    Config
	log    *zap.Logger
	poller *dav.Poller

	mu    sync.Mutex
	homes dav.Homes
	// windows keeps the deltas a phone gets in several windows.
	windows dav.Windows
}

// New makes the contacts store.
func New(cfg Config) *Backend {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	b := &Backend{cfg: cfg, log: log, homes: dav.Homes{Kind: dav.AddressBooks}}
	b.poller = &dav.Poller{Config: cfg.DAV, Interval: cfg.PollInterval, OnError: func(user string, err error) {
		log.Warn("polling address books", zap.String("user", user), zap.Error(err))
	}}
	return b
}

// Open returns the user's session; the first finds the user's home set.
func (b *Backend) Open(ctx context.Context, cred eas.Credentials) (eas.Session, error) {
	c, err := dav.NewClient(b.cfg.DAV, dav.Credentials{Username: cred.Username, Password: cred.Password})
	if err != nil {
		return nil, err
	}
	home, err := b.homes.Find(ctx, c, cred.Username)
	if err != nil {
		return nil, dav.EASError(err)
	}
	return &Session{c: c, home: home, user: cred.Username, windows: &b.windows, zone: b.cfg.Zone,
		log: b.log.With(zap.String("user", cred.Username))}, nil
}
