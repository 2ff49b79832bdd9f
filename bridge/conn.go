package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"

	"github.com/easgate/easgate/eas"
)

// conn is one logged-in IMAP connection. Only one goroutine (the Mailbox
// holding it, or the pool) uses it at a time.
type conn struct {
	client *imapclient.Client
	// netConn is what imapclient reads and writes; its deadlines bound
	// every command (see guard).
	netConn *limitConn
	caps    imap.CapSet
	timeout time.Duration
	log     *zap.Logger

	user     string
	mac      [32]byte // of user and password, see pool.mac
	lastUsed time.Time

	broken atomic.Bool

	// selected is the mailbox the server has selected for us ("" none);
	// sel is what its SELECT reported.
	selected string
	sel      imap.SelectData
	// fresh: a SELECT or NOOP of this request brought the selected
	// mailbox's view up to date, so the next selectFolder needs no NOOP.
	// Cleared when the connection goes back to the pool.
	fresh bool

	delim      rune
	delimKnown bool
}

var (
	// errConnLost: the connection broke under a command. The operation may
	// be retried on a new connection.
	errConnLost = fmt.Errorf("IMAP connection lost: %w", eas.ErrUnavailable)
	// errTimeout: the server did not answer within CommandTimeout.
	errTimeout = fmt.Errorf("IMAP server did not answer in time: %w", eas.ErrUnavailable)
)

// dialOptions adapt a connection to a use other than a Mailbox's.
type dialOptions struct {
	// unilateral receives what the server sends unasked; nil drops it.
	unilateral *imapclient.UnilateralDataHandler
	// lastRead, when set, records (in Unix nanoseconds) when the server
	// last sent anything, so that a silent, possibly dead server can be
	// told from a quiet one: imapclient has no such clock of its own.
	lastRead *atomic.Int64
}

// Longest user name and password sent upstream. Dovecot hangs up on a
// LOGIN line of more than about 1 KiB before it is logged in ("* BYE Input
// buffer full"), which would read as the server being down; longer ones
// are wrong credentials, and the server is not asked. A password escaped in
// a quoted string takes up to twice its length.
const (
	maxUserBytes     = 256
	maxPasswordBytes = 320
)

// dial connects, protects and logs in one connection.
func (b *Backend) dial(ctx context.Context, cred eas.Credentials) (*conn, error) {
	return b.dialWith(ctx, cred, dialOptions{})
}

// dialWith is dial with options.
func (b *Backend) dialWith(ctx context.Context, cred eas.Credentials, do dialOptions) (*conn, error) {
	if len(cred.Username) > maxUserBytes || len(cred.Password) > maxPasswordBytes {
		return nil, fmt.Errorf("IMAP login: user name or password too long: %w", eas.ErrUnauthorized)
	}
	c, err := b.dialOnce(ctx, cred, do)
	b.countDial(ctx, err)
	return c, err
}

func (b *Backend) dialOnce(ctx context.Context, cred eas.Credentials, do dialOptions) (*conn, error) {
	raw, tlsCfg, err := b.connect(ctx, cred, do)
	if err != nil {
		return nil, err
	}
	c := &conn{
		netConn: &limitConn{Conn: raw},
		timeout: b.cfg.CommandTimeout,
		log:     b.log.WithLazy(zap.String("user", cred.Username)),
		user:    cred.Username,
	}
	if err := c.greet(ctx, b.cfg.Security == SecuritySTARTTLS, tlsCfg, do.unilateral); err != nil {
		c.netConn.Close()
		if c.client != nil {
			c.client.Close()
		}
		return nil, unavailable(err)
	}
	if err := c.login(ctx, cred.Username, cred.Password); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// connect opens the connection, with TLS when the server is to speak it
// from the start, and tells the server the phone's address. It returns the
// TLS configuration for STARTTLS.
func (b *Backend) connect(ctx context.Context, cred eas.Credentials, do dialOptions) (net.Conn, *tls.Config, error) {
	dctx, cancel := context.WithTimeout(ctx, b.cfg.CommandTimeout)
	defer cancel()
	raw, err := b.cfg.DialContext(dctx, "tcp", b.cfg.Addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("connect to IMAP server %s: %w", b.cfg.Addr, ctx.Err())
		}
		return nil, nil, fmt.Errorf("connect to IMAP server %s: %w: %w", b.cfg.Addr, eas.ErrUnavailable, err)
	}
	if do.lastRead != nil {
		do.lastRead.Store(time.Now().UnixNano())
		raw = &readClock{Conn: raw, last: do.lastRead}
	}
	secured, tlsCfg, err := b.secure(dctx, raw)
	if err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("IMAP server %s: %w", b.cfg.Addr, err)
	}
	if secured, err = sendOrigin(dctx, secured, cred.RemoteAddr); err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("IMAP server %s: %w", b.cfg.Addr, unavailable(err))
	}
	return secured, tlsCfg, nil
}

