package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
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
	// reconnects counts watching connections lost and dialled again.
	reconnects atomic.Uint64
}

var _ eas.Notifier = (*Notifier)(nil)

var errNotifierClosed = errors.New("bridge: notifier closed")

// NewNotifier returns a Notifier that watches mailboxes on b's server. It
// connects when the first subscription of an account arrives.
func NewNotifier(b *Backend, cfg WatchConfig) *Notifier {
	cfg.setDefaults()
	return &Notifier{b: b, cfg: cfg, log: b.log.Named("watch"), watchers: map[string]*watcher{}}
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
	mac := n.b.pool.mac(cred.Username, cred.Password)
	s := &subscription{paths: uniq, queued: make([]bool, len(uniq)), ch: make(chan string, len(uniq))}

	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, errNotifierClosed
	}
	w := n.watchers[cred.Username]
	start := w == nil
	if start {
		w = n.newWatcher(cred.Username)
		n.watchers[cred.Username] = w
	}
	w.mu.Lock()
	w.origin = cred.RemoteAddr
	if w.mac != mac {
		// The newest password the gateway has verified is the one to log
		// in with next time; the connection in use keeps its session.
		w.password, w.mac = cred.Password, mac
	}
	s.w = w
	w.add(s)
	failures := w.failures
	w.mu.Unlock()
	n.mu.Unlock()

	if start {
		n.wg.Add(1)
		go w.run()
	} else {
		// Even when every path has a mark, the loop must learn of s: it
		// may be waiting without periodic checks while nobody watched.
		w.poke()
	}
	if err := w.await(ctx, s, failures); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
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

// mark is what a folder looked like: two equal marks mean nothing changed.
type mark struct {
	missing     bool
	uidValidity uint32
	uidNext     uint32
	messages    uint32
	unseen      uint32
	modSeq      uint64
	// partial: taken from a SELECT without CONDSTORE, which tells nothing
	// of flags; such a mark never proves that nothing changed.
	partial bool
	// list is the folder list's fingerprint (eas.FolderListPath only).
	list string
}

// same reports whether nothing can have changed between a and b.
func (a mark) same(b mark) bool {
	if a.partial || b.partial {
		return false
	}
	return a == b
}

// watcher watches the folders of one account.
type watcher struct {
	n    *Notifier
	user string
	log  *zap.Logger
	// connected is true while the watching connection is up.
	connected atomic.Bool
	ctx       context.Context
	cancel    context.CancelFunc
	// kick wakes the loop when the subscriptions changed.
	kick chan struct{}
	// events is signalled by the connection's reader when the server
	// reports a change in the selected folder.
	events   chan struct{}
	lastRead atomic.Int64

	mu       sync.Mutex
	password string
	mac      [32]byte
	// origin is the address of the phone that subscribed last.
	origin string
	// byPath lists the subscriptions of every watched path (a slice: a
	// path has a handful of subscribers, one per waiting phone).
	byPath map[string][]*subscription
	nsubs  int
	// emptySince is when the last subscription left.
	emptySince time.Time
	// seen holds the last mark of every path being watched. Only the loop
	// writes it.
	seen map[string]mark
	// progress is closed (and replaced) after every pass over the folders
	// and every failed attempt to connect; Subscribe waits on it.
	progress chan struct{}
	failures int
	// down: the last attempt to connect failed, or the connection was lost,
	// and no pass has been made since. Subscribe does not wait then.
	down bool
	// gaveUp is why the watcher stopped for good.
	gaveUp error
}

func (n *Notifier) newWatcher(user string) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &watcher{
		n: n, user: user, log: n.log.WithLazy(zap.String("user", user)),
		ctx: ctx, cancel: cancel,
		kick: make(chan struct{}, 1), events: make(chan struct{}, 1),
		byPath: map[string][]*subscription{}, seen: map[string]mark{},
		progress: make(chan struct{}),
	}
}

// cred is what the watcher logs in with. The caller holds w.mu.
func (w *watcher) cred() eas.Credentials {
	return eas.Credentials{Username: w.user, Password: w.password, RemoteAddr: w.origin}
}

func (w *watcher) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
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

// idleTarget is the folder to IDLE on: INBOX when watched, where mail
// arrives, else the first watched folder by name. While nothing is watched
// (the grace period) it stays on selected, so that a phone coming back
// finds the folder watched already.
func (w *watcher) idleTarget(selected string, skip map[string]bool) string {
	if t := w.preferred(skip); t != "" {
		return t
	}
	return selected
}

