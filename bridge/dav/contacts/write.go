package contacts

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/emersion/go-vcard"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/vcardconv"
	"github.com/easgate/easgate/eas"
)

// ErrInvalidContact wraps a phone's contact that cannot be stored as sent
// (a Picture too large or not base64): the phone gets Status 6, nothing is
// written.
var ErrInvalidContact = vcardconv.ErrInvalid

func asContact(it eas.Item) (*eas.Contact, error) {
	c, ok := it.(*eas.Contact)
	if !ok || c == nil {
		return nil, fmt.Errorf("%w: not a contact", ErrInvalidContact)
	}
	return c, nil
}

// AddItem stores a phone's new contact as a vCard 3.0 with a new UID,
// created only if no object has its name (If-None-Match: *).
func (s *Session) AddItem(ctx context.Context, coll string, it eas.Item) (string, string, error) {
	c, err := asContact(it)
	if err != nil {
		return "", "", err
	}
	uid := dav.NewUID()
	card, err := vcardconv.New(c, uid, vcardconv.Options{Zone: s.zone})
	if err != nil {
		return "", "", err
	}
	data, err := vcardconv.Encode(card)
	if err != nil {
		return "", "", err
	}
	p := coll + uid + ".vcf"
	etag, err := s.c.Put(ctx, p, vcard.MIMEType, data, "")
	if err != nil {
		return "", "", dav.EASError(err)
	}
	return dav.ServerID(p), s.written(ctx, p, etag), nil
}

// written is the version of a card just written: the ETag the server
// answered, or, from a server that gives none, the digest of the card as
// it stored it (which may differ from what was sent). The write is done
// whatever happens here: when the card cannot be read back, the version
// is "" and the phone gets the card once more at its next Sync.
func (s *Session) written(ctx context.Context, p, etag string) string {
	if etag != "" {
		return etag
	}
	data, etag, err := s.c.Get(ctx, p)
	if err != nil {
		s.log.Warn("reading back a card written to a server without ETags", zap.String("path", p), zap.Error(err))
		return ""
	}
	return versionOf(etag, data)
}

// ChangeItem writes a phone's change into the card as the server has it,
// rewriting only what EAS carries. The write happens only while the card
// is still the one read (If-Match); when another client changed it since
// the version the phone holds, the server's version wins (ErrConflict).
func (s *Session) ChangeItem(ctx context.Context, ref eas.ItemRef, u eas.ItemUpdate) (string, error) {
	c, err := asContact(u.Item)
	if err != nil {
		return "", err
	}
	p, err := s.objectPath(ctx, ref.Path, ref.ServerID)
	if err != nil {
		return "", err
	}
	data, etag, err := s.c.Get(ctx, p)
	if err != nil {
		return "", dav.EASError(err)
	}
	card, perr := vcardconv.Parse(data)
	v := version(etag, card, data)
	if u.Known != "" && v != u.Known {
		return "", fmt.Errorf("%w: %s is at %s, the phone holds %s", eas.ErrConflict, p, v, u.Known)
	}
	if card == nil {
		return "", fmt.Errorf("%s cannot be read to apply a change: %w", p, perr)
	}
	if perr != nil {
		// What could not be read would be lost by writing the card back.
		s.log.Warn("changing a contact read in part", zap.String("path", p), zap.Error(perr))
	}
	ghosted := func(el string) bool { return slices.Contains(u.Ghosted, el) }
	changed, err := vcardconv.Apply(card, c, vcardconv.Options{Zone: s.zone}, ghosted)
	if err != nil {
		return "", err
	}
	if !changed {
		return v, nil
	}
	out, err := vcardconv.Encode(card)
	if err != nil {
		return "", err
	}
	// With no ETag to match, the digest compared above is the check,
	// short of a write by another client in between.
	newTag, err := s.c.Replace(ctx, p, vcard.MIMEType, out, etag)
	if err != nil {
		return "", dav.EASError(err)
	}
	return s.written(ctx, p, newTag), nil
}

// DeleteItem removes a contact; one that is gone already is no error.
func (s *Session) DeleteItem(ctx context.Context, ref eas.ItemRef) error {
	p, err := s.objectPath(ctx, ref.Path, ref.ServerID)
	if errors.Is(err, eas.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return dav.EASError(s.c.Delete(ctx, p, ""))
}
