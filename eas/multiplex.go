package eas

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Phones that show one folder of a class.
//
// Some phones show only one folder of a class: one address book, one
// calendar. For them the user's folders of that class are merged into its
// default folder ("multiplexing"): FolderSync lists the default folder
// alone, a Sync of it brings the items of every folder of the class, and
// a phone's Change, Delete or Fetch goes to the folder the item came from;
// its Adds go to the default folder. The engine and the stores know
// nothing of it: the request's Session is wrapped in a muxSession that
// makes the folders of a class look like one.
//
// An item of the default folder keeps its own id, so that a phone that
// synced the folder before it had company keeps what it holds; an item of
// another folder gets the folder's tag in front ("<tag>/<id>"). No store's
// ids hold a '/' (DAV ids are file names; IMAP ids are UIDs), so the two
// never mix. The merged collection's cursor keeps one cursor per folder.

// ClientIdentity is what a request tells of the program that sent it: the
// DeviceId and DeviceType of its query and its HTTP User-Agent.
type ClientIdentity struct {
	DeviceID, DeviceType, UserAgent string
}

// oneFolderRule says which classes a client shows one folder of.
type oneFolderRule struct {
	match func(c ClientIdentity) bool
	one   []Class
}

var allPIM = []Class{ClassCalendar, ClassContacts, ClassTasks, ClassNotes}

// oneFolderRules are tried in order; the first that matches decides, and
// a client no rule matches shows every folder. The identity is in lower
// case. The strings are those the clients send (see TestOneFolderClasses
// for one real request of each); which clients show one folder of a
// class is what Horde's ActiveSync library found and keeps in its device
// profile (Horde_ActiveSync_Device::_sniffMultiplex).
var oneFolderRules = []oneFolderRule{
	// Android apps that send DeviceType "Android" yet are not Android's
	// own client, and show every folder: the Gmail app (User-Agent
	// "Android-Mail/…"), Nine ("Nine-…", DeviceId "Nine…") and TouchDown.
	{func(c ClientIdentity) bool {
		return strings.HasPrefix(c.UserAgent, "android-mail/") || isNine(c) ||
			strings.Contains(c.UserAgent, "touchdown")
	}, nil},
	// iOS (DeviceType iPhone/iPad/iPod, User-Agent "Apple-iPhone11C8/…",
	// or "iOS/…") shows every folder, notes included in current releases.
	{isIOS, nil},
	// Samsung's own client (DeviceType "SAMSUNGSGHI317M", User-Agent
	// "SAMSUNG-SGH-I317M/…" or "Android-SAMSUNG-…") and the HTC One mini 2
	// show one folder of each class.
	{func(c ClientIdentity) bool {
		return strings.HasPrefix(c.DeviceType, "samsung") || strings.HasPrefix(c.UserAgent, "samsung-") ||
			strings.HasPrefix(c.UserAgent, "android-samsung-") || c.DeviceType == "htconemini2"
	}, allPIM},
	// Android's own client (DeviceType "Android", User-Agent
	// "Android/5.0.1-EAS-2.0") shows every calendar from 4.4 on and one
	// folder of the other classes; before 4.4, one folder of each.
	{func(c ClientIdentity) bool { return isAndroidNative(c) && androidAtLeast44(c.UserAgent) },
		[]Class{ClassContacts, ClassTasks, ClassNotes}},
	{isAndroidNative, allPIM},
	// Windows Phone 8.10 ("MSFT-WP/8.10.14219") shows one address book;
	// 8.0 also one calendar.
	{func(c ClientIdentity) bool { return strings.HasPrefix(c.UserAgent, "msft-wp/8.1") }, []Class{ClassContacts}},
	{func(c ClientIdentity) bool {
		return strings.HasPrefix(c.UserAgent, "msft-wp/8.0") || c.DeviceType == "wp8"
	}, []Class{ClassCalendar, ClassContacts}},
	// Windows Mobile (DeviceType "PocketPC", User-Agent "MSFT-PPC/…")
	// shows one folder of each class.
	{func(c ClientIdentity) bool {
		return c.DeviceType == "pocketpc" || strings.HasPrefix(c.UserAgent, "msft-ppc/")
	}, allPIM},
	// Outlook 2013 to 365 over EAS (DeviceType "WindowsOutlook15" or
	// "WindowsOutlook", User-Agent "Outlook/16.0 (…)") shows one address
	// book. Outlook for iOS and Android ("Outlook-iOS-Android/1.0",
	// DeviceType "Outlook") is another client, left to the default.
	{func(c ClientIdentity) bool {
		return strings.HasPrefix(c.DeviceType, "windowsoutlook") || strings.HasPrefix(c.UserAgent, "outlook/")
	}, []Class{ClassContacts}},
}

