package contacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"

	"github.com/emersion/go-vcard"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/vcardconv"
	"github.com/easgate/easgate/eas"
)

// A card's version, which the phone holds and a later Sync compares, is
// its ETag. A server that gives none (no getetag in its listings, no ETag
// on GET) would make every card look changed on every Sync, so such a
// card's version is a digest of its content instead, as Z-Push's and
// Horde's stores fall back to a hash of the item: exact where a
// getlastmodified (one second, and not every server gives it) is not.
// The digest is of the card as parsed, so that line folding and the order
// of parameters, which the server may change on the way, do not count.

// digestPrefix starts a version that is a digest, never sent to the
// server as an ETag.
const digestPrefix = "#"

// version is the version of a card read: its ETag, or its digest when
// the server gave none.
func version(etag string, card vcard.Card, data []byte) string {
	if etag != "" {
		return etag
	}
	return digest(card, data)
}

// versionOf is the version of a card read raw.
func versionOf(etag string, data []byte) string {
	if etag != "" {
		return etag
	}
	card, _ := vcardconv.Parse(data)
	return digest(card, data)
}

// digest is the content version of a card; data stands in for a card
// that could not be parsed.
func digest(card vcard.Card, data []byte) string {
	h := sha256.New()
	if card == nil {
		h.Write(data)
	}
	keys := make([]string, 0, len(card))
	for k := range card {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, f := range card[k] {
			h.Write([]byte(f.Group + "\x00" + k + "\x00"))
			params := make([]string, 0, len(f.Params))
			for p := range f.Params {
				params = append(params, p)
			}
			sort.Strings(params)
			for _, p := range params {
				for _, v := range f.Params[p] {
					h.Write([]byte(p + "\x01" + v + "\x01"))
				}
			}
			h.Write([]byte("\x00" + f.Value + "\x02"))
		}
	}
	return digestPrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// readBatch bounds the cards one multiget reads to find their versions:
// the cards are only digested, not kept.
const readBatch = 100

// versioned gives the cards of d that the phone holds and the server gave
// no ETag their digest, read in multigets of readBatch; a card gone
// before it was read is listed deleted. Cards the phone lacks need no
// version to be told apart (they are Adds) and get theirs when their
// window reads them.
func (s *Session) versioned(ctx context.Context, coll string, d dav.Delta, known eas.KnownItems) (dav.Delta, error) {
	var bare []dav.Change
	for _, o := range d.Updated {
		if _, held := known.Version(dav.ServerID(o.Path)); held && o.ETag == "" {
			bare = append(bare, dav.Change{Kind: eas.ChangeModify, Path: o.Path})
		}
	}
	if len(bare) == 0 {
		return d, nil
	}
	got := make(map[string]string, len(bare))
	for batch := range slices.Chunk(bare, readBatch) {
		cards, err := s.read(ctx, coll, batch)
		if err != nil {
			return d, err
		}
		for p, r := range cards {
			got[p] = r.etag
		}
	}
	return dav.Refreshed(d, bare, got), nil
}
