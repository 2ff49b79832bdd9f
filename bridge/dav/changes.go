package dav

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/emersion/go-webdav"
)

// Delta is what changed in a collection since a cursor. Callers compare
// Updated against the ETags they hold, so an object listed that they
// already have in that version is no change: both strategies may list
// more than changed.
type Delta struct {
	// Updated are the objects added or changed since the cursor; with
	// Full, every object of the collection.
	Updated []Object
	// Deleted are the paths of objects removed since the cursor.
	Deleted []string
	// Gone are the ServerIDs of more objects removed: what a full delta
	// did not list of what the phone held, once it is kept for later
	// windows (Windows.Keep).
	Gone []string
	// Full says Updated lists the whole collection: a known object not in
	// it is gone.
	Full bool
	// Cursor is where the next Changes starts once the caller holds all of
	// this delta. It is this package's own (a sync-token or a digest of
	// the listing).
	Cursor string
	// listed: a full delta kept for later windows (Windows.Keep), whose
	// Gone are one phone's; what another phone holds that it neither
	// lists nor deletes is to be found (Settled).
	listed bool
}

// Empty reports whether nothing changed.
func (d Delta) Empty() bool {
	return !d.Full && len(d.Updated) == 0 && len(d.Deleted) == 0 && len(d.Gone) == 0
}

const (
	syncPrefix = "sync:"
	etagPrefix = "etag:"
)

// Changes finds what changed in the collection since cursor ("" for the
// first time). It is the one change-detection strategy of CardDAV and
// CalDAV: an RFC 6578 sync-collection REPORT where the server offers it,
// else a Depth 1 PROPFIND compared by ETags. Either way, a collection with
// nothing new costs one small request.
func (c *Client) Changes(ctx context.Context, collection, cursor string) (Delta, error) {
	if strings.HasPrefix(cursor, etagPrefix) || c.noSync {
		return c.listingDelta(ctx, collection, cursor)
	}
	token := strings.TrimPrefix(cursor, syncPrefix)
	d, err := c.syncDelta(ctx, collection, token)
	if token != "" && invalidToken(err) {
		// The server forgot the token (RFC 6578 3.2): start over, and let
		// the caller find deletions against the full list. The fresh
		// start falls back as a first sync does.
		token = ""
		d, err = c.syncDelta(ctx, collection, "")
	}
	switch {
	case err == nil:
		return d, nil
	case token == "" && unsupported(err):
		return c.listingDelta(ctx, collection, "")
	case errors.Is(err, errSyncTruncated):
		// A server that truncates and cannot say where to go on would
		// fail this collection on every Sync; its full listing, compared
		// by ETags, still gives the phone everything. The cursor is then
		// the listing's, and so are the later deltas.
		return c.listingDelta(ctx, collection, "")
	}
	return Delta{}, err
}

// maxSyncRounds bounds the REPORTs one Changes sends to a server that
// truncates its answers (RFC 6578 3.6): at a few hundred objects a round,
// enough for any address book or calendar.
const maxSyncRounds = 100

// errSyncTruncated is a truncated answer that cannot be continued: no
// new token, the token sent, or more rounds than maxSyncRounds. Changes
// then lists the collection instead.
var errSyncTruncated = errors.New("dav: sync-collection answer truncated")

// syncDelta asks for the changes since token ("" for all) and, while the
// server truncates its answer, for the rest from the token it gave.
func (c *Client) syncDelta(ctx context.Context, collection, token string) (Delta, error) {
	m := syncMerge{updated: map[string]Object{}, deleted: map[string]bool{}}
	sent := token
	for range maxSyncRounds {
		page, err := c.syncReport(ctx, collection, sent)
		if err != nil {
			return Delta{}, fmt.Errorf("dav: sync-collection %s: %w", collection, err)
		}
		m.add(page)
		switch {
		case !page.Truncated && page.Token == "":
			return Delta{}, fmt.Errorf("dav: sync-collection %s: %w", collection, errNoToken)
		case !page.Truncated:
			return m.delta(token == "", page.Token), nil
		case page.Token == "" || page.Token == sent:
			// Sending the same again would get the same answer.
			return Delta{}, fmt.Errorf("%w: %s: no new token to go on from", errSyncTruncated, collection)
		}
		sent = page.Token
	}
	return Delta{}, fmt.Errorf("%w: %s: still truncated after %d rounds", errSyncTruncated, collection, maxSyncRounds)
}

