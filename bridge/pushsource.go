package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"go.uber.org/zap"

	"github.com/easgate/easgate/eas"
)

// PushSource is where a Notifier learns of changes.
type PushSource int

const (
	// PushIdle: one IMAP connection per account with a waiting phone,
	// in IDLE on INBOX, the other folders compared every CheckInterval.
	PushIdle PushSource = iota
	// PushDovecot: Dovecot's push_notification plugin calls easgate
	// (Notifier.Poke); no connection is held. Every watched folder and
	// the folder list are still compared every CheckInterval, on a pooled
	// connection, for what the notifications do not cover (the OX driver
	// reports new mail only) or lost (easgate or Dovecot restarting).
	PushDovecot
	// PushBoth: IDLE as with PushIdle, and Poke answers sooner.
	PushBoth
)

// ParsePushSource reads "idle", "dovecot" or "both".
func ParsePushSource(s string) (PushSource, error) {
	switch s {
	case "idle", "":
		return PushIdle, nil
	case "dovecot":
		return PushDovecot, nil
	case "both":
		return PushBoth, nil
	}
	return 0, fmt.Errorf("push source %q: want idle, dovecot or both", s)
}

func (s PushSource) String() string {
	switch s {
	case PushDovecot:
		return "dovecot"
	case PushBoth:
		return "both"
	}
	return "idle"
}

// NotifyEntry is the server METADATA entry (RFC 5464) that makes Dovecot's
// push_notification plugin report a user's changes.
const NotifyEntry = "/private/vendor/vendor.dovecot/http-notify"

// Poke tells the waiting requests of user's account that folders (all
// watched ones when empty; eas.FolderListPath for the folder list) may
// have changed. It only queues notices and takes no lock held across a
// network wait: a watcher's lock guards its maps only.
//
// Poke reports whether easgate serves the account: it has a watcher now,
// one of its phones has waited for changes since the process started, or
// Know named it (the set is in memory and grows by one name per account).
//
// Poke is the hook for several nodes: a notification that reaches a node
// whose account's phones wait on another must be handed to that node's
// Poke (see dovecotpush.Poker).
func (n *Notifier) Poke(_ context.Context, user string, folders []string) bool {
	n.mu.Lock()
	w := n.watchers[user]
	_, known := n.users[user]
	n.mu.Unlock()
	if w == nil {
		return known
	}
	w.poked(folders)
	return true
}

// Know adds accounts that Poke reports as served although none of their
// phones has waited since the process started: an earlier process
// switched them on for notifications, and Dovecot would log each of their
// deliveries as an error until their phones came back.
func (n *Notifier) Know(users ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, u := range users {
		n.users[u] = struct{}{}
	}
}

// poked queues the folders for their subscribers. The phones told look
// at those folders now and then wait again; their next Subscribe must not
// compare with the mark taken before this change, or the periodic check
// would report it a second time and the phone would sync twice for one
// message. So the marks of the folders poked are dropped, and the next
// Subscribe waits for a fresh one (one STATUS). The folder in IDLE keeps
// its mark: the server reports its changes itself.
//
// A Subscribe may be waiting for its marks (in await) when the pass that
// took them is over already: the loop is woken for a fresh pass, or that
// Subscribe, and the phone's Ping behind it, would wait until the next
// periodic check or the Backend's CommandTimeout.
func (w *watcher) poked(folders []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(folders) == 0 {
		for p := range w.byPath {
			folders = append(folders, p)
		}
	}
	told, awaited := false, false
	for _, p := range folders {
		for _, s := range w.byPath[p] {
			s.notify(p)
			told = true
			awaited = awaited || (!s.returned && p != w.idling)
		}
		if p != w.idling {
			delete(w.seen, p)
		}
	}
	if told {
		w.prewarm()
	}
	if awaited {
		w.poke()
	}
}

// poll is the watcher's loop without an IDLE connection (PushDovecot):
// it compares the watched folders and the folder list with their marks
// every CheckInterval, and at once when a subscription needs a mark, on a
// connection of the pool, and otherwise waits for Poke.
func (w *watcher) poll() {
	defer w.n.wg.Done()
	defer w.cancel()
	var backoff time.Duration
	var last, retryAt time.Time
	for !w.retire() {
		now := time.Now()
		due := last.IsZero() || now.Sub(last) >= w.n.cfg.CheckInterval || w.needsPass("")
		if due && !now.Before(retryAt) {
			next, err := w.pollOnce(backoff)
			if err != nil {
				w.giveUp(err)
				return
			}
			backoff = next
			if next == 0 {
				last = time.Now()
				retryAt = time.Time{}
			} else {
				retryAt = time.Now().Add(jitter(next, rand.Float64()))
			}
		}
		wake := last.Add(w.n.cfg.CheckInterval)
		if !retryAt.IsZero() {
			wake = retryAt
		}
		if !w.pause(w.wakeBy(wake)) {
			w.giveUp(errNotifierClosed)
			return
		}
	}
	w.log.Debug("watcher retired")
}

