package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/mailconv"
	"github.com/easgate/easgate/eas"
)

// SaveDraft writes a phone's draft as a message, APPENDs it to path with
// \Draft and \Seen, and then expunges the draft it replaces. A failure
// before the APPEND leaves the old draft as it was; one after it leaves
// both, which the phone sees as two drafts rather than none.
func (m *Mailbox) SaveDraft(ctx context.Context, path, replaces string, d *eas.Draft) (*eas.SavedDraft, error) {
	if d.MIME != nil {
		return m.saveMIMEDraft(ctx, path, replaces, d)
	}
	var base []byte
	if replaces != "" {
		raw, err := m.rawMessage(ctx, eas.ItemRef{Path: path, ServerID: replaces})
		if err != nil {
			return nil, err
		}
		base = raw
	}
	md := mailconv.Draft{From: m.PrimaryAddress(), To: d.To, Cc: d.Cc, Bcc: d.Bcc, Subject: d.Subject, Importance: d.Importance}
	if d.Body != nil {
		md.Body = &mailconv.DraftBody{HTML: d.Body.Type == eas.BodyHTML, Text: d.Body.Data}
	}
	for _, a := range d.AddAttachments {
		md.Attach = append(md.Attach, mailconv.NewAttachment{
			Name: a.DisplayName, ContentType: a.ContentType, ContentID: a.ContentID,
			ContentLocation: a.ContentLocation, Inline: a.IsInline, Data: a.Content,
		})
	}
	for _, ref := range d.DeleteAttachments {
		// Only the replaced draft's own attachments can go; a reference
		// to anything else names nothing in it.
		f, err := parseFileRef(ref)
		if err == nil && f.path == path && formatUID(f.uid) == replaces {
			md.Drop = append(md.Drop, f.part)
		}
	}
	msg, parts, err := mailconv.ComposeDraft(base, md)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", eas.ErrInvalidDraft, err)
	}

	return m.storeDraft(ctx, path, replaces, msg, parts, []imap.Flag{imap.FlagDraft, imap.FlagSeen})
}

// saveMIMEDraft stores a draft the phone wrote as a whole message, as it
// is, with the phone's Read and Flag as its flags.
func (m *Mailbox) saveMIMEDraft(ctx context.Context, path, replaces string, d *eas.Draft) (*eas.SavedDraft, error) {
	if err := mailconv.CheckMessage(d.MIME); err != nil {
		return nil, fmt.Errorf("%w: %w", eas.ErrInvalidDraft, err)
	}
	flags := []imap.Flag{imap.FlagDraft}
	if d.Read == nil || *d.Read {
		flags = append(flags, imap.FlagSeen)
	}
	if d.Flag != nil && d.Flag.Status != nil && *d.Flag.Status == eas.FlagActive {
		flags = append(flags, imap.FlagFlagged)
	}
	return m.storeDraft(ctx, path, replaces, d.MIME, nil, flags)
}

// storeDraft APPENDs a draft's message and expunges the draft it
// replaces; parts are the MIME parts of the attachments the phone added.
func (m *Mailbox) storeDraft(ctx context.Context, path, replaces string, msg []byte, parts []string, flags []imap.Flag) (*eas.SavedDraft, error) {
	var saved eas.SavedDraft
	err := m.do(ctx, false, func(c *conn) error {
		uid, uidValidity, err := c.appendMessage(ctx, path, msg, flags)
		if err != nil {
			return err
		}
		saved.ServerID = formatUID(uid)
		saved.Version = parseFlags(flags).version()
		for _, p := range parts {
			saved.FileReferences = append(saved.FileReferences, fileRef{uidValidity: uidValidity, uid: uid, part: p, path: path}.String())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("save draft in %q: %w", path, err)
	}
	if replaces != "" {
		if err := m.Delete(ctx, eas.ItemRef{Path: path, ServerID: replaces}, ""); err != nil && !errors.Is(err, eas.ErrNotFound) {
			m.b.log.Warn("draft saved, but the draft it replaces is still there", zap.String("user", m.user), zap.Error(err))
		}
	}
	return &saved, nil
}

// appendMessage stores msg in path and finds its UID: from APPENDUID
// (UIDPLUS), else by its Message-ID among the messages path received
// meanwhile. It is not repeated on a new connection: the first may have
// landed.
func (c *conn) appendMessage(ctx context.Context, path string, msg []byte, flags []imap.Flag) (imap.UID, uint32, error) {
	uidPlus := c.caps.Has(imap.CapUIDPlus)
	var next imap.UID
	var uidValidity uint32
	if !uidPlus {
		// counters, not a bare STATUS: path is often the selected folder
		// (the draft it replaces was just read there).
		st, err := c.counters(ctx, path, true)
		if err != nil {
			return 0, 0, err
		}
		next, uidValidity = max(imap.UID(st.uidNext), 1), st.uidValidity
	}
	data, err := c.append(ctx, path, msg, flags)
	if err != nil {
		return 0, 0, c.missing(ctx, err, path)
	}
	if data != nil && data.UID != 0 {
		return data.UID, data.UIDValidity, nil
	}
	msgID, err := mailconv.MessageID(msg)
	if err != nil {
		return 0, 0, err
	}
	uid, err := c.findCopy(ctx, path, msgID, next)
	if err != nil {
		return 0, 0, err
	}
	if uidValidity == 0 {
		// findCopy selected path.
		uidValidity = c.sel.UIDValidity
	}
	return uid, uidValidity, nil
}

// append stores msg in path, written in pieces so that a large message
// keeps the command's deadline moving.
func (c *conn) append(ctx context.Context, path string, msg []byte, flags []imap.Flag) (*imap.AppendData, error) {
	var data *imap.AppendData
	err := c.guard(ctx, "APPEND "+path, func(progress func()) error {
		cmd := c.client.Append(path, int64(len(msg)), &imap.AppendOptions{Flags: flags, Time: time.Now()})
		for rest := msg; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			if _, err := cmd.Write(rest[:n]); err != nil {
				cmd.Close()
				return err
			}
			rest = rest[n:]
			progress()
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		var err error
		data, err = cmd.Wait()
		return err
	})
	return data, err
}
