package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/eas"
)

// Push.
//
// A Notifier keeps one watcher per account, shared by every device and
// every waiting request of that account. A watcher holds one IMAP
// connection of its own, outside the pool, so that it never takes the
// place of a request: an account uses at most MaxConnsPerAccount pooled
// connections plus this one.
//
// The connection IDLEs on INBOX (or, when nobody watches INBOX, on another
// watched folder), so a message delivered there is reported within the
// server's own notification delay (Dovecot: about half a second). The
// other watched folders are compared every CheckInterval by their STATUS
// counters (HIGHESTMODSEQ with CONDSTORE, else UIDNEXT, MESSAGES and
// UNSEEN), and the folder list by a LIST, on the same connection: IDLE is
// ended for the few milliseconds that takes and started again. The server
// keeps the session's view of the idled folder meanwhile, so a change in
// that gap is reported as soon as IDLE resumes. A second connection per
// account would report the other folders no sooner (STATUS is a poll
// either way) and would double the connections the upstream must carry.
//
// NOTIFY (RFC 5465) would report every folder at once, and Dovecot offers
// it, but imapclient (go-imap v2 beta) has no NOTIFY command and no way to
// send a raw one, so the other folders are polled.
//
// Every wait on the server is bounded: IDLE is restarted every IdleRestart,
// a server silent for ProbeAfter is made to answer a DONE (within the
// Backend's CommandTimeout, or the connection is given up), and every
// command runs under conn.guard. A lost connection is dialled again with
// exponential backoff and jitter; what changed meanwhile is found by
// comparing the counters with those seen before.

// Defaults for the zero fields of WatchConfig.
const (
	DefaultCheckInterval = 30 * time.Second
	DefaultIdleRestart   = 10 * time.Minute
	DefaultProbeAfter    = 3 * time.Minute
	DefaultGrace         = 45 * time.Second
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = 2 * time.Second
)

// WatchConfig tunes a Notifier. Zero fields take the defaults.
type WatchConfig struct {
	// CheckInterval is how often the watched folders other than the one in
	// IDLE, and the folder list, are compared with what was seen before
	// (default 30 s).
	CheckInterval time.Duration
	// IdleRestart ends IDLE and starts it again this often (default 10
	// min): RFC 2177 lets a server drop a client idle for 30 minutes, and
	// NAT boxes forget quiet connections sooner.
	IdleRestart time.Duration
	// ProbeAfter: once the server has sent nothing for this long, IDLE is
	// ended, and a server that does not answer that within the Backend's
	// CommandTimeout is taken for dead (default 3 min; Dovecot says "Still
	// here" every 2 minutes, so a live Dovecot is never probed).
	ProbeAfter time.Duration
	// Grace keeps a watcher without subscriptions connected this long
	// (default 45 s), so that a phone's Ping, Sync, Ping round does not log
	// in again each time.
	Grace time.Duration
	// MinBackoff and MaxBackoff bound the wait before dialling again after a
	// failure (defaults 1 s and 2 s). The wait doubles with each failure
	// and is drawn at random from its upper half, so that the watchers of
	// many accounts do not all return at the same moment. MaxBackoff is
	// short because it is how long push stays off after the server is back;
	// a refused or failed dial costs the server little.
	MinBackoff, MaxBackoff time.Duration
	// Source is where changes are learnt of (default PushIdle). With
	// PushDovecot no connection is held: Poke reports changes, and
	// CheckInterval applies to every watched folder, INBOX included.
	// With PushDovecot and PushBoth, Subscribe switches the account's
	// Dovecot notifications on (NotifyEntry) once per process.
	Source PushSource
}

