package eas_test

// Test doubles for the handler tests of the mail commands: a mail store in
// memory that behaves like the bridge as eas sees it (changes computed from
// the phone's KnownItems, versions bumped by flag changes, new ids on
// moves), a Notifier for it, and a Store in memory. The acceptance tests run
// against Dovecot (e2e/integration_test.go); these pin the protocol logic down
// where a real server cannot be steered (invalid state, a broken item, the
// exact number of upstream writes).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/easgate/easgate/eas"
)

type fakeMsg struct {
	id      string
	subject string
	body    string
	date    time.Time
	read    bool
	flagged bool
	cats    []string
	ver     int
	broken  bool
}

type fakeFolder struct {
	eas.Folder
	msgs map[string]*fakeMsg
	next int
}

// fakeMail is one account's mail, shared by every Mailbox opened on it.
type fakeMail struct {
	mu      sync.Mutex
	folders map[string]*fakeFolder
	// invalid makes the next Changes of a folder fail with ErrStateInvalid.
	invalid map[string]bool
	atts    map[string]eas.AttachmentData
	calls   map[string]int
	subs    []*fakeSub
	seq     int
	// onChanges, when set, runs at the start of every Changes.
	onChanges func()
	// pendingFails is how many of the next Pending calls fail as an
	// upstream that does not answer would.
	pendingFails int
	// pendingErr is what those calls fail with; nil: ErrUnavailable.
	pendingErr error
	// pendingFailPath makes every Pending of that folder fail with
	// ErrUnavailable, as a folder whose upstream keeps failing would.
	pendingFailPath string
}

func newFakeMail() *fakeMail {
	m := &fakeMail{folders: map[string]*fakeFolder{}, invalid: map[string]bool{}, atts: map[string]eas.AttachmentData{}, calls: map[string]int{}}
	m.addFolder("INBOX", "", eas.FolderInbox)
	m.addFolder("Trash", "", eas.FolderDeleted)
	m.addFolder("Sent", "", eas.FolderSent)
	m.addFolder("Drafts", "", eas.FolderDrafts)
	m.addFolder("Work", "", eas.FolderUserMail)
	m.addFolder("Work/Old", "Work", eas.FolderUserMail)
	return m
}

func (m *fakeMail) addFolder(path, parent string, t eas.FolderType) {
	name := path[strings.LastIndex(path, "/")+1:]
	m.seq++
	m.folders[path] = &fakeFolder{Folder: eas.Folder{Path: path, Parent: parent, Name: name, Type: t, Stamp: strconv.Itoa(m.seq)}, msgs: map[string]*fakeMsg{}}
}

// add stores a message and returns its id.
func (m *fakeMail) add(path, subject string, date time.Time) string {
	m.mu.Lock()
	f := m.folders[path]
	f.next++
	id := strconv.Itoa(f.next)
	f.msgs[id] = &fakeMsg{id: id, subject: subject, body: "Body of " + subject, date: date, ver: 1}
	m.mu.Unlock()
	m.notify(path)
	return id
}

// edit changes a message the way another client would.
func (m *fakeMail) edit(path, id string, fn func(*fakeMsg)) {
	m.mu.Lock()
	msg := m.folders[path].msgs[id]
	fn(msg)
	msg.ver++
	m.mu.Unlock()
	m.notify(path)
}

func (m *fakeMail) remove(path, id string) {
	m.mu.Lock()
	delete(m.folders[path].msgs, id)
	m.mu.Unlock()
	m.notify(path)
}

func (m *fakeMail) msg(path, id string) *fakeMsg {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg := m.folders[path].msgs[id]
	if msg == nil {
		return nil
	}
	c := *msg
	return &c
}

func (m *fakeMail) count(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.folders[path].msgs)
}

func (m *fakeMail) calledN(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[name]
}

// subscriptions is the number of open subscriptions.
func (m *fakeMail) subscriptions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs)
}

func (m *fakeMail) notify(path string) {
	m.mu.Lock()
	subs := slices.Clone(m.subs)
	m.mu.Unlock()
	for _, s := range subs {
		if slices.Contains(s.paths, path) {
			select {
			case s.c <- path:
			default:
			}
		}
	}
}

func (msg *fakeMsg) version() string { return strconv.Itoa(msg.ver) }

