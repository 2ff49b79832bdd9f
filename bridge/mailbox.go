package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/easgate/easgate/eas"
)

// Mailbox is one user's IMAP mailbox for the length of a request. It holds
// one pooled connection until Close. It is not safe for concurrent use.
type Mailbox struct {
	b        *Backend
	user     string
	password string // kept only to reconnect within this request
	origin   string // the phone's address, see eas.Credentials.RemoteAddr
	c        *conn  // nil after the connection broke and could not be replaced
	closed   bool
}

var _ eas.Mailbox = (*Mailbox)(nil)

var errMailboxClosed = errors.New("bridge: mailbox closed")

// PrimaryAddress is the login when it is an address, else login@Domain.
func (m *Mailbox) PrimaryAddress() string { return m.b.primaryAddress(m.user) }

// Close returns the connection to the pool. It never fails.
func (m *Mailbox) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	m.b.pool.put(m.user, m.c)
	m.c = nil
	m.password = ""
	return nil
}

// conn returns a working connection, replacing one that broke.
func (m *Mailbox) conn(ctx context.Context) (*conn, error) {
	if m.closed {
		return nil, errMailboxClosed
	}
	if m.c != nil && !m.c.isBroken() {
		return m.c, nil
	}
	c, err := m.b.pool.redial(ctx, m.c, eas.Credentials{Username: m.user, Password: m.password, RemoteAddr: m.origin})
	m.c = c
	if err != nil {
		return nil, err
	}
	return c, nil
}

// do runs op on the connection. A read-only (retryable) op that lost its
// connection midway runs once more on a new one: pooled connections die
// unnoticed, and Dovecot disconnects a session whose selected mailbox was
// deleted by another session.
func (m *Mailbox) do(ctx context.Context, retryable bool, op func(c *conn) error) error {
	c, err := m.conn(ctx)
	if err != nil {
		return err
	}
	err = op(c)
	if err == nil || !retryable || !errors.Is(err, errConnLost) || ctx.Err() != nil {
		return err
	}
	m.b.log.Debug("retrying on a new IMAP connection")
	c, rerr := m.conn(ctx)
	if rerr != nil {
		return fmt.Errorf("%w (reconnect: %w)", err, rerr)
	}
	return op(c)
}
