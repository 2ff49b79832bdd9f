package bridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/eas"
)

// Folder names taken for a role when the server marks no folder with the
// SPECIAL-USE attribute for it (older servers, or folders made by hand).
// Compared case-insensitively, at the top level and under "INBOX".
var roleNames = []struct {
	typ   eas.FolderType
	attr  imap.MailboxAttr
	names []string
}{
	{eas.FolderDrafts, imap.MailboxAttrDrafts, []string{"Drafts", "Draft", "Entwürfe"}},
	{eas.FolderSent, imap.MailboxAttrSent, []string{"Sent", "Sent Items", "Sent Messages", "Gesendet", "Gesendete Objekte", "Gesendete Elemente"}},
	{eas.FolderDeleted, imap.MailboxAttrTrash, []string{"Trash", "Deleted Items", "Deleted Messages", "Papierkorb", "Gelöschte Elemente", "Gelöschte Objekte"}},
}

// otherRoles are special-use attributes of folders that are plain mail
// folders to EAS (type 12) and must not be picked for a role by name.
var otherRoles = []imap.MailboxAttr{
	imap.MailboxAttrJunk, imap.MailboxAttrArchive, imap.MailboxAttrAll, imap.MailboxAttrFlagged, imap.MailboxAttrImportant,
}

// listEntry is one LIST reply with the UIDVALIDITY when it was asked for.
type listEntry struct {
	data        *imap.ListData
	uidValidity uint32
}

func hasAttr(d *imap.ListData, attr imap.MailboxAttr) bool {
	for _, a := range d.Attrs {
		if strings.EqualFold(string(a), string(attr)) {
			return true
		}
	}
	return false
}

func selectable(d *imap.ListData) bool {
	return !hasAttr(d, imap.MailboxAttrNoSelect) && !hasAttr(d, imap.MailboxAttrNonExistent)
}