// isNine tells the Nine app: User-Agent "Nine-…", or a DeviceId that
// starts with "Nine" as such or hex-encoded (the way Nine's makers told
// servers to recognise it, as Horde records).
func isNine(c ClientIdentity) bool {
	if strings.HasPrefix(c.UserAgent, "nine-") || strings.HasPrefix(c.DeviceID, "nine") {
		return true
	}
	id, err := hex.DecodeString(c.DeviceID)
	return err == nil && strings.HasPrefix(strings.ToLower(string(id)), "nine")
}

// isIOS tells Apple's own client (DeviceType iPhone/iPad/iPod,
// User-Agent "Apple-iPhone11C8/…" or "iOS/…") by its lower-case identity.
func isIOS(c ClientIdentity) bool {
	return c.DeviceType == "iphone" || c.DeviceType == "ipad" || c.DeviceType == "ipod" ||
		strings.HasPrefix(c.UserAgent, "apple-") || strings.HasPrefix(c.UserAgent, "ios/")
}

// lower is the identity in lower case, the form the client rules read.
func (c ClientIdentity) lower() ClientIdentity {
	return ClientIdentity{
		DeviceID:   strings.ToLower(c.DeviceID),
		DeviceType: strings.ToLower(c.DeviceType),
		UserAgent:  strings.ToLower(c.UserAgent),
	}
}

// isAndroidNative tells Android's own client, and any other client that
// sends DeviceType "Android" without saying which it is.
func isAndroidNative(c ClientIdentity) bool {
	return c.DeviceType == "android" || strings.HasPrefix(c.UserAgent, "android/")
}

// androidAtLeast44 reads the release from AOSP's User-Agent
// ("Android/4.4.2-EAS-1.3"); one it cannot read counts as recent.
func androidAtLeast44(ua string) bool {
	rel, ok := strings.CutPrefix(ua, "android/")
	if !ok {
		return true
	}
	rel, _, _ = strings.Cut(rel, "-")
	parts := strings.SplitN(rel, ".", 3)
	major, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil {
		return true
	}
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return major > 4 || major == 4 && minor >= 4
}

// OneFolderClasses returns the classes a client shows one folder of.
func OneFolderClasses(c ClientIdentity) []Class {
	low := c.lower()
	for _, r := range oneFolderRules {
		if r.match(low) {
			return slices.Clone(r.one)
		}
	}
	return nil
}

// clientIdentity is the identity the request's client gives.
func (r *request) clientIdentity() ClientIdentity {
	return ClientIdentity{DeviceID: r.q.DeviceID, DeviceType: r.q.DeviceType, UserAgent: r.http.UserAgent()}
}

// multiplexed wraps the request's mailbox for a device that shows one
// folder of some class.
func (r *request) multiplexed(mb Mailbox) Mailbox {
	if mb == nil || r.q == nil {
		return mb
	}
	one := OneFolderClasses(r.clientIdentity())
	if len(one) == 0 {
		return mb
	}
	return &muxSession{Mailbox: mb, one: one, cache: &r.s.listed, user: r.user}
}

// folderCache keeps each user's last folder list, so that a request that
// lists no folders (most Syncs, Pings) need not list them for a merged
// collection either. A list out of date shows as a member that is gone
// (see muxSession.retry); a new folder joins at the next listing
// (FolderSync, a Ping's check of the folder list).
type folderCache struct {
	mu sync.Mutex
	m  map[string]cachedFolders
}

type cachedFolders struct {
	folders    []Folder
	incomplete bool
}

func (c *folderCache) get(user string) (cachedFolders, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[user]
	return f, ok
}

func (c *folderCache) put(user string, f cachedFolders) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedFolders{}
	}
	c.m[user] = f
}

