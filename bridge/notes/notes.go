// Package notes serves a phone's Notes folder (MS-ASNOTE) from the IMAP
// notes mailbox in Apple's format, so that the same notes show in Apple
// Mail and Notes over IMAP and on the phone over EAS.
//
// A Backend is one more upstream beside the mail store (eas.Combine): it
// has one folder, the Notes folder (type 10), which is listed whether the
// IMAP mailbox exists or not and makes the mailbox when the phone adds
// the first note. It works on the connections of the IMAP bridge's pool.
//
// A note's ServerId is its UUID, not its UID: IMAP cannot edit a message,
// so a change is stored as a new message with the same UUID, and the note
// keeps its ServerId on every phone. A note's version is its UID with its
// categories (IMAP keywords, as for mail), so a new message or a keyword
// set elsewhere reaches the phones as a Change.
//
// The notes mailbox is "Notes" at the top level or under INBOX (see
// bridge.IsNotesFolder): IMAP has no special-use attribute for notes
// (RFC 6154), and that is where Apple's clients put it.
//
// Notes are a 14.0 class (MS-ASNOTE). A 12.1 phone is still offered the
// folder: FolderSync has type 10 in every version, and Exchange 2007 (12.1)
// lists its own Notes folder the same way. A 12.1 phone does not sync it,
// and one that tries is refused by the engine with Status 4 for that
// collection alone.
package notes

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
)

// FolderPath is the path of the Notes folder within this upstream.
const FolderPath = "notes"

// Backend opens users' notes. It is safe for concurrent use.
type Backend struct {
	imap *bridge.Backend
	log  *zap.Logger
}

// New returns a Backend on the IMAP bridge's connections; log may be nil.
func New(imap *bridge.Backend, log *zap.Logger) *Backend {
	if log == nil {
		log = zap.NewNop()
	}
	return &Backend{imap: imap, log: log}
}

var _ eas.SessionOpener = (*Backend)(nil)

// Open returns the user's notes session. It logs in only when a call
// needs the notes themselves: listing the folder does not.
func (b *Backend) Open(ctx context.Context, cred eas.Credentials) (eas.Session, error) {
	if cred.Username == "" {
		return nil, fmt.Errorf("open notes: empty user name: %w", eas.ErrUnauthorized)
	}
	return &Session{b: b, cred: cred}, nil
}

// Session is one user's notes for the length of a request. It is not
// safe for concurrent use.
type Session struct {
	b    *Backend
	cred eas.Credentials
	m    *bridge.Mailbox
	// mailbox is the IMAP notes mailbox once found ("" not yet looked for
	// or missing, see looked).
	mailbox string
	looked  bool
}

var (
	_ eas.Session    = (*Session)(nil)
	_ eas.ItemWriter = (*Session)(nil)
)

// Folders lists the Notes folder. Its Stamp never changes: notes are
// known by UUID, which outlives the IMAP mailbox's UIDVALIDITY.
func (s *Session) Folders(context.Context) ([]eas.Folder, error) {
	return []eas.Folder{{Path: FolderPath, Name: "Notes", Type: eas.FolderNotes, Stamp: "notes"}}, nil
}

// Close returns the IMAP connection to the pool.
func (s *Session) Close() error {
	if s.m == nil {
		return nil
	}
	err := s.m.Close()
	s.m = nil
	return err
}

// imap returns the session's IMAP mailbox, logging in on first use.
func (s *Session) imap(ctx context.Context) (*bridge.Mailbox, error) {
	if s.m != nil {
		return s.m, nil
	}
	m, err := s.b.imap.OpenMailbox(ctx, s.cred)
	if err != nil {
		return nil, err
	}
	s.m = m
	return m, nil
}

// checkPath refuses a path other than the Notes folder's.
func checkPath(path string) error {
	if path != FolderPath {
		return fmt.Errorf("notes: folder %q: %w", path, eas.ErrNotFound)
	}
	return nil
}

// errNoMailbox: the notes mailbox does not exist (yet).
var errNoMailbox = errors.New("notes: no notes mailbox")
