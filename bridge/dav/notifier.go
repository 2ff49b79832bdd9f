package dav

import (
	"context"
	"sync"

	"github.com/easgate/easgate/eas"
)

// Notifier is the push of a DAV store: its Poller, one polling loop per
// account shared by all its phones, turned into the engine's notices.
type Notifier struct {
	Poller *Poller
	// Kind is that of the store's collections; its list path stands for
	// eas.FolderListPath (collections created, renamed or deleted).
	Kind Kind
	// Collection gives the collection a folder path watches; nil when
	// folder paths are collection paths. A path it refuses is not watched.
	Collection func(folder string) (string, error)
}

// Subscribe watches folders by path. A notice for a collection goes out
// for each watched folder it holds.
func (n Notifier) Subscribe(ctx context.Context, cred eas.Credentials, paths []string) (eas.Subscription, error) {
	list := ListPath(n.Kind)
	folders := map[string][]string{} // collection → folder paths
	var colls []string
	for _, p := range paths {
		coll := list
		if p != eas.FolderListPath {
			coll = p
			if n.Collection != nil {
				c, err := n.Collection(p)
				if err != nil {
					continue
				}
				coll = c
			}
		}
		if folders[coll] == nil {
			colls = append(colls, coll)
		}
		folders[coll] = append(folders[coll], p)
	}
	sub, err := n.Poller.Subscribe(ctx, Credentials{Username: cred.Username, Password: cred.Password}, colls)
	if err != nil {
		return nil, EASError(err)
	}
	s := &subscription{sub: sub, c: make(chan string, len(paths)+1), done: make(chan struct{})}
	go s.forward(folders)
	return s, nil
}

// subscription turns the poller's collection notices into folder notices.
type subscription struct {
	sub  *Subscription
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
