package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"
)

// The demo's CardDAV paths: one principal, one home, one address book.
// go-webdav's handler tells them apart by depth: principal, home set,
// address book, card.
const (
	davPrincipal = "/demo/"
	davHome      = davPrincipal + "addressbooks/"
	davBook      = davHome + "contacts/"
)

// CardDAV is a running demo CardDAV server: the demo user's address book
// in memory, seeded with sample contacts, on 127.0.0.1 without TLS.
type CardDAV struct {
	// URL is the server's base URL ("http://127.0.0.1:port/").
	URL string

	srv  *http.Server
	done chan error
}

// StartCardDAV starts the demo CardDAV server. ctx bounds the start only;
// call Close to stop it.
func StartCardDAV(ctx context.Context) (*CardDAV, error) {
	b, err := newBookBackend(time.Now())
	if err != nil {
		return nil, fmt.Errorf("demo: seed contacts: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen for CardDAV: %w", err)
	}
	d := &CardDAV{URL: "http://" + ln.Addr().String() + "/", done: make(chan error, 1)}
	d.srv = &http.Server{Handler: demoLogin(collectionSlash(&carddav.Handler{Backend: b}, ".vcf")), ReadHeaderTimeout: 30 * time.Second}
	go func() { d.done <- d.srv.Serve(ln) }()
	return d, nil
}

// Close stops the server.
func (d *CardDAV) Close() error {
	err := d.srv.Close()
	if serr := <-d.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// demoLogin lets only the demo account in, as a real server would.
func demoLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(User)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(Password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="easgate demo"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// collectionSlash puts the trailing slash back on a collection's path:
// go-webdav's client leaves it off ("PROPFIND /demo"), and its handler
// finds the principal and the home set only under the paths the backend
// names. Objects end in objectExt (".vcf", ".ics").
func collectionSlash(next http.Handler, objectExt string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; !strings.HasSuffix(p, "/") && !strings.HasSuffix(p, objectExt) && !strings.HasPrefix(p, "/.well-known/") {
			r.URL.Path = p + "/"
		}
		next.ServeHTTP(w, r)
	})
}

// bookBackend is the demo user's address books in memory.
type bookBackend struct {
	mu    sync.Mutex
	books map[string]*carddav.AddressBook
	cards map[string]*carddav.AddressObject // by path
}

var _ carddav.Backend = (*bookBackend)(nil)

