// Package demo runs a self-contained mail upstream for trying easgate without
// a mail server: an in-memory IMAP server holding one user with a realistic,
// freshly dated mailbox, and an SMTP submission server that delivers whatever
// that user sends back into their own INBOX.
//
// Both listen on 127.0.0.1 only and keep everything in memory; nothing
// survives Close.
package demo

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The demo account. Both servers accept only these credentials; they are
// published because the servers listen on loopback only and hold nothing but
// the generated sample mail.
const (
	User     = "demo@example.com"
	Password = "easgate-demo"
)

// maxMessageBytes bounds one submitted message, as a real submission server
// would; phones send photos, so it is generous.
const maxMessageBytes = 50 << 20

// Upstream is a running demo IMAP and SMTP server pair.
type Upstream struct {
	// IMAPAddr and SMTPAddr are "127.0.0.1:port". Neither uses TLS.
	IMAPAddr string
	SMTPAddr string
	// User and Password are the demo credentials (the User and Password
	// constants).
	User     string
	Password string

	imap      *imapserver.Server
	smtp      *smtp.Server
	listeners []*trackingListener
	closing   atomic.Bool
	wg        sync.WaitGroup
	once      sync.Once
	errMu     sync.Mutex
	errs      []error
}

// Start seeds the demo mailbox and starts both servers. ctx bounds the start
// only; call Close to stop them.
func Start(ctx context.Context) (*Upstream, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(User, Password)
	if err := seed(user, time.Now()); err != nil {
		return nil, fmt.Errorf("demo: seed mailbox: %w", err)
	}
	mem.AddUser(user)

	var lc net.ListenConfig
	imapLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen for IMAP: %w", err)
	}
	smtpLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		imapLn.Close()
		return nil, fmt.Errorf("demo: listen for SMTP: %w", err)
	}

	imapTL, smtpTL := track(imapLn), track(smtpLn)
	u := &Upstream{
		IMAPAddr:  imapLn.Addr().String(),
		SMTPAddr:  smtpLn.Addr().String(),
		User:      User,
		Password:  Password,
		listeners: []*trackingListener{imapTL, smtpTL},
	}
	u.imap = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			sess, ok := mem.NewSession().(imapserver.SessionIMAP4rev2)
			if !ok {
				return nil, nil, errors.New("demo: memory server session lacks NAMESPACE and MOVE")
			}
			return IdleInRounds{SessionIMAP4rev2: sess, Round: idleRound}, nil, nil
		},
		// IMAP4rev1 plus what the memory server implements. Not IMAP4rev2:
		// real servers easgate meets speak rev1, and rev2 changes replies
		// (no RECENT, ESEARCH instead of SEARCH).
		Caps: imap.CapSet{
			imap.CapIMAP4rev1:    {},
			imap.CapNamespace:    {},
			imap.CapUIDPlus:      {},
			imap.CapESearch:      {},
			imap.CapListExtended: {},
			imap.CapListStatus:   {},
			imap.CapMove:         {},
			imap.CapStatusSize:   {},
			imap.CapSpecialUse:   {},
			imap.CapLiteralPlus:  {},
		},
		Logger: log.New(os.Stderr, "demo imap: ", log.LstdFlags),
		// Loopback only; the demo has no certificate.
		InsecureAuth: true,
	})

	s := smtp.NewServer(&submission{user: user})
	s.Domain = "localhost"
	s.MaxMessageBytes = maxMessageBytes
	s.MaxRecipients = 100
	s.ReadTimeout = 5 * time.Minute
	s.WriteTimeout = 5 * time.Minute
	// Loopback only; AUTH PLAIN without TLS is what the demo is for.
	s.AllowInsecureAuth = true
	s.ErrorLog = log.New(os.Stderr, "demo smtp: ", log.LstdFlags)
	u.smtp = s

	u.wg.Add(2)
	go func() {
		defer u.wg.Done()
		if err := u.imap.Serve(imapTL); err != nil && !u.closing.Load() {
			u.recordErr(fmt.Errorf("demo: IMAP server: %w", err))
		}
	}()
	go func() {
		defer u.wg.Done()
		if err := u.smtp.Serve(smtpTL); err != nil && !u.closing.Load() {
			u.recordErr(fmt.Errorf("demo: SMTP server: %w", err))
		}
	}()
	return u, nil
}

