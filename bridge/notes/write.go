package notes

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/mailconv"
	"github.com/easgate/easgate/eas"
)

// A phone's writes. A new note is appended with a new UUID; a change is
// appended as a new message with the note's UUID, after which the old
// message is deleted; a delete expunges every message of the note.

// AddItem stores a phone's new note, making the notes mailbox if needed.
func (s *Session) AddItem(ctx context.Context, path string, it eas.Item) (string, string, error) {
	if err := checkPath(path); err != nil {
		return "", "", err
	}
	n, ok := it.(*eas.Note)
	if !ok {
		return "", "", fmt.Errorf("notes: a %s item is no note: %w", it.Class(), eas.ErrNotFound)
	}
	mbox, err := s.ensure(ctx)
	if err != nil {
		return "", "", err
	}
	id, err := newUUID()
	if err != nil {
		return "", "", err
	}
	d := s.draft(id, n)
	v, err := s.store(ctx, mbox, d, n)
	if err != nil {
		return "", "", fmt.Errorf("add note: %w", err)
	}
	return id, v, nil
}

// ChangeItem stores the phone's version of a note anew under the same
// UUID. Subject and Body the phone left out are those of the message it
// replaces, the body kept byte for byte (images and all).
func (s *Session) ChangeItem(ctx context.Context, ref eas.ItemRef, u eas.ItemUpdate) (string, error) {
	if err := checkPath(ref.Path); err != nil {
		return "", err
	}
	n, ok := u.Item.(*eas.Note)
	if !ok {
		return "", fmt.Errorf("notes: a %s item is no note: %w", u.Item.Class(), eas.ErrNotFound)
	}
	l, err := s.current(ctx)
	if err != nil {
		return "", err
	}
	old := l.find(ref.ServerID)
	if old == nil {
		return "", fmt.Errorf("note %s: %w", ref.ServerID, eas.ErrNotFound)
	}
	if u.Known != "" && u.Known != old.version {
		return "", fmt.Errorf("note %s: %w", ref.ServerID, eas.ErrConflict)
	}
	raw, err := s.raw(ctx, l.path, old.uid)
	if err != nil {
		return "", err
	}
	prev, err := parseStored(raw)
	if err != nil {
		return "", fmt.Errorf("note %s: %w", ref.ServerID, err)
	}
	d := s.draft(old.id, n)
	d.created = prev.created
	for _, g := range u.Ghosted {
		switch g {
		case "Subject":
			d.subject = prev.subject
		case "Body":
			d.keep = &prev.body
		}
	}
	if d.keep == nil && sentAsIs(raw, n.Body) {
		d.keep = &prev.body
	}
	v, err := s.store(ctx, l.path, d, n)
	if err != nil {
		return "", fmt.Errorf("change note %s: %w", ref.ServerID, err)
	}
	// The new message is the note now; an old one left behind (the
	// expunge failed) is only an older version, hidden by the newer.
	if err := s.m.Expunge(ctx, l.path, olderSet(old)); err != nil {
		s.b.log.Warn("note changed, but its old message is still there", zap.String("note", old.id), zap.Error(err))
	}
	return v, nil
}

// sentAsIs tells a body that is the note's own text in its type, or the
// start of it when marked Truncated: the copy the phone was sent (cut to
// its TruncationSize), which comes back with a change of the subject or
// the categories. Storing it would cut the note, or lose what the phone's
// type cannot hold (the HTML and images of an Apple note read as text).
func sentAsIs(raw []byte, b *eas.Body) bool {
	if b == nil || b.Data == "" {
		return false
	}
	e, err := mailconv.Convert(raw, mailconv.Options{Body: eas.BodyOptions{Preferences: []eas.BodyPreference{{Type: b.Type}}}})
	if err != nil || e.Body == nil {
		return false
	}
	full := strings.ReplaceAll(e.Body.Data, "\r\n", "\n")
	sent := strings.ReplaceAll(b.Data, "\r\n", "\n")
	return sent == full || b.Truncated && strings.HasPrefix(full, sent)
}

// DeleteItem deletes every message of a note.
func (s *Session) DeleteItem(ctx context.Context, ref eas.ItemRef) error {
	if err := checkPath(ref.Path); err != nil {
		return err
	}
	l, err := s.current(ctx)
	if err != nil {
		return err
	}
	n := l.find(ref.ServerID)
	if n == nil {
		return fmt.Errorf("note %s: %w", ref.ServerID, eas.ErrNotFound)
	}
	if err := s.m.Expunge(ctx, l.path, olderSet(n)); err != nil {
		return fmt.Errorf("delete note %s: %w", ref.ServerID, s.missing(err))
	}
	return nil
}

// olderSet is every UID of n.
func olderSet(n *note) imap.UIDSet {
	set := imap.UIDSetNum(n.uid)
	for _, u := range n.older {
		set.AddNum(u)
	}
	return set
}

// draft is the message of a phone's note. A body the phone sent as plain
// text becomes HTML, the format Apple's Notes keeps; an empty note gets
// its title as its text, which Notes shows as the title.
func (s *Session) draft(id string, n *eas.Note) draft {
	d := draft{uuid: id, subject: n.Subject, from: s.address(), modified: time.Now()}
	text, html := "", ""
	if n.Body != nil {
		if n.Body.Type == eas.BodyHTML {
			html = n.Body.Data
		} else {
			text = n.Body.Data
		}
	}
	if html == "" {
		if text == "" {
			text = n.Subject
		}
		html = textHTML(text)
	}
	if d.subject == "" {
		// Apple Mail lists notes by Subject: a note the phone sent without
		// one is titled by its first line, as Notes titles it.
		d.subject = firstLine(text)
	}
	d.html = html
	return d
}

// firstLine is the first line of text that holds more than white space.
func firstLine(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// address is the user's address for the From of a note.
func (s *Session) address() string {
	if s.m != nil {
		return s.m.PrimaryAddress()
	}
	return s.cred.Username
}

// store appends d with n's categories as keywords and returns its version.
func (s *Session) store(ctx context.Context, mbox string, d draft, n *eas.Note) (string, error) {
	msg, err := compose(d)
	if err != nil {
		return "", err
	}
	flags := []imap.Flag{imap.FlagSeen}
	if n.Categories != nil {
		for _, c := range n.Categories.Category {
			if kw, ok := bridge.CategoryKeyword(c); ok {
				flags = append(flags, imap.Flag(kw))
			}
		}
	}
	uid, uidValidity, err := s.m.AppendMessage(ctx, mbox, msg, flags)
	if err != nil {
		return "", s.missing(err)
	}
	return version(uidValidity, uid, flags), nil
}

// raw fetches one message whole.
func (s *Session) raw(ctx context.Context, path string, uid imap.UID) ([]byte, error) {
	var raw []byte
	err := s.m.InFolder(ctx, path, true, func(c *imapclient.Client, _ *imap.SelectData) error {
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true,
			BodySection: []*imap.FetchItemBodySection{wholeSection}}).Collect()
		if err != nil {
			return err
		}
		if len(msgs) == 1 {
			raw = msgs[0].FindBodySection(wholeSection)
		}
		return nil
	})
	if err != nil {
		return nil, s.missing(err)
	}
	if raw == nil {
		return nil, fmt.Errorf("note message %d: %w", uid, eas.ErrNotFound)
	}
	return raw, nil
}