// syncMerge gathers the answers of a truncated sync: a later answer's
// entry for a path wins over an earlier one's.
type syncMerge struct {
	updated map[string]Object
	deleted map[string]bool
}

func (m syncMerge) add(p syncPage) {
	for _, o := range p.Updated {
		m.updated[o.Path] = o
		delete(m.deleted, o.Path)
	}
	for _, path := range p.Deleted {
		m.deleted[path] = true
		delete(m.updated, path)
	}
}

// delta is what the answers add up to, sorted by path.
func (m syncMerge) delta(full bool, token string) Delta {
	d := Delta{Full: full, Cursor: syncPrefix + token}
	for _, o := range m.updated {
		d.Updated = append(d.Updated, o)
	}
	for p := range m.deleted {
		d.Deleted = append(d.Deleted, p)
	}
	slices.SortFunc(d.Updated, func(a, b Object) int { return strings.Compare(a.Path, b.Path) })
	slices.Sort(d.Deleted)
	return d
}

var errNoToken = &StatusError{Method: "REPORT", Code: http.StatusNotImplemented, Body: "no sync-token in the answer"}

// invalidToken: RFC 6578 has the server refuse a token it no longer knows
// with 403 and DAV:valid-sync-token; some answer 409 or 400 instead.
func invalidToken(err error) bool {
	return IsStatus(err, http.StatusForbidden, http.StatusConflict, http.StatusBadRequest,
		http.StatusPreconditionFailed, http.StatusInsufficientStorage)
}

// unsupported: a server without sync-collection rejects the REPORT in
// one of these ways.
func unsupported(err error) bool {
	return IsStatus(err, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity,
		http.StatusNotImplemented)
}

// listingDelta lists every object with its ETag. The cursor is a digest of
// the listing, so that a collection that did not change gives an empty
// delta. An object the server gives no ETag is digested by its
// getlastmodified and getcontentlength, which tell all but a change of the
// same size within the same second (HTTP dates count seconds); one
// without either makes every delta full, for the caller to compare by
// content.
func (c *Client) listingDelta(ctx context.Context, collection, cursor string) (Delta, error) {
	infos, err := c.readDir(ctx, collection)
	if err != nil {
		return Delta{}, err
	}
	objs := make([]Object, 0, len(infos))
	sum := sha256.New()
	stamped := true
	for _, fi := range infos {
		objs = append(objs, Object{Path: fi.Path, ETag: fi.ETag})
		stamp := fi.ETag
		if stamp == "" {
			stamp = fmt.Sprintf("\x01%d/%d", fi.ModTime.Unix(), fi.Size)
			stamped = stamped && !fi.ModTime.IsZero()
		}
		fmt.Fprintf(sum, "%s\x00%s\x00", fi.Path, stamp)
	}
	next := etagPrefix + hex.EncodeToString(sum.Sum(nil)[:16])
	if next == cursor && stamped {
		return Delta{Cursor: cursor}, nil
	}
	return Delta{Updated: objs, Full: true, Cursor: next}, nil
}

// List lists the objects of a collection with their ETags, sorted by path.
func (c *Client) List(ctx context.Context, collection string) ([]Object, error) {
	infos, err := c.readDir(ctx, collection)
	if err != nil {
		return nil, err
	}
	objs := make([]Object, 0, len(infos))
	for _, fi := range infos {
		objs = append(objs, Object{Path: fi.Path, ETag: fi.ETag})
	}
	return objs, nil
}

// readDir lists the objects of a collection, sorted by path.
func (c *Client) readDir(ctx context.Context, collection string) ([]webdav.FileInfo, error) {
	infos, err := c.card.ReadDir(ctx, collection, false)
	if err != nil {
		return nil, fmt.Errorf("dav: list %s: %w", collection, err)
	}
	infos = slices.DeleteFunc(infos, func(fi webdav.FileInfo) bool { return fi.IsDir })
	slices.SortFunc(infos, func(a, b webdav.FileInfo) int { return strings.Compare(a.Path, b.Path) })
	return infos, nil
}
