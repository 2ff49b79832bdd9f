package contacts

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/carddav"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/vcardconv"
	"github.com/easgate/easgate/eas"
)

var _ eas.Directory = (*Session)(nil)

// maxPhoto is the largest photo a lookup keeps; the engine cuts to what
// the phone asked for.
const maxPhoto = 1 << 20

// searched are the properties a lookup's text-match looks in. Not N:
// Radicale 3.1 fails the whole REPORT (500) on a text-match against a
// structured property, and FN holds the same names.
var searched = []string{vcard.FieldFormattedName, vcard.FieldEmail, vcard.FieldNickname}

// Lookup finds the people of every address book that query matches (see
// eas.Recipient.Matches). The server narrows the cards with an
// addressbook-query REPORT (a text-match on FN, N, EMAIL and NICKNAME);
// the matching is then done here, so that a server whose text-match is
// looser than asked changes nothing. A book where the REPORT finds no one,
// or that the server answers the REPORT for with an error, is read whole
// (once per request) and matched here.
func (s *Session) Lookup(ctx context.Context, query string, limit int) ([]eas.Recipient, error) {
	words := strings.Fields(query)
	if len(words) == 0 {
		return nil, nil
	}
	books, err := s.addressBooks(ctx)
	if err != nil {
		return nil, err
	}
	var out []eas.Recipient
	for _, b := range books {
		cards, err := s.query(ctx, b.Path, words[0])
		if err != nil {
			return nil, err
		}
		found := matches(cards, query)
		if len(found) == 0 {
			// Servers built on go-webdav compare case-sensitively
			// whatever the collation: "tommy" misses "Tommy". What the
			// query missed is looked for in the whole book.
			if cards, err = s.all(ctx, b.Path); err != nil {
				return nil, err
			}
			found = matches(cards, query)
		}
		out = append(out, found...)
	}
	slices.SortStableFunc(out, func(a, b eas.Recipient) int {
		return strings.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name()))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// addressBooks lists the books once per session: a ResolveRecipients of
// several To looks each up.
func (s *Session) addressBooks(ctx context.Context) ([]dav.Collection, error) {
	if s.books != nil {
		return s.books, nil
	}
	books, err := s.c.Collections(ctx, dav.AddressBooks, s.home)
	if err != nil {
		return nil, dav.EASError(err)
	}
	s.books = books
	return books, nil
}

// query returns the cards of one book that the server finds for word.
func (s *Session) query(ctx context.Context, book, word string) ([]vcard.Card, error) {
	q := &carddav.AddressBookQuery{
		DataRequest: carddav.AddressDataRequest{AllProp: true},
		FilterTest:  carddav.FilterAnyOf,
	}
	for _, name := range searched {
		q.PropFilters = append(q.PropFilters, carddav.PropFilter{Name: name,
			TextMatches: []carddav.TextMatch{{Text: word, MatchType: carddav.MatchContains}}})
	}
	objs, err := s.c.CardDAV().QueryAddressBook(ctx, book, q)
	if err == nil {
		cards := make([]vcard.Card, 0, len(objs))
		for _, o := range objs {
			cards = append(cards, o.Card)
		}
		return cards, nil
	}
	// Only an answer is worth another try: a server that could not be
	// reached will not be for the listing either.
	var se *dav.StatusError
	if !errors.As(err, &se) || errors.Is(err, dav.ErrUnauthorized) || ctx.Err() != nil {
		return nil, dav.EASError(fmt.Errorf("query address book %s: %w", book, err))
	}
	s.log.Debug("addressbook-query refused, reading the book whole", zap.String("book", book), zap.Error(err))
	return s.all(ctx, book)
}

// matches are the people of cards that query matches.
func matches(cards []vcard.Card, query string) []eas.Recipient {
	var out []eas.Recipient
	for _, card := range cards {
		if r := recipient(card); r.Matches(query) {
			out = append(out, r)
		}
	}
	return out
}

// all reads every card of a book, once per session.
func (s *Session) all(ctx context.Context, book string) ([]vcard.Card, error) {
	if cards, ok := s.whole[book]; ok {
		return cards, nil
	}
	objs, err := s.c.List(ctx, book)
	if err != nil {
		return nil, dav.EASError(err)
	}
	changes := make([]dav.Change, len(objs))
	for i, o := range objs {
		changes[i] = dav.Change{Kind: eas.ChangeAdd, Path: o.Path}
	}
	raws, err := s.read(ctx, book, changes)
	if err != nil {
		return nil, err
	}
	cards := []vcard.Card{}
	for _, ch := range changes {
		if r, ok := raws[ch.Path]; ok {
			if card, _ := vcardconv.Parse(r.data); card != nil {
				cards = append(cards, card)
			}
		}
	}
	if s.whole == nil {
		s.whole = map[string][]vcard.Card{}
	}
	s.whole[book] = cards
	return cards, nil
}

// recipient shows a card as the engine's lookups see it.
func recipient(card vcard.Card) eas.Recipient {
	c := vcardconv.ToContact(card, vcardconv.Options{PictureMaxSize: maxPhoto})
	r := eas.Recipient{
		Type:        eas.RecipientContact,
		DisplayName: strings.TrimSpace(card.PreferredValue(vcard.FieldFormattedName)),
		FirstName:   c.FirstName, LastName: c.LastName, Alias: c.NickName,
		Phone: c.BusinessPhoneNumber, HomePhone: c.HomePhoneNumber, MobilePhone: c.MobilePhoneNumber,
		Office: c.OfficeLocation, Title: c.JobTitle, Company: c.CompanyName,
	}
	for _, e := range []string{c.Email1Address, c.Email2Address, c.Email3Address} {
		if e != "" {
			r.Emails = append(r.Emails, e)
		}
	}
	if c.Picture != "" {
		if data, err := base64.StdEncoding.DecodeString(c.Picture); err == nil {
			r.Picture = data
		}
	}
	return r
}
