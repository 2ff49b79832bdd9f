package eas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/easgate/easgate/wbxml"
)

// Item identifiers.
//
// A phone sees an item as "<collection id>:<backend id>" (its ServerId), so
// that the id is unique across the account as some clients assume, and a
// ServerId sent for the wrong collection is recognised and refused instead
// of touching an item that happens to have the same backend id elsewhere.
// Collection ids are the user's folder ids: decimal numbers, never holding
// ':'. The backend id is everything after the first ':'.
//
// A LongId (Search results; ItemOperations, SmartReply and SmartForward
// accept it) has the same form today, but is parsed by its own function so
// that the two may diverge.

// itemServerID is the ServerId of backend item id in a collection.
func itemServerID(collectionID, id string) string { return collectionID + ":" + id }

// splitServerID returns the backend id of a ServerId the phone sent for
// collectionID; false when it belongs to another collection or is malformed.
func splitServerID(collectionID, serverID string) (string, bool) {
	id, ok := strings.CutPrefix(serverID, collectionID+":")
	if !ok || id == "" {
		return "", false
	}
	return id, true
}

// parseServerID splits a ServerId into collection and backend id.
func parseServerID(serverID string) (collectionID, id string, ok bool) {
	collectionID, id, ok = strings.Cut(serverID, ":")
	return collectionID, id, ok && collectionID != "" && id != ""
}

// maxLongID is the longest LongId MS-ASCMD allows.
const maxLongID = 256

// longID is the LongId of a search result.
func longID(collectionID, id string) string { return collectionID + ":" + id }

// errBadLongID is a LongId easgate did not issue.
var errBadLongID = errors.New("eas: malformed LongId")

// parseLongID returns the collection and backend id a LongId names.
func parseLongID(s string) (collectionID, id string, err error) {
	if len(s) > maxLongID {
		return "", "", errBadLongID
	}
	c, i, ok := parseServerID(s)
	if !ok {
		return "", "", errBadLongID
	}
	return c, i, nil
}

// emailForVersion returns the fields of e that protocol v knows. full marks
// a complete item (Sync Add, Fetch, search result), which always carries
// Importance: AOSP 2.x reads an absent Importance as low. e is not changed.
func emailForVersion(e *Email, v Version, full bool) *Email {
	if e == nil {
		return nil
	}
	c := *e
	if !v.AtLeast(V140) {
		c.ConversationID, c.ConversationIndex = nil, nil
		c.LastVerbExecuted, c.LastVerbExecutionTime = 0, time.Time{}
		c.ReceivedAsBcc, c.Sender = nil, ""
		c.Categories = nil
		if c.Body != nil && c.Body.Preview != "" {
			b := *c.Body
			b.Preview = ""
			c.Body = &b
		}
	}
	if !v.AtLeast(V160) {
		c.IsDraft, c.Bcc = nil, ""
	}
	if full && c.Importance == nil {
		normal := 1
		c.Importance = &normal
	}
	return &c
}

// legacyTruncation maps the 2.5-era AirSync Truncation codes, which old
// clients still put in Options, to bytes; 0 means the whole body.
var legacyTruncation = map[int]uint32{
	0: 1, 1: 512, 2: 1 << 10, 3: 2 << 10, 4: 5 << 10, 5: 10 << 10, 6: 20 << 10, 7: 50 << 10, 8: 100 << 10,
}

// mimeTruncation maps MIMETruncation codes to bytes; 0 means no truncation.
// Code 0 ("truncate everything") keeps one byte so that the body is still
// marked truncated and the phone fetches it when opened.
var mimeTruncation = map[int]uint32{
	0: 1, 1: 4 << 10, 2: 5 << 10, 3: 7 << 10, 4: 10 << 10, 5: 20 << 10, 6: 50 << 10, 7: 100 << 10,
}

// bodyOptions turns a request's body preferences into BodyOptions. Unknown
// body types are dropped, and a repeated type keeps its first preference.
func bodyOptions(prefs []BodyPreference, mimeSupport, mimeTrunc, legacyTrunc *int, v Version) BodyOptions {
	o := BodyOptions{Version: v}
	seen := map[int]bool{}
	for _, p := range prefs {
		if p.Type < BodyPlain || p.Type > BodyMIME || seen[p.Type] {
			continue
		}
		seen[p.Type] = true
		if !v.AtLeast(V140) {
			p.Preview = 0
		}
		p.Preview = min(max(p.Preview, 0), 255)
		o.Preferences = append(o.Preferences, p)
	}
	if len(o.Preferences) == 0 && legacyTrunc != nil {
		if n, ok := legacyTruncation[*legacyTrunc]; ok {
			o.Preferences = []BodyPreference{{Type: BodyPlain, TruncationSize: n}}
		}
	}
	if mimeSupport != nil && *mimeSupport >= 0 && *mimeSupport <= 2 {
		o.MIMESupport = *mimeSupport
	}
	if mimeTrunc != nil {
		o.MIMETruncation = mimeTruncation[*mimeTrunc]
	}
	return o
}

// decodeElement decodes a tree into v (a pointer to a struct), as if the
// element had been read from the wire.
func decodeElement(e *wbxml.Element, v any) error {
	b, err := e.Bytes()
	if err != nil {
		return err
	}
	d := wbxml.NewDecoder(b)
	t, err := d.Token()
	if err != nil {
		return err
	}
	return d.DecodeElement(t, v)
}

