package notes

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
)

// folder returns the IMAP notes mailbox, or errNoMailbox. "Notes" at the
// top level wins over "INBOX.Notes".
func (s *Session) folder(ctx context.Context) (string, error) {
	if s.looked {
		if s.mailbox == "" {
			return "", errNoMailbox
		}
		return s.mailbox, nil
	}
	m, err := s.imap(ctx)
	if err != nil {
		return "", err
	}
	var found []*imap.ListData
	err = m.Exec(ctx, "LIST notes", true, func(c *imapclient.Client) error {
		found = found[:0]
		top := c.List("", bridge.NotesFolder, nil)
		under := c.List("", "INBOX*"+bridge.NotesFolder, nil)
		for _, cmd := range []*imapclient.ListCommand{top, under} {
			l, err := cmd.Collect()
			if err != nil {
				return err
			}
			found = append(found, l...)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find the notes mailbox: %w", err)
	}
	s.looked = true
	for _, d := range found {
		if bridge.IsNotesFolder(d.Mailbox, d.Delim) && !noSelect(d) {
			s.mailbox = d.Mailbox
			return s.mailbox, nil
		}
	}
	return "", errNoMailbox
}

func noSelect(d *imap.ListData) bool {
	for _, a := range d.Attrs {
		if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
			return true
		}
	}
	return false
}

// create makes the notes mailbox in the personal namespace, where Apple's
// clients look for it, and returns its name.
func (s *Session) create(ctx context.Context) (string, error) {
	m, err := s.imap(ctx)
	if err != nil {
		return "", err
	}
	caps, err := m.Caps(ctx)
	if err != nil {
		return "", err
	}
	name := bridge.NotesFolder
	if caps.Has(imap.CapNamespace) {
		err := m.Exec(ctx, "NAMESPACE", true, func(c *imapclient.Client) error {
			ns, err := c.Namespace().Wait()
			if err != nil {
				return err
			}
			if len(ns.Personal) > 0 {
				name = ns.Personal[0].Prefix + bridge.NotesFolder
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("read the namespace: %w", err)
		}
	}
	err = m.Exec(ctx, "CREATE "+name, false, func(c *imapclient.Client) error {
		err := c.Create(name, nil).Wait()
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
			err = nil
		}
		if err != nil {
			return err
		}
		// Apple Mail shows only subscribed mailboxes on some servers.
		return c.Subscribe(name).Wait()
	})
	if err != nil {
		return "", fmt.Errorf("create the notes mailbox %q: %w", name, err)
	}
	s.mailbox, s.looked = name, true
	return name, nil
}

// ensure returns the notes mailbox, making it when it is missing.
func (s *Session) ensure(ctx context.Context) (string, error) {
	path, err := s.folder(ctx)
	if errors.Is(err, errNoMailbox) {
		return s.create(ctx)
	}
	return path, err
}

// missing maps a notes mailbox deleted under the session to errNoMailbox.
func (s *Session) missing(err error) error {
	if errors.Is(err, eas.ErrNotFound) {
		s.mailbox, s.looked = "", false
		return fmt.Errorf("%w: %w", errNoMailbox, err)
	}
	return err
}