func (c *WatchConfig) setDefaults() {
	if c.CheckInterval <= 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	if c.IdleRestart <= 0 {
		c.IdleRestart = DefaultIdleRestart
	}
	if c.ProbeAfter <= 0 {
		c.ProbeAfter = DefaultProbeAfter
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
}

// Notifier implements eas.Notifier on the Backend's IMAP server. It is safe
// for concurrent use.
type Notifier struct {
	b   *Backend
	cfg WatchConfig
	log *zap.Logger

	mu       sync.Mutex
	closed   bool
	watchers map[string]*watcher
	wg       sync.WaitGroup
	// users holds every account a phone has waited for since start, and
	// those Know named (see Poke); switched those whose NotifyEntry was
	// set.
	users    map[string]struct{}
	switched map[string]bool
	// reconnects counts watching connections lost and dialled again.
	reconnects atomic.Uint64
}

var _ eas.Notifier = (*Notifier)(nil)

var errNotifierClosed = errors.New("bridge: notifier closed")

// NewNotifier returns a Notifier that watches mailboxes on b's server. It
// connects when the first subscription of an account arrives.
func NewNotifier(b *Backend, cfg WatchConfig) *Notifier {
	cfg.setDefaults()
	return &Notifier{
		b: b, cfg: cfg, log: b.log.Named("watch"), watchers: map[string]*watcher{},
		users: map[string]struct{}{}, switched: map[string]bool{},
	}
}

// Close stops every watcher and closes the channels of the subscriptions
// left, which ends the requests still waiting on them.
func (n *Notifier) Close() error {
	n.mu.Lock()
	n.closed = true
	ws := make([]*watcher, 0, len(n.watchers))
	for _, w := range n.watchers {
		ws = append(ws, w)
	}
	n.mu.Unlock()
	for _, w := range ws {
		w.cancel()
	}
	n.wg.Wait()
	return nil
}

// Watching reports how many accounts have a watcher and how many
// subscriptions they serve.
func (n *Notifier) Watching() (accounts, subscriptions int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, w := range n.watchers {
		w.mu.Lock()
		subscriptions += w.nsubs
		w.mu.Unlock()
	}
	return len(n.watchers), subscriptions
}

// Subscribe watches paths (and the folder list, for eas.FolderListPath) of
// cred's account. It returns once the account's watcher has seen every path
// (so that later changes are noticed), or after one failed attempt to reach
// the server (the watcher keeps trying, and reports the paths once it sees
// them). It fails with eas.ErrUnauthorized when the server refuses the login.
func (n *Notifier) Subscribe(ctx context.Context, cred eas.Credentials, paths []string) (eas.Subscription, error) {
	if cred.Username == "" {
		return nil, fmt.Errorf("watch: empty user name: %w", eas.ErrUnauthorized)
	}
	var uniq []string
	for _, p := range paths {
		if !slices.Contains(uniq, p) {
			uniq = append(uniq, p)
		}
	}
	if len(uniq) == 0 {
		return nil, errors.New("watch: no folders to watch")
	}
	s := newSubscription(uniq)
	start, failures, err := n.join(cred, s)
	if err != nil {
		return nil, err
	}
	if start {
		n.wg.Add(1)
		if n.cfg.Source == PushDovecot {
			go s.w.poll()
		} else {
			go s.w.run()
		}
	} else {
		// Even when every path has a mark, the loop must learn of s: it
		// may be waiting without periodic checks while nobody watched.
		s.w.poke()
	}
	// PushDovecot's watcher switches the account on with its checks.
	if n.cfg.Source == PushBoth && !n.switchedOn(cred.Username, true) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.switchOn(s.w.ctx, cred)
		}()
	}
	if err := s.w.await(ctx, s, failures); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// join adds s to the watcher of cred's account, made when there is none
// (start), and returns how many attempts to connect had failed until then.
func (n *Notifier) join(cred eas.Credentials, s *subscription) (start bool, failures int, err error) {
	mac := n.b.pool.mac(cred.Username, cred.Password)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false, 0, errNotifierClosed
	}
	n.users[cred.Username] = struct{}{}
	w := n.watchers[cred.Username]
	start = w == nil
	if start {
		w = n.newWatcher(cred.Username)
		n.watchers[cred.Username] = w
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.origin = cred.RemoteAddr
	if w.mac != mac {
		// The newest password the gateway has verified is the one to log
		// in with next time; the connection in use keeps its session.
		w.password, w.mac = cred.Password, mac
	}
	s.w = w
	w.add(s)
	return start, w.failures, nil
}

// subscription is one waiting request's interest in some folders.
type subscription struct {
	w     *watcher
	paths []string
	// queued[i]: paths[i] may still be in ch (see notify).
	queued []bool
	// ch has room for every path, and a path is never in it twice.
	ch chan string
	// returned: Subscribe has returned, so the first sight of a path is
	// news to this subscription. Guarded by w.mu, as is done.
	returned bool
	done     bool
}

// newSubscription is a subscription of paths, each named once, before
// it joins a watcher.
func newSubscription(paths []string) *subscription {
	return &subscription{paths: paths, queued: make([]bool, len(paths)), ch: make(chan string, len(paths))}
}

func (s *subscription) C() <-chan string { return s.ch }

func (s *subscription) Close() { s.w.remove(s) }