// list runs LIST "" pattern with the special-use attributes and, when
// withStatus, the UIDVALIDITY of every selectable folder (in the LIST with
// LIST-STATUS, else with pipelined STATUS commands).
func (c *conn) list(ctx context.Context, pattern string, withStatus bool) ([]listEntry, error) {
	opts := &imap.ListOptions{ReturnSpecialUse: c.caps.Has(imap.CapSpecialUse)}
	listStatus := withStatus && c.caps.Has(imap.CapListStatus)
	if listStatus {
		opts.ReturnStatus = &imap.StatusOptions{UIDValidity: true}
	}
	var out []listEntry
	err := c.guard(ctx, "LIST", func(progress func()) error {
		cmd := c.client.List("", pattern, opts)
		for {
			d := cmd.Next()
			if d == nil {
				break
			}
			progress()
			e := listEntry{data: d}
			if d.Status != nil {
				e.uidValidity = d.Status.UIDValidity
			}
			out = append(out, e)
		}
		return cmd.Close()
	})
	if err != nil {
		return nil, err
	}
	for _, e := range out {
		if e.data.Delim != 0 {
			c.delim, c.delimKnown = e.data.Delim, true
			break
		}
	}
	if !withStatus || listStatus {
		return out, nil
	}
	if err := c.stampAll(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// stampAll reads the UIDVALIDITY of every selectable folder listed, with
// pipelined STATUS commands.
func (c *conn) stampAll(ctx context.Context, out []listEntry) error {
	return c.guard(ctx, "STATUS", func(progress func()) error {
		cmds := make([]*imapclient.StatusCommand, len(out))
		for i, e := range out {
			if selectable(e.data) {
				cmds[i] = c.client.Status(e.data.Mailbox, &imap.StatusOptions{UIDValidity: true})
			}
		}
		for i, cmd := range cmds {
			if cmd == nil {
				continue
			}
			st, err := cmd.Wait()
			progress()
			if err != nil {
				if isNo(err) {
					// Gone since the LIST; it is listed without a stamp.
					continue
				}
				return err
			}
			out[i].uidValidity = st.UIDValidity
		}
		return nil
	})
}

// delimiter returns the hierarchy delimiter (0 for a flat server).
func (c *conn) delimiter(ctx context.Context) (rune, error) {
	if c.delimKnown {
		return c.delim, nil
	}
	err := c.guard(ctx, "LIST", func(func()) error {
		l, err := c.client.List("", "", nil).Collect()
		if err != nil {
			return err
		}
		if len(l) > 0 {
			c.delim = l[0].Delim
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	c.delimKnown = true
	return c.delim, nil
}

// exists reports whether path is listed (selectable or not).
func (c *conn) exists(ctx context.Context, path string) (bool, error) {
	// A name with "*" or "%" matches more than itself as a pattern (LIST
	// has no escape); only the exact name counts.
	l, err := c.list(ctx, path, false)
	if err != nil {
		return false, err
	}
	for _, e := range l {
		if e.data.Mailbox == path && !hasAttr(e.data, imap.MailboxAttrNonExistent) {
			return true, nil
		}
	}
	return false, nil
}

// Folders lists the folders. \Noselect and \NonExistent folders are left
// out unless a listed folder lies below them: then they are listed as plain
// folders (without a Stamp) so that their children keep a parent, and a
// Sync of them returns nothing.
func (m *Mailbox) Folders(ctx context.Context) ([]eas.Folder, error) {
	var entries []listEntry
	var delim rune
	err := m.do(ctx, true, func(c *conn) error {
		// Dovecot reports the selected mailbox's status from the session's
		// view, which misses that another session recreated it.
		if err := c.unselect(ctx); err != nil {
			return err
		}
		var err error
		if entries, err = c.list(ctx, "*", true); err != nil {
			return err
		}
		delim, err = c.delimiter(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	return buildFolders(entries, delim), nil
}

func parentPath(path string, delim rune) string {
	if delim == 0 {
		return ""
	}
	if i := strings.LastIndex(path, string(delim)); i >= 0 {
		return path[:i]
	}
	return ""
}

func baseName(path string, delim rune) string {
	if delim == 0 {
		return path
	}
	if i := strings.LastIndex(path, string(delim)); i >= 0 {
		return path[i+len(string(delim)):]
	}
	return path
}

func depth(path string, delim rune) int {
	if delim == 0 {
		return 0
	}
	return strings.Count(path, string(delim))
}

func joinPath(parent, name string, delim rune) string {
	if parent == "" {
		return name
	}
	return parent + string(delim) + name
}

func buildFolders(entries []listEntry, delim rune) []eas.Folder {
	t := newFolderTree(entries, delim)
	if t.keep["INBOX"] {
		t.types["INBOX"] = eas.FolderInbox
	}
	for _, r := range roleNames {
		// The server's marking wins; then the role's usual names.
		if p := t.marked(r.attr); p != "" {
			t.types[p] = r.typ
		} else if p := t.named(r.names); p != "" {
			t.types[p] = r.typ
		}
	}
	return t.folders()
}

// folderTree is the folder list buildFolders works on.
type folderTree struct {
	delim  rune
	byPath map[string]listEntry
	// keep holds every selectable folder and every listed ancestor of one;
	// paths lists them, INBOX first, then by name, which puts parents
	// before their children.
	keep  map[string]bool
	paths []string
	types map[string]eas.FolderType
}

func newFolderTree(entries []listEntry, delim rune) *folderTree {
	t := &folderTree{delim: delim, byPath: make(map[string]listEntry, len(entries)), types: map[string]eas.FolderType{}}
	for _, e := range entries {
		// The notes mailbox is served as the Notes folder (bridge/notes).
		if e.data.Mailbox != "" && !IsNotesFolder(e.data.Mailbox, delim) {
			t.byPath[e.data.Mailbox] = e
		}
	}
	t.keep = make(map[string]bool, len(t.byPath))
	for p, e := range t.byPath {
		if !selectable(e.data) {
			continue
		}
		t.keep[p] = true
		for a := parentPath(p, delim); a != ""; a = parentPath(a, delim) {
			if _, ok := t.byPath[a]; ok {
				t.keep[a] = true
			}
		}
	}
	t.paths = slices.SortedFunc(maps.Keys(t.keep), func(a, b string) int {
		if (a == "INBOX") != (b == "INBOX") {
			if a == "INBOX" {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	return t
}

// marked is the selectable folder without a type that the server marks
// with attr; with several, the one nearest the top, then the first by name.
func (t *folderTree) marked(attr imap.MailboxAttr) string {
	best := ""
	for _, p := range t.paths {
		if e := t.byPath[p]; selectable(e.data) && t.types[p] == 0 && hasAttr(e.data, attr) {
			if best == "" || depth(p, t.delim) < depth(best, t.delim) {
				best = p
			}
		}
	}
	return best
}

// named is the first folder, by the order of names, that is called one of
// names (at the top or under INBOX) and is free to take a role.
func (t *folderTree) named(names []string) string {
	for _, name := range names {
		for _, p := range t.paths {
			if !t.unmarked(p) {
				continue
			}
			rel := p
			if pre := "INBOX" + string(t.delim); t.delim != 0 && strings.HasPrefix(strings.ToUpper(p), pre) {
				rel = p[len(pre):]
			}
			if strings.EqualFold(rel, name) {
				return p
			}
		}
	}
	return ""
}

// unmarked reports whether p is selectable, has no type yet and no role
// attribute of the server.
func (t *folderTree) unmarked(p string) bool {
	e := t.byPath[p]
	if t.types[p] != 0 || !selectable(e.data) {
		return false
	}
	for _, r := range roleNames {
		if hasAttr(e.data, r.attr) {
			return false
		}
	}
	for _, a := range otherRoles {
		if hasAttr(e.data, a) {
			return false
		}
	}
	return true
}

// folders is the tree as eas folders.
func (t *folderTree) folders() []eas.Folder {
	out := make([]eas.Folder, 0, len(t.paths))
	for _, p := range t.paths {
		e := t.byPath[p]
		f := eas.Folder{Path: p, Name: baseName(p, t.delim), Type: t.types[p]}
		if f.Type == 0 {
			f.Type = eas.FolderUserMail
		}
		for a := parentPath(p, t.delim); a != ""; a = parentPath(a, t.delim) {
			if t.keep[a] {
				f.Parent = a
				break
			}
		}
		if selectable(e.data) && e.uidValidity != 0 {
			f.Stamp = strconv.FormatUint(uint64(e.uidValidity), 10)
		}
		out = append(out, f)
	}
	return out
}

// folder describes one existing folder after a create or rename.
func (c *conn) folder(ctx context.Context, path string, delim rune) (eas.Folder, error) {
	f := eas.Folder{Path: path, Parent: parentPath(path, delim), Name: baseName(path, delim), Type: eas.FolderUserMail}
	st, err := c.status(ctx, path)
	if err != nil {
		return f, err
	}
	f.Stamp = strconv.FormatUint(uint64(st.UIDValidity), 10)
	return f, nil
}

func validFolderName(name string, delim rune) error {
	if name == "" || strings.TrimSpace(name) == "" {
		return fmt.Errorf("empty folder name: %w", eas.ErrInvalidName)
	}
	if delim != 0 && strings.ContainsRune(name, delim) {
		return fmt.Errorf("folder name %q contains the hierarchy separator %q: %w", name, delim, eas.ErrInvalidName)
	}
	if strings.ContainsAny(name, "*%\r\n") {
		return fmt.Errorf("folder name %q contains a character IMAP does not allow: %w", name, eas.ErrInvalidName)
	}
	return nil
}

// CreateFolder creates parent/name. It returns ErrExists when the folder
// exists and ErrNotFound when parent does not.
func (m *Mailbox) CreateFolder(ctx context.Context, parent, name string) (eas.Folder, error) {
	var f eas.Folder
	err := m.do(ctx, false, func(c *conn) error {
		delim, err := c.delimiter(ctx)
		if err != nil {
			return err
		}
		if err := validFolderName(name, delim); err != nil {
			return err
		}
		path := joinPath(parent, name, delim)
		if IsNotesFolder(path, delim) {
			return fmt.Errorf("folder %q is the Notes folder: %w", path, eas.ErrExists)
		}
		if parent != "" {
			ok, err := c.exists(ctx, parent)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("parent folder %q: %w", parent, eas.ErrNotFound)
			}
		}
		err = c.guard(ctx, "CREATE "+path, func(func()) error {
			return c.client.Create(path, nil).Wait()
		})
		if err != nil {
			if err = mapNo(err, path); isNo(err) && !errors.Is(err, eas.ErrExists) {
				// Not every server says ALREADYEXISTS.
				if ok, lerr := c.exists(ctx, path); lerr == nil && ok {
					return fmt.Errorf("folder %q: %w: %w", path, eas.ErrExists, err)
				}
			}
			return err
		}
		c.subscribe(ctx, path, true)
		f, err = c.folder(ctx, path, delim)
		f.Parent = parent
		return err
	})
	if err != nil {
		return eas.Folder{}, fmt.Errorf("create folder %q in %q: %w", name, parent, err)
	}
	return f, nil
}

// subscribe keeps other IMAP clients, which often show only subscribed
// folders, in step with the phone. Failures do not matter to the phone.
func (c *conn) subscribe(ctx context.Context, path string, on bool) {
	_ = c.guard(ctx, "SUBSCRIBE", func(func()) error {
		if on {
			return c.client.Subscribe(path).Wait()
		}
		return c.client.Unsubscribe(path).Wait()
	})
}

// unselectBelow leaves the selected mailbox when it is path or below it,
// before path is renamed or deleted.
func (c *conn) unselectBelow(ctx context.Context, path string, delim rune) error {
	if c.selected == "" {
		return nil
	}
	if c.selected == path || (delim != 0 && strings.HasPrefix(c.selected, path+string(delim))) {
		return c.unselect(ctx)
	}
	return nil
}

// RenameFolder moves and/or renames path to newParent/newName; its
// subfolders move along. IMAP keeps the UIDVALIDITY, so the Stamp stays.
func (m *Mailbox) RenameFolder(ctx context.Context, path, newParent, newName string) (eas.Folder, error) {
	var f eas.Folder
	err := m.do(ctx, false, func(c *conn) error {
		if strings.EqualFold(path, "INBOX") {
			// RENAME INBOX moves its messages into a new folder instead.
			return fmt.Errorf("INBOX cannot be renamed")
		}
		delim, err := c.delimiter(ctx)
		if err != nil {
			return err
		}
		if err := validFolderName(newName, delim); err != nil {
			return err
		}
		newPath := joinPath(newParent, newName, delim)
		if IsNotesFolder(newPath, delim) {
			return fmt.Errorf("folder %q is the Notes folder: %w", newPath, eas.ErrExists)
		}
		if newPath == path {
			f, err = c.folder(ctx, path, delim)
			return mapNo(err, path)
		}
		if err := c.rename(ctx, path, newParent, newPath, delim); err != nil {
			return err
		}
		c.subscribe(ctx, path, false)
		c.subscribe(ctx, newPath, true)
		f, err = c.folder(ctx, newPath, delim)
		f.Parent = newParent
		return err
	})
	if err != nil {
		return eas.Folder{}, fmt.Errorf("rename folder %q to %q in %q: %w", path, newName, newParent, err)
	}
	return f, nil
}

// rename renames path to newPath under newParent, which must exist.
func (c *conn) rename(ctx context.Context, path, newParent, newPath string, delim rune) error {
	if newParent != "" {
		ok, err := c.exists(ctx, newParent)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("new parent folder %q: %w", newParent, eas.ErrNotFound)
		}
	}
	if err := c.unselectBelow(ctx, path, delim); err != nil {
		return err
	}
	err := c.guard(ctx, "RENAME "+path, func(func()) error {
		return c.client.Rename(path, newPath, nil).Wait()
	})
	if err != nil && isNo(err) {
		return c.renameRefused(ctx, err, path, newPath)
	}
	return err
}

// renameRefused maps the server's NO to a RENAME to ErrNotFound or
// ErrExists where the folders show which it was.
func (c *conn) renameRefused(ctx context.Context, err error, path, newPath string) error {
	var ie *imap.Error
	errors.As(err, &ie)
	switch ie.Code {
	case imap.ResponseCodeNonExistent:
		return fmt.Errorf("folder %q: %w: %w", path, eas.ErrNotFound, err)
	case imap.ResponseCodeAlreadyExists:
		return fmt.Errorf("folder %q: %w: %w", newPath, eas.ErrExists, err)
	}
	if ok, lerr := c.exists(ctx, path); lerr == nil && !ok {
		return fmt.Errorf("folder %q: %w: %w", path, eas.ErrNotFound, err)
	}
	if ok, lerr := c.exists(ctx, newPath); lerr == nil && ok {
		return fmt.Errorf("folder %q: %w: %w", newPath, eas.ErrExists, err)
	}
	return err
}

// DeleteFolder deletes path with its subfolders and their mail.
func (m *Mailbox) DeleteFolder(ctx context.Context, path string) error {
	err := m.do(ctx, false, func(c *conn) error {
		if strings.EqualFold(path, "INBOX") {
			return fmt.Errorf("INBOX cannot be deleted")
		}
		delim, err := c.delimiter(ctx)
		if err != nil {
			return err
		}
		if err := c.unselectBelow(ctx, path, delim); err != nil {
			return err
		}
		if err := c.deleteChildren(ctx, path, delim); err != nil {
			return err
		}
		err = c.guard(ctx, "DELETE "+path, func(func()) error {
			return c.client.Delete(path).Wait()
		})
		if err != nil {
			if err = mapNo(err, path); isNo(err) && !errors.Is(err, eas.ErrNotFound) {
				if ok, lerr := c.exists(ctx, path); lerr == nil && !ok {
					return fmt.Errorf("folder %q: %w: %w", path, eas.ErrNotFound, err)
				}
			}
			return err
		}
		c.subscribe(ctx, path, false)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete folder %q: %w", path, err)
	}
	return nil
}

// deleteChildren deletes the folders below path, deepest first (many
// servers refuse to delete a folder that has children).
func (c *conn) deleteChildren(ctx context.Context, path string, delim rune) error {
	if delim == 0 {
		return nil
	}
	l, err := c.list(ctx, path+string(delim)+"*", false)
	if err != nil {
		return err
	}
	var kids []string
	for _, e := range l {
		if strings.HasPrefix(e.data.Mailbox, path+string(delim)) && !hasAttr(e.data, imap.MailboxAttrNonExistent) {
			kids = append(kids, e.data.Mailbox)
		}
	}
	slices.SortFunc(kids, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, k := range kids {
		err := c.guard(ctx, "DELETE "+k, func(func()) error {
			return c.client.Delete(k).Wait()
		})
		if err != nil && !errors.Is(mapNo(err, k), eas.ErrNotFound) {
			return fmt.Errorf("delete subfolder %q: %w", k, err)
		}
		c.subscribe(ctx, k, false)
	}
	return nil
}