// preferred is idleTarget's choice among the watched folders, "" for none.
func (w *watcher) preferred(skip map[string]bool) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.byPath["INBOX"]; ok && !skip["INBOX"] {
		return "INBOX"
	}
	best := ""
	for p := range w.byPath {
		if p == eas.FolderListPath || skip[p] {
			continue
		}
		if best == "" || p < best {
			best = p
		}
	}
	return best
}

// polled reports whether anything besides target needs a periodic check.
// The caller holds w.mu.
func (w *watcher) polled(target string) bool {
	for p := range w.byPath {
		if p != target {
			return true
		}
	}
	return false
}

// needsPass reports whether a watched path has no mark yet.
func (w *watcher) needsPass(target string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for p := range w.byPath {
		if _, ok := w.seen[p]; !ok && p != target {
			return true
		}
	}
	return false
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

// errRetire ends a session whose watcher is no longer needed.
var errRetire = errors.New("watcher retired")

// run connects, watches, and reconnects until the watcher retires or the
// Notifier closes.
func (w *watcher) run() {
	defer w.n.wg.Done()
	defer w.cancel()
	var backoff time.Duration
	for {
		if w.retire() {
			w.log.Debug("watcher retired")
			return
		}
		w.mu.Lock()
		cred, mac := w.cred(), w.mac
		w.mu.Unlock()
		c, err := w.n.b.dialWith(w.ctx, cred, dialOptions{
			unilateral: signalOn(w.events),
			lastRead:   &w.lastRead,
		})
		if w.ctx.Err() != nil {
			if c != nil {
				c.close()
			}
			w.giveUp(errNotifierClosed)
			return
		}
		if err != nil {
			if errors.Is(err, eas.ErrUnauthorized) {
				w.mu.Lock()
				newer := w.mac != mac
				w.mu.Unlock()
				if !newer {
					w.log.Warn("watcher login refused; giving up", zap.Error(err))
					w.giveUp(err)
					return
				}
				// A newer password arrived meanwhile: try it at once.
				continue
			}
			w.passed(true)
			backoff = nextBackoff(backoff, w.n.cfg.MinBackoff, w.n.cfg.MaxBackoff)
			w.log.Info("watcher cannot connect; will retry", zap.Error(err), zap.Duration("in", backoff))
		} else {
			started := time.Now()
			w.connected.Store(true)
			err = w.session(c)
			w.connected.Store(false)
			c.close()
			switch {
			case w.ctx.Err() != nil:
				w.giveUp(errNotifierClosed)
				return
			case errors.Is(err, errRetire):
				w.log.Debug("watcher retired")
				return
			}
			w.mu.Lock()
			w.down = true
			w.mu.Unlock()
			w.n.reconnects.Add(1)
			if time.Since(started) > w.n.cfg.MaxBackoff {
				// It worked for a while: a new outage starts from the
				// shortest wait again.
				backoff = 0
			}
			backoff = nextBackoff(backoff, w.n.cfg.MinBackoff, w.n.cfg.MaxBackoff)
			w.log.Info("watcher lost its connection; will reconnect", zap.Error(err), zap.Duration("in", backoff))
		}
		if !w.sleep(jitter(backoff, rand.Float64())) {
			w.giveUp(errNotifierClosed)
			return
		}
	}
}

// nextBackoff doubles the previous wait within [lo, hi].
func nextBackoff(prev, lo, hi time.Duration) time.Duration {
	if prev <= 0 {
		return lo
	}
	return min(2*prev, hi)
}

// jitter draws a wait from the upper half of d; r is in [0, 1).
func jitter(d time.Duration, r float64) time.Duration {
	return d/2 + time.Duration(float64(d/2)*r)
}

// sleep waits d, or less when the grace period of an unused watcher ends
// first. Subscribers coming and going never make it longer: a phone whose
// Pings keep ending must not keep the watcher from coming back. It returns
// false when the Notifier closes.
func (w *watcher) sleep(d time.Duration) bool {
	wake := time.Now().Add(d)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return false
		case <-t.C:
			return true
		case <-w.kick:
			t.Reset(time.Until(w.wakeBy(wake)))
		}
	}
}