// watchedPaths are the folders whose changes are changes of the
// collection at path: for a merged one, every folder of its class. Only
// the mailbox of a client that shows one folder of a class merges
// (multiplexed), so it alone tells; the client rules are not read again
// for every folder a Ping watches. The wait has the mailbox open already.
func (r *request) watchedPaths(ctx context.Context, path string) []string {
	mb, err := r.mailbox(ctx)
	if err != nil {
		return []string{path}
	}
	ms, ok := mb.(*muxSession)
	if !ok {
		return []string{path}
	}
	g, err := ms.group(ctx, path)
	if err != nil || g == nil {
		return []string{path}
	}
	paths := make([]string, len(g.members))
	for i, m := range g.members {
		paths[i] = m.Path
	}
	return paths
}

// muxGroup is the folders of one class merged into its default folder.
type muxGroup struct {
	// members[0] is the default folder, with tag "".
	members []Folder
	tags    []string
	// incomplete: some folders of the class may exist but were not listed
	// (their upstream is down), so an item of an unknown tag is not gone.
	incomplete bool
}

// muxSession is a Session whose folders of the classes in one are merged.
type muxSession struct {
	Mailbox
	one   []Class
	cache *folderCache
	user  string
	// groups are the merged groups by default folder path; nil until the
	// folders are known, from the cache (fromCache) or listed.
	groups    map[string]*muxGroup
	hidden    map[string]bool
	fromCache bool
}

// folderTag is the short stable id of a merged folder in its items' ids.
func folderTag(path string) string {
	sum := sha256.Sum256([]byte(path))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:5]))
}

// Folders lists the default folder of each merged class in place of all
// the folders of that class.
func (s *muxSession) Folders(ctx context.Context) ([]Folder, error) {
	fs, err := s.Mailbox.Folders(ctx)
	if fs == nil && err != nil {
		return nil, err
	}
	var inc *FoldersIncompleteError
	errors.As(err, &inc)
	listed := cachedFolders{folders: fs, incomplete: inc != nil}
	s.cache.put(s.user, listed)
	s.build(listed)
	s.fromCache = false
	out := slices.DeleteFunc(slices.Clone(fs), func(f Folder) bool { return s.hidden[f.Path] || s.hidden[f.Parent] })
	return out, err
}

// build groups the folders of each class in s.one with its default folder.
func (s *muxSession) build(list cachedFolders) {
	s.groups, s.hidden = map[string]*muxGroup{}, map[string]bool{}
	for _, c := range s.one {
		var def *Folder
		var others []Folder
		for i, f := range list.folders {
			switch {
			case f.Type.Class() != c || f.Type == FolderRecipients:
			case f.Type.IsSpecial() && def == nil:
				def = &list.folders[i]
			default:
				others = append(others, f)
			}
		}
		if def == nil || len(others) == 0 {
			continue
		}
		g := &muxGroup{members: []Folder{*def}, tags: []string{""}, incomplete: list.incomplete}
		for _, f := range others {
			g.members = append(g.members, f)
			g.tags = append(g.tags, folderTag(f.Path))
			s.hidden[f.Path] = true
		}
		s.groups[def.Path] = g
	}
}

// group returns the merged group whose default folder is path, nil for a
// folder that merges nothing.
func (s *muxSession) group(ctx context.Context, path string) (*muxGroup, error) {
	if s.groups == nil {
		if list, ok := s.cache.get(s.user); ok {
			s.build(list)
			s.fromCache = true
		} else if _, err := s.Folders(ctx); err != nil && s.groups == nil {
			return nil, err
		}
	}
	return s.groups[path], nil
}

// retry reports whether a call that failed with err is worth one more
// try: the folders came from the cache, and a member may be gone since.
func (s *muxSession) retry(ctx context.Context, err error) bool {
	if !s.fromCache || !errors.Is(err, ErrNotFound) {
		return false
	}
	s.groups = nil
	if _, lerr := s.Folders(ctx); lerr != nil && s.groups == nil {
		return false
	}
	return true
}

// split returns the member an id of the merged collection names and the
// id in that folder; -1 for an id of a folder no longer merged.
func (g *muxGroup) split(id string) (int, string) {
	tag, rest, ok := strings.Cut(id, "/")
	if !ok {
		return 0, id
	}
	if i := slices.Index(g.tags, tag); i > 0 {
		return i, rest
	}
	return -1, id
}

func (g *muxGroup) join(i int, id string) string {
	if i == 0 {
		return id
	}
	return g.tags[i] + "/" + id
}

// muxCursor is the merged collection's cursor: one per member, by tag. A
// cursor the store made itself (the default folder's, before the folder
// was merged) is the default folder's.
type muxCursor map[string]string

const muxCursorPrefix = "mux:"

