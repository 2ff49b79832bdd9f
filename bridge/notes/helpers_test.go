package notes_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/notes"
	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
	"github.com/easgate/easgate/store"
	"github.com/easgate/easgate/wbxml"
)

// gateway is easgate as a phone sees it, with mail and notes combined as
// `easgate serve` combines them, in front of a real Dovecot.
type gateway struct {
	dovecot *dovecottest.Server
	url     string
}

// options tune a test gateway.
type options struct {
	// Push, when set, gives the gateway push with this configuration.
	Push        *bridge.WatchConfig
	NoCondstore bool
}

func startGateway(t *testing.T, opt options) *gateway {
	t.Helper()
	g := &gateway{dovecot: dovecottest.New(t, dovecottest.Options{NoCondstore: opt.NoCondstore})}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "easgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	b := bridge.New(bridge.Config{Addr: g.dovecot.Addr(), Security: bridge.SecurityNone, Logger: log.Named("imap")})
	t.Cleanup(func() { b.Close() })
	var mailPush eas.Notifier
	var notesPush eas.Notifier
	if opt.Push != nil {
		n := bridge.NewNotifier(b, *opt.Push)
		t.Cleanup(func() { n.Close() })
		mailPush, notesPush = n, notes.NewNotifier(n)
	}
	up := eas.Combine(b, mailPush, eas.Upstream{Name: "notes", Backend: notes.New(b, log.Named("notes")), Notifier: notesPush})
	srv := eas.NewServer(eas.Config{Logger: log.Named("eas"), MinHeartbeat: time.Second, MaxHeartbeat: time.Minute}, up, st, up)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	g.url = hs.URL
	return g
}

var userSeq struct {
	sync.Mutex
	n int
}

// user is a Dovecot account.
type user struct {
	name, password string
}

func (g *gateway) newUser(t *testing.T) user {
	userSeq.Lock()
	userSeq.n++
	n := userSeq.n
	userSeq.Unlock()
	u := user{fmt.Sprintf("noter%d@example.com", n), fmt.Sprintf("pw-%d", n)}
	g.dovecot.AddUser(t, u.name, u.password)
	return u
}

