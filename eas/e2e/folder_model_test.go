package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// folderModel is a phone's folder hierarchy, kept from FolderSync answers
// and its own FolderCreate, FolderUpdate and FolderDelete.
type folderModel struct {
	t       *testing.T
	c       *easclient.Client
	key     string
	folders map[string]eas.FolderEntry // by ServerId
}

func (m *folderModel) apply(fs *eas.FolderSyncResponse) {
	t := m.t
	t.Helper()
	if fs.Status != eas.FolderSuccess {
		t.Fatalf("FolderSync: status %d", fs.Status)
	}
	m.key = fs.SyncKey
	if fs.Changes == nil {
		return
	}
	for _, d := range fs.Changes.Delete {
		if _, ok := m.folders[d.ServerID]; !ok {
			t.Fatalf("FolderSync: Delete of %s, which the phone lacks", d.ServerID)
		}
		delete(m.folders, d.ServerID)
	}
	for _, u := range fs.Changes.Update {
		if _, ok := m.folders[u.ServerID]; !ok {
			t.Fatalf("FolderSync: Update of %s, which the phone lacks", u.ServerID)
		}
		m.folders[u.ServerID] = u
	}
	for _, a := range fs.Changes.Add {
		if _, ok := m.folders[a.ServerID]; ok {
			t.Fatalf("FolderSync: Add of %s, which the phone has", a.ServerID)
		}
		m.folders[a.ServerID] = a
	}
	m.paths() // every parent is there
}

func (m *folderModel) sync() {
	m.t.Helper()
	fs, err := m.c.FolderSync(context.Background(), m.key)
	if err != nil {
		m.t.Fatalf("FolderSync: %v", err)
	}
	m.apply(fs)
}

// path is a folder's path as the phone sees it.
func (m *folderModel) path(id string) string {
	m.t.Helper()
	var parts []string
	for seen := 0; id != "0" && id != ""; seen++ {
		f, ok := m.folders[id]
		if !ok || seen > 50 {
			m.t.Fatalf("folder %s has no parent on the phone (or a cycle): %+v", id, m.folders)
		}
		parts = append([]string{f.DisplayName}, parts...)
		id = f.ParentID
	}
	return strings.Join(parts, "/")
}

func (m *folderModel) paths() map[string]string {
	out := map[string]string{}
	for id := range m.folders {
		out[m.path(id)] = id
	}
	return out
}

// userFolders are the phone's folders of type user mail, by path.
func (m *folderModel) userFolders() []string {
	var out []string
	for id, f := range m.folders {
		if f.Type == int(eas.FolderUserMail) {
			out = append(out, m.path(id))
		}
	}
	slices.Sort(out)
	return out
}

// TestFoldersRandomized drives the hierarchy with a seeded random mix of
// another client's CREATE, RENAME and DELETE on Dovecot and the phone's
// FolderCreate, FolderUpdate and FolderDelete, with FolderSync now and
// then: every answer must apply (no Add of a folder the phone has, no
// Update or Delete of one it lacks, no folder without its parent), the
// phone ends with exactly Dovecot's folders, and a FolderSync from scratch
// gives every folder the id it already had.
func TestFoldersRandomized(t *testing.T) {
	// 1 to 80 passed on one node when this was written.
	for _, top := range topologies([]uint64{1, 2, 3, 4}, []uint64{1, 2, 3}) {
		t.Run(top.name, func(t *testing.T) {
			for _, seed := range top.seeds {
				t.Run(fmt.Sprint(seed), func(t *testing.T) {
					t.Parallel()
					runFolderModel(t, top.start(t, false), seed)
				})
			}
		})
	}
}

