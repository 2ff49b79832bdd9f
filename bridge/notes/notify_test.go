package notes_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/notes"
	"github.com/easgate/easgate/eas"
)

// recordingNotifier stands for the IMAP watcher: it records what it is
// asked to watch and sends what the test gives it.
type recordingNotifier struct {
	mu    sync.Mutex
	paths [][]string
	c     chan string
}

func (n *recordingNotifier) Subscribe(_ context.Context, _ eas.Credentials, paths []string) (eas.Subscription, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.paths = append(n.paths, slices.Clone(paths))
	return recordingSub{n.c}, nil
}

type recordingSub struct{ c chan string }

func (s recordingSub) C() <-chan string { return s.c }
func (s recordingSub) Close()           {}

// TestNotifierWatchesOnlyNotes: the Notes folder's subscription watches
// the paths the notes mailbox can have, not the IMAP folder list (whose
// changes are mail folders', noticed by the mail store's subscription),
// and turns a notice of any of those paths into one of the Notes folder.
func TestNotifierWatchesOnlyNotes(t *testing.T) {
	tests := []struct {
		name   string
		paths  []string
		inner  []string // what the IMAP watcher is asked to watch; nil: nothing
		notice string   // sent by the IMAP watcher
	}{
		{name: "Notes folder", paths: []string{notes.FolderPath},
			inner: []string{"Notes", "INBOX.Notes", "INBOX/Notes"}, notice: "INBOX.Notes"},
		{name: "Notes folder and the folder list", paths: []string{notes.FolderPath, eas.FolderListPath},
			inner: []string{"Notes", "INBOX.Notes", "INBOX/Notes"}, notice: "Notes"},
		{name: "folder list alone", paths: []string{eas.FolderListPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imap := &recordingNotifier{c: make(chan string, 1)}
			sub, err := notes.NewNotifier(imap).Subscribe(context.Background(), eas.Credentials{Username: "u"}, tt.paths)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if tt.inner == nil {
				if len(imap.paths) != 0 {
					t.Fatalf("watched %q", imap.paths)
				}
				return
			}
			if len(imap.paths) != 1 || !slices.Equal(imap.paths[0], tt.inner) {
				t.Fatalf("watched %q, want %q", imap.paths, tt.inner)
			}
			imap.c <- tt.notice
			select {
			case got := <-sub.C():
				if got != notes.FolderPath {
					t.Errorf("notice %q, want %q", got, notes.FolderPath)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no notice")
			}
		})
	}
}

// TestNotesPingFolders: a Ping on the Notes folder alone is answered with
// Status 7 when a mail folder is made (the phone's folder list changed:
// MS-ASCMD Ping Status 7, whichever folders are watched), and with the
// Notes folder when Apple's Notes makes the notes mailbox and writes the
// first note, although the folder list is not watched for notes.
func TestNotesPingFolders(t *testing.T) {
	g := startGateway(t, options{Push: &bridge.WatchConfig{CheckInterval: 200 * time.Millisecond}})
	tests := []struct {
		name    string
		mailbox bool // the user has a notes mailbox already
		change  func(t *testing.T, u user, c *imapclient.Client)
		status  int
	}{
		{name: "mail folder made", mailbox: true, status: eas.PingHierarchyChanged,
			change: func(t *testing.T, _ user, c *imapclient.Client) {
				if err := c.Create("Projects", nil).Wait(); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "notes mailbox made with a note", status: eas.PingChanges,
			change: func(t *testing.T, u user, c *imapclient.Client) {
				if err := c.Create("Notes", nil).Wait(); err != nil {
					t.Fatal(err)
				}
				g.dovecot.Append(t, u.name, u.password, "Notes", appleNote(appleUUID, "First", "", time.Now()))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u user
			var c *imapclient.Client
			if tt.mailbox {
				u, c = g.notesUser(t)
			} else {
				u = g.newUser(t)
				c = g.imap(t, u)
			}
			p := g.phone(t, u, "phone", eas.V161)
			p.syncAll(t, eas.BodyPlain)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			hb := 30
			type answer struct {
				r   *eas.PingResponse
				err error
			}
			done := make(chan answer, 1)
			go func() {
				r, err := p.c.Ping(ctx, &eas.PingRequest{HeartbeatInterval: &hb, Folders: []eas.PingFolder{{ID: p.notes, Class: "Notes"}}})
				done <- answer{r, err}
			}()
			time.Sleep(time.Second)
			tt.change(t, u, c)
			a := <-done
			if a.err != nil || a.r.Status != tt.status {
				t.Fatalf("Ping answered %+v %v, want Status %d", a.r, a.err, tt.status)
			}
			if tt.status == eas.PingChanges && (len(a.r.Folders) != 1 || a.r.Folders[0] != p.notes) {
				t.Fatalf("Ping named %q, want the Notes folder %q", a.r.Folders, p.notes)
			}
		})
	}
}
