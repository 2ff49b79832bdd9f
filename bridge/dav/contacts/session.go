package contacts

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/carddav"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/vcardconv"
	"github.com/easgate/easgate/eas"
)

// Session is one user's address books for one request.
type Session struct {
	c       *dav.Client
	home    string
	user    string
	windows *dav.Windows
	zone    *time.Location // Config.Zone
	log     *zap.Logger
	// books and whole (the cards of a book read whole) cache what the
	// request's lookups read.
	books []dav.Collection
	whole map[string][]vcard.Card
}

var (
	_ eas.Session    = (*Session)(nil)
	_ eas.ItemWriter = (*Session)(nil)
)

// Close does nothing: a DAV session holds no connection of its own.
func (s *Session) Close() error { return nil }

// Folders lists the address books, the default one as the Contacts folder.
// A user who has none gets one.
func (s *Session) Folders(ctx context.Context) ([]eas.Folder, error) {
	books, err := s.c.Collections(ctx, dav.AddressBooks, s.home)
	if err != nil {
		return nil, dav.EASError(err)
	}
	if len(books) == 0 {
		p := path.Join(s.home, NewBookName) + "/"
		if err := s.c.MakeCollection(ctx, dav.AddressBooks, p, "Contacts"); err != nil {
			return nil, dav.EASError(fmt.Errorf("make the first address book: %w", err))
		}
		s.log.Info("made the user's first address book", zap.String("path", p))
		if books, err = s.c.Collections(ctx, dav.AddressBooks, s.home); err != nil {
			return nil, dav.EASError(err)
		}
	}
	def, _ := dav.Default(books, DefaultNames...)
	out := make([]eas.Folder, 0, len(books))
	for _, b := range books {
		f := eas.Folder{Path: b.Path, Name: b.DisplayName(), Type: eas.FolderUserContacts}
		if b.Path == def.Path {
			f.Type = eas.FolderContacts
		}
		out = append(out, f)
	}
	return out, nil
}

// objectPath finds the object a ServerId names.
func (s *Session) objectPath(ctx context.Context, coll, id string) (string, error) {
	if !strings.HasPrefix(id, "~") {
		if id == "" || strings.ContainsAny(id, "/\\") || id == "." || id == ".." {
			return "", fmt.Errorf("contact %q: %w", id, eas.ErrNotFound)
		}
		return coll + id, nil
	}
	objs, err := s.c.List(ctx, coll)
	if err != nil {
		return "", dav.EASError(err)
	}
	for _, o := range objs {
		if dav.ServerID(o.Path) == id {
			return o.Path, nil
		}
	}
	return "", fmt.Errorf("contact %q: %w", id, eas.ErrNotFound)
}

// Changes returns what the phone lacks in one address book: one small
// request when nothing changed, one more to read the cards that did. A
// delta larger than the window is listed once and kept for the windows
// that follow.
func (s *Session) Changes(ctx context.Context, q eas.SyncQuery) (*eas.ChangeSet, error) {
	key := s.windowKey(q)
	d, err := s.windows.Delta(ctx, s.c, key, q.Path, q.Known, s.versionsOf(q.Path))
	if err != nil {
		return nil, err
	}
	if d, err = s.versioned(ctx, q.Path, d, q.Known); err != nil {
		return nil, err
	}
	all := dav.Diff(d, q.Known)
	cs := &eas.ChangeSet{Cursor: d.Cursor}
	window := all
	if q.Window > 0 && len(all) > q.Window {
		// The rest comes from the same delta next time: what the phone
		// got by then is in Known, so it is not sent twice.
		window, cs.More, cs.Cursor = all[:q.Window], true, q.Cursor
	}
	cards, err := s.read(ctx, q.Path, window)
	if err != nil {
		return nil, err
	}
	s.windows.Sent(key, d, window, versions(cards), q.Known, cs.More)
	opt := options(q.Body)
	for _, ch := range window {
		ic := eas.ItemChange{Kind: ch.Kind, ServerID: ch.ID, Version: ch.Version}
		if ch.Kind != eas.ChangeDelete {
			r, ok := cards[ch.Path]
			if !ok {
				// Deleted between the listing and the read: the next
				// sync sees it gone.
				continue
			}
			if v, ok := q.Known.Version(ch.ID); ch.Kind == eas.ChangeModify && ok && v == r.etag {
				// The phone wrote it since the listing: it holds this
				// version.
				continue
			}
			ic.Version = r.etag
			ic.Item, ic.Err = r.contact(opt)
			if ic.Err != nil {
				s.log.Warn("sending a contact read in part", zap.String("path", ch.Path), zap.Error(ic.Err))
			}
		}
		cs.Changes = append(cs.Changes, ic)
	}
	return cs, nil
}

