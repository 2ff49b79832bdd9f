package calendars

import (
	"context"
	"sync"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// Notifier is the push of the calendars: the Backend's poller, one
// polling loop per account shared by all its phones.
func (b *Backend) Notifier() eas.Notifier { return notifier{b.poller} }

type notifier struct{ p *dav.Poller }

// Subscribe watches folders by path. The poller watches their
// collections; a notice for a collection goes out for each watched folder
// it holds. eas.FolderListPath asks for a notice when calendars are
// created, renamed or deleted.
func (n notifier) Subscribe(ctx context.Context, cred eas.Credentials, paths []string) (eas.Subscription, error) {
	list := dav.ListPath(dav.Calendars)
	folders := map[string][]string{} // collection → folder paths
	var colls []string
	for _, p := range paths {
		coll := list
		if p != eas.FolderListPath {
			c, _, err := splitPath(p)
			if err != nil {
				continue
			}
			coll = c
		}
		if folders[coll] == nil {
			colls = append(colls, coll)
		}
		folders[coll] = append(folders[coll], p)
	}
	sub, err := n.p.Subscribe(ctx, dav.Credentials{Username: cred.Username, Password: cred.Password}, colls)
	if err != nil {
		return nil, easError(err)
	}
	s := &subscription{sub: sub, c: make(chan string, len(paths)+1), done: make(chan struct{})}
	go s.forward(folders)
	return s, nil
}

// subscription turns the poller's collection notices into folder notices.
type subscription struct {
	sub  *dav.Subscription
	c    chan string
	done chan struct{}
	once sync.Once
}

func (s *subscription) forward(folders map[string][]string) {
	defer close(s.c)
	for {
		select {
		case coll, ok := <-s.sub.C():
			if !ok {
				return
			}
			for _, p := range folders[coll] {
				select {
				case s.c <- p:
				default: // the waiter has notices to read already
				}
			}
		case <-s.done:
			return
		}
	}
}

func (s *subscription) C() <-chan string { return s.c }

func (s *subscription) Close() {
	s.once.Do(func() {
		close(s.done)
		s.sub.Close()
	})
}