func (msg *fakeMsg) flagsOnly() *eas.Email {
	read := msg.read
	e := &eas.Email{Read: &read, Flag: &eas.Flag{}}
	if msg.flagged {
		st := eas.FlagActive
		e.Flag = &eas.Flag{Status: &st, FlagType: "Flag for follow up"}
	}
	e.Categories = &eas.Categories{Category: slices.Clone(msg.cats)}
	return e
}

func (msg *fakeMsg) email(body eas.BodyOptions) *eas.Email {
	e := msg.flagsOnly()
	e.Subject = msg.subject
	e.From = "sender@example.com"
	e.To = "user@example.com"
	e.DateReceived = msg.date
	e.MessageClass = "IPM.Note"
	e.ConversationID = []byte("conv-" + msg.id)
	e.Sender = "sender@example.com"
	draft := false
	e.IsDraft = &draft
	e.Bcc = "hidden@example.com"
	text := msg.body
	typ := eas.BodyPlain
	var trunc uint32
	if len(body.Preferences) > 0 {
		p := body.Preferences[0]
		typ, trunc = p.Type, p.TruncationSize
		if typ == eas.BodyMIME && body.MIMESupport == 0 {
			typ = eas.BodyPlain
		}
	}
	if typ == eas.BodyMIME {
		text = "Subject: " + msg.subject + "\r\n\r\n" + msg.body
		trunc = body.MIMETruncation
	}
	b := &eas.Body{Type: typ, EstimatedDataSize: int64(len(text)), Data: text, Preview: "preview " + msg.subject}
	if trunc > 0 && uint32(len(text)) > trunc {
		b.Data, b.Truncated = text[:trunc], true
	}
	e.Body = b
	e.Attachments = &eas.Attachments{Attachment: []eas.Attachment{{DisplayName: "a.txt", FileReference: "att:" + msg.id, Method: eas.AttachNormal, EstimatedDataSize: 10}}}
	return e
}

// The Notes class: a folder of type Notes holds its messages as notes
// (subject and body), written by the phone through eas.ItemWriter.

// item is msg as its folder's class shows it.
func (fo *fakeFolder) item(msg *fakeMsg, body eas.BodyOptions) eas.Item {
	if fo.Type.Class() == eas.ClassNotes {
		return msg.note()
	}
	return msg.email(body)
}

// changed is what a server Change of msg carries: a note whole, a
// message's flags.
func (fo *fakeFolder) changed(msg *fakeMsg) eas.Item {
	if fo.Type.Class() == eas.ClassNotes {
		return msg.note()
	}
	return msg.flagsOnly()
}

func (msg *fakeMsg) note() *eas.Note {
	return &eas.Note{Subject: msg.subject, Body: &eas.Body{Type: eas.BodyPlain, EstimatedDataSize: int64(len(msg.body)), Data: msg.body},
		LastModifiedDate: msg.date}
}

// notesFolder returns the Notes folder at path, ErrNotFound for a missing
// folder or one of another class.
func (f *fakeMailbox) notesFolder(path string) (*fakeFolder, error) {
	fo := f.m.folders[path]
	if fo == nil || fo.Type.Class() != eas.ClassNotes {
		return nil, eas.ErrNotFound
	}
	return fo, nil
}

func (f *fakeMailbox) AddItem(ctx context.Context, path string, it eas.Item) (string, string, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.m.calls["AddItem"]++
	fo, err := f.notesFolder(path)
	if err != nil {
		return "", "", err
	}
	n := it.(*eas.Note)
	if n.Subject == refusedSubject {
		return "", "", fmt.Errorf("%w: subject %q", eas.ErrInvalidItem, n.Subject)
	}
	fo.next++
	msg := &fakeMsg{id: strconv.Itoa(fo.next), subject: n.Subject, date: time.Now(), ver: 1}
	if n.Body != nil {
		msg.body = n.Body.Data
	}
	fo.msgs[msg.id] = msg
	return msg.id, msg.version(), nil
}

