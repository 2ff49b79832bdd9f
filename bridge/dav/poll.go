package dav

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DAV has no IDLE. A Poller stands in for push: one polling loop per
// account, shared by every device and waiting request of that account,
// asks each watched collection for its changes every Interval (one small
// sync-collection REPORT, or one PROPFIND where the server lacks it) and
// tells the subscribers of the collections that changed.

// DefaultPollInterval is the poll period when Poller.Interval is zero.
const DefaultPollInterval = 60 * time.Second

// ListPath, among the paths of Subscribe, asks for a notice when the
// user's address books (or calendars) are created, deleted or renamed. No
// collection has such a path: paths start with '/'.
func ListPath(kind Kind) string { return fmt.Sprintf("\x00list:%d", kind) }

// Poller polls the watched collections of every account with a
// subscriber. The zero value is not usable: set Config.
type Poller struct {
	// Config is the server; each account logs in with its own credentials.
	Config Config
	// Interval between polls; 0 means DefaultPollInterval.
	Interval time.Duration
	// Linger keeps an account's loop (and the state it compares against)
	// this long after its last subscriber left, so that a phone that
	// comes straight back costs no new baseline; 0 means two intervals.
	Linger time.Duration
	// OnError, when set, hears of failed polls (for logs).
	OnError func(user string, err error)

	mu       sync.Mutex
	accounts map[string]*pollAccount
}

// Subscription is one waiter's view of its account's polling loop.
type Subscription struct {
	acct  *pollAccount
	paths []string
	ch    chan string
	once  sync.Once
}

// C delivers the paths that changed. It is closed when the poller gives up
// on the account (the server refused the login).
func (s *Subscription) C() <-chan string { return s.ch }

// Close ends the subscription.
func (s *Subscription) Close() { s.once.Do(func() { s.acct.leave(s) }) }

type pollAccount struct {
	p      *Poller
	key    string
	user   string
	client *Client

	mu      sync.Mutex
	subs    map[*Subscription]bool
	cursors map[string]string // path → cursor of the last poll
	homes   map[Kind]string
	idle    time.Time // when the last subscriber left; zero while subscribed
	closed  bool
}

// Subscribe watches paths (collection paths, or ListPath) for cred's
// account. Each path new to the account gets its baseline before
// Subscribe returns, so every change made after it is noticed.
func (p *Poller) Subscribe(ctx context.Context, cred Credentials, paths []string) (*Subscription, error) {
	a, err := p.account(cred)
	if err != nil {
		return nil, err
	}
	sub := &Subscription{acct: a, paths: paths, ch: make(chan string, 2*len(paths)+2)}
	for _, path := range paths {
		if err := a.baseline(ctx, path); err != nil {
			a.unused()
			return nil, err
		}
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, fmt.Errorf("dav: poller stopped for %s", cred.Username)
	}
	a.subs[sub] = true
	a.idle = time.Time{}
	a.mu.Unlock()
	return sub, nil
}

func (p *Poller) account(cred Credentials) (*pollAccount, error) {
	sum := sha256.Sum256([]byte(cred.Username + "\x00" + cred.Password))
	key := hex.EncodeToString(sum[:])
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.accounts[key]; a != nil {
		return a, nil
	}
	c, err := NewClient(p.Config, cred)
	if err != nil {
		return nil, err
	}
	if p.accounts == nil {
		p.accounts = map[string]*pollAccount{}
	}
	a := &pollAccount{p: p, key: key, user: cred.Username, client: c,
		subs: map[*Subscription]bool{}, cursors: map[string]string{}, homes: map[Kind]string{}}
	p.accounts[key] = a
	go a.loop()
	return a, nil
}

func (p *Poller) interval() time.Duration {
	if p.Interval > 0 {
		return p.Interval
	}
	return DefaultPollInterval
}

func (p *Poller) linger() time.Duration {
	if p.Linger > 0 {
		return p.Linger
	}
	return 2 * p.interval()
}

