package eas

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Several upstreams for one user.
//
// A user's mail lives on an IMAP server, the contacts on a CardDAV server
// and the calendars and tasks on a CalDAV server. The phone sees one
// account: Combine makes the stores one Backend (and one Notifier) whose
// session lists every store's folders and sends each folder's calls to
// the store that holds it. Paths of the other upstreams get a prefix of
// their own, which no IMAP mailbox name can have, so the phone and the
// engine never tell the stores apart. An upstream that is down fails only
// its own folders, with ErrFolderUnavailable: the others keep working.

// SessionOpener opens a user's session on a store of the other classes.
// Open returns ErrUnauthorized when the upstream refuses the credentials.
type SessionOpener interface {
	Open(ctx context.Context, cred Credentials) (Session, error)
}

// Upstream is a store of one user's items beside the mail store.
type Upstream struct {
	// Name keeps the upstream's folders apart from the others'. It is part
	// of the folder paths easgate stores, so it must not change.
	Name    string
	Backend SessionOpener
	// Notifier watches the upstream for changes; nil: its folders change
	// for the phone when it syncs them, not by push.
	Notifier Notifier
	// Classes are those whose new folders a phone's FolderCreate makes
	// here (at the top level), when Backend's sessions are FolderWriters.
	Classes []Class
}

// Combined is the Backend and Notifier of several upstreams.
type Combined struct {
	mail         Backend
	mailNotifier Notifier
	ups          []Upstream
	mu           sync.Mutex
	// folders are the last folders each user's upstream listed, so that
	// an upstream down for a moment does not look like one whose folders
	// were all deleted (the phone would drop what it holds).
	folders map[combinedKey][]Folder
}

type combinedKey struct{ user, upstream string }

// Combine makes one Backend and Notifier of a mail store and the stores of
// the other classes. mailNotifier may be nil.
func Combine(mail Backend, mailNotifier Notifier, ups ...Upstream) *Combined {
	return &Combined{mail: mail, mailNotifier: mailNotifier, ups: ups, folders: map[combinedKey][]Folder{}}
}

// upstreamPrefix starts the paths of an upstream's folders: IMAP mailbox
// names hold no control characters.
func upstreamPrefix(name string) string { return "\x01" + name + "\x01" }

// owner returns the index of the upstream that holds path and the path as
// that upstream knows it; -1 for the mail store.
func (c *Combined) owner(path string) (int, string) {
	if !strings.HasPrefix(path, "\x01") {
		return -1, path
	}
	for i, u := range c.ups {
		if rest, ok := strings.CutPrefix(path, upstreamPrefix(u.Name)); ok {
			return i, rest
		}
	}
	return -2, path
}

// Open opens the user's mail store; the other upstreams are opened on first
// use.
func (c *Combined) Open(ctx context.Context, cred Credentials) (Mailbox, error) {
	mb, err := c.mail.Open(ctx, cred)
	if err != nil {
		return nil, err
	}
	return &combinedSession{Mailbox: mb, c: c, cred: cred, open: make([]Session, len(c.ups))}, nil
}

var _ FolderWriter = (*combinedSession)(nil)

// combinedSession routes each call to the store that holds the folder.
type combinedSession struct {
	Mailbox
	c    *Combined
	cred Credentials
	open []Session
}

// session returns the session of upstream i, opening it on first use.
func (s *combinedSession) session(ctx context.Context, i int) (Session, error) {
	if s.open[i] != nil {
		return s.open[i], nil
	}
	u := s.c.ups[i]
	se, err := u.Backend.Open(ctx, s.cred)
	if err != nil {
		return nil, upstreamError(u.Name, err)
	}
	if m, ok := se.(InvitationMailer); ok {
		m.MailInvitationsWith(s.sendInvitation)
	}
	s.open[i] = se
	return se, nil
}

// sendInvitation submits an iTIP message of the calendar upstream through
// the mail store, as the user, with a copy in Sent as a phone's own mail.
func (s *combinedSession) sendInvitation(ctx context.Context, mime []byte) error {
	return s.Mailbox.Send(ctx, Compose{MIME: mime, SaveInSent: true})
}