// toElement encodes v as an element with the given tag and returns the tree.
func toElement(tag wbxml.Tag, v any) (*wbxml.Element, error) {
	var buf bytes.Buffer
	enc := wbxml.NewEncoder(&buf)
	if err := enc.EncodeElement(tag, v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return wbxml.Parse(buf.Bytes())
}

var tagApplicationData = wbxml.MustLookup("AirSync", "ApplicationData")

// emailElements renders an item's fields as the children of a container
// other than ApplicationData (ItemOperations and Search Properties).
func emailElements(e *Email) ([]*wbxml.Element, error) {
	el, err := toElement(tagApplicationData, e)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return el.Children, nil
}

// emailFromElements reads item fields out of a container's children.
func emailFromElements(children []*wbxml.Element) (*Email, error) {
	var e Email
	if err := decodeElement(&wbxml.Element{Tag: tagApplicationData, Children: children}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// requestFolders caches what one request learns of the user's folders.
type requestFolders struct {
	r       *request
	folders []Folder
	loaded  bool
	trash   string
}

func newRequestFolders(r *request) *requestFolders {
	return &requestFolders{r: r}
}

func (f *requestFolders) load(ctx context.Context) error {
	if f.loaded {
		return nil
	}
	mb, err := f.r.mailbox(ctx)
	if err != nil {
		return err
	}
	fs, err := mb.Folders(ctx)
	if err != nil {
		return fmt.Errorf("list folders: %w", err)
	}
	f.folders, f.loaded = fs, true
	for _, x := range fs {
		if x.Type == FolderDeleted {
			f.trash = x.Path
			break
		}
	}
	return nil
}

// trashPath is the path of the Deleted Items folder, "" when there is none.
func (f *requestFolders) trashPath(ctx context.Context) (string, error) {
	if err := f.load(ctx); err != nil {
		return "", err
	}
	return f.trash, nil
}

// folderType is the type of the folder at path, ErrNotFound when there is
// none.
func (f *requestFolders) folderType(ctx context.Context, path string) (FolderType, error) {
	if err := f.load(ctx); err != nil {
		return 0, err
	}
	for _, x := range f.folders {
		if x.Path == path {
			return x.Type, nil
		}
	}
	return 0, fmt.Errorf("folder %q: %w", path, ErrNotFound)
}

// subtree returns path and every folder below it.
func (f *requestFolders) subtree(ctx context.Context, path string) ([]string, error) {
	if err := f.load(ctx); err != nil {
		return nil, err
	}
	children := map[string][]string{}
	for _, x := range f.folders {
		children[x.Parent] = append(children[x.Parent], x.Path)
	}
	out := []string{path}
	seen := map[string]bool{path: true}
	for i := 0; i < len(out); i++ {
		for _, c := range children[out[i]] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// collectionIDs maps backend paths to collection ids, assigning ids (as
// FolderSync would) to folders the stored map does not know yet.
type collectionIDs struct {
	s         *Server
	r         *request
	byPath    map[string]string
	byID      map[string]string
	refreshed bool
}

func (s *Server) newCollectionIDs(ctx context.Context, r *request) (*collectionIDs, error) {
	ids, err := s.store.FolderIDs(ctx, r.user)
	if err != nil {
		return nil, fmt.Errorf("read folder ids: %w", err)
	}
	c := &collectionIDs{s: s, r: r}
	c.fill(ids)
	return c, nil
}

func (c *collectionIDs) fill(ids []FolderID) {
	c.byPath, c.byID = map[string]string{}, map[string]string{}
	for _, f := range ids {
		c.byPath[f.Path] = f.ID
		c.byID[f.ID] = f.Path
	}
}

// path returns the backend path of a collection id or ErrNotFound.
func (c *collectionIDs) path(id string) (string, error) {
	if p, ok := c.byID[id]; ok {
		return p, nil
	}
	return "", ErrNotFound
}

// id returns the collection id of a backend path.
func (c *collectionIDs) id(ctx context.Context, path string) (string, error) {
	if id, ok := c.byPath[path]; ok {
		return id, nil
	}
	if c.refreshed {
		return "", ErrNotFound
	}
	c.refreshed = true
	mapped, err := c.s.folderMap(ctx, c.r)
	if err != nil {
		return "", err
	}
	c.byPath, c.byID = map[string]string{}, map[string]string{}
	for _, m := range mapped {
		c.byPath[m.Path] = m.ID
		c.byID[m.ID] = m.Path
	}
	if id, ok := c.byPath[path]; ok {
		return id, nil
	}
	return "", ErrNotFound
}

// parseRange reads an EAS "m-n" range (zero-based, inclusive).
func parseRange(s string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		return 0, 0, false
	}
	lo, err1 := atoiStrict(a)
	hi, err2 := atoiStrict(b)
	if err1 != nil || err2 != nil || lo < 0 || hi < lo {
		return 0, 0, false
	}
	return lo, hi, true
}

func atoiStrict(s string) (int, error) {
	if s == "" || len(s) > 10 {
		return 0, errors.New("bad number")
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("bad number")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}
