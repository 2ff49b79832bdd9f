package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge/mailconv"
	"github.com/easgate/easgate/eas"
)

// Sending.
//
// A message goes out over SMTP under the user's own login, so the upstream
// applies its own limits and policies to it, and the envelope sender is the
// account itself whatever the phone put in From. Only after the server has
// taken the message are the Sent copy filed and the original flagged: a
// failure before that leaves nothing behind, so the phone may simply try
// again. A failure after it is logged and not reported, because the mail
// is gone and telling the phone otherwise would only make it send again.

// sentFolderName is created when the account has no Sent folder at all.
const sentFolderName = "Sent"

// Send submits c. Errors are *eas.SendError.
func (m *Mailbox) Send(ctx context.Context, c eas.Compose) error {
	if m.b.cfg.SMTPAddr == "" {
		return &eas.SendError{Err: errors.New("no SMTP server is configured")}
	}
	if m.closed {
		return &eas.SendError{Temporary: true, Err: errMailboxClosed}
	}
	if c.Draft != nil {
		raw, err := m.rawMessage(ctx, *c.Draft)
		if err != nil {
			return sourceError(ctx, err)
		}
		c.MIME = mailconv.Redated(raw, time.Now())
	}
	rcpts, err := mailconv.Recipients(c.MIME)
	if err != nil {
		return &eas.SendError{Reason: eas.SendInvalidMIME, Err: err}
	}
	rcpts = addForwardees(rcpts, c.Forwardees)
	if len(rcpts) == 0 {
		return &eas.SendError{Reason: eas.SendNoRecipient, Err: errors.New("the message has no recipient")}
	}

	out, err := m.outgoing(ctx, c)
	if err != nil {
		return err
	}
	from := m.PrimaryAddress()
	if err := m.b.submit(ctx, m.user, m.password, from, rcpts, out); err != nil {
		return err
	}
	m.b.log.Debug("message submitted", zap.String("user", m.user), zap.Int("recipients", len(rcpts)), zap.Int("bytes", len(out)))
	// The phone may hang up now that the message is out; the copy and the
	// flag are still owed.
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*m.b.cfg.CommandTimeout)
	defer cancel()
	m.afterSend(after, c, out)
	return nil
}

// outgoing is the message to submit: the phone's MIME made ready to send,
// or, for a reply or forward the server is to complete, composed with the
// original.
func (m *Mailbox) outgoing(ctx context.Context, c eas.Compose) ([]byte, error) {
	var out []byte
	var err error
	if c.Source == nil || c.ReplaceMime {
		if out, err = mailconv.Outgoing(c.MIME); err != nil {
			return nil, &eas.SendError{Reason: eas.SendInvalidMIME, Err: err}
		}
	} else {
		orig, err := m.rawMessage(ctx, *c.Source)
		if err != nil {
			return nil, sourceError(ctx, err)
		}
		if c.Forward {
			out, err = mailconv.Forward(c.MIME, orig)
		} else {
			out, err = mailconv.Reply(c.MIME, orig)
		}
		if err != nil {
			return nil, &eas.SendError{Reason: eas.SendComposeFailed, Err: err}
		}
	}
	// The envelope delivers to Bcc recipients; the header must not tell the
	// others about them, and the Sent copy keeps the same bytes.
	return mailconv.WithoutBcc(out), nil
}

// afterSend files the copy in Sent, flags the original and deletes the
// draft sent. The message is out: what fails here is only logged.
func (m *Mailbox) afterSend(ctx context.Context, c eas.Compose, out []byte) {
	log := m.b.log.With(zap.String("user", m.user))
	if c.SaveInSent && !m.b.cfg.NoSentCopy {
		if err := m.saveSent(ctx, out); err != nil {
			log.Warn("message sent, but its copy in Sent was not saved", zap.Error(err))
		}
	}
	if c.Source != nil {
		if err := m.markOriginal(ctx, *c.Source, c.Forward); err != nil {
			log.Warn("message sent, but the original was not flagged", zap.String("folder", c.Source.Path),
				zap.String("item", c.Source.ServerID), zap.Error(err))
		}
	}
	if c.Draft != nil {
		if err := m.Delete(ctx, *c.Draft, ""); err != nil && !errors.Is(err, eas.ErrNotFound) {
			log.Warn("draft sent, but it is still in Drafts", zap.String("item", c.Draft.ServerID), zap.Error(err))
		}
	}
}

// sourceError is the SendError for a message to send or quote that could
// not be read.
func sourceError(ctx context.Context, err error) *eas.SendError {
	if errors.Is(err, eas.ErrNotFound) {
		return &eas.SendError{Reason: eas.SendSourceNotFound, Err: err}
	}
	return &eas.SendError{Temporary: errors.Is(err, eas.ErrUnavailable) || ctx.Err() != nil, Err: err}
}