func (a *pollAccount) leave(s *Subscription) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.subs, s)
	if len(a.subs) == 0 {
		a.idle = time.Now()
	}
}

// unused starts the linger of an account a failed Subscribe made: without
// a subscriber it would otherwise poll forever, one loop per password
// tried.
func (a *pollAccount) unused() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.subs) == 0 && a.idle.IsZero() {
		a.idle = time.Now()
	}
}

// baseline records the state of a path the account does not poll yet.
func (a *pollAccount) baseline(ctx context.Context, path string) error {
	a.mu.Lock()
	_, known := a.cursors[path]
	a.mu.Unlock()
	if known {
		return nil
	}
	cur, err := a.state(ctx, path, "")
	if err != nil {
		return err
	}
	a.mu.Lock()
	if _, known := a.cursors[path]; !known {
		a.cursors[path] = cur
	}
	a.mu.Unlock()
	return nil
}

// state is the cursor of a path after one poll, and whether it moved
// from cur.
func (a *pollAccount) state(ctx context.Context, path, cur string) (string, error) {
	for _, kind := range []Kind{AddressBooks, Calendars} {
		if path == ListPath(kind) {
			return a.listState(ctx, kind)
		}
	}
	d, err := a.client.Changes(ctx, path, cur)
	if err != nil {
		return "", err
	}
	return d.Cursor, nil
}

// listState digests the names and paths of the user's collections.
func (a *pollAccount) listState(ctx context.Context, kind Kind) (string, error) {
	a.mu.Lock()
	home := a.homes[kind]
	a.mu.Unlock()
	if home == "" {
		h, err := a.client.HomeSet(ctx, kind)
		if err != nil {
			return "", err
		}
		home = h
		a.mu.Lock()
		a.homes[kind] = h
		a.mu.Unlock()
	}
	list, err := a.client.Collections(ctx, kind, home)
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	for _, c := range list {
		fmt.Fprintf(sum, "%s\x00%s\x00", c.Path, c.Name)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

func (a *pollAccount) loop() {
	t := time.NewTicker(a.p.interval())
	defer t.Stop()
	for range t.C {
		a.mu.Lock()
		if len(a.subs) == 0 && !a.idle.IsZero() && time.Since(a.idle) >= a.p.linger() {
			a.mu.Unlock()
			a.stop(false)
			return
		}
		a.mu.Unlock()
		if err := a.poll(); errors.Is(err, ErrUnauthorized) {
			a.stop(true)
			return
		}
	}
}

// poll checks every watched path once and tells the subscribers of those
// that changed. A poll is bounded by one interval.
func (a *pollAccount) poll() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.p.interval())
	defer cancel()
	a.mu.Lock()
	cursors := make(map[string]string, len(a.cursors))
	for p, c := range a.cursors {
		cursors[p] = c
	}
	a.mu.Unlock()
	for path, cur := range cursors {
		next, err := a.state(ctx, path, cur)
		if err != nil {
			if a.p.OnError != nil {
				a.p.OnError(a.user, err)
			}
			if errors.Is(err, ErrUnauthorized) {
				return err
			}
			continue
		}
		if next == cur {
			continue
		}
		a.mu.Lock()
		a.cursors[path] = next
		for s := range a.subs {
			for _, sp := range s.paths {
				if sp == path {
					select {
					case s.ch <- path:
					default: // the waiter has notices to read already
					}
				}
			}
		}
		a.mu.Unlock()
	}
	return nil
}

// stop removes the account; with giveUp its subscribers learn it by the
// closing of their channels.
func (a *pollAccount) stop(giveUp bool) {
	a.p.mu.Lock()
	if a.p.accounts[a.key] == a {
		delete(a.p.accounts, a.key)
	}
	a.p.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if giveUp {
		for s := range a.subs {
			close(s.ch)
		}
		a.subs = map[*Subscription]bool{}
	}
}
