package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/emersion/go-webdav"
)

// Kind is the flavour of DAV collection: address books or calendars.
type Kind int

const (
	// AddressBooks are CardDAV collections (RFC 6352).
	AddressBooks Kind = iota + 1
	// Calendars are CalDAV collections (RFC 4791), of events or tasks.
	Calendars
)

func (k Kind) wellKnown() string {
	if k == Calendars {
		return "/.well-known/caldav"
	}
	return "/.well-known/carddav"
}

// Collection is one address book or calendar of the user.
type Collection struct {
	// Path is the absolute path on the server, ending in '/'.
	Path string
	// Name is the display name; "" when the server has none.
	Name        string
	Description string
	// Components are the iCalendar components a calendar takes ("VEVENT",
	// "VTODO"); empty for address books, and for calendars that did not
	// say (RFC 4791: any).
	Components []string
	// TimeZone is a calendar's CALDAV:calendar-timezone (RFC 4791
	// 5.2.2): an iCalendar object with one VTIMEZONE, the zone of its
	// floating times and all-day items; "" when the server has none.
	TimeZone string
}

// Segment is the last path segment of the collection ("contacts").
func (c Collection) Segment() string { return path.Base(strings.TrimSuffix(c.Path, "/")) }

// DisplayName is Name, or the last path segment when the server has no
// name for it. Radicale gives a collection without a display name its
// path ("anna/contacts"), which is no name either.
func (c Collection) DisplayName() string {
	if c.Name != "" && c.Name != strings.Trim(c.Path, "/") {
		return c.Name
	}
	return c.Segment()
}

// Holds reports whether the calendar takes the component ("VEVENT").
func (c Collection) Holds(component string) bool {
	return len(c.Components) == 0 || slices.ContainsFunc(c.Components, func(s string) bool {
		return strings.EqualFold(s, component)
	})
}

// HomeSet finds the collection that holds the user's address books or
// calendars: the context path of RFC 6764 (/.well-known/carddav or caldav,
// when the configured URL is the bare server), the principal of RFC 5397,
// and its addressbook-home-set (RFC 6352) or calendar-home-set (RFC 4791).
func (c *Client) HomeSet(ctx context.Context, kind Kind) (string, error) {
	principal, err := c.principal(ctx, kind)
	if err != nil {
		return "", err
	}
	var home string
	if kind == Calendars {
		home, err = c.cal.FindCalendarHomeSet(ctx, principal)
	} else {
		home, err = c.card.FindAddressBookHomeSet(ctx, principal)
	}
	if err != nil {
		return "", fmt.Errorf("dav: home set of %s: %w", principal, err)
	}
	if home == "" {
		return "", fmt.Errorf("dav: principal %s names no home set", principal)
	}
	return home, nil
}

// principal finds the current-user-principal, first from the well-known
// URI when the configured URL has no path of its own, then from the URL.
func (c *Client) principal(ctx context.Context, kind Kind) (string, error) {
	if c.base.Path == "/" {
		wk := c.base.ResolveReference(&url.URL{Path: kind.wellKnown()})
		p, err := c.principalAt(ctx, wk, 3)
		if err == nil || errors.Is(err, ErrUnauthorized) || Temporary(err) {
			return p, err
		}
		// No well-known URI: servers (Radicale among them) answer on
		// the root as well.
	}
	return c.principalAt(ctx, c.base, 3)
}

func (c *Client) principalAt(ctx context.Context, u *url.URL, redirects int) (string, error) {
	wc, err := webdav.NewClient(c.http, u.String())
	if err != nil {
		return "", fmt.Errorf("dav: %w", err)
	}
	p, err := wc.FindCurrentUserPrincipal(ctx)
	var se *StatusError
	if errors.As(err, &se) && se.Code/100 == 3 && se.Location != "" && redirects > 0 {
		next, perr := u.Parse(se.Location)
		if perr != nil {
			return "", fmt.Errorf("dav: bad redirect from %s: %w", u.Path, perr)
		}
		return c.principalAt(ctx, next, redirects-1)
	}
	if err != nil {
		return "", fmt.Errorf("dav: current-user-principal at %s: %w", u.Path, err)
	}
	if p == "" {
		return "", fmt.Errorf("dav: %s names no current-user-principal", u.Path)
	}
	return p, nil
}

// Collections lists the address books or calendars in home, sorted by path.
func (c *Client) Collections(ctx context.Context, kind Kind, home string) ([]Collection, error) {
	var list []Collection
	if kind == Calendars {
		cals, err := c.calendars(ctx, home)
		if err != nil {
			return nil, fmt.Errorf("dav: calendars in %s: %w", home, err)
		}
		list = cals
	} else {
		books, err := c.card.FindAddressBooks(ctx, home)
		if err != nil {
			return nil, fmt.Errorf("dav: address books in %s: %w", home, err)
		}
		for _, b := range books {
			list = append(list, Collection{Path: dirPath(b.Path), Name: b.Name, Description: b.Description})
		}
	}
	slices.SortFunc(list, func(a, b Collection) int { return strings.Compare(a.Path, b.Path) })
	return list, nil
}

func dirPath(p string) string {
	if strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

// Default picks the default collection: the first whose last path segment
// is one of names, in the order of names (servers name it differently:
// Nextcloud "contacts", Baïkal "default", SOGo "personal"), else the first
// by path. ok is false for an empty list.
func Default(list []Collection, names ...string) (Collection, bool) {
	for _, n := range names {
		for _, c := range list {
			if strings.EqualFold(c.Segment(), n) {
				return c, true
			}
		}
	}
	if len(list) == 0 {
		return Collection{}, false
	}
	return list[0], true
}

// mkcol is the body of an extended MKCOL (RFC 5689), which go-webdav's
// Mkdir does not send: a plain MKCOL makes a collection that is neither an
// address book nor a calendar.
type mkcol struct {
	XMLName xml.Name  `xml:"DAV: mkcol"`
	Prop    mkcolProp `xml:"DAV: set>prop"`
}

type mkcolProp struct {
	ResourceType struct {
		Collection  struct{}  `xml:"DAV: collection"`
		AddressBook *struct{} `xml:"urn:ietf:params:xml:ns:carddav addressbook,omitempty"`
		Calendar    *struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar,omitempty"`
	} `xml:"DAV: resourcetype"`
	DisplayName string   `xml:"DAV: displayname,omitempty"`
	Components  *compSet `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set,omitempty"`
}

type compSet struct {
	Comp []struct {
		Name string `xml:"name,attr"`
	} `xml:"urn:ietf:params:xml:ns:caldav comp"`
}

// MakeCollection creates an address book or a calendar at path (a child of
// the home set) with a display name; a calendar takes the components given
// (none: the server's default).
func (c *Client) MakeCollection(ctx context.Context, kind Kind, path, name string, components ...string) error {
	var body mkcol
	body.Prop.DisplayName = name
	if kind == Calendars {
		body.Prop.ResourceType.Calendar = &struct{}{}
		if len(components) > 0 {
			body.Prop.Components = &compSet{}
			for _, comp := range components {
				body.Prop.Components.Comp = append(body.Prop.Components.Comp, struct {
					Name string `xml:"name,attr"`
				}{comp})
			}
		}
	} else {
		body.Prop.ResourceType.AddressBook = &struct{}{}
	}
	resp, err := c.sendXML(ctx, "MKCOL", dirPath(path), "", &body)
	if err != nil {
		return fmt.Errorf("dav: make collection %s: %w", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("dav: MKCOL %s: %s", path, resp.Status)
	}
	return nil
}