func parseMuxCursor(s string) muxCursor {
	rest, ok := strings.CutPrefix(s, muxCursorPrefix)
	if !ok {
		return muxCursor{"": s}
	}
	v, err := url.ParseQuery(rest)
	if err != nil {
		return muxCursor{}
	}
	c := muxCursor{}
	for k := range v {
		c[k] = v.Get(k)
	}
	return c
}

func (c muxCursor) String() string {
	v := url.Values{}
	for k, cur := range c {
		v.Set(k, cur)
	}
	return muxCursorPrefix + v.Encode()
}

// memberKnown is what the phone holds of one member, by the member's ids.
type memberKnown map[string]string

func (k memberKnown) Len() int { return len(k) }
func (k memberKnown) Version(id string) (string, bool) {
	v, ok := k[id]
	return v, ok
}
func (k memberKnown) Range(fn func(id, version string) bool) {
	for id, v := range k {
		if !fn(id, v) {
			return
		}
	}
}

// splitKnown sorts what the phone holds by member; orphans are the ids
// of folders no longer merged.
func (g *muxGroup) splitKnown(known KnownItems) ([]memberKnown, []string) {
	parts := make([]memberKnown, len(g.members))
	for i := range parts {
		parts[i] = memberKnown{}
	}
	var orphans []string
	if known == nil {
		return parts, nil
	}
	known.Range(func(id, v string) bool {
		if i, rest := g.split(id); i >= 0 {
			parts[i][rest] = v
		} else {
			orphans = append(orphans, id)
		}
		return true
	})
	slices.Sort(orphans)
	return parts, orphans
}

// Changes gathers the changes of every member in turn, within the window.
func (s *muxSession) Changes(ctx context.Context, q SyncQuery) (*ChangeSet, error) {
	cs, err := s.changes(ctx, q)
	if err != nil && s.retry(ctx, err) {
		return s.changes(ctx, q)
	}
	return cs, err
}

func (s *muxSession) changes(ctx context.Context, q SyncQuery) (*ChangeSet, error) {
	g, err := s.group(ctx, q.Path)
	if err != nil || g == nil {
		return s.Mailbox.Changes(ctx, q)
	}
	cur := parseMuxCursor(q.Cursor)
	known, orphans := g.splitKnown(q.Known)
	out := &ChangeSet{}
	room := func() int { return q.Window - len(out.Changes) }
	for i, m := range g.members {
		if q.Window > 0 && room() <= 0 {
			out.More = true
			break
		}
		sq := q
		sq.Path, sq.Cursor, sq.Known = m.Path, cur[g.tags[i]], known[i]
		if q.Window > 0 {
			sq.Window = room()
		}
		cs, err := s.Mailbox.Changes(ctx, sq)
		if err != nil {
			return nil, fmt.Errorf("merged folder %q: %w", m.Path, err)
		}
		for _, ch := range cs.Changes {
			ch.ServerID = g.join(i, ch.ServerID)
			out.Changes = append(out.Changes, ch)
		}
		cur[g.tags[i]] = cs.Cursor
		if cs.More {
			out.More = true
			break
		}
	}
	if !out.More && !g.incomplete {
		for _, id := range orphans {
			if q.Window > 0 && room() <= 0 {
				out.More = true
				break
			}
			out.Changes = append(out.Changes, ItemChange{Kind: ChangeDelete, ServerID: id})
		}
	}
	out.Cursor = cur.String()
	return out, nil
}

// Pending counts the changes of every member.
func (s *muxSession) Pending(ctx context.Context, q SyncQuery) (int, error) {
	n, err := s.pending(ctx, q)
	if err != nil && s.retry(ctx, err) {
		return s.pending(ctx, q)
	}
	return n, err
}

func (s *muxSession) pending(ctx context.Context, q SyncQuery) (int, error) {
	g, err := s.group(ctx, q.Path)
	if err != nil || g == nil {
		return s.Mailbox.Pending(ctx, q)
	}
	cur := parseMuxCursor(q.Cursor)
	known, orphans := g.splitKnown(q.Known)
	n := 0
	if !g.incomplete {
		n = len(orphans)
	}
	for i, m := range g.members {
		sq := q
		sq.Path, sq.Cursor, sq.Known = m.Path, cur[g.tags[i]], known[i]
		k, err := s.Mailbox.Pending(ctx, sq)
		if err != nil {
			return 0, fmt.Errorf("merged folder %q: %w", m.Path, err)
		}
		n += k
	}
	return n, nil
}

