package contacts

import (
	"context"
	"sort"

	"github.com/emersion/go-vcard"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/vcardconv"
	"github.com/easgate/easgate/eas"
)

// A card's version is its ETag, or a digest of the card as parsed when
// the server gives none (dav.Digest says why).

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
	d := dav.NewDigest()
	if card == nil {
		d.Raw(data)
	}
	keys := make([]string, 0, len(card))
	for k := range card {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, f := range card[k] {
			d.Property(f.Group, k, f.Params, f.Value)
		}
	}
	return d.Version()
}

// versioned gives the cards of d that the phone holds and the server gave
// no ETag their digest (dav.Versioned).
func (s *Session) versioned(ctx context.Context, coll string, d dav.Delta, known eas.KnownItems) (dav.Delta, error) {
	return dav.Versioned(ctx, d, dav.Held(known), s.versionsOf(coll))
}

// versionsOf reads cards of coll for their versions.
func (s *Session) versionsOf(coll string) dav.ReadVersions {
	return func(ctx context.Context, batch []dav.Change) (map[string]string, error) {
		cards, err := s.read(ctx, coll, batch)
		if err != nil {
			return nil, err
		}
		return versions(cards), nil
	}
}