// notify queues path for the subscriber without ever blocking. A path
// queued before is not queued again while the channel is not empty: the
// receiver drains the channel before it looks at the folders (see
// eas.Subscription), so a path it has taken out already is looked at after
// this change. The caller holds w.mu.
func (s *subscription) notify(path string) {
	if s.done {
		return
	}
	i := slices.Index(s.paths, path)
	if i < 0 {
		return
	}
	if len(s.ch) == 0 {
		clear(s.queued)
	}
	if s.queued[i] {
		return
	}
	s.queued[i] = true
	select {
	case s.ch <- path:
	default:
		// Cannot happen: the channel holds at most one notice per path.
	}
}

// add registers s. The caller holds w.mu.
func (w *watcher) add(s *subscription) {
	for _, p := range s.paths {
		w.byPath[p] = append(w.byPath[p], s)
	}
	w.nsubs++
}

func (w *watcher) remove(s *subscription) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	for _, p := range s.paths {
		subs := slices.DeleteFunc(w.byPath[p], func(x *subscription) bool { return x == s })
		if len(subs) == 0 {
			delete(w.byPath, p)
		} else {
			w.byPath[p] = subs
		}
	}
	w.nsubs--
	if w.nsubs == 0 {
		w.emptySince = time.Now()
		w.poke()
	}
}

// seenAll reports whether every path has a mark. The caller holds w.mu.
func (w *watcher) seenAll(paths []string) bool {
	for _, p := range paths {
		if _, ok := w.seen[p]; !ok {
			return false
		}
	}
	return true
}

// await waits until the watcher has seen every path of s, or an attempt to
// connect failed, or the time a command may take has passed. It does not
// wait while the watcher is known to be cut off: the paths are reported
// once it is back.
func (w *watcher) await(ctx context.Context, s *subscription, failures int) error {
	limit := time.NewTimer(w.n.b.cfg.CommandTimeout)
	defer limit.Stop()
	for {
		w.mu.Lock()
		if w.gaveUp != nil {
			err := w.gaveUp
			w.mu.Unlock()
			return fmt.Errorf("watch %s: %w", w.user, err)
		}
		if w.seenAll(s.paths) || w.failures != failures || w.down {
			s.returned = true
			w.mu.Unlock()
			return nil
		}
		progress := w.progress
		w.mu.Unlock()
		select {
		case <-progress:
		case <-limit.C:
			w.mu.Lock()
			s.returned = true
			w.mu.Unlock()
			return nil
		case <-ctx.Done():
			return fmt.Errorf("watch %s: %w", w.user, ctx.Err())
		}
	}
}

// record stores path's new mark and tells its subscribers when it differs
// from the last one. A path seen for the first time is news only to the
// subscriptions whose Subscribe returned without waiting for it.
func (w *watcher) record(path string, m mark) {
	w.mu.Lock()
	defer w.mu.Unlock()
	subs := w.byPath[path]
	old, had := w.seen[path]
	w.seen[path] = m
	if had && old.same(m) {
		return
	}
	told := false
	for _, s := range subs {
		if had || s.returned {
			s.notify(path)
			told = true
		}
	}
	if told {
		w.prewarm()
	}
}

// changed tells the subscribers of path that it changed.
func (w *watcher) changed(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.byPath[path] {
		s.notify(path)
	}
	if len(w.byPath[path]) > 0 {
		w.prewarm()
	}
}

// prewarm has a pooled connection logged in by the time the phones just
// told of a change look at their folders. The caller holds w.mu.
func (w *watcher) prewarm() {
	w.n.b.pool.prewarm(w.cred(), w.mac)
}

// passed ends a pass over the folders, or a failed attempt to connect.
func (w *watcher) passed(failed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if failed {
		w.failures++
	}
	w.down = failed
	close(w.progress)
	w.progress = make(chan struct{})
}

// retire ends the watcher when it has had no subscription for the grace
// period. A later Subscribe starts a new one.
func (w *watcher) retire() bool {
	n := w.n
	n.mu.Lock()
	defer n.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.nsubs > 0 || time.Since(w.emptySince) < n.cfg.Grace {
		return false
	}
	if n.watchers[w.user] == w {
		delete(n.watchers, w.user)
	}
	return true
}

// giveUp ends the watcher for good and closes its subscriptions' channels.
func (w *watcher) giveUp(why error) {
	n := w.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.watchers[w.user] == w {
		delete(n.watchers, w.user)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gaveUp = why
	for _, subs := range w.byPath {
		for _, s := range subs {
			if !s.done {
				s.done = true
				close(s.ch)
			}
		}
	}
	clear(w.byPath)
	w.nsubs = 0
	close(w.progress)
	w.progress = make(chan struct{})
}