// addForwardees adds the 16.0 SmartForward Forwardees to the recipients,
// once each.
func addForwardees(rcpts, forwardees []string) []string {
	seen := make(map[string]bool, len(rcpts))
	for _, r := range rcpts {
		seen[strings.ToLower(r)] = true
	}
	for _, f := range forwardees {
		f = strings.TrimSpace(f)
		if at := strings.LastIndexByte(f, '@'); at >= 0 {
			f = f[:at+1] + strings.ToLower(f[at+1:])
		}
		if f == "" || seen[strings.ToLower(f)] {
			continue
		}
		seen[strings.ToLower(f)] = true
		rcpts = append(rcpts, f)
	}
	return rcpts
}

// rawMessage reads the whole message ref names, without marking it \Seen.
func (m *Mailbox) rawMessage(ctx context.Context, ref eas.ItemRef) ([]byte, error) {
	var raw []byte
	err := m.do(ctx, true, func(c *conn) error {
		uid, _, err := c.message(ctx, ref)
		if err != nil {
			return err
		}
		section := &imap.FetchItemBodySection{Peek: true}
		found := false
		err = c.guard(ctx, "UID FETCH", func(progress func()) error {
			cmd := c.client.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{section}})
			for {
				msg := cmd.Next()
				if msg == nil {
					break
				}
				progress()
				buf, err := msg.Collect()
				if err != nil {
					return err
				}
				if buf.UID == uid && !parseFlags(buf.Flags).deleted {
					raw, found = buf.FindBodySection(section), true
				}
			}
			return cmd.Close()
		})
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("message %d: %w", uid, eas.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read original %s/%s: %w", ref.Path, ref.ServerID, err)
	}
	return raw, nil
}

// saveSent files msg, read, in the Sent folder (made when there is none).
func (m *Mailbox) saveSent(ctx context.Context, msg []byte) error {
	// APPEND is not repeated on a new connection: the first may have landed.
	err := m.do(ctx, false, func(c *conn) error {
		path, err := c.sentFolder(ctx)
		if err != nil {
			return err
		}
		if path == "" {
			path = sentFolderName
			err := c.guard(ctx, "CREATE "+path, func(func()) error {
				return c.client.Create(path, nil).Wait()
			})
			if err != nil && !errors.Is(mapNo(err, path), eas.ErrExists) {
				return fmt.Errorf("create a Sent folder: %w", err)
			}
			c.subscribe(ctx, path, true)
		}
		_, err = c.append(ctx, path, msg, []imap.Flag{imap.FlagSeen})
		return err
	})
	if err != nil {
		return fmt.Errorf("save sent copy: %w", err)
	}
	return nil
}

// sentFolder finds the folder for sent mail the way Folders types it:
// SPECIAL-USE \Sent first, then the usual names. "" when there is none.
func (c *conn) sentFolder(ctx context.Context) (string, error) {
	entries, err := c.list(ctx, "*", false)
	if err != nil {
		return "", err
	}
	delim, err := c.delimiter(ctx)
	if err != nil {
		return "", err
	}
	for _, f := range buildFolders(entries, delim) {
		if f.Type == eas.FolderSent {
			return f.Path, nil
		}
	}
	return "", nil
}

// markOriginal sets \Answered or $Forwarded on the message replied to or
// forwarded, which phones show (LastVerbExecuted).
func (m *Mailbox) markOriginal(ctx context.Context, ref eas.ItemRef, forward bool) error {
	flag := imap.FlagAnswered
	if forward {
		flag = imap.FlagForwarded
	}
	err := m.do(ctx, true, func(c *conn) error {
		uid, _, err := c.message(ctx, ref)
		if err != nil {
			return err
		}
		return c.guard(ctx, "UID STORE", func(func()) error {
			return c.client.Store(imap.UIDSetNum(uid), &imap.StoreFlags{
				Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{flag},
			}, nil).Close()
		})
	})
	if err != nil {
		return fmt.Errorf("flag %s/%s %s: %w", ref.Path, ref.ServerID, flag, err)
	}
	return nil
}

// submit hands msg to the SMTP server for the recipients.
func (b *Backend) submit(ctx context.Context, user, password, from string, rcpts []string, msg []byte) error {
	c, closeConn, err := b.dialSMTP(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	if err := b.smtpAuth(ctx, c, user, password); err != nil {
		return err
	}
	return transfer(ctx, c, from, rcpts, msg)
}

// smtpAuth logs in with the user's IMAP credentials when the server offers
// AUTH. Without AUTH the server relays for easgate's address; the user has
// logged in to IMAP, and the envelope names them.
func (b *Backend) smtpAuth(ctx context.Context, c *smtp.Client, user, password string) error {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return nil
	}
	var a sasl.Client
	switch {
	case c.SupportsAuth(sasl.Plain):
		a = sasl.NewPlainClient("", user, password)
	case c.SupportsAuth(sasl.Login):
		a = sasl.NewLoginClient(user, password)
	default:
		return &eas.SendError{Err: fmt.Errorf("SMTP server %s offers neither AUTH PLAIN nor LOGIN (only %s)", b.cfg.SMTPAddr, mechs)}
	}
	if err := c.Auth(a); err != nil {
		return sendFailure(ctx, "AUTH", eas.SendSubmissionFailed, err)
	}
	return nil
}

