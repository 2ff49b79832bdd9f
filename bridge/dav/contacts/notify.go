package contacts

import (
	"context"
	"sync"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/eas"
)

// Notifier is the push of the address books: the Backend's poller, one
// polling loop per account shared by all its phones.
func (b *Backend) Notifier() eas.Notifier { return notifier{b.poller} }

type notifier struct{ p *dav.Poller }

// Subscribe watches address books by path; eas.FolderListPath asks for a
// notice when books are created, renamed or deleted.
func (n notifier) Subscribe(ctx context.Context, cred eas.Credentials, paths []string) (eas.Subscription, error) {
	list := dav.ListPath(dav.AddressBooks)
	davPaths := make([]string, len(paths))
	for i, p := range paths {
		davPaths[i] = p
		if p == eas.FolderListPath {
			davPaths[i] = list
		}
	}
	sub, err := n.p.Subscribe(ctx, dav.Credentials{Username: cred.Username, Password: cred.Password}, davPaths)
	if err != nil {
		return nil, easError(err)
	}
	s := &subscription{sub: sub, c: make(chan string, len(paths)+1), done: make(chan struct{})}
	go s.forward(list)
	return s, nil
}

// subscription renames the poller's list path to eas.FolderListPath.
type subscription struct {
	sub  *dav.Subscription
	c    chan string
	done chan struct{}
	once sync.Once
}

func (s *subscription) forward(list string) {
	defer close(s.c)
	for {
		select {
		case p, ok := <-s.sub.C():
			if !ok {
				return
			}
			if p == list {
				p = eas.FolderListPath
			}
			select {
			case s.c <- p:
			default: // the waiter has notices to read already
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
