package eas

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// watchedFolder is a folder a waiting request (Ping, Sync with Wait)
// watches for changes the phone lacks.
type watchedFolder struct {
	ID   string
	Path string
}

// waitOutcome is how a wait ended.
type waitOutcome int

const (
	waitChanged waitOutcome = iota + 1
	waitExpired
	// waitSuperseded: a newer Ping or Sync of the same device took over.
	waitSuperseded
	// waitHierarchy: the folder list changed upstream.
	waitHierarchy
)

// pendingChanges tells whether the phone lacks anything in the folder,
// judged against its stored state. A folder the device never synced has
// nothing pending: there is no state to compare with, and the phone learns
// of its content when it first syncs it.
func (s *Server) pendingChanges(ctx context.Context, r *request, f watchedFolder) (bool, error) {
	st, err := s.loadCollection(ctx, r.user, r.q.DeviceID, f.ID)
	if err != nil || st == nil {
		return false, err
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return false, err
	}
	n, err := mb.Pending(ctx, SyncQuery{
		Path:   f.Path,
		Cursor: st.Meta.Cursor,
		Known:  st.Items(),
		Since:  st.Meta.Options.since(s.cfg.Now()),
		Body:   st.Meta.Options.Body,

		IncompleteOnly: st.Meta.Options.incompleteOnly(),
	})
	if errors.Is(err, ErrStateInvalid) || errors.Is(err, ErrNotFound) {
		// The phone must resync the folder (or learn it is gone): that is a
		// change for it.
		return true, nil
	}
	if errors.Is(err, ErrFolderUnavailable) {
		// Another upstream holds the folder and is down: the phone's other
		// folders are still watched.
		r.log.Warn("pending changes: folder's upstream unavailable", zap.String("folder", f.Path), zap.Error(err))
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pending changes in %q: %w", f.Path, err)
	}
	return n > 0, nil
}

// changedFolders checks every folder once. A folder whose check fails
// does not hide another's change: the others are still checked, and the
// first error comes back beside what changed. A refused login ends the
// round, as every other folder would be refused too.
func (s *Server) changedFolders(ctx context.Context, r *request, folders []watchedFolder) ([]string, error) {
	var changed []string
	var first error
	for _, f := range folders {
		ok, err := s.pendingChanges(ctx, r, f)
		if errors.Is(err, ErrUnauthorized) {
			return nil, err
		}
		if err != nil {
			first = cmp.Or(first, err)
			continue
		}
		if ok {
			changed = append(changed, f.ID)
		}
	}
	return changed, first
}

// answerBefore is how long a request with heartbeat hb waits for changes:
// a little less than hb. AOSP's Exchange client gives up on a Ping 5 s
// after its heartbeat and then falls back to a shorter one; answering 5%
// early (at most 30 s) keeps the answer ahead of that timeout even over a
// slow network.
func answerBefore(hb time.Duration) time.Duration {
	return hb - min(hb/20, 30*time.Second)
}

// waitSpec is what a waiting request watches.
type waitSpec struct {
	folders []watchedFolder
	timeout time.Duration
	// hierarchy: also end the wait when the folder list upstream no longer
	// matches what the device holds (Ping Status 7).
	hierarchy bool
}

// waitForChanges holds a request until a watched folder has changes the
// phone lacks, the timeout passes, a newer Ping or Sync of the same device
// supersedes it, or the phone hangs up (ctx). It returns the ids of the
// changed folders.
//
// The device is unlocked and the upstream connection handed back for the
// wait, so a waiting phone costs its HTTP goroutine and a subscription to
// the account's shared watcher, nothing more. Changes are checked once after
// subscribing, so that nothing that happened before the wait is missed.
func (s *Server) waitForChanges(ctx context.Context, r *request, spec waitSpec) ([]string, waitOutcome, error) {
	// A waiting request keeps this frame on its stack: the set-up and the
	// look at a notice run in functions of their own (see handleEAS).
	w, changed, err := s.startWait(ctx, r, spec)
	if err != nil {
		return nil, 0, err
	}
	if w == nil {
		return changed, waitChanged, nil
	}
	defer w.close()
	for {
		var folders []watchedFolder
		var list bool
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-w.woken:
			return nil, waitSuperseded, nil
		case <-w.timer.C:
			return nil, waitExpired, nil
		case <-w.again.due():
			folders, list = w.again.take()
		case path, ok := <-w.events:
			if !ok {
				// The watcher gave up (upstream refused the login, or the
				// server is shutting down): let the phone come back rather
				// than wait on nothing.
				return nil, waitExpired, nil
			}
			folders, list = w.drain(path)
		}
		if changed, outcome, err := s.notified(ctx, r, w, folders, list); err != nil || outcome != 0 {
			return changed, outcome, err
		}
	}
}

