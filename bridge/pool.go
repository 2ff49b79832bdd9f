package bridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/eas"
)

// checkIdleAfter: a pooled connection unused for longer is tested with a
// NOOP before it is handed out, since servers drop idle sessions (Dovecot
// after 30 minutes, some providers after a few minutes) and NAT boxes forget
// them silently.
const checkIdleAfter = 15 * time.Second

// pool keeps the logged-in connections of every account. An account is a
// user name; its connections, in use and idle together, never exceed
// MaxConnsPerAccount. An idle connection is only handed to a caller that
// presents the same password it logged in with.
type pool struct {
	b   *Backend
	key [32]byte // HMAC key for the password fingerprints
	// life ends when the pool closes, and with it the logins of prewarm.
	life context.Context
	end  context.CancelFunc

	mu       sync.Mutex
	closed   bool
	accounts map[string]*account
}

type account struct {
	// open counts connections in use, idle and being dialled.
	open    int
	waiting int
	// warming is true while prewarm dials for the account.
	warming bool
	// idle connections, least recently used first.
	idle []*conn
	// wake is closed (and replaced) whenever a connection is returned or
	// dropped, waking every Open waiting for one.
	wake chan struct{}
}

func newPool(b *Backend, key [32]byte) *pool {
	life, end := context.WithCancel(context.Background())
	return &pool{b: b, key: key, life: life, end: end, accounts: make(map[string]*account)}
}

// mac fingerprints a login so that idle connections can be matched to
// credentials without keeping passwords in the pool. It is keyed with a
// per-process secret so that it cannot be checked against guessed
// passwords offline.
func (p *pool) mac(user, password string) [32]byte {
	h := hmac.New(sha256.New, p.key[:])
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (p *pool) account(user string) *account {
	a := p.accounts[user]
	if a == nil {
		a = &account{wake: make(chan struct{})}
		p.accounts[user] = a
	}
	return a
}

// signal wakes the waiters of a and forgets a when nobody uses it.
// The caller holds p.mu.
func (p *pool) signal(user string, a *account) {
	close(a.wake)
	a.wake = make(chan struct{})
	if a.open == 0 && a.waiting == 0 && len(a.idle) == 0 && p.accounts[user] == a {
		delete(p.accounts, user)
	}
}

// get returns a logged-in connection of user, reusing an idle one with the
// same password, dialling a new one while the account is below its limit,
// and otherwise waiting until one is returned (or ctx ends).
func (p *pool) get(ctx context.Context, cred eas.Credentials) (*conn, error) {
	user := cred.Username
	mac := p.mac(user, cred.Password)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errBackendClosed
		}
		a := p.account(user)
		if c := a.takeIdle(mac); c != nil {
			p.mu.Unlock()
			if c, err := p.reuse(ctx, user, a, c); c != nil || err != nil {
				return c, err
			}
			continue
		}
		if evicted, ok := a.reserve(p.b.cfg.MaxConnsPerAccount); ok {
			p.mu.Unlock()
			return p.open(ctx, cred, mac, a, evicted)
		}
		if err := p.await(ctx, user, a); err != nil {
			return nil, err
		}
	}
}

// reuse checks an idle connection taken from a. When it no longer works it
// is closed, and reuse returns nil and, once ctx has ended, its error.
func (p *pool) reuse(ctx context.Context, user string, a *account, c *conn) (*conn, error) {
	if err := p.check(ctx, c); err == nil {
		return c, nil
	}
	c.close()
	p.mu.Lock()
	a.open--
	p.signal(user, a)
	p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open IMAP connection of %s: %w", user, err)
	}
	return nil, nil
}

// reserve takes a place for a new connection when the account is below
// limit, evicting an idle connection of another password to make room.
// The caller holds p.mu.
func (a *account) reserve(limit int) (evicted *conn, ok bool) {
	if a.open >= limit && len(a.idle) > 0 {
		// Only connections of another password are idle here (e.g. the
		// user changed it): make room with the oldest.
		evicted = a.idle[0]
		a.idle = a.idle[1:]
		a.open--
	}
	if a.open >= limit {
		return nil, false
	}
	a.open++
	return evicted, true
}

// open dials a new connection in the place reserve took.
func (p *pool) open(ctx context.Context, cred eas.Credentials, mac [32]byte, a *account, evicted *conn) (*conn, error) {
	if evicted != nil {
		evicted.close()
	}
	c, err := p.b.dial(ctx, cred)
	if err != nil {
		p.mu.Lock()
		a.open--
		p.signal(cred.Username, a)
		p.mu.Unlock()
		return nil, err
	}
	c.mac = mac
	p.b.log.Debug("IMAP connection opened", zap.String("user", cred.Username))
	return c, nil
}

