package dav

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"
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
	switch {
	case err == nil:
		return d, nil
	case token != "" && invalidToken(err):
		// The server forgot the token (RFC 6578 3.2): start over, and let
		// the caller find deletions against the full list.
		return c.syncDelta(ctx, collection, "")
	case token == "" && unsupported(err):
		return c.listingDelta(ctx, collection, "")
	}
	return Delta{}, err
}

func (c *Client) syncDelta(ctx context.Context, collection, token string) (Delta, error) {
	resp, err := c.card.SyncCollection(ctx, collection, &carddav.SyncQuery{SyncToken: token})
	if err != nil {
		return Delta{}, fmt.Errorf("dav: sync-collection %s: %w", collection, err)
	}
	if resp.SyncToken == "" {
		return Delta{}, fmt.Errorf("dav: sync-collection %s: %w", collection, errNoToken)
	}
	d := Delta{Full: token == "", Cursor: syncPrefix + resp.SyncToken, Deleted: resp.Deleted}
	for _, o := range resp.Updated {
		if o.Path == collection || strings.HasSuffix(o.Path, "/") {
			continue
		}
		d.Updated = append(d.Updated, Object{Path: o.Path, ETag: o.ETag})
	}
	slices.SortFunc(d.Updated, func(a, b Object) int { return strings.Compare(a.Path, b.Path) })
	return d, nil
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