func (f *fakeMailbox) ChangeItem(ctx context.Context, ref eas.ItemRef, u eas.ItemUpdate) (string, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.m.calls["ChangeItem"]++
	if _, err := f.notesFolder(ref.Path); err != nil {
		return "", err
	}
	_, msg, err := f.lookup(ref)
	if err != nil {
		return "", err
	}
	if u.Known != "" && u.Known != msg.version() {
		return "", eas.ErrConflict
	}
	n := u.Item.(*eas.Note)
	if n.Subject == refusedSubject {
		return "", fmt.Errorf("%w: subject %q", eas.ErrInvalidItem, n.Subject)
	}
	if !slices.Contains(u.Ghosted, "Subject") {
		msg.subject = n.Subject
	}
	if !slices.Contains(u.Ghosted, "Body") {
		msg.body = ""
		if n.Body != nil {
			msg.body = n.Body.Data
		}
	}
	msg.ver++
	return msg.version(), nil
}

func (f *fakeMailbox) DeleteItem(ctx context.Context, ref eas.ItemRef) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.m.calls["DeleteItem"]++
	fo, err := f.notesFolder(ref.Path)
	if err != nil {
		return err
	}
	if fo.msgs[ref.ServerID] == nil {
		return eas.ErrNotFound
	}
	delete(fo.msgs, ref.ServerID)
	return nil
}

var _ eas.ItemWriter = (*fakeMailbox)(nil)

type fakeBackend struct{ m *fakeMail }

func (b fakeBackend) Open(ctx context.Context, cred eas.Credentials) (eas.Mailbox, error) {
	if cred.Password != "secret" {
		return nil, eas.ErrUnauthorized
	}
	return &fakeMailbox{m: b.m, user: cred.Username}, nil
}

type fakeMailbox struct {
	m    *fakeMail
	user string
}

func (f *fakeMailbox) PrimaryAddress() string { return f.user }

func (f *fakeMailbox) Folders(ctx context.Context) ([]eas.Folder, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	var out []eas.Folder
	for _, x := range f.m.folders {
		out = append(out, x.Folder)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (f *fakeMailbox) CreateFolder(ctx context.Context, parent, name string) (eas.Folder, error) {
	return eas.Folder{}, errors.New("not supported")
}

func (f *fakeMailbox) RenameFolder(ctx context.Context, path, newParent, newName string) (eas.Folder, error) {
	return eas.Folder{}, errors.New("not supported")
}

func (f *fakeMailbox) DeleteFolder(ctx context.Context, path string) error {
	return errors.New("not supported")
}

func numericIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, _ := strconv.Atoi(ids[i])
		b, _ := strconv.Atoi(ids[j])
		return a < b
	})
	return ids
}

func (f *fakeMailbox) diff(q eas.SyncQuery) ([]eas.ItemChange, error) {
	fo := f.m.folders[q.Path]
	if fo == nil {
		return nil, eas.ErrNotFound
	}
	if f.m.invalid[q.Path] {
		delete(f.m.invalid, q.Path)
		return nil, eas.ErrStateInvalid
	}
	inWindow := func(msg *fakeMsg) bool { return q.Since.IsZero() || !msg.date.Before(q.Since) }
	var out []eas.ItemChange
	known := map[string]string{}
	q.Known.Range(func(id, v string) bool { known[id] = v; return true })
	for _, id := range numericIDs(known) {
		msg := fo.msgs[id]
		switch {
		case msg == nil:
			out = append(out, eas.ItemChange{Kind: eas.ChangeDelete, ServerID: id})
		case !inWindow(msg):
			out = append(out, eas.ItemChange{Kind: eas.ChangeSoftDelete, ServerID: id})
		case msg.version() != known[id]:
			out = append(out, eas.ItemChange{Kind: eas.ChangeModify, ServerID: id, Version: msg.version(), Item: fo.changed(msg)})
		}
	}
	for _, id := range numericIDs(fo.msgs) {
		msg := fo.msgs[id]
		if _, ok := known[id]; ok || !inWindow(msg) {
			continue
		}
		ch := eas.ItemChange{Kind: eas.ChangeAdd, ServerID: id, Version: msg.version(), Item: fo.item(msg, q.Body)}
		if msg.broken {
			ch.Err = errors.New("broken MIME structure")
			ch.Item = &eas.Email{Subject: msg.subject}
		}
		out = append(out, ch)
	}
	return out, nil
}