// secure does the TLS handshake of SecurityTLS, and returns the TLS
// configuration for either TLS or STARTTLS.
func (b *Backend) secure(ctx context.Context, raw net.Conn) (net.Conn, *tls.Config, error) {
	if b.cfg.Security == SecurityNone {
		return raw, nil, nil
	}
	tlsCfg, err := b.tlsConfig()
	if err != nil || b.cfg.Security != SecurityTLS {
		return raw, tlsCfg, err
	}
	tc := tls.Client(raw, tlsCfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, fmt.Errorf("TLS handshake: %w: %w", eas.ErrUnavailable, err)
	}
	return tc, tlsCfg, nil
}

// greet hands the connection to imapclient and waits for the greeting, or
// does STARTTLS.
func (c *conn) greet(ctx context.Context, startTLS bool, tlsCfg *tls.Config, unilateral *imapclient.UnilateralDataHandler) error {
	opts := &imapclient.Options{
		// Replies to other sessions' changes arrive unasked; the sync reads
		// the state it needs itself, so they are dropped here. A handler
		// must never issue commands (it runs on the reader goroutine).
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Expunge: func(uint32) {},
			Mailbox: func(*imapclient.UnilateralDataMailbox) {},
		},
	}
	if unilateral != nil {
		opts.UnilateralDataHandler = unilateral
	}
	return c.guard(ctx, "greeting", func(func()) error {
		if startTLS {
			opts.TLSConfig = tlsCfg
			cl, err := imapclient.NewStartTLS(c.netConn, opts)
			if err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
			c.client = cl
			return nil
		}
		c.client = imapclient.New(c.netConn, opts)
		return c.client.WaitGreeting()
	})
}

// readClock notes the time of every successful read.
type readClock struct {
	net.Conn
	last *atomic.Int64
}

