package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
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

// The demo's CardDAV server: the demo user's address book in memory,
// served by go-webdav's CardDAV handler.

// Address book paths of the demo user.
const (
	cardHome = "/" + User + "/addressbooks/"
	cardBook = cardHome + "contacts/"
)

// CardDAV is a running demo CardDAV server.
type CardDAV struct {
	// URL is the server's base URL (http://127.0.0.1:port/).
	URL string
	srv *http.Server
}

// StartCardDAV seeds the demo address book and serves it on a free port
// of 127.0.0.1, for the demo credentials only.
func StartCardDAV() (*CardDAV, error) {
	store := &cardStore{objects: map[string]*storedObject{},
		books: []carddav.AddressBook{{Path: cardBook, Name: "Contacts"}}}
	for name, text := range sampleContacts() {
		card, err := vcard.NewDecoder(strings.NewReader(text)).Decode()
		if err != nil {
			return nil, fmt.Errorf("demo: sample %s: %w", name, err)
		}
		if _, err := store.put(cardBook+name, card); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: carddav listen: %w", err)
	}
	c := &CardDAV{URL: "http://" + ln.Addr().String() + "/",
		srv: &http.Server{Handler: basicAuth(&carddav.Handler{Backend: store}, ".vcf"), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// Close stops the server.
func (c *CardDAV) Close() error { return c.srv.Close() }

// cardStore is a carddav.Backend in memory.
type cardStore struct {
	mu      sync.Mutex
	books   []carddav.AddressBook
	objects map[string]*storedObject
}

func (s *cardStore) put(p string, card vcard.Card) (*carddav.AddressObject, error) {
	var b bytes.Buffer
	if err := vcard.NewEncoder(&b).Encode(card); err != nil {
		return nil, webdav.NewHTTPError(http.StatusBadRequest, err)
	}
	sum := sha256.Sum256(b.Bytes())
	o := &storedObject{data: b.Bytes(), modTime: time.Now(), etag: hex.EncodeToString(sum[:8])}
	s.objects[p] = o
	return s.object(p, o)
}

func (s *cardStore) object(p string, o *storedObject) (*carddav.AddressObject, error) {
	card, err := vcard.NewDecoder(bytes.NewReader(o.data)).Decode()
	if err != nil {
		return nil, err
	}
	return &carddav.AddressObject{Path: p, ModTime: o.modTime, ContentLength: int64(len(o.data)), ETag: o.etag, Card: card}, nil
}

func (s *cardStore) CurrentUserPrincipal(ctx context.Context) (string, error) {
	return calPrincipal, nil
}
func (s *cardStore) AddressBookHomeSetPath(ctx context.Context) (string, error) { return cardHome, nil }

func (s *cardStore) ListAddressBooks(ctx context.Context) ([]carddav.AddressBook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.books), nil
}

func (s *cardStore) GetAddressBook(ctx context.Context, p string) (*carddav.AddressBook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p = strings.TrimSuffix(p, "/") + "/"
	for _, b := range s.books {
		if b.Path == p {
			b := b
			return &b, nil
		}
	}
	return nil, errNotFound
}

func (s *cardStore) CreateAddressBook(ctx context.Context, ab *carddav.AddressBook) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.TrimSuffix(ab.Path, "/") + "/"
	if !strings.HasPrefix(p, cardHome) || slices.ContainsFunc(s.books, func(b carddav.AddressBook) bool { return b.Path == p }) {
		return webdav.NewHTTPError(http.StatusMethodNotAllowed, errors.New("address book exists"))
	}
	b := *ab
	b.Path = p
	s.books = append(s.books, b)
	return nil
}

func (s *cardStore) DeleteAddressBook(ctx context.Context, p string) error {
	return webdav.NewHTTPError(http.StatusForbidden, errors.New("the demo keeps its address book"))
}

func (s *cardStore) GetAddressObject(ctx context.Context, p string, req *carddav.AddressDataRequest) (*carddav.AddressObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[p]
	if !ok {
		return nil, errNotFound
	}
	return s.object(p, o)
}

func (s *cardStore) ListAddressObjects(ctx context.Context, p string, req *carddav.AddressDataRequest) ([]carddav.AddressObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := strings.TrimSuffix(p, "/") + "/"
	var out []carddav.AddressObject
	for op, o := range s.objects {
		if path.Dir(op)+"/" != dir {
			continue
		}
		ao, err := s.object(op, o)
		if err != nil {
			return nil, err
		}
		out = append(out, *ao)
	}
	slices.SortFunc(out, func(a, b carddav.AddressObject) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func (s *cardStore) QueryAddressObjects(ctx context.Context, p string, q *carddav.AddressBookQuery) ([]carddav.AddressObject, error) {
	all, err := s.ListAddressObjects(ctx, p, &q.DataRequest)
	if err != nil {
		return nil, err
	}
	return carddav.Filter(q, all)
}

func (s *cardStore) PutAddressObject(ctx context.Context, p string, card vcard.Card, opts *carddav.PutAddressObjectOptions) (*carddav.AddressObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.books, func(b carddav.AddressBook) bool { return path.Dir(p)+"/" == b.Path }) {
		return nil, webdav.NewHTTPError(http.StatusConflict, errors.New("no such address book"))
	}
	old, exists := s.objects[p]
	if opts != nil {
		if opts.IfNoneMatch.IsWildcard() && exists {
			return nil, webdav.NewHTTPError(http.StatusPreconditionFailed, errors.New("exists"))
		}
		if opts.IfMatch.IsSet() && !opts.IfMatch.IsWildcard() {
			if tag, err := opts.IfMatch.ETag(); err != nil || !exists || tag != old.etag {
				return nil, webdav.NewHTTPError(http.StatusPreconditionFailed, errors.New("changed"))
			}
		}
	}
	return s.put(p, card)
}

func (s *cardStore) DeleteAddressObject(ctx context.Context, p string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[p]; !ok {
		return errNotFound
	}
	delete(s.objects, p)
	return nil
}

// sampleContacts are people of the demo mailbox.
func sampleContacts() map[string]string {
	return map[string]string{
		"maria.vcf": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:maria@demo.example.com\r\nFN:Maria Schneider\r\nN:Schneider;Maria;;;\r\n" +
			"ORG:Northwind GmbH;Design\r\nTITLE:Head of design\r\nEMAIL;TYPE=WORK:maria.schneider@example.org\r\n" +
			"TEL;TYPE=WORK,VOICE:+49 30 1234567\r\nTEL;TYPE=CELL:+49 170 7654321\r\n" +
			"ADR;TYPE=WORK:;;Friedrichstraße 12;Berlin;;10117;Germany\r\nBDAY:1984-05-17\r\nEND:VCARD\r\n",
		"tom.vcf": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:tom@demo.example.com\r\nFN:Tom Becker\r\nN:Becker;Tom;;;\r\n" +
			"EMAIL;TYPE=HOME:tom.becker@example.org\r\nTEL;TYPE=CELL:+49 151 2223334\r\nNOTE:Met at the release party.\r\nEND:VCARD\r\n",
		"sam.vcf": "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:sam@demo.example.com\r\nFN:Sam Okafor\r\nN:Okafor;Sam;;;\r\n" +
			"EMAIL:sam@lists.example.net\r\nURL:https://sam.example.net/\r\nCATEGORIES:easgate-dev\r\nEND:VCARD\r\n",
	}
}