// pause waits until wake or a kick; false when the Notifier closes.
func (w *watcher) pause(wake time.Time) bool {
	t := time.NewTimer(max(time.Until(wake), 0))
	defer t.Stop()
	select {
	case <-w.ctx.Done():
		return false
	case <-t.C:
	case <-w.kick:
	}
	return true
}

// pollOnce compares every watched path with its mark on a pooled
// connection. It returns the wait before trying again after a failure
// (0: it worked), or what ends the watcher, like attempt.
func (w *watcher) pollOnce(backoff time.Duration) (time.Duration, error) {
	w.mu.Lock()
	cred, mac := w.cred(), w.mac
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(w.ctx, w.n.b.cfg.CommandTimeout)
	defer cancel()
	c, err := w.n.b.pool.get(ctx, cred)
	switchedOn := true
	if err == nil {
		err = w.pass(ctx, c, "")
		if err == nil && !w.n.switchedOn(cred.Username, true) {
			switchedOn = w.n.setNotifyEntry(ctx, c, cred.Username)
		}
		w.n.b.pool.lend(cred.Username, c)
	}
	switch {
	case w.ctx.Err() != nil:
		return 0, errNotifierClosed
	case errors.Is(err, eas.ErrUnauthorized):
		if err := w.refused(err, mac); err != nil {
			return 0, err
		}
		return w.n.cfg.MinBackoff, nil
	case err != nil:
		w.passed(true)
		next := nextBackoff(backoff, w.n.cfg.MinBackoff, w.n.cfg.MaxBackoff)
		w.log.Info("push check failed; will retry", zap.Error(err), zap.Duration("in", next))
		return next, nil
	case !switchedOn:
		// Until Dovecot is told, only the checks report changes: soon again.
		return nextBackoff(backoff, w.n.cfg.MinBackoff, w.n.cfg.MaxBackoff), nil
	}
	return 0, nil
}

// lend returns a connection a push check borrowed without making it look
// used: the pool closes it IdleTimeout after a request last used it, as if
// the check had not been, and one dialled for the check is closed by the
// pool's next sweep, unless a request takes it first (the Ping that
// subscribed looks at its folders right after). Checking every
// CheckInterval must not hold a connection per account open, which is
// what PushDovecot is for.
func (p *pool) lend(user string, c *conn) {
	used := c.lastUsed
	if used.IsZero() {
		used = time.Unix(0, 0)
	}
	p.put(user, c)
	p.mu.Lock()
	defer p.mu.Unlock()
	// Only while idle: a request that took it meanwhile owns its time.
	if a := p.accounts[user]; a != nil && slices.Contains(a.idle, c) {
		c.lastUsed = used
	}
}

// switchOn sets the user's NotifyEntry once per process, so that Dovecot
// reports the changes of every account easgate serves without an
// administrator switching each on (PushBoth: the PushDovecot watcher does
// it on the connection of its checks, see pollOnce).
func (n *Notifier) switchOn(ctx context.Context, cred eas.Credentials) {
	ctx, cancel := context.WithTimeout(ctx, n.b.cfg.CommandTimeout)
	defer cancel()
	c, err := n.b.pool.get(ctx, cred)
	if err != nil {
		n.switchedOn(cred.Username, false)
		n.log.Info("cannot switch Dovecot notifications on; will try again", zap.String("user", cred.Username), zap.Error(err))
		return
	}
	n.setNotifyEntry(ctx, c, cred.Username)
	n.b.pool.lend(cred.Username, c)
}

// setNotifyEntry sets user's NotifyEntry on c. A server without METADATA,
// or one that refuses the entry, is left alone (and not asked again); a
// failure to reach it is tried again by the next Subscribe or check, and
// setNotifyEntry reports it (false).
func (n *Notifier) setNotifyEntry(ctx context.Context, c *conn, user string) bool {
	if !c.caps.Has(imap.CapMetadata) && !c.caps.Has(imap.CapMetadataServer) {
		n.log.Debug("server has no METADATA; Dovecot notifications not switched on", zap.String("user", user))
		return true
	}
	v := []byte("user=" + user)
	err := c.guard(ctx, "SETMETADATA", func(func()) error {
		return c.client.SetMetadata("", map[string]*[]byte{NotifyEntry: &v}).Wait()
	})
	switch {
	case err == nil:
		n.log.Debug("Dovecot notifications switched on", zap.String("user", user))
	case isNo(err):
		n.log.Info("server refused the notification entry", zap.String("user", user), zap.Error(err))
	default:
		n.switchedOn(user, false)
		n.log.Info("cannot switch Dovecot notifications on; will try again", zap.String("user", user), zap.Error(err))
		return false
	}
	return true
}

// switchedOn records (or forgets) that user's entry was set; it reports
// whether it had been.
func (n *Notifier) switchedOn(user string, on bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	was := n.switched[user]
	if on {
		n.switched[user] = true
	} else {
		delete(n.switched, user)
	}
	return was
}
