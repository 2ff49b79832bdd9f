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
	// idling is the folder in IDLE ("" none), whose changes the server
	// reports itself (see poked).
	idling string
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

// mark is what a folder looked like: two equal marks mean nothing changed.
type mark struct {
	folderState
	missing bool
	// unseen is UNSEEN, read where there is no MODSEQ to show a message
	// read elsewhere.
	unseen uint32
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

// errRetire ends a session whose watcher is no longer needed.
var errRetire = errors.New("watcher retired")

// run connects, watches, and reconnects until the watcher retires or the
// Notifier closes.
func (w *watcher) run() {
	defer w.n.wg.Done()
	defer w.cancel()
	var backoff time.Duration
	for !w.retire() {
		next, err := w.attempt(backoff)
		if errors.Is(err, errRetire) {
			break
		}
		if err != nil {
			w.giveUp(err)
			return
		}
		if next == 0 {
			continue
		}
		backoff = next
		if !w.sleep(jitter(backoff, rand.Float64())) {
			w.giveUp(errNotifierClosed)
			return
		}
	}
	w.log.Debug("watcher retired")
}

// attempt dials once and, when that works, watches until the connection
// is lost. It returns the wait before the next attempt (0: at once), or
// what ends the watcher: errRetire, errNotifierClosed, a refused login.
//
// The dial, and what follows a lost connection, run in functions of their
// own: the watcher's goroutine waits below attempt for hours, and a stack
// that deep (under 1.2 KiB) lets Go shrink it to 4 KiB.
func (w *watcher) attempt(backoff time.Duration) (time.Duration, error) {
	c, next, err := w.dial(backoff)
	if c == nil {
		return next, err
	}
	return w.watch(c, backoff)
}

// dial connects the watcher; without a connection it returns what attempt
// returns.
func (w *watcher) dial(backoff time.Duration) (*conn, time.Duration, error) {
	w.mu.Lock()
	cred, mac := w.cred(), w.mac
	w.mu.Unlock()
	c, err := w.n.b.dialWith(w.ctx, cred, dialOptions{
		unilateral: signalOn(w.events),
		lastRead:   &w.lastRead,
	})
	switch {
	case w.ctx.Err() != nil:
		if c != nil {
			c.close()
		}
		return nil, 0, errNotifierClosed
	case errors.Is(err, eas.ErrUnauthorized):
		return nil, 0, w.refused(err, mac)
	case err != nil:
		w.passed(true)
		backoff = nextBackoff(backoff, w.n.cfg.MinBackoff, w.n.cfg.MaxBackoff)
		w.log.Info("watcher cannot connect; will retry", zap.Error(err), zap.Duration("in", backoff))
		return nil, backoff, nil
	}
	return c, 0, nil
}

// refused is what ends the watcher after the login with mac was refused:
// nil when a newer password arrived meanwhile, to be tried at once.
func (w *watcher) refused(err error, mac [32]byte) error {
	w.mu.Lock()
	newer := w.mac != mac
	w.mu.Unlock()
	if newer {
		return nil
	}
	w.log.Warn("watcher login refused; giving up", zap.Error(err))
	return err
}

// watch watches on c until it breaks, and returns the wait before dialling
// again, like attempt.
func (w *watcher) watch(c *conn, backoff time.Duration) (time.Duration, error) {
	started := time.Now()
	w.connected.Store(true)
	err := w.session(c)
	w.connected.Store(false)
	c.close()
	return w.lost(err, started, backoff)
}

// lost is watch's answer once the session on a connection made at started
// ended with err.
func (w *watcher) lost(err error, started time.Time, backoff time.Duration) (time.Duration, error) {
	switch {
	case w.ctx.Err() != nil:
		return 0, errNotifierClosed
	case errors.Is(err, errRetire):
		return 0, errRetire
	}
	w.mu.Lock()
	w.down = true
	w.mu.Unlock()
	w.n.reconnects.Add(1)
	if time.Since(started) > w.n.cfg.MaxBackoff {
		// It worked for a while: a new outage starts from the shortest
		// wait again.
		backoff = 0
	}
	backoff = nextBackoff(backoff, w.n.cfg.MinBackoff, w.n.cfg.MaxBackoff)
	w.log.Info("watcher lost its connection; will reconnect", zap.Error(err), zap.Duration("in", backoff))
	return backoff, nil
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

// watchSession is the state of one watching connection.
type watchSession struct {
	c       *conn
	canIdle bool
	// selected is the folder in IDLE ("" none).
	selected string
	// skip holds folders that cannot be selected (gone); they are polled.
	skip     map[string]bool
	lastPass time.Time
}

// session watches on one connection until it breaks, the watcher retires or
// the Notifier closes.
func (w *watcher) session(c *conn) error {
	s := &watchSession{c: c, canIdle: c.caps.Has(imap.CapIdle) || c.caps.Has(imap.CapIMAP4rev2), skip: map[string]bool{}}
	w.dropEvents()
	for {
		fullPass, err := w.retarget(s)
		if err != nil {
			return err
		}
		if fullPass || w.needsPass(s.selected) {
			if err := w.pass(w.ctx, c, s.selected); err != nil {
				return err
			}
			s.lastPass = time.Now()
		}
		if err := w.wait(w.ctx, s); err != nil {
			return err
		}
		if w.retire() {
			return errRetire
		}
	}
}

// retarget selects the folder to IDLE on next, when that changed, and
// reports whether a pass over every folder is due.
func (w *watcher) retarget(s *watchSession) (bool, error) {
	target := ""
	if s.canIdle {
		target = w.idleTarget(s.selected, s.skip)
	}
	fullPass := s.lastPass.IsZero() || time.Since(s.lastPass) >= w.n.cfg.CheckInterval
	if target == s.selected {
		return fullPass, nil
	}
	// The folder idled on until now is polled from here on: a pass
	// compares it with its last mark at once.
	fullPass = fullPass || s.selected != ""
	s.selected = ""
	w.setIdling("")
	if target == "" {
		return fullPass, nil
	}
	m, err := w.examine(w.ctx, s.c, target)
	switch {
	case err == nil:
		s.selected = target
		w.setIdling(target)
		// Drop what the previous folder reported: the pass compares it.
		w.dropEvents()
		w.record(target, m)
	case isNo(err):
		s.skip[target] = true
		fullPass = true
	default:
		return false, err
	}
	return fullPass, nil
}

func (w *watcher) setIdling(path string) {
	w.mu.Lock()
	w.idling = path
	w.mu.Unlock()
}

// dropEvents forgets a change reported and not yet handled.
func (w *watcher) dropEvents() {
	select {
	case <-w.events:
	default:
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
	return mark{folderState: selectedState(data), partial: data.HighestModSeq == 0}, nil
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
			m := mark{folderState: stateOf(st)}
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

// wait IDLEs on the selected folder (or, with nothing selected, just
// waits) until a pass is due, the subscriptions need one, IDLE is due for a
// restart or a probe, or the grace period of an unused watcher ends.
// Changes the server reports meanwhile go to the subscribers at once.
func (w *watcher) wait(ctx context.Context, s *watchSession) error {
	idle, err := startIdle(ctx, s)
	if err != nil {
		return err
	}
	if err := w.idle(ctx, s, idle != nil); err != nil || idle == nil {
		return err
	}
	return stopIdle(ctx, s.c, idle)
}

// startIdle starts IDLE on the selected folder; nil without one.
func startIdle(ctx context.Context, s *watchSession) (*imapclient.IdleCommand, error) {
	if s.selected == "" {
		return nil, nil
	}
	var idle *imapclient.IdleCommand
	err := s.c.guard(ctx, "IDLE", func(func()) error {
		var err error
		idle, err = s.c.client.Idle()
		return err
	})
	return idle, err
}

// stopIdle ends IDLE. The server must answer DONE within CommandTimeout:
// this doubles as the probe of a silent server.
func stopIdle(ctx context.Context, c *conn, idle *imapclient.IdleCommand) error {
	return c.guard(ctx, "DONE", func(func()) error {
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
}

// idle is wait's wait, while the server idles or not. Its rarer branches
// are functions of their own, to keep the frame small (see attempt).
func (w *watcher) idle(ctx context.Context, s *watchSession, idling bool) error {
	started := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(w.untilWake(started, s, idling))
		select {
		case <-w.events:
			if s.selected != "" {
				w.changed(s.selected)
			}
		case <-w.kick:
			if w.kicked(s, idling) {
				return nil
			}
		case <-timer.C:
			return nil
		case <-s.c.client.Closed():
			return idleLost(s.c)
		case <-ctx.Done():
			return hangUp(ctx, s.c)
		}
	}
}

// kicked reports whether the subscriptions' change that woke idle needs a
// pass or another folder in IDLE.
func (w *watcher) kicked(s *watchSession, idling bool) bool {
	return w.needsPass(s.selected) || (idling && w.idleTarget(s.selected, s.skip) != s.selected)
}

// idleLost marks c, which the server closed during idle, broken.
func idleLost(c *conn) error {
	c.broken.Store(true)
	return fmt.Errorf("IMAP IDLE: %w", errConnLost)
}

// hangUp closes c when the Notifier shuts down: no DONE, no LOGOUT.
func hangUp(ctx context.Context, c *conn) error {
	c.broken.Store(true)
	c.netConn.Close()
	return ctx.Err()
}

// untilWake is how long from now wait may go on (see nextWake).
func (w *watcher) untilWake(idleStart time.Time, s *watchSession, idling bool) time.Duration {
	return max(time.Until(w.nextWake(idleStart, s.lastPass, s.selected, idling)), 0)
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
