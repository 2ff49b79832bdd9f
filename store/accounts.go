package store

import (
	"context"
	"encoding/json"
)

// accountKind marks an account event on deviceChannel: the folders of an
// account changed, told by the node that received the upstream's
// notification to the nodes whose phones of that account may be waiting.
// Nodes that predate it read it as a device event of an empty device id,
// which ends no wait.
const accountKind = "a"

// PublishAccount tells the other nodes sharing the database that folders
// of user's account changed (all watched ones when folders is empty). It
// shares the channel and the listening connection of the device events;
// the other nodes hear it through OnAccountEvent. On SQLite, which one
// node uses, there is no one to tell.
func (s *Store) PublishAccount(ctx context.Context, user string, folders []string) error {
	if user == "" {
		return s.fail("store: publish account event: empty user")
	}
	if !s.d.postgres {
		return nil
	}
	ev := deviceEvent{Node: s.node, User: user, Kind: accountKind, Folders: folders}
	payload, err := json.Marshal(ev)
	if err != nil {
		return s.fail("store: publish account event: %w", err)
	}
	if len(payload) > maxEventPayload {
		// Too many folders for one notification: every watched folder
		// of the account is looked at instead, which is never wrong.
		ev.Folders = nil
		if payload, err = json.Marshal(ev); err != nil {
			return s.fail("store: publish account event: %w", err)
		}
		if len(payload) > maxEventPayload {
			return s.fail("store: publish account event: user takes %d bytes, more than a notification holds", len(payload))
		}
	}
	if _, err := s.w.ExecContext(ctx, "SELECT pg_notify($1, $2)", deviceChannel, string(payload)); err != nil {
		return s.fail("store: publish account event of user %q: %w", user, err)
	}
	return nil
}

// OnAccountEvent sets f to hear the account events other nodes publish,
// one call at a time, on the connection WatchDevices listens on: without
// WatchDevices running, f hears nothing. Call it before WatchDevices.
func (s *Store) OnAccountEvent(f func(user string, folders []string)) { s.onAccount = f }