// windowKey names the delta q takes in windows.
func (s *Session) windowKey(q eas.SyncQuery) dav.WindowKey {
	return dav.WindowKey{User: s.user, Path: q.Path, Cursor: q.Cursor}
}

// Pending counts the changes the phone lacks without reading any card.
func (s *Session) Pending(ctx context.Context, q eas.SyncQuery) (int, error) {
	d, err := s.windows.Delta(ctx, s.c, s.windowKey(q), q.Path, q.Known, s.versionsOf(q.Path))
	if err != nil {
		return 0, err
	}
	if d.Empty() {
		return 0, nil
	}
	if d, err = s.versioned(ctx, q.Path, d, q.Known); err != nil {
		return 0, err
	}
	return len(dav.Diff(d, q.Known)), nil
}

// options says how to show cards for the phone's body preferences: the
// note is plain text, cut where the phone's plain-text preference says.
func options(b eas.BodyOptions) vcardconv.Options {
	var opt vcardconv.Options
	for _, p := range b.Preferences {
		if p.Type == eas.BodyPlain {
			return vcardconv.Options{TruncationSize: p.TruncationSize}
		}
	}
	if len(b.Preferences) > 0 {
		opt.TruncationSize = b.Preferences[0].TruncationSize
	}
	return opt
}

// versions maps the paths of the cards read to their versions.
func versions(cards map[string]raw) map[string]string {
	out := make(map[string]string, len(cards))
	for p, r := range cards {
		out[p] = r.etag
	}
	return out
}

// raw is one card as the server has it.
type raw struct {
	data []byte
	etag string // its version: the ETag, or a digest (version.go)
}

func (r raw) contact(opt vcardconv.Options) (*eas.Contact, error) {
	card, err := vcardconv.Parse(r.data)
	if card == nil {
		return &eas.Contact{}, err
	}
	return vcardconv.ToContact(card, opt), err
}

// read gets the cards of the changes that need one: one multiget REPORT,
// or one GET per card when a broken card makes the server's answer or its
// parsing fail.
func (s *Session) read(ctx context.Context, coll string, changes []dav.Change) (map[string]raw, error) {
	var paths []string
	for _, ch := range changes {
		if ch.Kind != eas.ChangeDelete {
			paths = append(paths, ch.Path)
		}
	}
	out := make(map[string]raw, len(paths))
	if len(paths) == 0 {
		return out, nil
	}
	objs, err := s.c.CardDAV().MultiGetAddressBook(ctx, coll, &carddav.AddressBookMultiGet{
		Paths: paths, DataRequest: carddav.AddressDataRequest{AllProp: true}})
	if err == nil {
		for _, o := range objs {
			data, encErr := vcardconv.Encode(o.Card)
			if encErr != nil {
				err = encErr
				break
			}
			out[o.Path] = raw{data, version(o.ETag, o.Card, data)}
		}
		if err == nil {
			return out, nil
		}
	}
	if dav.Unreachable(ctx, err) {
		return nil, dav.EASError(err)
	}
	s.log.Debug("multiget failed, reading cards one by one", zap.Error(err))
	for _, p := range paths {
		data, etag, err := s.c.Get(ctx, p)
		switch {
		case dav.IsStatus(err, 404, 410):
			continue
		case err != nil:
			return nil, dav.EASError(err)
		}
		out[p] = raw{data, versionOf(etag, data)}
	}
	return out, nil
}

// Fetch reads one contact.
func (s *Session) Fetch(ctx context.Context, ref eas.ItemRef, body eas.BodyOptions) (eas.Item, error) {
	p, err := s.objectPath(ctx, ref.Path, ref.ServerID)
	if err != nil {
		return nil, err
	}
	data, etag, err := s.c.Get(ctx, p)
	if err != nil {
		return nil, dav.EASError(err)
	}
	c, err := raw{data, etag}.contact(options(body))
	if err != nil {
		s.log.Warn("fetched a contact read in part", zap.String("path", p), zap.Error(err))
	}
	return c, nil
}