// await waits until a connection of the account is returned or closed, or
// ctx ends. The caller holds p.mu, which await releases.
func (p *pool) await(ctx context.Context, user string, a *account) error {
	wake := a.wake
	a.waiting++
	p.mu.Unlock()
	select {
	case <-wake:
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a.waiting--
	if err := ctx.Err(); err != nil {
		p.signal(user, a)
		return fmt.Errorf("wait for a free IMAP connection of %s: %w", user, err)
	}
	return nil
}

// takeIdle removes and returns the most recently used idle connection
// logged in with mac. The caller holds p.mu.
func (a *account) takeIdle(mac [32]byte) *conn {
	for i := len(a.idle) - 1; i >= 0; i-- {
		if c := a.idle[i]; c.mac == mac {
			a.idle = append(a.idle[:i], a.idle[i+1:]...)
			return c
		}
	}
	return nil
}

// check decides whether an idle connection may be handed out.
func (p *pool) check(ctx context.Context, c *conn) error {
	if c.isBroken() {
		return errConnLost
	}
	if time.Since(c.lastUsed) < checkIdleAfter {
		return nil
	}
	return c.noop(ctx)
}

// redial replaces the broken connection of a Mailbox, keeping its place in
// the account's limit. On failure the place stays taken until put(nil).
func (p *pool) redial(ctx context.Context, old *conn, cred eas.Credentials) (*conn, error) {
	if old != nil {
		old.close()
	}
	c, err := p.b.dial(ctx, cred)
	if err != nil {
		return nil, err
	}
	c.mac = p.mac(cred.Username, cred.Password)
	return c, nil
}

// put returns a Mailbox's connection (nil when it had lost it) to the pool.
func (p *pool) put(user string, c *conn) {
	p.mu.Lock()
	a := p.accounts[user]
	if a == nil {
		// Cannot happen while the Mailbox holds its place; be safe anyway.
		p.mu.Unlock()
		if c != nil {
			c.close()
		}
		return
	}
	if c == nil || p.closed || c.isBroken() {
		a.open--
		p.signal(user, a)
		p.mu.Unlock()
		if c != nil {
			c.close()
		}
		return
	}
	c.lastUsed = time.Now()
	c.fresh = false
	a.idle = append(a.idle, c)
	p.signal(user, a)
	p.mu.Unlock()
}

// prewarm has an idle connection of cred's user, logged in with its password, ready
// soon: it dials one in the background unless there is one already or the
// account is at its limit. A push watcher calls it when it tells phones of
// new mail, which they look at a moment later; the login then runs while
// the answer travels to the phone, and no connection is held logged in the
// rest of the time.
//
// mac is p.mac of cred, which the caller already holds.
func (p *pool) prewarm(cred eas.Credentials, mac [32]byte) {
	user := cred.Username
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	a := p.account(user)
	if a.warming || a.open >= p.b.cfg.MaxConnsPerAccount || slices.ContainsFunc(a.idle, func(c *conn) bool { return c.mac == mac }) {
		p.signal(user, a)
		p.mu.Unlock()
		return
	}
	a.open++
	a.warming = true
	p.mu.Unlock()
	p.b.bg.Add(1)
	go func() {
		defer p.b.bg.Done()
		ctx, cancel := context.WithTimeout(p.life, p.b.cfg.CommandTimeout)
		defer cancel()
		c, err := p.b.dial(ctx, cred)
		p.mu.Lock()
		a.warming = false
		if err != nil {
			a.open--
			p.signal(user, a)
			p.mu.Unlock()
			p.b.log.Debug("prewarming an IMAP connection failed", zap.String("user", user), zap.Error(err))
			return
		}
		p.mu.Unlock()
		c.mac = mac
		p.put(user, c)
	}()
}

// expire closes the connections idle since before deadline.
func (p *pool) expire(deadline time.Time) {
	var stale []*conn
	p.mu.Lock()
	for user, a := range p.accounts {
		keep := a.idle[:0]
		for _, c := range a.idle {
			if c.isBroken() || c.lastUsed.Before(deadline) {
				stale = append(stale, c)
				a.open--
			} else {
				keep = append(keep, c)
			}
		}
		if len(keep) != len(a.idle) {
			clear(a.idle[len(keep):])
			a.idle = keep
			p.signal(user, a)
		}
	}
	p.mu.Unlock()
	closeAll(stale)
}

// closeAll closes conns in parallel: each may wait a moment for LOGOUT.
func closeAll(conns []*conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.close()
		}()
	}
	wg.Wait()
}

// close closes every idle connection; connections in use are closed when
// they come back.
func (p *pool) close() {
	p.end()
	var all []*conn
	p.mu.Lock()
	p.closed = true
	for user, a := range p.accounts {
		all = append(all, a.idle...)
		a.open -= len(a.idle)
		a.idle = nil
		p.signal(user, a)
	}
	p.mu.Unlock()
	closeAll(all)
}