// transfer sends the envelope and the message.
func transfer(ctx context.Context, c *smtp.Client, from string, rcpts []string, msg []byte) error {
	fail := func(stage string, reason eas.SendFailure, err error) error {
		return sendFailure(ctx, stage, reason, err)
	}
	if limit, ok := c.MaxMessageSize(); ok && limit > 0 && len(msg) > limit {
		return &eas.SendError{Reason: eas.SendTooLarge, Code: 552,
			Err: fmt.Errorf("message of %d bytes exceeds the SMTP server's limit of %d", len(msg), limit)}
	}
	opts := &smtp.MailOptions{Size: int64(len(msg))}
	if !isASCII(from) || !allASCII(rcpts) {
		opts.UTF8 = true
	}
	if err := c.Mail(from, opts); err != nil {
		return fail("MAIL FROM", eas.SendSubmissionFailed, err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return fail("RCPT TO <"+r+">", eas.SendRecipientRejected, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", eas.SendSubmissionFailed, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fail("DATA", eas.SendSubmissionFailed, err)
	}
	// An error after the final dot leaves it open whether the server took
	// the message. It counts as not sent: the phone trying again may
	// deliver it twice, which beats losing it.
	if err := w.Close(); err != nil {
		return fail("DATA", eas.SendSubmissionFailed, err)
	}
	_ = c.Quit()
	return nil
}

// dialSMTP connects, protects the connection as configured and greets. The
// returned close function ends the connection and its watchdog.
func (b *Backend) dialSMTP(ctx context.Context) (*smtp.Client, func(), error) {
	addr := b.cfg.SMTPAddr
	timeout := b.cfg.CommandTimeout
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := b.cfg.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, nil, sendFailure(ctx, "connect", eas.SendSubmissionFailed, err)
	}
	// Closing the connection ends whatever wait is under way when the
	// request ends; go-smtp bounds each reply by CommandTimeout, and every
	// write is bounded below.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	closeAll := func() {
		stop()
		raw.Close()
	}
	conn := net.Conn(&writeDeadlineConn{Conn: raw, timeout: timeout})

	var tlsCfg *tls.Config
	if b.cfg.SMTPSecurity != SecurityNone {
		if tlsCfg, err = clientTLSConfig(b.cfg.SMTPTLSConfig, addr, "SMTP"); err != nil {
			closeAll()
			return nil, nil, &eas.SendError{Err: err}
		}
	}
	var c *smtp.Client
	switch b.cfg.SMTPSecurity {
	case SecurityTLS:
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			closeAll()
			return nil, nil, sendFailure(ctx, "TLS handshake", eas.SendSubmissionFailed, err)
		}
		c = smtp.NewClient(tc)
	case SecurityNone:
		c = smtp.NewClient(conn)
	default:
		c, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			closeAll()
			return nil, nil, sendFailure(ctx, "STARTTLS", eas.SendSubmissionFailed, err)
		}
	}
	c.CommandTimeout = timeout
	// The reply to the final dot may take a while (content scanning, a
	// slow relay); RFC 5321 4.5.3.2.6 suggests 10 minutes.
	c.SubmissionTimeout = max(timeout, 10*time.Minute)
	return c, func() {
		c.Close()
		closeAll()
	}, nil
}

// writeDeadlineConn bounds every write: go-smtp sets deadlines for its
// commands, but not while the message itself is written.
type writeDeadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *writeDeadlineConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// sendFailure turns an SMTP or network error into an *eas.SendError: 4xx
// replies and network trouble are temporary, 5xx replies are final and
// carry reason (a message over the size limit is always SendTooLarge).
func sendFailure(ctx context.Context, stage string, reason eas.SendFailure, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := &eas.SendError{Code: se.Code, Reason: reason, Err: fmt.Errorf("SMTP %s: %w", stage, err)}
		switch {
		case se.Code >= 400 && se.Code < 500:
			e.Temporary = true
		case se.Code == 552 || se.EnhancedCode == smtp.EnhancedCode{5, 3, 4}:
			// 552 is "exceeded storage allocation"; servers use it (and
			// 5.3.4) for messages over their size limit.
			e.Reason = eas.SendTooLarge
		}
		return e
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &eas.SendError{Temporary: true, Err: fmt.Errorf("SMTP %s: %w (%w)", stage, ctxErr, err)}
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostname) {
		// A certificate the configuration does not trust will not be
		// trusted on the next try either.
		return &eas.SendError{Err: fmt.Errorf("SMTP %s: %w", stage, err)}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return &eas.SendError{Temporary: true, Err: fmt.Errorf("SMTP %s: %w: %w", stage, eas.ErrUnavailable, err)}
	}
	return &eas.SendError{Err: fmt.Errorf("SMTP %s: %w", stage, err)}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func allASCII(ss []string) bool {
	for _, s := range ss {
		if !isASCII(s) {
			return false
		}
	}
	return true
}
