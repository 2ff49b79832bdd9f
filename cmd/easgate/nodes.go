package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dovecotpush"
)

// accountEvents is the optional extension of the store that carries an
// account's changes between the nodes sharing it (store.Store on
// PostgreSQL): the node that receives Dovecot's notification is not
// always the one where the account's phones wait.
type accountEvents interface {
	// PublishAccount tells the other nodes that folders of user's account
	// changed (all watched ones when empty).
	PublishAccount(ctx context.Context, user string, folders []string) error
	// OnAccountEvent sets fn to hear what other nodes publish.
	OnAccountEvent(fn func(user string, folders []string))
}

// publishTimeout bounds the publication of an account event: Dovecot
// waits for the answer within the delivery that caused it.
const publishTimeout = 5 * time.Second

// nodesPoker pokes the accounts waiting on this node and publishes the
// change to the other nodes, whose watchers poke theirs (watchAccounts).
type nodesPoker struct {
	local dovecotpush.Poker
	pub   accountEvents
	log   *zap.Logger
}

// Poke reports the account known once the change is published: its phones
// may wait on another node, and Dovecot must not log an error for them.
func (p nodesPoker) Poke(ctx context.Context, user string, folders []string) bool {
	known := p.local.Poke(ctx, user, folders)
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := p.pub.PublishAccount(ctx, user, folders); err != nil {
		p.log.Warn("telling the other nodes of a push notification", zap.String("user", user), zap.Error(err))
		return known
	}
	return true
}

// watchAccounts hands the account events of other nodes to the local
// Poker. The store calls it on its device events' listener, which the eas
// server runs.
func watchAccounts(ev accountEvents, local dovecotpush.Poker) {
	ev.OnAccountEvent(func(user string, folders []string) {
		local.Poke(context.Background(), user, folders)
	})
}

// joinNodes sets the Poker of Dovecot's notifications: with several nodes
// on one store (shared), one that tells the others too, and this node
// hears theirs. Call it before the eas server starts listening.
func (g *gateway) joinNodes(shared bool) {
	g.poker = g.push
	ev, ok := any(g.store).(accountEvents)
	if !shared || !ok {
		return
	}
	g.poker = nodesPoker{local: g.push, pub: ev, log: g.log.Named("push")}
	watchAccounts(ev, g.push)
}

// knowUsers tells the notifier which accounts have phones, so that
// Dovecot's notifications for them are taken (204, not 404) from the
// start, not only once each phone has waited again. Without the list the
// gateway still works; Dovecot only logs refusals for a while.
func (g *gateway) knowUsers(ctx context.Context) {
	users, err := g.store.Users(ctx)
	if err != nil {
		g.log.Warn("listing the accounts with phones for push notifications", zap.Error(err))
		return
	}
	g.push.Know(users...)
}
