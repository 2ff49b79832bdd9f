package bridge

import (
	"context"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/eas"
)

// Lending a Mailbox's connection.
//
// Some items other than mail live in IMAP too (Apple's notes, in package
// bridge/notes). Such a store opens a Mailbox of the Backend, so that it
// shares the account's pool, its limits and its timeouts, and works on the
// connection through the methods below: every command runs under the
// connection's watchdog, and the selection stays known to the Mailbox.

// Exec runs fn on the connection under the command timeout. fn must not
// change the selected mailbox (no SELECT, EXAMINE, UNSELECT or CLOSE); a
// read-only fn (retryable) runs again on a new connection when the first
// broke under it.
func (m *Mailbox) Exec(ctx context.Context, what string, retryable bool, fn func(c *imapclient.Client) error) error {
	return m.do(ctx, retryable, func(c *conn) error {
		return c.guard(ctx, what, func(func()) error { return fn(c.client) })
	})
}

// InFolder selects path, with counters read anew, and runs fn on the
// connection under the command timeout; fn must not change the
// selection. A missing path is eas.ErrNotFound. A read-only fn
// (retryable) runs again on a new connection when the first broke.
func (m *Mailbox) InFolder(ctx context.Context, path string, retryable bool, fn func(c *imapclient.Client, sel *imap.SelectData) error) error {
	return m.do(ctx, retryable, func(c *conn) error {
		sel, err := c.reselect(ctx, path)
		if err != nil {
			return err
		}
		// fn may change the folder: the next use selects it anew.
		defer func() { c.fresh = false }()
		return c.guard(ctx, "in "+path, func(func()) error { return fn(c.client, sel) })
	})
}

// Caps returns the server's capabilities after login.
func (m *Mailbox) Caps(ctx context.Context) (imap.CapSet, error) {
	c, err := m.conn(ctx)
	if err != nil {
		return nil, err
	}
	return c.caps, nil
}

// Delimiter returns the server's hierarchy delimiter (0 for a flat one).
func (m *Mailbox) Delimiter(ctx context.Context) (rune, error) {
	var d rune
	err := m.do(ctx, true, func(c *conn) error {
		var err error
		d, err = c.delimiter(ctx)
		return err
	})
	return d, err
}

// AppendMessage stores msg in path with flags and returns its UID and the
// folder's UIDVALIDITY (from APPENDUID, else found by its Message-ID). It
// is not repeated on a new connection: the first may have landed.
func (m *Mailbox) AppendMessage(ctx context.Context, path string, msg []byte, flags []imap.Flag) (imap.UID, uint32, error) {
	var uid imap.UID
	var uidValidity uint32
	err := m.do(ctx, false, func(c *conn) error {
		var err error
		uid, uidValidity, err = c.appendMessage(ctx, path, msg, flags)
		return err
	})
	return uid, uidValidity, err
}

// Expunge removes the messages uids of path (only those, with UIDPLUS).
func (m *Mailbox) Expunge(ctx context.Context, path string, uids imap.UIDSet) error {
	return m.do(ctx, false, func(c *conn) error {
		if _, err := c.selectFolder(ctx, path); err != nil {
			return err
		}
		c.fresh = false
		return c.expunge(ctx, uids)
	})
}

// NotesFolder is the name of the IMAP mailbox in which Apple Mail and
// Notes keep notes, one message per note.
const NotesFolder = "Notes"

// IsNotesFolder reports whether path is the notes mailbox: "Notes" at the
// top level or under INBOX (servers whose personal namespace is
// "INBOX."), as Apple's clients create it.
func IsNotesFolder(path string, delim rune) bool {
	if path == NotesFolder {
		return true
	}
	if delim == 0 {
		return false
	}
	pre := "INBOX" + string(delim)
	return len(path) > len(pre) && strings.EqualFold(path[:len(pre)], pre) && path[len(pre):] == NotesFolder
}

// CategoryKeyword is the IMAP keyword that holds a category, the same as
// for mail; ok is false for an empty name.
func CategoryKeyword(name string) (kw string, ok bool) { return categoryKeyword(name) }

// FlagCategories returns the categories a message's flags hold, as for
// mail: its keywords other than system ones, decoded, sorted by keyword.
func FlagCategories(flags []imap.Flag) []string {
	return parseFlags(flags).categories()
}

// Deleted reports whether flags hold \Deleted: a message on its way out.
func Deleted(flags []imap.Flag) bool { return parseFlags(flags).deleted }

// OpenMailbox is Open with the concrete type, for the stores that borrow
// the connection.
func (b *Backend) OpenMailbox(ctx context.Context, cred eas.Credentials) (*Mailbox, error) {
	mb, err := b.Open(ctx, cred)
	if err != nil {
		return nil, err
	}
	return mb.(*Mailbox), nil
}
