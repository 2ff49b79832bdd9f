package eas

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	})
	if errors.Is(err, ErrStateInvalid) || errors.Is(err, ErrNotFound) {
		// The phone must resync the folder (or learn it is gone): that is a
		// change for it.
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("pending changes in %q: %w", f.Path, err)
	}
	return n > 0, nil
}

// changedFolders checks every folder once.
func (s *Server) changedFolders(ctx context.Context, r *request, folders []watchedFolder) ([]string, error) {
	var changed []string
	for _, f := range folders {
		ok, err := s.pendingChanges(ctx, r, f)
		if err != nil {
			return nil, err
		}
		if ok {
			changed = append(changed, f.ID)
		}
	}
	return changed, nil
}

// waitForChanges holds a request until a watched folder has changes the
// phone lacks, the timeout passes, a newer Ping or Sync of the same device
// supersedes it, or the phone hangs up (ctx). It returns the ids of the
// changed folders.
//
// The device is unlocked and the upstream connection handed back for the
// wait, so a waiting phone costs a goroutine and a subscription to the
// account's shared watcher, nothing more. Changes are checked once after
// subscribing, so that nothing that happened before the wait is missed.
func (s *Server) waitForChanges(ctx context.Context, r *request, folders []watchedFolder, timeout time.Duration) ([]string, waitOutcome, error) {
	key := deviceKey{r.user, r.q.DeviceID}
	woken, done := s.devices.wait(key)
	defer done()

	byPath := map[string]watchedFolder{}
	paths := make([]string, 0, len(folders))
	for _, f := range folders {
		byPath[f.Path] = f
		paths = append(paths, f.Path)
	}
	var events <-chan string
	if s.notifier != nil && len(paths) > 0 {
		sub, err := s.notifier.Subscribe(ctx, r.cred, paths)
		if err != nil {
			return nil, 0, fmt.Errorf("watch folders: %w", err)
		}
		defer sub.Close()
		events = sub.C()
	}

	changed, err := s.changedFolders(ctx, r, folders)
	if err != nil || len(changed) > 0 {
		return changed, waitChanged, err
	}
	r.releaseMailbox()
	r.unlockDevice()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-woken:
			return nil, waitSuperseded, nil
		case <-timer.C:
			return nil, waitExpired, nil
		case path, ok := <-events:
			if !ok {
				// The watcher gave up (upstream gone for good): let the
				// phone come back rather than wait on nothing.
				return nil, waitExpired, nil
			}
			f, known := byPath[path]
			if !known {
				continue
			}
			set := map[string]watchedFolder{path: f}
			// Gather what else arrived at the same moment.
		drain:
			for {
				select {
				case p := <-events:
					if g, ok := byPath[p]; ok {
						set[p] = g
					}
				default:
					break drain
				}
			}
			if err := r.lockDevice(ctx); err != nil {
				return nil, 0, err
			}
			var check []watchedFolder
			for _, g := range set {
				check = append(check, g)
			}
			changed, err := s.changedFolders(ctx, r, check)
			if err != nil {
				r.log.Warn("checking a notified folder", zap.Error(err))
			}
			if len(changed) > 0 {
				return changed, waitChanged, nil
			}
			// The notice was for something the phone already has (often
			// its own change): keep waiting, without the device or the
			// upstream connection.
			r.releaseMailbox()
			r.unlockDevice()
		}
	}
}
