package eas

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Address-book lookups.
//
// ResolveRecipients and the GAL store of Search look people up by what a
// user types in a recipient field: a first or last name, a display name,
// an address, or the start of any of them. A session that can answer them
// implements Directory; without one only the user's own address is known.

// Directory looks people up in the user's address books. A Session may
// implement it; Combine's session does, asking every upstream that does.
type Directory interface {
	// Lookup returns up to limit people that query matches (see
	// Recipient.Matches), in a stable order. limit <= 0 means no limit.
	Lookup(ctx context.Context, query string, limit int) ([]Recipient, error)
}

// RecipientType says where a recipient was found (MS-ASCMD 2.2.3.186.5).
type RecipientType int

// Recipient types.
const (
	RecipientGAL     RecipientType = 1
	RecipientContact RecipientType = 2
)

// Recipient is one person an address book knows.
type Recipient struct {
	Type        RecipientType
	DisplayName string
	FirstName   string
	LastName    string
	// Alias is the nickname.
	Alias string
	// Emails are the person's addresses, the preferred one first.
	Emails      []string
	Phone       string // work
	HomePhone   string
	MobilePhone string
	Office      string
	Title       string // job title
	Company     string
	// Picture is the photo as stored (JPEG, PNG…); nil for none.
	Picture []byte
}

// Name is the name to show: the display name, else first and last name,
// else the first address.
func (r *Recipient) Name() string {
	if r.DisplayName != "" {
		return r.DisplayName
	}
	if n := strings.TrimSpace(r.FirstName + " " + r.LastName); n != "" {
		return n
	}
	if len(r.Emails) > 0 {
		return r.Emails[0]
	}
	return ""
}

// Matches reports whether query finds r the way Exchange's ambiguous name
// resolution does: the query, case folded, starts the display name, a word
// of a name, the alias, or an address (or its local part); a query of
// several words must start the display name or "First Last"/"Last First".
func (r *Recipient) Matches(query string) bool {
	q := foldQuery(query)
	return q != "" && (r.nameMatch(q) || r.addressMatch(q) != "")
}

// foldQuery is a query as the matchers take it.
func foldQuery(query string) string {
	return strings.ToLower(strings.Join(strings.Fields(query), " "))
}

// nameMatch reports whether the folded query q starts one of r's names.
func (r *Recipient) nameMatch(q string) bool {
	names := []string{r.DisplayName, r.Alias,
		r.FirstName + " " + r.LastName, r.LastName + " " + r.FirstName}
	for _, n := range names {
		if hasWordPrefix(strings.ToLower(n), q) {
			return true
		}
	}
	return false
}

// addressMatch returns the first of r's addresses that the folded query q
// starts, "" for none.
func (r *Recipient) addressMatch(q string) string {
	for _, e := range r.Emails {
		if strings.HasPrefix(strings.ToLower(e), q) {
			return e
		}
	}
	return ""
}

// hasWordPrefix reports whether q starts s or one of its words (after a
// space, dot, hyphen or comma).
func hasWordPrefix(s, q string) bool {
	s = strings.Join(strings.Fields(s), " ")
	for {
		if strings.HasPrefix(s, q) {
			return true
		}
		i := strings.IndexAny(s, " .-,")
		if i < 0 {
			return false
		}
		s = s[i+1:]
	}
}

// maxDirectoryResults bounds what one lookup reads: no phone shows more,
// and the counts phones get (Total, RecipientCount) stop there.
const maxDirectoryResults = 1000

// lookup asks the session's directory, if it has one, and adds the user's
// own address, which is known without any.
func (r *request) lookup(ctx context.Context, query string) ([]Recipient, error) {
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	var found []Recipient
	if d, ok := mb.(Directory); ok {
		if found, err = d.Lookup(ctx, query, maxDirectoryResults); err != nil {
			// Not wrapped: an address-book server that refuses the
			// login the mail server took must not log the phone out.
			return nil, fmt.Errorf("directory lookup: %v", err)
		}
	}
	self := Recipient{Type: RecipientGAL, Emails: []string{mb.PrimaryAddress()}}
	if self.Emails[0] != "" && self.Matches(query) && !slices.ContainsFunc(found, func(f Recipient) bool {
		return slices.ContainsFunc(f.Emails, func(e string) bool { return strings.EqualFold(e, self.Emails[0]) })
	}) {
		found = append(found, self)
	}
	slices.SortStableFunc(found, func(a, b Recipient) int {
		return strings.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name()))
	})
	return found, nil
}

// Lookup asks the mail store and every other upstream that is a Directory
// and returns what they found, in that order. An upstream that fails is
// left out while another answers; the error is returned only when none
// could.
func (s *combinedSession) Lookup(ctx context.Context, query string, limit int) ([]Recipient, error) {
	var found []Recipient
	var errs []error
	asked := 0
	ask := func(d Directory) {
		asked++
		rs, err := d.Lookup(ctx, query, limit)
		if err != nil {
			errs = append(errs, err)
			return
		}
		found = append(found, rs...)
	}
	if d, ok := s.Mailbox.(Directory); ok {
		ask(d)
	}
	for i, u := range s.c.ups {
		if len(u.Classes) > 0 && !slices.Contains(u.Classes, ClassContacts) {
			// A calendar server that is down must not fail the
			// lookup: it holds no addresses.
			continue
		}
		se, err := s.session(ctx, i)
		if err != nil {
			asked++
			errs = append(errs, err)
			continue
		}
		if d, ok := se.(Directory); ok {
			ask(d)
		}
	}
	if len(errs) > 0 && len(errs) == asked {
		return nil, errors.Join(errs...)
	}
	if limit > 0 && len(found) > limit {
		found = found[:limit]
	}
	return found, nil
}