func (f *fakeMailbox) Changes(ctx context.Context, q eas.SyncQuery) (*eas.ChangeSet, error) {
	f.m.mu.Lock()
	hook := f.m.onChanges
	f.m.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.m.calls["Changes"]++
	all, err := f.diff(q)
	if err != nil {
		return nil, err
	}
	cs := &eas.ChangeSet{Changes: all, Cursor: "c" + strconv.Itoa(f.m.calls["Changes"])}
	if q.Window > 0 && len(all) > q.Window {
		cs.Changes, cs.More = all[:q.Window], true
	}
	return cs, nil
}

func (f *fakeMailbox) Pending(ctx context.Context, q eas.SyncQuery) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if q.Path != "" && q.Path == f.m.pendingFailPath {
		return 0, fmt.Errorf("%w: STATUS %s timed out", eas.ErrUnavailable, q.Path)
	}
	if f.m.pendingFails > 0 {
		f.m.pendingFails--
		if f.m.pendingErr != nil {
			return 0, f.m.pendingErr
		}
		return 0, fmt.Errorf("%w: STATUS timed out", eas.ErrUnavailable)
	}
	all, err := f.diff(q)
	return len(all), err
}

func (f *fakeMailbox) lookup(ref eas.ItemRef) (*fakeFolder, *fakeMsg, error) {
	fo := f.m.folders[ref.Path]
	if fo == nil {
		return nil, nil, eas.ErrNotFound
	}
	msg := fo.msgs[ref.ServerID]
	if msg == nil {
		return nil, nil, eas.ErrNotFound
	}
	return fo, msg, nil
}

func (f *fakeMailbox) Fetch(ctx context.Context, ref eas.ItemRef, body eas.BodyOptions) (eas.Item, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	f.m.calls["Fetch"]++
	fo, msg, err := f.lookup(ref)
	if err != nil {
		return nil, err
	}
	return fo.item(msg, body), nil
}

func (f *fakeMailbox) UpdateFlags(ctx context.Context, ref eas.ItemRef, u eas.FlagUpdate) (string, error) {
	f.m.mu.Lock()
	f.m.calls["UpdateFlags"]++
	_, msg, err := f.lookup(ref)
	if err != nil {
		f.m.mu.Unlock()
		return "", err
	}
	stale := u.Known != "" && msg.version() != u.Known
	if u.Read != nil {
		msg.read = *u.Read
	}
	if u.Flag != nil {
		msg.flagged = u.Flag.Status != nil && *u.Flag.Status == eas.FlagActive
	}
	if u.Categories != nil {
		msg.cats = slices.Clone(*u.Categories)
	}
	msg.ver++
	v := msg.version()
	if stale {
		v = u.Known
	}
	f.m.mu.Unlock()
	f.m.notify(ref.Path)
	return v, nil
}

func (f *fakeMailbox) moveLocked(fo *fakeFolder, msg *fakeMsg, dst string) (string, error) {
	d := f.m.folders[dst]
	if d == nil {
		return "", eas.ErrNotFound
	}
	delete(fo.msgs, msg.id)
	d.next++
	c := *msg
	c.id = strconv.Itoa(d.next)
	d.msgs[c.id] = &c
	return c.id, nil
}

func (f *fakeMailbox) Delete(ctx context.Context, ref eas.ItemRef, trash string) error {
	f.m.mu.Lock()
	f.m.calls["Delete"]++
	fo, msg, err := f.lookup(ref)
	if err == nil {
		if trash == "" {
			delete(fo.msgs, msg.id)
		} else {
			_, err = f.moveLocked(fo, msg, trash)
		}
	}
	f.m.mu.Unlock()
	f.m.notify(ref.Path)
	return err
}

func (f *fakeMailbox) Move(ctx context.Context, ref eas.ItemRef, dst string) (string, string, error) {
	f.m.mu.Lock()
	f.m.calls["Move"]++
	fo, msg, err := f.lookup(ref)
	var id string
	if err == nil {
		id, err = f.moveLocked(fo, msg, dst)
	}
	f.m.mu.Unlock()
	if err != nil {
		return "", "", err
	}
	f.m.notify(ref.Path)
	f.m.notify(dst)
	return id, msg.version(), nil
}