func (r *readClock) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// unavailable makes sure a failure to set a connection up reads as
// "upstream unavailable" unless it already says something more precise.
func unavailable(err error) error {
	if errors.Is(err, eas.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", eas.ErrUnavailable, err)
}

func (c *conn) login(ctx context.Context, user, password string) error {
	var before imap.CapSet
	err := c.guard(ctx, "CAPABILITY", func(func()) error {
		if before = c.client.Caps(); before == nil {
			return fmt.Errorf("no capability list")
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	if before.Has(imap.CapLoginDisabled) {
		return fmt.Errorf("IMAP server refuses LOGIN on this connection (LOGINDISABLED; use TLS or STARTTLS)")
	}
	err = c.guard(ctx, "LOGIN", func(func()) error {
		return c.client.Login(user, password).Wait()
	})
	var ie *imap.Error
	if errors.As(err, &ie) {
		switch ie.Code {
		case imap.ResponseCodeUnavailable, imap.ResponseCodeServerBug, imap.ResponseCodeInUse:
			return fmt.Errorf("IMAP login of %s: %w: %w", user, eas.ErrUnavailable, err)
		case imap.ResponseCodePrivacyRequired:
			return fmt.Errorf("IMAP login of %s: server wants an encrypted connection: %w", user, err)
		}
		return fmt.Errorf("IMAP login of %s: %w: %w", user, eas.ErrUnauthorized, err)
	}
	if err != nil {
		return fmt.Errorf("IMAP login of %s: %w", user, unavailable(err))
	}
	// Capabilities change after login; Dovecot sends them with the OK, other
	// servers need a CAPABILITY command, which Caps issues.
	err = c.guard(ctx, "CAPABILITY", func(func()) error {
		if c.caps = c.client.Caps(); c.caps == nil {
			return fmt.Errorf("no capability list")
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// guard runs fn, which sends commands and waits for their results, within
// the command timeout and ctx: when ctx ends, or the server sends nothing
// for the command timeout, the connection's deadline passes, which fails
// every wait in fn and breaks the connection. fn may call progress to
// restart the timeout while data keeps arriving. fn must return only errors
// of the IMAP exchange: anything other than a NO or BAD reply marks the
// connection broken.
func (c *conn) guard(ctx context.Context, what string, fn func(progress func()) error) error {
	if c.broken.Load() {
		return fmt.Errorf("IMAP %s: %w", what, errConnLost)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("IMAP %s: %w", what, err)
	}
	extend := func() { c.netConn.setLimit(time.Now().Add(c.timeout)) }
	extend()
	stop := context.AfterFunc(ctx, c.netConn.stop)
	err := fn(extend)
	if !stop() {
		c.broken.Store(true)
		c.netConn.Close()
		if err == nil {
			// It completed just in time, but the connection is gone now.
			return nil
		}
		return fmt.Errorf("IMAP %s: %w", what, ctx.Err())
	}
	timedOut := err != nil && c.netConn.expired()
	c.netConn.setLimit(time.Time{})
	return c.outcome(what, err, timedOut)
}

// outcome is what guard returns for fn's err, marking the connection broken
// unless err is a NO or BAD reply.
func (c *conn) outcome(what string, err error, timedOut bool) error {
	var ie *imap.Error
	switch {
	case err == nil || errors.As(err, &ie):
		if c.client != nil && c.client.State() == imap.ConnStateLogout {
			c.broken.Store(true)
		}
		if err != nil {
			return fmt.Errorf("IMAP %s: %w", what, err)
		}
		return nil
	case timedOut:
		err = fmt.Errorf("%w (%v)", errTimeout, c.timeout)
	default:
		err = fmt.Errorf("%w: %w", errConnLost, err)
	}
	c.broken.Store(true)
	c.netConn.Close()
	return fmt.Errorf("IMAP %s: %w", what, err)
}

// isBroken reports whether the connection can no longer be used.
func (c *conn) isBroken() bool {
	if c.broken.Load() {
		return true
	}
	select {
	case <-c.client.Closed():
		c.broken.Store(true)
		return true
	default:
	}
	return c.client.State() == imap.ConnStateLogout
}

// close says goodbye (briefly) and closes the connection.
func (c *conn) close() {
	if c.client == nil {
		c.netConn.Close()
		return
	}
	if !c.isBroken() {
		c.timeout = 2 * time.Second
		_ = c.guard(context.Background(), "LOGOUT", func(func()) error {
			return c.client.Logout().Wait()
		})
	}
	c.netConn.Close()
	_ = c.client.Close()
}

// noop checks that the connection still works.
func (c *conn) noop(ctx context.Context) error {
	return c.guard(ctx, "NOOP", func(func()) error {
		return c.client.Noop().Wait()
	})
}

// selectFolder makes path the selected mailbox. When it already is, a NOOP
// makes the server report what other sessions changed meanwhile instead of
// a new SELECT. CONDSTORE is enabled with the SELECT when the server has it.
func (c *conn) selectFolder(ctx context.Context, path string) (*imap.SelectData, error) {
	if c.selected == path && !c.isBroken() {
		if !c.fresh {
			if err := c.noop(ctx); err != nil {
				return nil, err
			}
		}
		c.fresh = false
		return &c.sel, nil
	}
	return c.reselect(ctx, path)
}

// reselect SELECTs path even when it is selected already, for counters
// that are up to date.
func (c *conn) reselect(ctx context.Context, path string) (*imap.SelectData, error) {
	// A failed SELECT leaves nothing selected.
	c.selected, c.fresh = "", false
	var data *imap.SelectData
	err := c.guard(ctx, "SELECT "+path, func(func()) error {
		var err error
		data, err = c.client.Select(path, &imap.SelectOptions{CondStore: c.caps.Has(imap.CapCondStore)}).Wait()
		return err
	})
	if err != nil {
		return nil, c.missing(ctx, err, path)
	}
	c.selected, c.fresh = path, true
	c.sel = *data
	return &c.sel, nil
}

// unselect leaves the selected mailbox (before it is renamed or deleted).
func (c *conn) unselect(ctx context.Context) error {
	if c.selected == "" {
		return nil
	}
	c.selected, c.fresh = "", false
	return c.guard(ctx, "UNSELECT", func(func()) error {
		if c.caps.Has(imap.CapUnselect) {
			return c.client.Unselect().Wait()
		}
		// CLOSE would expunge; selecting a mailbox that cannot exist fails
		// and, per RFC 3501, leaves nothing selected.
		_, err := c.client.Select("easgate-unselect-no-such-folder", &imap.SelectOptions{ReadOnly: true}).Wait()
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil
		}
		return err
	})
}

// status reads the folder's counters without selecting it. It must not be
// used for the selected mailbox: Dovecot answers that from the session's
// view, which can be stale (even after a NOOP, when another session
// deleted and recreated the mailbox).
func (c *conn) status(ctx context.Context, path string) (*imap.StatusData, error) {
	opts := &imap.StatusOptions{UIDValidity: true, UIDNext: true, NumMessages: true}
	if c.caps.Has(imap.CapCondStore) {
		opts.HighestModSeq = true
	}
	var data *imap.StatusData
	err := c.guard(ctx, "STATUS "+path, func(func()) error {
		var err error
		data, err = c.client.Status(path, opts).Wait()
		return err
	})
	if err != nil {
		return nil, c.missing(ctx, err, path)
	}
	return data, nil
}

// counters reads UIDVALIDITY, UIDNEXT, MESSAGES and HIGHESTMODSEQ in one
// command. For a mailbox not selected that is a STATUS. The selected
// mailbox needs a new SELECT (STATUS of it may be stale, see status); to
// Dovecot that costs about what a STATUS of an unselected folder costs
// (both open the folder's index: some milliseconds for 10,000 messages),
// and it keeps the selection a comparison needs next. When fresh numbers
// are not needed, a NOOP and the numbers of the last SELECT do: older
// numbers are safe in a cursor, they only make the next sync compare more.
func (c *conn) counters(ctx context.Context, path string, fresh bool) (folderState, error) {
	if c.selected == path && !c.isBroken() {
		sel := &c.sel
		if fresh {
			var err error
			if sel, err = c.reselect(ctx, path); err != nil {
				return folderState{}, err
			}
		} else if !c.fresh {
			if err := c.noop(ctx); err != nil {
				return folderState{}, err
			}
			c.fresh = true
		}
		return selectedState(sel), nil
	}
	st, err := c.status(ctx, path)
	if err != nil {
		return folderState{}, err
	}
	return stateOf(st), nil
}

// mapNo turns a NO that says a mailbox is missing or taken into the eas
// errors, keeping the server's text.
func mapNo(err error, path string) error {
	var ie *imap.Error
	if !errors.As(err, &ie) {
		return err
	}
	switch ie.Code {
	case imap.ResponseCodeNonExistent, imap.ResponseCodeTryCreate:
		return fmt.Errorf("folder %q: %w: %w", path, eas.ErrNotFound, err)
	case imap.ResponseCodeAlreadyExists:
		return fmt.Errorf("folder %q: %w: %w", path, eas.ErrExists, err)
	}
	return err
}

// missing maps a NO about path to ErrNotFound when path does not exist:
// Dovecot, for one, answers SELECT of a missing mailbox without the
// NONEXISTENT code.
func (c *conn) missing(ctx context.Context, err error, path string) error {
	err = mapNo(err, path)
	if !isNo(err) || errors.Is(err, eas.ErrNotFound) || errors.Is(err, eas.ErrExists) {
		return err
	}
	if ok, lerr := c.exists(ctx, path); lerr == nil && !ok {
		return fmt.Errorf("folder %q: %w: %w", path, eas.ErrNotFound, err)
	}
	return err
}

// isNo reports whether err is a NO or BAD reply (not a broken connection).
func isNo(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie)
}