// Close stops both servers, dropping open connections, and reports any
// error either server stopped with.
func (u *Upstream) Close() error {
	u.once.Do(func() {
		u.closing.Store(true)
		// The servers' own Close misses a listener whose Serve has not
		// started yet and a connection accepted but not yet registered;
		// closing the listeners and connections here catches both.
		for _, l := range u.listeners {
			l.closeAll()
		}
		_ = u.imap.Close()
		_ = u.smtp.Close()
		u.wg.Wait()
	})
	u.errMu.Lock()
	defer u.errMu.Unlock()
	return errors.Join(u.errs...)
}

func (u *Upstream) recordErr(err error) {
	u.errMu.Lock()
	u.errs = append(u.errs, err)
	u.errMu.Unlock()
}

// submission is the SMTP backend: it authenticates the demo user and files
// each message in their INBOX.
type submission struct {
	user *imapmemserver.User
}

func (b *submission) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &submissionSession{user: b.user, helo: c.Hostname(), remote: c.Conn().RemoteAddr()}, nil
}

type submissionSession struct {
	user   *imapmemserver.User
	helo   string
	remote net.Addr

	authed bool
	from   string
}

func (s *submissionSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *submissionSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		userOK := subtle.ConstantTimeCompare([]byte(username), []byte(User)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(password), []byte(Password)) == 1
		if !userOK || !passOK {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *submissionSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

// Rcpt accepts any recipient: the demo has no outside world, every message
// comes back to the demo user.
func (s *submissionSession) Rcpt(_ string, _ *smtp.RcptOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *submissionSession) Data(r io.Reader) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	body, err := io.ReadAll(r)
	if err != nil {
		// go-smtp reports only an unwrapped *SMTPError with its own code
		// (552 for a message over the size limit).
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		return fmt.Errorf("read message: %w", err)
	}
	now := time.Now()
	// What a delivering MTA prepends: the envelope sender and a trace line.
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "Return-Path: <%s>\r\n", s.from)
	fmt.Fprintf(&msg, "Received: from %s (%s)\r\n\tby localhost (easgate demo) with ESMTPSA\r\n\tfor <%s>; %s\r\n",
		s.helo, s.remote, User, now.Format(time.RFC1123Z))
	msg.Write(body)
	if _, err := s.user.Append("INBOX", literal(msg.Bytes()), &imap.AppendOptions{Time: now}); err != nil {
		return &smtp.SMTPError{
			Code:         451,
			EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message:      fmt.Sprintf("could not deliver: %v", err),
		}
	}
	return nil
}

func (s *submissionSession) Reset() { s.from = "" }

func (s *submissionSession) Logout() error { return nil }

// literal adapts a byte slice to imap.LiteralReader.
func literal(b []byte) imap.LiteralReader { return bytes.NewReader(b) }

// IdleInRounds works around a race in the memory server's IDLE: it tells
// the client it is idling before it subscribes to mailbox updates, so a
// message delivered in between would only be announced with the next
// change. Idling in rounds of Round, with a poll between them, delivers it
// within a round. The demo, the push benchmark and the push tests use it.
type IdleInRounds struct {
	imapserver.SessionIMAP4rev2
	Round time.Duration
}

// idleRound is the demo's round.
const idleRound = time.Second

func (s IdleInRounds) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	for {
		round := make(chan struct{})
		timer := time.NewTimer(s.Round)
		go func() {
			defer close(round)
			select {
			case <-stop:
			case <-timer.C:
			}
		}()
		if err := s.SessionIMAP4rev2.Idle(w, round); err != nil {
			timer.Stop()
			return err
		}
		// Idle also returns at once when no mailbox is selected; waiting
		// for the round keeps that from spinning.
		<-round
		select {
		case <-stop:
			return nil
		default:
		}
		if err := s.SessionIMAP4rev2.Poll(w, true); err != nil {
			return err
		}
	}
}

// trackingListener remembers the connections it accepted so that closeAll
// can drop them.
type trackingListener struct {
	net.Listener

	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{}
}

func track(l net.Listener) *trackingListener {
	return &trackingListener{Listener: l, conns: map[*trackedConn]struct{}{}}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// Close closes the listener; a second Close (the servers close what they
// serve) is a no-op.
func (l *trackingListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return l.Listener.Close()
}

func (l *trackingListener) closeAll() {
	_ = l.Close()
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l *trackingListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