// wakeBy is when a sleep meant to end at wake ends: at the end of the grace
// period of an unused watcher, if that is sooner.
func (w *watcher) wakeBy(wake time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.nsubs > 0 {
		return wake
	}
	if end := w.emptySince.Add(w.n.cfg.Grace); end.Before(wake) {
		return end
	}
	return wake
}

// signalOn returns a handler that signals events whenever the server
// reports a change in the selected folder. It runs on the connection's
// reader, so it only signals; Dovecot's FETCH during IDLE has no UID, and
// none is needed: the folder is what changed.
func signalOn(events chan<- struct{}) *imapclient.UnilateralDataHandler {
	signal := func() {
		select {
		case events <- struct{}{}:
		default:
		}
	}
	return &imapclient.UnilateralDataHandler{
		Expunge: func(uint32) { signal() },
		Mailbox: func(*imapclient.UnilateralDataMailbox) { signal() },
		Fetch: func(m *imapclient.FetchMessageData) {
			signal()
			for m.Next() != nil {
			}
		},
	}
}

// session watches on one connection until it breaks, the watcher retires or
// the Notifier closes.
func (w *watcher) session(c *conn) error {
	ctx := w.ctx
	canIdle := c.caps.Has(imap.CapIdle) || c.caps.Has(imap.CapIMAP4rev2)
	select {
	case <-w.events:
	default:
	}
	// skip holds folders that cannot be selected (gone); they are polled.
	skip := map[string]bool{}
	selected := ""
	var lastPass time.Time
	for {
		target := ""
		if canIdle {
			target = w.idleTarget(selected, skip)
		}
		fullPass := lastPass.IsZero() || time.Since(lastPass) >= w.n.cfg.CheckInterval
		if target != selected {
			if selected != "" {
				// The folder idled on until now is polled from here on:
				// a pass compares it with its last mark at once.
				fullPass = true
			}
			selected = ""
			if target != "" {
				m, err := w.examine(ctx, c, target)
				switch {
				case err == nil:
					selected = target
					// Drop what the previous folder reported: the pass
					// below compares it anyway.
					select {
					case <-w.events:
					default:
					}
					w.record(target, m)
				case isNo(err):
					skip[target] = true
					fullPass = true
				default:
					return err
				}
			}
		}
		if fullPass || w.needsPass(selected) {
			if err := w.pass(ctx, c, selected); err != nil {
				return err
			}
			lastPass = time.Now()
		}
		if err := w.wait(ctx, c, selected, skip, lastPass); err != nil {
			return err
		}
		if w.retire() {
			return errRetire
		}
	}
}

// examine selects path read-only (so that nothing is marked \Recent or
// \Seen for the user's other clients) and returns its mark.
func (w *watcher) examine(ctx context.Context, c *conn, path string) (mark, error) {
	var data *imap.SelectData
	err := c.guard(ctx, "EXAMINE "+path, func(func()) error {
		var err error
		data, err = c.client.Select(path, &imap.SelectOptions{ReadOnly: true, CondStore: c.caps.Has(imap.CapCondStore)}).Wait()
		return err
	})
	if err != nil {
		return mark{}, err
	}
	m := mark{uidValidity: data.UIDValidity, uidNext: uint32(data.UIDNext), messages: data.NumMessages, modSeq: data.HighestModSeq}
	m.partial = m.modSeq == 0
	return m, nil
}

// pass compares every watched path but the selected one, and the folder
// list when it is watched, with their last marks.
func (w *watcher) pass(ctx context.Context, c *conn, selected string) error {
	w.mu.Lock()
	var paths []string
	list := false
	for p := range w.byPath {
		switch p {
		case eas.FolderListPath:
			list = true
		case selected:
		default:
			paths = append(paths, p)
		}
	}
	for p := range w.seen {
		if _, ok := w.byPath[p]; !ok && p != selected {
			delete(w.seen, p)
		}
	}
	w.mu.Unlock()

	marks, err := statusMarks(ctx, c, paths)
	if err != nil {
		return err
	}
	for i, p := range paths {
		w.record(p, marks[i])
	}
	if list {
		m, err := listMark(ctx, c)
		if err != nil {
			return err
		}
		w.record(eas.FolderListPath, m)
	}
	w.passed(false)
	return nil
}