// startWait registers r as its device's waiting request, subscribes to
// spec's folders and checks them once. It returns the watcher to wait on,
// its timer started and r counted as waiting, or, without one, the folders
// that have changes already.
func (s *Server) startWait(ctx context.Context, r *request, spec waitSpec) (_ *watcher, changed []string, err error) {
	woken, done := s.devices.wait(deviceKey{r.user, r.q.DeviceID}, r.number)
	w, err := s.watch(ctx, r, spec)
	if err != nil {
		done()
		return nil, nil, err
	}
	w.woken, w.done = woken, done
	defer func() {
		if err != nil || len(changed) > 0 {
			w.close()
		}
	}()
	changed, err = s.changedFolders(ctx, r, spec.folders)
	if len(changed) > 0 {
		// What changed is answered; a folder whose check failed is
		// looked at again when the phone next waits.
		return nil, changed, nil
	}
	if err != nil {
		return nil, nil, err
	}
	r.releaseMailbox()
	r.unlockDevice()
	w.waiting = s.cfg.Metrics.waiting.WithLabelValues(r.cmd.name)
	w.waiting.Inc()
	w.timer = time.NewTimer(spec.timeout)
	return w, nil, nil
}

// notified looks at the folders (and the folder list) a notice named, or
// a failed look scheduled again; outcome 0: nothing there the phone lacks,
// and the wait goes on.
func (s *Server) notified(ctx context.Context, r *request, w *watcher, folders []watchedFolder, list bool) ([]string, waitOutcome, error) {
	if len(folders) == 0 && !list {
		return nil, 0, nil
	}
	noticed := s.cfg.Now()
	changed, outcome, failed, err := s.checkNotified(ctx, r, folders, list)
	if err != nil || outcome != 0 {
		if outcome == waitChanged {
			s.cfg.Metrics.pushLatency.Observe(s.cfg.Now().Sub(noticed).Seconds())
		}
		return changed, outcome, err
	}
	if failed {
		w.again.schedule(folders, list)
	} else {
		w.again.passed()
	}
	// The notice was for something the phone already has (often its
	// own change): keep waiting, without the device or the upstream
	// connection.
	r.releaseMailbox()
	r.unlockDevice()
	return nil, 0, nil
}

// watcher is a waiting request's subscription.
type watcher struct {
	byPath    map[string]watchedFolder
	hierarchy bool
	events    <-chan string
	sub       Subscription
	// woken is closed when a newer request of the device supersedes this
	// one; done ends that registration.
	woken <-chan struct{}
	done  func()
	// timer ends the wait; waiting counts it in the metrics. One close
	// undoes all: a single defer keeps waitForChanges' frame small.
	timer   *time.Timer
	waiting prometheus.Gauge
	// again holds the notices whose check failed, to look at later.
	again recheck
}

// watch subscribes to spec's folders (and the folder list, when asked).
// Without a notifier the wait only ends by time or by a newer request.
func (s *Server) watch(ctx context.Context, r *request, spec waitSpec) (*watcher, error) {
	w := &watcher{byPath: make(map[string]watchedFolder, len(spec.folders)), hierarchy: spec.hierarchy}
	paths := make([]string, 0, len(spec.folders)+1)
	for _, f := range spec.folders {
		// A merged collection changes with any of its folders.
		for _, p := range r.watchedPaths(ctx, f.Path) {
			w.byPath[p] = f
			paths = append(paths, p)
		}
	}
	if spec.hierarchy {
		paths = append(paths, FolderListPath)
	}
	if s.notifier == nil || len(paths) == 0 {
		return w, nil
	}
	sub, err := s.notifier.Subscribe(ctx, r.cred, paths)
	if err != nil {
		return nil, fmt.Errorf("watch folders: %w", err)
	}
	w.sub, w.events = sub, sub.C()
	return w, nil
}

func (w *watcher) close() {
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.waiting != nil {
		w.waiting.Dec()
	}
	if w.sub != nil {
		w.sub.Close()
	}
	if w.done != nil {
		w.done()
	}
	w.again.stop()
}