func runFolderModel(t *testing.T, g *testGateway, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0xf01d))
	e := newMailEnvOn(t, g, eas.V141)
	ctx := context.Background()
	m := &folderModel{t: t, c: e.phone, key: "0", folders: map[string]eas.FolderEntry{}}
	m.sync()
	// A second phone of the account only watches: it learns every change,
	// the first phone's among them, from FolderSync.
	other := &folderModel{t: t, c: e.g.provisioned(t, e.user, e.pw, "folders-b", eas.V161), key: "0", folders: map[string]eas.FolderEntry{}}
	other.sync()
	names := []string{"Projects", "Receipts", "Travel", "Family", "Archive 2025", "Ünïcode"}
	var log []string
	defer func() {
		if t.Failed() {
			t.Logf("seed %d steps:\n%s", seed, strings.Join(log, "\n"))
		}
	}()
	// upstream lists Dovecot's folders but INBOX, Sent, Trash and Drafts,
	// which have EAS types of their own and are never created, renamed or
	// deleted here (Junk and Archive are user mail folders to a phone).
	upstream := func() []string {
		list, err := e.imap.List("", "*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range list {
			if l.Mailbox == "INBOX" || slices.ContainsFunc(l.Attrs, func(a imap.MailboxAttr) bool {
				return a == imap.MailboxAttrSent || a == imap.MailboxAttrTrash || a == imap.MailboxAttrDrafts
			}) {
				continue
			}
			out = append(out, l.Mailbox)
		}
		slices.Sort(out)
		return out
	}
	// leaf picks a user folder without subfolders, "" when there is none.
	leaf := func(paths []string) string {
		var leaves []string
		for _, p := range paths {
			if !slices.ContainsFunc(paths, func(q string) bool { return strings.HasPrefix(q, p+"/") }) {
				leaves = append(leaves, p)
			}
		}
		if len(leaves) == 0 {
			return ""
		}
		return leaves[r.IntN(len(leaves))]
	}
	pick := func(paths []string) string {
		if len(paths) == 0 {
			return ""
		}
		return paths[r.IntN(len(paths))]
	}
	for step := range 50 {
		switch r.IntN(7) {
		case 0: // another client creates a folder, maybe below another
			name := names[r.IntN(len(names))]
			if p := pick(upstream()); p != "" && r.IntN(2) == 0 {
				name = p + "/" + name
			}
			err := e.imap.Create(name, nil).Wait()
			log = append(log, fmt.Sprintf("%d server create %q: %v", step, name, err))
		case 1: // another client renames or moves one
			if p := pick(upstream()); p != "" {
				to := names[r.IntN(len(names))]
				if q := pick(upstream()); q != "" && r.IntN(2) == 0 && q != p && !strings.HasPrefix(q, p+"/") {
					to = q + "/" + to
				}
				err := e.imap.Rename(p, to, nil).Wait()
				log = append(log, fmt.Sprintf("%d server rename %q to %q: %v", step, p, to, err))
			}
		case 2: // another client deletes a folder without subfolders
			if p := leaf(upstream()); p != "" {
				err := e.imap.Delete(p).Wait()
				log = append(log, fmt.Sprintf("%d server delete %q: %v", step, p, err))
			}
		case 3:
			m.sync()
			log = append(log, fmt.Sprintf("%d phone FolderSync: %v", step, m.userFolders()))
		case 4:
			other.sync()
			log = append(log, fmt.Sprintf("%d other phone FolderSync: %v", step, other.userFolders()))
		case 5: // the phone creates one, maybe below one of its folders
			parent := "0"
			if p := pick(m.userFolders()); p != "" && r.IntN(2) == 0 {
				parent = m.paths()[p]
			}
			name := names[r.IntN(len(names))]
			res, err := m.c.FolderCreate(ctx, m.key, parent, name, int(eas.FolderUserMail))
			if err != nil {
				t.Fatal(err)
			}
			log = append(log, fmt.Sprintf("%d phone create %q in %s: status %d id %s", step, name, parent, res.Status, res.ServerID))
			switch res.Status {
			case eas.FolderSuccess:
				m.folders[res.ServerID] = eas.FolderEntry{ServerID: res.ServerID, ParentID: parent, DisplayName: name, Type: int(eas.FolderUserMail)}
				m.key = res.SyncKey
			case eas.FolderExists, eas.FolderParentNotFound:
			default:
				t.Fatalf("FolderCreate answered %+v", res)
			}
		case 6: // the phone renames, moves or deletes one
			p := pick(m.userFolders())
			if p == "" {
				continue
			}
			id := m.paths()[p]
			if r.IntN(3) == 0 {
				if p != leaf(m.userFolders()) {
					continue
				}
				res, err := m.c.FolderDelete(ctx, m.key, id)
				if err != nil {
					t.Fatal(err)
				}
				log = append(log, fmt.Sprintf("%d phone delete %q (%s): status %d", step, p, id, res.Status))
				switch res.Status {
				case eas.FolderSuccess:
					delete(m.folders, id)
					m.key = res.SyncKey
				case eas.FolderNotFound:
				default:
					t.Fatalf("FolderDelete answered %+v", res)
				}
				continue
			}
			parent := m.folders[id].ParentID
			if q := pick(m.userFolders()); q != "" && r.IntN(2) == 0 && q != p && !strings.HasPrefix(q, p+"/") {
				parent = m.paths()[q]
			}
			name := names[r.IntN(len(names))]
			res, err := m.c.FolderUpdate(ctx, m.key, id, parent, name)
			if err != nil {
				t.Fatal(err)
			}
			log = append(log, fmt.Sprintf("%d phone update %q (%s) to %q in %s: status %d", step, p, id, name, parent, res.Status))
			switch res.Status {
			case eas.FolderSuccess:
				f := m.folders[id]
				f.ParentID, f.DisplayName = parent, name
				m.folders[id] = f
				m.key = res.SyncKey
			case eas.FolderExists, eas.FolderNotFound, eas.FolderParentNotFound:
			case eas.FolderMalformed:
				// Only right when the new parent is inside the folder now
				// (another client moved it there; this phone has not
				// synced since), as a phone set up afresh sees.
				probe := &folderModel{t: t, c: e.g.provisioned(t, e.user, e.pw, fmt.Sprintf("probe-%d", step), eas.V141), key: "0", folders: map[string]eas.FolderEntry{}}
				probe.sync()
				if !strings.HasPrefix(probe.path(parent)+"/", probe.path(id)+"/") {
					t.Fatalf("FolderUpdate of %q into %q answered Status 10", probe.path(id), probe.path(parent))
				}
			default:
				t.Fatalf("FolderUpdate answered %+v", res)
			}
		}
	}
	m.sync()
	m.sync()
	other.sync()
	if got, want := m.userFolders(), upstream(); !slices.Equal(got, want) {
		t.Fatalf("the phone has\n%q\nDovecot has\n%q", got, want)
	}
	if got, want := other.paths(), m.paths(); len(got) != len(want) {
		t.Fatalf("the other phone has %v, the first %v", got, want)
	} else {
		for p, id := range want {
			if got[p] != id {
				t.Errorf("the other phone has %q as %s, the first as %s", p, got[p], id)
			}
		}
	}
	// A FolderSync from scratch, as some Android apps send now and then,
	// keeps every id.
	fresh := &folderModel{t: t, c: e.phone, key: "0", folders: map[string]eas.FolderEntry{}}
	fresh.sync()
	if got, want := fresh.paths(), m.paths(); len(got) != len(want) {
		t.Fatalf("FolderSync 0 gives %v, the phone had %v", got, want)
	} else {
		for p, id := range want {
			if got[p] != id {
				t.Errorf("FolderSync 0 gives %q the id %s, it had %s", p, got[p], id)
			}
		}
	}
}