// upstreamError keeps an upstream's unavailability to its own folders. A
// refused login counts as one: the mail store took these credentials, so
// the other upstream lacks the account or checks another password, and a
// 401 would log the phone out of its mail too.
func upstreamError(name string, err error) error {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnauthorized) {
		return fmt.Errorf("%w: %s: %v", ErrFolderUnavailable, name, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// route returns the session that holds path and the path it knows.
func (s *combinedSession) route(ctx context.Context, path string) (Session, string, error) {
	i, p := s.c.owner(path)
	switch {
	case i == -1:
		return s.Mailbox, p, nil
	case i < 0:
		return nil, "", fmt.Errorf("folder %q: %w", path, ErrNotFound)
	}
	se, err := s.session(ctx, i)
	return se, p, err
}

func (s *combinedSession) Folders(ctx context.Context) ([]Folder, error) {
	all, err := s.Mailbox.Folders(ctx)
	if err != nil {
		return nil, err
	}
	var down *FoldersIncompleteError
	for i, u := range s.c.ups {
		fs, err := s.upstreamFolders(ctx, i)
		switch {
		case errors.Is(err, ErrFolderUnavailable):
			if down == nil {
				down = &FoldersIncompleteError{Err: err}
			}
			down.Missing = append(down.Missing, upstreamPrefix(u.Name))
		case err != nil:
			return nil, err
		}
		all = append(all, fs...)
	}
	if down != nil {
		return all, down
	}
	return all, nil
}

// upstreamFolders lists upstream i's folders with their paths prefixed; an
// upstream that is down answers with its last list, or ErrFolderUnavailable
// when there is none (after a restart): the list is then incomplete, not
// one without its folders, which would delete them.
func (s *combinedSession) upstreamFolders(ctx context.Context, i int) ([]Folder, error) {
	u := s.c.ups[i]
	key := combinedKey{s.cred.Username, u.Name}
	se, err := s.session(ctx, i)
	var fs []Folder
	if err == nil {
		fs, err = se.Folders(ctx)
		if err != nil {
			err = upstreamError(u.Name, err)
		}
	}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if err != nil {
		if last, ok := s.c.folders[key]; ok && errors.Is(err, ErrFolderUnavailable) {
			return last, nil
		}
		return nil, err
	}
	out := make([]Folder, len(fs))
	for j, f := range fs {
		out[j] = s.c.prefixed(i, f)
	}
	s.c.folders[key] = out
	return out, nil
}

func (s *combinedSession) Changes(ctx context.Context, q SyncQuery) (*ChangeSet, error) {
	se, p, err := s.route(ctx, q.Path)
	if err != nil {
		return nil, err
	}
	orig := q.Path
	q.Path = p
	cs, err := se.Changes(ctx, q)
	return cs, s.wrap(orig, err)
}

func (s *combinedSession) Pending(ctx context.Context, q SyncQuery) (int, error) {
	se, p, err := s.route(ctx, q.Path)
	if err != nil {
		return 0, err
	}
	orig := q.Path
	q.Path = p
	n, err := se.Pending(ctx, q)
	return n, s.wrap(orig, err)
}

func (s *combinedSession) Fetch(ctx context.Context, ref ItemRef, body BodyOptions) (Item, error) {
	se, p, err := s.route(ctx, ref.Path)
	if err != nil {
		return nil, err
	}
	orig := ref.Path
	ref.Path = p
	it, err := se.Fetch(ctx, ref, body)
	return it, s.wrap(orig, err)
}

// wrap keeps the errors of the mail store as they are and those of the
// other upstreams to their folders.
func (s *combinedSession) wrap(path string, err error) error {
	if i, _ := s.c.owner(path); err == nil || i == -1 {
		return err
	}
	return upstreamError(path, err)
}

// writer returns the ItemWriter that holds path.
func (s *combinedSession) writer(ctx context.Context, path string) (ItemWriter, string, error) {
	se, p, err := s.route(ctx, path)
	if err != nil {
		return nil, "", err
	}
	w, ok := se.(ItemWriter)
	if !ok {
		return nil, "", fmt.Errorf("folder %q is read-only: %w", path, ErrNotFound)
	}
	return w, p, nil
}

func (s *combinedSession) AddItem(ctx context.Context, path string, it Item) (string, string, error) {
	return s.AddNewItem(ctx, NewItem{Path: path, Item: it})
}

// AddNewItem is AddItem with the phone's version, for the upstream that
// holds the folder.
func (s *combinedSession) AddNewItem(ctx context.Context, n NewItem) (string, string, error) {
	w, p, err := s.writer(ctx, n.Path)
	if err != nil {
		return "", "", err
	}
	orig := n.Path
	n.Path = p
	id, v, err := addItem(ctx, w, n)
	return id, v, s.wrap(orig, err)
}

func (s *combinedSession) ChangeItem(ctx context.Context, ref ItemRef, u ItemUpdate) (string, error) {
	w, p, err := s.writer(ctx, ref.Path)
	if err != nil {
		return "", err
	}
	orig := ref.Path
	ref.Path = p
	v, err := w.ChangeItem(ctx, ref, u)
	return v, s.wrap(orig, err)
}

func (s *combinedSession) DeleteItem(ctx context.Context, ref ItemRef) error {
	w, p, err := s.writer(ctx, ref.Path)
	if err != nil {
		return err
	}
	orig := ref.Path
	ref.Path = p
	return s.wrap(orig, w.DeleteItem(ctx, ref))
}

// mailOnly refuses a mail operation on another upstream's folder.
func (s *combinedSession) mailOnly(path string) error {
	if i, _ := s.c.owner(path); i != -1 {
		return fmt.Errorf("folder %q holds no mail: %w", path, ErrNotFound)
	}
	return nil
}

func (s *combinedSession) UpdateFlags(ctx context.Context, ref ItemRef, u FlagUpdate) (string, error) {
	if err := s.mailOnly(ref.Path); err != nil {
		return "", err
	}
	return s.Mailbox.UpdateFlags(ctx, ref, u)
}

func (s *combinedSession) Delete(ctx context.Context, ref ItemRef, trash string) error {
	if i, _ := s.c.owner(ref.Path); i != -1 {
		return s.DeleteItem(ctx, ref)
	}
	return s.Mailbox.Delete(ctx, ref, trash)
}

func (s *combinedSession) Move(ctx context.Context, ref ItemRef, dst string) (string, string, error) {
	if err := errors.Join(s.mailOnly(ref.Path), s.mailOnly(dst)); err != nil {
		return "", "", err
	}
	return s.Mailbox.Move(ctx, ref, dst)
}

func (s *combinedSession) EmptyFolder(ctx context.Context, path string, deleteSubfolders bool) error {
	if err := s.mailOnly(path); err != nil {
		return err
	}
	return s.Mailbox.EmptyFolder(ctx, path, deleteSubfolders)
}

func (s *combinedSession) SaveDraft(ctx context.Context, path, replaces string, d *Draft) (*SavedDraft, error) {
	if err := s.mailOnly(path); err != nil {
		return nil, err
	}
	return s.Mailbox.SaveDraft(ctx, path, replaces, d)
}

func (s *combinedSession) CreateFolder(ctx context.Context, parent, name string) (Folder, error) {
	if err := s.mailOnly(parent); err != nil {
		return Folder{}, err
	}
	return s.Mailbox.CreateFolder(ctx, parent, name)
}

// CreateTypedFolder makes a mail folder in the mail store, and a folder
// of another class in the parent's upstream, or at the top level of the
// upstream that keeps the class when the parent is a mail folder (or
// none).
func (s *combinedSession) CreateTypedFolder(ctx context.Context, parent, name string, t FolderType) (Folder, error) {
	if t.Class() == ClassEmail {
		return s.CreateFolder(ctx, parent, name)
	}
	i, p := s.c.owner(parent)
	if i == -1 {
		i, p = slices.IndexFunc(s.c.ups, func(u Upstream) bool { return slices.Contains(u.Classes, t.Class()) }), ""
	}
	if i < 0 {
		return Folder{}, fmt.Errorf("no store keeps %s folders: %w", t.Class(), ErrFolderType)
	}
	w, err := s.folderWriter(ctx, i)
	if err != nil {
		return Folder{}, err
	}
	f, err := w.CreateTypedFolder(ctx, p, name, t)
	if err != nil {
		return Folder{}, upstreamError(s.c.ups[i].Name, err)
	}
	return s.c.prefixed(i, f), nil
}

// folderWriter is upstream i's session as a FolderWriter.
func (s *combinedSession) folderWriter(ctx context.Context, i int) (FolderWriter, error) {
	se, err := s.session(ctx, i)
	if err != nil {
		return nil, err
	}
	w, ok := se.(FolderWriter)
	if !ok {
		return nil, fmt.Errorf("%s: folders cannot change: %w", s.c.ups[i].Name, ErrFolderType)
	}
	return w, nil
}

// prefixed is upstream i's folder f with its paths as the engine knows them.
func (c *Combined) prefixed(i int, f Folder) Folder {
	prefix := upstreamPrefix(c.ups[i].Name)
	f.Path = prefix + f.Path
	if f.Parent != "" {
		f.Parent = prefix + f.Parent
	}
	return f
}

func (s *combinedSession) RenameFolder(ctx context.Context, path, newParent, newName string) (Folder, error) {
	i, p := s.c.owner(path)
	if i == -1 {
		if err := s.mailOnly(newParent); err != nil {
			return Folder{}, err
		}
		return s.Mailbox.RenameFolder(ctx, path, newParent, newName)
	}
	j, np := s.c.owner(newParent)
	switch {
	case i < 0:
		return Folder{}, fmt.Errorf("folder %q: %w", path, ErrNotFound)
	case newParent != "" && j != i:
		return Folder{}, fmt.Errorf("folder %q cannot move to another store: %w", path, ErrFolderType)
	}
	w, err := s.folderWriter(ctx, i)
	if err != nil {
		return Folder{}, err
	}
	f, err := w.RenameFolder(ctx, p, np, newName)
	if err != nil {
		return Folder{}, upstreamError(s.c.ups[i].Name, err)
	}
	return s.c.prefixed(i, f), nil
}

func (s *combinedSession) DeleteFolder(ctx context.Context, path string) error {
	i, p := s.c.owner(path)
	switch {
	case i == -1:
		return s.Mailbox.DeleteFolder(ctx, path)
	case i < 0:
		return fmt.Errorf("folder %q: %w", path, ErrNotFound)
	}
	w, err := s.folderWriter(ctx, i)
	if err != nil {
		return err
	}
	if err := w.DeleteFolder(ctx, p); err != nil {
		return upstreamError(s.c.ups[i].Name, err)
	}
	return nil
}

func (s *combinedSession) Close() error {
	errs := []error{s.Mailbox.Close()}
	for _, se := range s.open {
		if se != nil {
			errs = append(errs, se.Close())
		}
	}
	return errors.Join(errs...)
}

// Subscribe watches paths on the upstreams that hold them. The mail
// store's refusal fails the subscription; another upstream's leaves its
// folders to be noticed when the phone syncs them.
func (c *Combined) Subscribe(ctx context.Context, cred Credentials, paths []string) (Subscription, error) {
	groups := make([][]string, len(c.ups))
	var mailPaths []string
	for _, p := range paths {
		i, rest := c.owner(p)
		switch {
		case p == FolderListPath:
			// Every upstream's folders are in the phone's list.
			mailPaths = append(mailPaths, p)
			for j := range groups {
				groups[j] = append(groups[j], p)
			}
		case i == -1:
			mailPaths = append(mailPaths, p)
		case i >= 0:
			groups[i] = append(groups[i], rest)
		}
	}
	// Room for every path and every upstream's folder list notice: a
	// forwarder waits only while the phone's request is busy elsewhere.
	m := &mergedSub{c: make(chan string, len(paths)+len(c.ups)+1), quit: make(chan struct{})}
	if c.mailNotifier != nil && len(mailPaths) > 0 {
		sub, err := c.mailNotifier.Subscribe(ctx, cred, mailPaths)
		if err != nil {
			return nil, err
		}
		m.add(sub, "", true)
	}
	for i, u := range c.ups {
		if u.Notifier == nil || len(groups[i]) == 0 {
			continue
		}
		sub, err := u.Notifier.Subscribe(ctx, cred, groups[i])
		if err != nil {
			continue
		}
		m.add(sub, upstreamPrefix(u.Name), false)
	}
	if len(m.subs) > 0 {
		go func() {
			m.wg.Wait()
			close(m.c)
		}()
	}
	return m, nil
}

// mergedSub forwards the notices of several subscriptions, with each
// upstream's prefix put back on its paths; FolderListPath stays as it is,
// whichever upstream's list changed. Its C closes when the mail
// store's subscription gives up (the phone must come back, and log in
// again), or when all have.
type mergedSub struct {
	c    chan string
	quit chan struct{}
	stop sync.Once
	subs []Subscription
	wg   sync.WaitGroup
}

func (m *mergedSub) add(sub Subscription, prefix string, primary bool) {
	m.subs = append(m.subs, sub)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			select {
			case p, ok := <-sub.C():
				if !ok {
					if primary {
						m.quitAll()
					}
					return
				}
				if p != FolderListPath {
					p = prefix + p
				}
				select {
				case m.c <- p:
				case <-m.quit:
					return
				}
			case <-m.quit:
				return
			}
		}
	}()
}

func (m *mergedSub) quitAll() { m.stop.Do(func() { close(m.quit) }) }

func (m *mergedSub) C() <-chan string { return m.c }

func (m *mergedSub) Close() {
	m.quitAll()
	for _, s := range m.subs {
		s.Close()
	}
}