// drain takes the notice first and everything that arrived with it (the
// notifier does not send a path again while the channel holds it): the
// watched folders named, each once, and whether the folder list may have
// changed. A merged collection watches several paths, so the folders are
// told apart by id: one checked or synced twice would be answered twice.
func (w *watcher) drain(first string) ([]watchedFolder, bool) {
	set := map[string]watchedFolder{}
	list := false
	for path, ok := first, true; ok; {
		if path == FolderListPath {
			list = w.hierarchy
		} else if f, known := w.byPath[path]; known {
			set[f.ID] = f
		}
		select {
		case path, ok = <-w.events:
		default:
			ok = false
		}
	}
	folders := make([]watchedFolder, 0, len(set))
	for _, f := range set {
		folders = append(folders, f)
	}
	return folders, list
}

// checkNotified takes the device again and looks at what a notice named;
// outcome 0: nothing there the phone lacks. failed: a check could not be
// made (the upstream or the state did not answer), so the notice must be
// looked at again rather than dropped. A refused login is an error: it
// ends the wait as it would have ended the request before it.
func (s *Server) checkNotified(ctx context.Context, r *request, folders []watchedFolder, list bool) (changed []string, outcome waitOutcome, failed bool, err error) {
	if err := r.lockDevice(ctx); err != nil {
		return nil, 0, false, err
	}
	if list {
		moved, err := s.hierarchyChanged(ctx, r)
		if errors.Is(err, ErrUnauthorized) {
			return nil, 0, false, err
		}
		if err != nil {
			r.log.Warn("checking the folder list", zap.Error(err))
			failed = true
		}
		if moved {
			return nil, waitHierarchy, false, nil
		}
	}
	changed, err = s.changedFolders(ctx, r, folders)
	if errors.Is(err, ErrUnauthorized) {
		// The password changed meanwhile: the phone must learn it (401)
		// rather than wait while it is tried again and again.
		return nil, 0, false, err
	}
	if err != nil {
		r.log.Warn("checking a notified folder", zap.Error(err))
		failed = true
	}
	if len(changed) > 0 {
		return changed, waitChanged, false, nil
	}
	return nil, 0, failed, nil
}

// recheck holds the notices of a wait whose check failed: the change they
// announced is looked at again after a pause, which doubles while the
// failures last. Without it, a notice that met a busy or restarting
// upstream would be lost until the next periodic check, minutes later.
type recheck struct {
	folders map[string]watchedFolder
	list    bool
	pause   time.Duration
	timer   *time.Timer
}

const (
	recheckFirst = time.Second
	recheckMax   = 30 * time.Second
)

// schedule adds the folders (and the folder list) to what is checked
// again, and starts the pause unless one runs.
func (c *recheck) schedule(folders []watchedFolder, list bool) {
	if c.folders == nil {
		c.folders = map[string]watchedFolder{}
	}
	for _, f := range folders {
		c.folders[f.ID] = f
	}
	c.list = c.list || list
	if c.timer != nil {
		return
	}
	c.pause = min(max(c.pause*2, recheckFirst), recheckMax)
	c.timer = time.NewTimer(c.pause)
}

// due fires when the pause is over; nil (never) with nothing to check.
func (c *recheck) due() <-chan time.Time {
	if c.timer == nil {
		return nil
	}
	return c.timer.C
}

// take returns what is to be checked again and clears it.
func (c *recheck) take() ([]watchedFolder, bool) {
	folders := make([]watchedFolder, 0, len(c.folders))
	for _, f := range c.folders {
		folders = append(folders, f)
	}
	list := c.list
	c.folders, c.list, c.timer = nil, false, nil
	return folders, list
}

// passed resets the pause after a check that worked; what is still
// scheduled stays.
func (c *recheck) passed() {
	if c.timer == nil {
		c.pause = 0
	}
}

func (c *recheck) stop() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// hierarchyChanged reports whether the folder list upstream differs from
// what the device got in its last FolderSync (or it never ran one).
func (s *Server) hierarchyChanged(ctx context.Context, r *request) (bool, error) {
	h, err := s.loadHierarchy(ctx, r)
	if err != nil {
		return false, err
	}
	if h == nil {
		return true, nil
	}
	mapped, err := s.folderMap(ctx, r)
	if err != nil {
		return false, err
	}
	adds, updates, deletes := hierarchyDiff(h.Folders, deviceFolders(mapped))
	return len(adds)+len(updates)+len(deletes) > 0, nil
}
