package notes

import (
	"context"
	"slices"
	"sync"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
)

// Notifier pushes changes of the Notes folder through the IMAP bridge's
// watcher of the account, which compares the notes mailbox's counters
// like those of any mail folder other than INBOX. A notes mailbox made,
// deleted or renamed changes the counters of its path too (missing, then
// there), so the folder list is not watched: the Notes folder is always
// the phone's one folder of this upstream, and the mail folders a change
// of the IMAP folder list is about are the mail store's to notice.
type Notifier struct {
	imap eas.Notifier
}

// NewNotifier returns a Notifier on the mail store's notifier.
func NewNotifier(imap eas.Notifier) *Notifier { return &Notifier{imap: imap} }

// watched are the IMAP paths that can be the notes mailbox (see
// bridge.IsNotesFolder): watching them all costs a STATUS each and no
// login to find which one it is.
var watched = []string{bridge.NotesFolder, "INBOX." + bridge.NotesFolder, "INBOX/" + bridge.NotesFolder}

// Subscribe watches the Notes folder when paths name it.
func (n *Notifier) Subscribe(ctx context.Context, cred eas.Credentials, paths []string) (eas.Subscription, error) {
	if !slices.Contains(paths, FolderPath) {
		return quietSub(), nil
	}
	inner, err := n.imap.Subscribe(ctx, cred, watched)
	if err != nil {
		return nil, err
	}
	s := &sub{inner: inner, c: make(chan string, 1), done: make(chan struct{})}
	go s.forward()
	return s, nil
}

// sub turns every notice of the notes mailbox into one of the Notes
// folder.
type sub struct {
	inner eas.Subscription
	c     chan string
	done  chan struct{}
	once  sync.Once
}

func (s *sub) forward() {
	defer close(s.c)
	for {
		select {
		case _, ok := <-s.inner.C():
			if !ok {
				return
			}
			select {
			case s.c <- FolderPath:
			default:
				// One is waiting already: notices are coalesced.
			}
		case <-s.done:
			return
		}
	}
}

func (s *sub) C() <-chan string { return s.c }

func (s *sub) Close() {
	s.once.Do(func() {
		close(s.done)
		if s.inner != nil {
			s.inner.Close()
		}
	})
}

// quietSub is the subscription of no folder: it never fires.
func quietSub() eas.Subscription {
	return &sub{c: make(chan string), done: make(chan struct{})}
}