// route turns a reference to an item of a merged collection into one to
// the item in its own folder.
func (s *muxSession) route(ctx context.Context, ref ItemRef) (ItemRef, error) {
	g, err := s.group(ctx, ref.Path)
	if err != nil || g == nil {
		return ref, err
	}
	i, id := g.split(ref.ServerID)
	if i < 0 {
		return ref, fmt.Errorf("item %q of a folder no longer merged: %w", ref.ServerID, ErrNotFound)
	}
	cur := ""
	if ref.Cursor != "" {
		cur = parseMuxCursor(ref.Cursor)[g.tags[i]]
	}
	return ItemRef{Path: g.members[i].Path, ServerID: id, Cursor: cur}, nil
}

func (s *muxSession) Fetch(ctx context.Context, ref ItemRef, body BodyOptions) (Item, error) {
	r, err := s.route(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.Mailbox.Fetch(ctx, r, body)
}

func (s *muxSession) writer() (ItemWriter, error) {
	w, ok := s.Mailbox.(ItemWriter)
	if !ok {
		return nil, fmt.Errorf("store takes no writes: %w", ErrNotFound)
	}
	return w, nil
}

// AddItem stores a new item in the folder the phone named: for a merged
// collection, its default folder, whose ids are the collection's own.
func (s *muxSession) AddItem(ctx context.Context, path string, it Item) (string, string, error) {
	return s.AddNewItem(ctx, NewItem{Path: path, Item: it})
}

// AddNewItem is AddItem with the phone's version.
func (s *muxSession) AddNewItem(ctx context.Context, n NewItem) (string, string, error) {
	w, err := s.writer()
	if err != nil {
		return "", "", err
	}
	return addItem(ctx, w, n)
}

func (s *muxSession) ChangeItem(ctx context.Context, ref ItemRef, u ItemUpdate) (string, error) {
	w, err := s.writer()
	if err != nil {
		return "", err
	}
	r, err := s.route(ctx, ref)
	if err != nil {
		return "", err
	}
	return w.ChangeItem(ctx, r, u)
}

func (s *muxSession) DeleteItem(ctx context.Context, ref ItemRef) error {
	w, err := s.writer()
	if err != nil {
		return err
	}
	r, err := s.route(ctx, ref)
	if err != nil {
		return err
	}
	return w.DeleteItem(ctx, r)
}

func (s *muxSession) DeleteInstance(ctx context.Context, ref ItemRef, instance CompactTime) (string, error) {
	d, ok := s.Mailbox.(InstanceDeleter)
	if !ok {
		return "", fmt.Errorf("folder %q has no recurring events: %w", ref.Path, ErrInvalidItem)
	}
	r, err := s.route(ctx, ref)
	if err != nil {
		return "", err
	}
	return d.DeleteInstance(ctx, r, instance)
}

func (s *muxSession) CreateTypedFolder(ctx context.Context, parent, name string, t FolderType) (Folder, error) {
	w, ok := s.Mailbox.(FolderWriter)
	if !ok {
		return Folder{}, ErrFolderType
	}
	return w.CreateTypedFolder(ctx, parent, name, t)
}

func (s *muxSession) Lookup(ctx context.Context, query string, limit int) ([]Recipient, error) {
	if d, ok := s.Mailbox.(Directory); ok {
		return d.Lookup(ctx, query, limit)
	}
	return nil, nil
}

func (s *muxSession) RespondToMeeting(ctx context.Context, m MeetingReply) (*MeetingOutcome, error) {
	mr, ok := s.Mailbox.(MeetingResponder)
	if !ok {
		return nil, fmt.Errorf("no calendar store answers meetings: %w", ErrNotFound)
	}
	if m.Event != nil {
		ref, err := s.route(ctx, *m.Event)
		if err != nil {
			return nil, err
		}
		m.Event = &ref
	}
	out, err := mr.RespondToMeeting(ctx, m)
	if err != nil || out == nil || out.Path == "" {
		return out, err
	}
	// The event, in a folder merged into another, is named as the phone
	// sees it.
	if _, err := s.group(ctx, out.Path); err != nil {
		return out, nil
	}
	for def, g := range s.groups {
		for i, f := range g.members {
			if i > 0 && f.Path == out.Path {
				merged := *out
				merged.Path, merged.ServerID = def, g.join(i, out.ServerID)
				return &merged, nil
			}
		}
	}
	return out, nil
}