func newBookBackend(now time.Time) (*bookBackend, error) {
	b := &bookBackend{
		books: map[string]*carddav.AddressBook{davBook: {Path: davBook, Name: "Contacts", Description: "easgate demo contacts"}},
		cards: map[string]*carddav.AddressObject{},
	}
	for _, card := range sampleContacts() {
		p := davBook + card.Value(vcard.FieldUID) + ".vcf"
		if _, err := b.put(p, card, now); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func cardNotFound(what string) error {
	return webdav.NewHTTPError(http.StatusNotFound, fmt.Errorf("%s not found", what))
}

func (b *bookBackend) CurrentUserPrincipal(ctx context.Context) (string, error) {
	return davPrincipal, nil
}

func (b *bookBackend) AddressBookHomeSetPath(ctx context.Context) (string, error) {
	return davHome, nil
}

func (b *bookBackend) ListAddressBooks(ctx context.Context) ([]carddav.AddressBook, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []carddav.AddressBook
	for _, ab := range b.books {
		out = append(out, *ab)
	}
	slices.SortFunc(out, func(x, y carddav.AddressBook) int { return strings.Compare(x.Path, y.Path) })
	return out, nil
}

func (b *bookBackend) GetAddressBook(ctx context.Context, p string) (*carddav.AddressBook, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ab, ok := b.books[cardCollection(p)]
	if !ok {
		return nil, cardNotFound("address book " + p)
	}
	c := *ab
	return &c, nil
}

func (b *bookBackend) CreateAddressBook(ctx context.Context, ab *carddav.AddressBook) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := cardCollection(ab.Path)
	if !strings.HasPrefix(p, davHome) || p == davHome {
		return webdav.NewHTTPError(http.StatusForbidden, errors.New("address books live in the home set"))
	}
	if _, ok := b.books[p]; ok {
		return webdav.NewHTTPError(http.StatusMethodNotAllowed, errors.New("address book exists"))
	}
	c := *ab
	c.Path = p
	b.books[p] = &c
	return nil
}

func (b *bookBackend) DeleteAddressBook(ctx context.Context, p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	p = cardCollection(p)
	if _, ok := b.books[p]; !ok {
		return cardNotFound("address book " + p)
	}
	delete(b.books, p)
	for op := range b.cards {
		if cardCollection(path.Dir(op)) == p {
			delete(b.cards, op)
		}
	}
	return nil
}

func (b *bookBackend) GetAddressObject(ctx context.Context, p string, req *carddav.AddressDataRequest) (*carddav.AddressObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.cards[p]
	if !ok {
		return nil, cardNotFound("contact " + p)
	}
	c := *o
	return &c, nil
}

func (b *bookBackend) ListAddressObjects(ctx context.Context, p string, req *carddav.AddressDataRequest) ([]carddav.AddressObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p = cardCollection(p)
	if _, ok := b.books[p]; !ok {
		return nil, cardNotFound("address book " + p)
	}
	var out []carddav.AddressObject
	for op, o := range b.cards {
		if cardCollection(path.Dir(op)) == p {
			out = append(out, *o)
		}
	}
	slices.SortFunc(out, func(x, y carddav.AddressObject) int { return strings.Compare(x.Path, y.Path) })
	return out, nil
}

func (b *bookBackend) QueryAddressObjects(ctx context.Context, p string, q *carddav.AddressBookQuery) ([]carddav.AddressObject, error) {
	all, err := b.ListAddressObjects(ctx, p, &q.DataRequest)
	if err != nil {
		return nil, err
	}
	return carddav.Filter(q, all)
}

func (b *bookBackend) PutAddressObject(ctx context.Context, p string, card vcard.Card, opts *carddav.PutAddressObjectOptions) (*carddav.AddressObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.books[cardCollection(path.Dir(p))]; !ok {
		return nil, webdav.NewHTTPError(http.StatusConflict, errors.New("no such address book"))
	}
	old, exists := b.cards[p]
	if opts != nil {
		if opts.IfNoneMatch.IsWildcard() && exists {
			return nil, webdav.NewHTTPError(http.StatusPreconditionFailed, errors.New("contact exists"))
		}
		if opts.IfMatch.IsSet() {
			want, err := opts.IfMatch.ETag()
			if !exists || err != nil || (!opts.IfMatch.IsWildcard() && want != old.ETag) {
				return nil, webdav.NewHTTPError(http.StatusPreconditionFailed, errors.New("contact changed"))
			}
		}
	}
	return b.put(p, card, time.Now())
}

// put stores a card; the caller holds mu (or is the constructor).
func (b *bookBackend) put(p string, card vcard.Card, now time.Time) (*carddav.AddressObject, error) {
	var buf bytes.Buffer
	if err := vcard.NewEncoder(&buf).Encode(card); err != nil {
		return nil, webdav.NewHTTPError(http.StatusBadRequest, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	o := &carddav.AddressObject{Path: p, ModTime: now, ContentLength: int64(buf.Len()),
		ETag: hex.EncodeToString(sum[:12]), Card: card}
	b.cards[p] = o
	c := *o
	return &c, nil
}

func (b *bookBackend) DeleteAddressObject(ctx context.Context, p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.cards[p]; !ok {
		return cardNotFound("contact " + p)
	}
	delete(b.cards, p)
	return nil
}

// cardCollection is a collection path with its trailing slash.
func cardCollection(p string) string {
	return strings.TrimSuffix(p, "/") + "/"
}