// notesUser adds a user with a Notes mailbox and returns it with an IMAP
// connection of its own.
func (g *gateway) notesUser(t *testing.T) (user, *imapclient.Client) {
	t.Helper()
	u := g.newUser(t)
	mail := g.imap(t, u)
	if err := mail.Create("Notes", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return u, mail
}

// imap is an IMAP client of u, as Apple Mail would be.
func (g *gateway) imap(t *testing.T, u user) *imapclient.Client {
	return g.dovecot.Dial(t, u.name, u.password)
}

// phone is one provisioned device with its Notes collection.
type phone struct {
	c       *easclient.Client
	notes   string // collection id of the Notes folder
	folders []eas.FolderEntry
	key     string
	// window is the WindowSize of every Sync (0: none).
	window int
}

func (g *gateway) phone(t *testing.T, u user, device string, v eas.Version) *phone {
	t.Helper()
	c := easclient.New(g.url, u.name, u.password, device, v)
	ctx := context.Background()
	if _, err := c.Provision(ctx, nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess || fs.Changes == nil {
		t.Fatalf("FolderSync: %+v %v", fs, err)
	}
	p := &phone{c: c, folders: fs.Changes.Add}
	for _, f := range fs.Changes.Add {
		if f.Type == int(eas.FolderNotes) {
			p.notes = f.ServerID
		}
	}
	return p
}

// noteItem is a server Add or Change of a note.
type noteItem struct {
	ServerID string    `wbxml:"ServerId"`
	Note     *eas.Note `wbxml:"ApplicationData,omitempty"`
}

type noteCommands struct {
	Add    []noteItem       `wbxml:"Add"`
	Change []noteItem       `wbxml:"Change"`
	Delete []eas.SyncItemID `wbxml:"Delete"`
}

type noteCollection struct {
	SyncKey       string             `wbxml:"SyncKey"`
	CollectionID  string             `wbxml:"CollectionId"`
	Status        int                `wbxml:"Status"`
	MoreAvailable bool               `wbxml:"MoreAvailable,empty"`
	Commands      *noteCommands      `wbxml:"Commands,omitempty"`
	Responses     *eas.SyncResponses `wbxml:"Responses,omitempty"`
}

type noteSync struct {
	XMLName     wbxml.Name       `wbxml:"AirSync:Sync"`
	Status      int              `wbxml:"Status,omitempty"`
	Collections []noteCollection `wbxml:"Collections>Collection"`
}

// sync sends one Sync of the Notes collection with the phone's commands
// (nil: none) and body type, and keeps the new key.
func (p *phone) sync(t *testing.T, cmds *eas.SyncCommands, bodyType int) noteCollection {
	t.Helper()
	if p.key == "" {
		p.key = "0"
		got := p.sync(t, nil, bodyType)
		if got.Status != eas.SyncSuccess {
			t.Fatalf("Notes SyncKey 0 answered status %d", got.Status)
		}
	}
	coll := eas.SyncCollection{SyncKey: p.key, CollectionID: p.notes, Commands: cmds,
		Options: []eas.SyncOptions{{BodyPreference: []eas.BodyPreference{{Type: bodyType}}}}}
	if p.window > 0 {
		coll.WindowSize = &p.window
	}
	var resp noteSync
	if _, err := p.c.Do(context.Background(), "Sync", &eas.SyncRequest{Collections: []eas.SyncCollection{coll}}, &resp); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if len(resp.Collections) != 1 {
		t.Fatalf("sync answered %+v", resp)
	}
	got := resp.Collections[0]
	if got.SyncKey != "" {
		p.key = got.SyncKey
	}
	return got
}

// syncAll syncs until nothing more is waiting and gathers the changes.
func (p *phone) syncAll(t *testing.T, bodyType int) noteCommands {
	t.Helper()
	var all noteCommands
	for range 20 {
		got := p.sync(t, nil, bodyType)
		if got.Status != eas.SyncSuccess {
			t.Fatalf("Notes sync answered status %d", got.Status)
		}
		if c := got.Commands; c != nil {
			all.Add = append(all.Add, c.Add...)
			all.Change = append(all.Change, c.Change...)
			all.Delete = append(all.Delete, c.Delete...)
		}
		if !got.MoreAvailable {
			return all
		}
	}
	t.Fatal("Notes sync never ended")
	return all
}

// appleNote is a note as Apple's Notes writes it over IMAP.
func appleNote(uuid, title, html string, date time.Time) []byte {
	return []byte(strings.ReplaceAll(`From: noter@example.com
Content-Type: text/html;
	charset=utf-8
Content-Transfer-Encoding: 7bit
Mime-Version: 1.0 (Mac OS X Notes 4.6 \(679\))
Date: `+date.Format(time.RFC1123Z)+`
X-Uniform-Type-Identifier: com.apple.mail-note
X-Mail-Created-Date: `+date.Add(-time.Hour).Format(time.RFC1123Z)+`
X-Universally-Unique-Identifier: `+uuid+`
Message-Id: <`+uuid+`@example.com>
Subject: `+title+`

<html><head></head><body><div>`+title+`</div>`+html+`</body></html>
`, "\n", "\r\n"))
}

// stored is a message of the notes mailbox as an IMAP client reads it.
type stored struct {
	uid    imap.UID
	flags  []imap.Flag
	header map[string]string
	raw    string
}

// mailbox reads every message of the mailbox name.
func mailbox(t *testing.T, c *imapclient.Client, name string) []stored {
	t.Helper()
	if _, err := c.Select(name, nil).Wait(); err != nil {
		t.Fatalf("select %s: %v", name, err)
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true,
		BodySection: []*imap.FetchItemBodySection{whole}}).Collect()
	if err != nil {
		t.Fatalf("fetch %s: %v", name, err)
	}
	var out []stored
	for _, m := range msgs {
		raw := string(m.FindBodySection(whole))
		s := stored{uid: m.UID, flags: m.Flags, header: map[string]string{}, raw: raw}
		head, _, _ := strings.Cut(raw, "\r\n\r\n")
		for _, line := range strings.Split(head, "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(k, " ") && !strings.HasPrefix(k, "\t") {
				s.header[strings.ToLower(k)] = strings.TrimSpace(v)
			}
		}
		out = append(out, s)
	}
	return out
}

// byUUID finds the message of a note.
func byUUID(msgs []stored, uuid string) []stored {
	var out []stored
	for _, m := range msgs {
		if m.header["x-universally-unique-identifier"] == uuid {
			out = append(out, m)
		}
	}
	return out
}

func localID(serverID string) string {
	_, id, _ := strings.Cut(serverID, ":")
	return id
}