func (f *fakeMailbox) EmptyFolder(ctx context.Context, path string, deleteSubfolders bool) error {
	f.m.mu.Lock()
	fo := f.m.folders[path]
	if fo == nil {
		f.m.mu.Unlock()
		return eas.ErrNotFound
	}
	fo.msgs = map[string]*fakeMsg{}
	f.m.mu.Unlock()
	f.m.notify(path)
	return nil
}

func (f *fakeMailbox) Attachment(ctx context.Context, ref string) (*eas.AttachmentData, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	a, ok := f.m.atts[ref]
	if !ok {
		return nil, eas.ErrNotFound
	}
	return &a, nil
}

func (f *fakeMailbox) Search(ctx context.Context, q eas.SearchQuery) ([]eas.ItemRef, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	type hit struct {
		ref  eas.ItemRef
		date time.Time
	}
	var hits []hit
	for path, fo := range f.m.folders {
		if len(q.Paths) > 0 && !slices.Contains(q.Paths, path) {
			continue
		}
		for _, msg := range fo.msgs {
			if !strings.Contains(strings.ToLower(msg.subject+" "+msg.body), strings.ToLower(q.FreeText)) {
				continue
			}
			if !q.Since.IsZero() && msg.date.Before(q.Since) || !q.Before.IsZero() && !msg.date.Before(q.Before) {
				continue
			}
			hits = append(hits, hit{eas.ItemRef{Path: path, ServerID: msg.id}, msg.date})
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].date.After(hits[j].date) })
	out := make([]eas.ItemRef, len(hits))
	for i, h := range hits {
		out[i] = h.ref
	}
	return out, nil
}

func (f *fakeMailbox) Send(ctx context.Context, c eas.Compose) error {
	return &eas.SendError{Err: errors.New("not supported")}
}

// SaveDraft is tested against Dovecot (drafts_test.go).
func (f *fakeMailbox) SaveDraft(ctx context.Context, path, replaces string, d *eas.Draft) (*eas.SavedDraft, error) {
	return nil, errors.New("not supported")
}

func (f *fakeMailbox) Close() error { return nil }

// fakeSub is a Subscription of fakeMail.
type fakeSub struct {
	m     *fakeMail
	paths []string
	c     chan string
	once  sync.Once
}

func (s *fakeSub) C() <-chan string { return s.c }
func (s *fakeSub) Close() {
	s.once.Do(func() {
		s.m.mu.Lock()
		defer s.m.mu.Unlock()
		s.m.subs = slices.DeleteFunc(s.m.subs, func(x *fakeSub) bool { return x == s })
	})
}

type fakeNotifier struct{ m *fakeMail }

func (n fakeNotifier) Subscribe(ctx context.Context, cred eas.Credentials, paths []string) (eas.Subscription, error) {
	s := &fakeSub{m: n.m, paths: slices.Clone(paths), c: make(chan string, 16)}
	n.m.mu.Lock()
	n.m.subs = append(n.m.subs, s)
	n.m.mu.Unlock()
	return s, nil
}

// memStore is an eas.Store in memory.
type memStore struct {
	mu       sync.Mutex
	devices  map[[2]string]*eas.Device
	folders  map[string][]eas.FolderID
	counters map[string]int
	dstate   map[[3]string][]byte
	cstate   map[[3]string][]byte
	sent     map[[3]string]bool
}

func newMemStore() *memStore {
	return &memStore{devices: map[[2]string]*eas.Device{}, folders: map[string][]eas.FolderID{},
		counters: map[string]int{}, dstate: map[[3]string][]byte{}, cstate: map[[3]string][]byte{}, sent: map[[3]string]bool{}}
}

func (s *memStore) dev(user, id string) (*eas.Device, error) {
	d := s.devices[[2]string{user, id}]
	if d == nil {
		return nil, eas.ErrNotFound
	}
	return d, nil
}

func (s *memStore) Device(ctx context.Context, user, deviceID string) (*eas.Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.dev(user, deviceID)
	if err != nil {
		return nil, err
	}
	c := *d
	return &c, nil
}

func (s *memStore) Devices(ctx context.Context) ([]eas.Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []eas.Device
	for _, d := range s.devices {
		out = append(out, *d)
	}
	return out, nil
}