// statusMarks reads the counters of paths with pipelined STATUS commands.
func statusMarks(ctx context.Context, c *conn, paths []string) ([]mark, error) {
	marks := make([]mark, len(paths))
	if len(paths) == 0 {
		return marks, nil
	}
	opts := &imap.StatusOptions{UIDValidity: true, UIDNext: true, NumMessages: true}
	if c.caps.Has(imap.CapCondStore) {
		opts.HighestModSeq = true
	} else {
		// Without MODSEQ, UNSEEN is what shows a message read elsewhere.
		opts.NumUnseen = true
	}
	err := c.guard(ctx, "STATUS", func(progress func()) error {
		cmds := make([]*imapclient.StatusCommand, len(paths))
		for i, p := range paths {
			cmds[i] = c.client.Status(p, opts)
		}
		for i, cmd := range cmds {
			st, err := cmd.Wait()
			progress()
			if err != nil {
				if isNo(err) {
					marks[i] = mark{missing: true}
					continue
				}
				return err
			}
			m := mark{uidValidity: st.UIDValidity, uidNext: uint32(st.UIDNext), modSeq: st.HighestModSeq}
			if st.NumMessages != nil {
				m.messages = *st.NumMessages
			}
			if st.NumUnseen != nil {
				m.unseen = *st.NumUnseen
			}
			marks[i] = m
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return marks, nil
}

// listMark fingerprints the folder list: names, attributes and, where
// LIST-STATUS makes it cheap, UIDVALIDITY (a folder deleted and made again).
func listMark(ctx context.Context, c *conn) (mark, error) {
	entries, err := c.list(ctx, "*", c.caps.Has(imap.CapListStatus))
	if err != nil {
		return mark{}, err
	}
	lines := make([]string, 0, len(entries))
	for _, e := range entries {
		attrs := make([]string, 0, len(e.data.Attrs))
		for _, a := range e.data.Attrs {
			attrs = append(attrs, strings.ToLower(string(a)))
		}
		slices.Sort(attrs)
		lines = append(lines, e.data.Mailbox+"\x00"+strings.Join(attrs, " ")+"\x00"+strconv.FormatUint(uint64(e.uidValidity), 10))
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return mark{list: hex.EncodeToString(sum[:16])}, nil
}

// wait IDLEs on selected (or, with nothing selected, just waits) until a
// pass is due, the subscriptions need one, IDLE is due for a restart or a
// probe, or the grace period of an unused watcher ends. Changes the server
// reports meanwhile go to the subscribers at once.
func (w *watcher) wait(ctx context.Context, c *conn, selected string, skip map[string]bool, lastPass time.Time) error {
	var idle *imapclient.IdleCommand
	if selected != "" {
		err := c.guard(ctx, "IDLE", func(func()) error {
			var err error
			idle, err = c.client.Idle()
			return err
		})
		if err != nil {
			return err
		}
	}
	started := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
loop:
	for {
		timer.Reset(max(time.Until(w.nextWake(started, lastPass, selected, idle != nil)), 0))
		select {
		case <-w.events:
			if selected != "" {
				w.changed(selected)
			}
		case <-w.kick:
			if w.needsPass(selected) || (idle != nil && w.idleTarget(selected, skip) != selected) {
				break loop
			}
		case <-timer.C:
			break loop
		case <-c.client.Closed():
			c.broken.Store(true)
			return fmt.Errorf("IMAP IDLE: %w", errConnLost)
		case <-ctx.Done():
			// Shutting down: no DONE, no LOGOUT; just hang up.
			c.broken.Store(true)
			c.netConn.Close()
			return ctx.Err()
		}
	}
	if idle == nil {
		return nil
	}
	// The server must answer DONE within CommandTimeout: this doubles as
	// the probe of a silent server.
	return c.guard(ctx, "DONE", func(func()) error {
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
}

// nextWake is when wait must end.
func (w *watcher) nextWake(idleStart, lastPass time.Time, selected string, idling bool) time.Time {
	cfg := w.n.cfg
	due := idleStart.Add(cfg.IdleRestart)
	if idling {
		if probe := time.Unix(0, w.lastRead.Load()).Add(cfg.ProbeAfter); probe.Before(due) {
			due = probe
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !idling || w.polled(selected) {
		if next := lastPass.Add(cfg.CheckInterval); next.Before(due) {
			due = next
		}
	}
	if w.nsubs == 0 {
		if end := w.emptySince.Add(cfg.Grace); end.Before(due) {
			due = end
		}
	}
	return due
}