func (s *memStore) TouchDevice(ctx context.Context, seen eas.DeviceSeen) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{seen.User, seen.DeviceID}
	d := s.devices[k]
	if d == nil {
		d = &eas.Device{User: seen.User, ID: seen.DeviceID, FirstSeen: seen.At}
		s.devices[k] = d
	}
	d.Type, d.UserAgent, d.Protocol, d.LastCommand, d.LastSeen = seen.DeviceType, seen.UserAgent, seen.Protocol, seen.Command, seen.At
	d.Requests++
	return nil
}

// recordingStore is a memStore that is an eas.RequestRecorder.
type recordingStore struct{ *memStore }

func (s recordingStore) RecordRequest(ctx context.Context, seen eas.DeviceSeen) (*eas.Device, error) {
	if err := s.TouchDevice(ctx, seen); err != nil {
		return nil, err
	}
	return s.Device(ctx, seen.User, seen.DeviceID)
}

// storeFor returns the gateway's store, as a RequestRecorder when record
// is set.
func (g *fakeGateway) storeFor(record bool) eas.Store {
	if record {
		return recordingStore{g.store}
	}
	return g.store
}

func (s *memStore) SetDeviceInfo(ctx context.Context, user, deviceID string, info eas.DeviceInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.dev(user, deviceID)
	if err == nil {
		d.Info = info
	}
	return err
}

func (s *memStore) SetPolicyKeys(ctx context.Context, user, deviceID string, pending, final uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.dev(user, deviceID)
	if err == nil {
		d.PendingPolicyKey, d.PolicyKey = pending, final
	}
	return err
}

func (s *memStore) RequestWipe(ctx context.Context, user, deviceID string, accountOnly bool, at time.Time) error {
	return errors.New("not supported")
}

func (s *memStore) AckWipe(ctx context.Context, user, deviceID string, status int, at time.Time) error {
	return nil
}

func (s *memStore) SetTrace(ctx context.Context, user, deviceID string, on bool) error { return nil }

func (s *memStore) RecordError(ctx context.Context, user, deviceID, msg string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.dev(user, deviceID)
	if err == nil {
		d.LastError, d.LastErrorAt = msg, at
	}
	return err
}

func (s *memStore) ResetDevice(ctx context.Context, user, deviceID string) error {
	return errors.New("not supported")
}

func (s *memStore) DeleteDevice(ctx context.Context, user, deviceID string) error {
	return errors.New("not supported")
}

func (s *memStore) FolderIDs(ctx context.Context, user string) ([]eas.FolderID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.folders[user]), nil
}

func (s *memStore) SaveFolderIDs(ctx context.Context, user string, ids []eas.FolderID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.folders[user] = slices.Clone(ids)
	return nil
}

func (s *memStore) NextFolderID(ctx context.Context, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters[user]++
	return strconv.Itoa(s.counters[user]), nil
}

func (s *memStore) DeviceState(ctx context.Context, user, deviceID, kind string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dstate[[3]string{user, deviceID, kind}]), nil
}

func (s *memStore) PutDeviceState(ctx context.Context, user, deviceID, kind string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dstate[[3]string{user, deviceID, kind}] = slices.Clone(data)
	return nil
}

func (s *memStore) CollectionState(ctx context.Context, user, deviceID, collectionID string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cstate[[3]string{user, deviceID, collectionID}]), nil
}

func (s *memStore) PutCollectionState(ctx context.Context, user, deviceID, collectionID string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cstate[[3]string{user, deviceID, collectionID}] = slices.Clone(data)
	return nil
}

func (s *memStore) DeleteCollectionState(ctx context.Context, user, deviceID, collectionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cstate, [3]string{user, deviceID, collectionID})
	return nil
}

func (s *memStore) CollectionIDs(ctx context.Context, user, deviceID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.cstate {
		if k[0] == user && k[1] == deviceID {
			out = append(out, k[2])
		}
	}
	return out, nil
}

func (s *memStore) MarkSent(ctx context.Context, user, deviceID, clientID string, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [3]string{user, deviceID, clientID}
	if s.sent[k] {
		return false, nil
	}
	s.sent[k] = true
	return true, nil
}

func (s *memStore) SentBefore(ctx context.Context, user, deviceID, clientID string, since time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[[3]string{user, deviceID, clientID}], nil
}
