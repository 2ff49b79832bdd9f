// Package smtptest runs an in-process SMTP submission server for tests: it
// checks AUTH against the accounts it is given, records every message it
// accepts with its envelope, and can be told to refuse a stage or to go
// away and come back, as a real upstream might.
//
// Start and Close are an ordinary API; New is Start for tests, which fails
// the test on error and closes the server when it ends.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options tune the server. The zero value offers AUTH PLAIN over plain TCP.
type Options struct {
	// Mechanisms offered for AUTH: sasl.Plain and/or sasl.Login. Empty
	// means PLAIN.
	Mechanisms []string
	// NoAuth offers no AUTH at all and accepts mail from anyone, as a relay
	// that trusts the client's address does.
	NoAuth bool
	// TLS is the server's certificate configuration. With Implicit the
	// listener speaks TLS from the start; otherwise STARTTLS is offered.
	TLS      *tls.Config
	Implicit bool
	// MaxMessageBytes is announced in SIZE and enforced (0: 50 MiB).
	MaxMessageBytes int64
}

// Message is one accepted message.
type Message struct {
	// User is who authenticated ("" without AUTH).
	User string
	From string
	To   []string
	Data []byte
}

// Stage names the command a refusal applies to.
type Stage string

const (
	StageMail Stage = "MAIL"
	StageRcpt Stage = "RCPT"
	StageData Stage = "DATA"
)

// Server is a running sink.
type Server struct {
	// Addr is "127.0.0.1:port"; it stays the same across Stop and Start.
	Addr string

	opt Options

	mu       sync.Mutex
	users    map[string]string
	msgs     []Message
	refuse   func(stage Stage, arg string) *smtp.SMTPError
	attempts int
	srv      *smtp.Server
	done     chan struct{}
}

// Start starts a sink on a free port of 127.0.0.1. Close stops it.
func Start(opt Options) (*Server, error) {
	s := &Server{opt: opt, users: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen: %w", err)
	}
	s.Addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

// New is Start for tests: it fails t if the sink cannot start, and closes
// it when the test ends.
func New(t testing.TB, opt Options) *Server {
	t.Helper()
	s, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Close stops the sink for good: it is Stop with the error io.Closer asks
// for, which is always nil.
func (s *Server) Close() error {
	s.Stop()
	return nil
}

// AddUser lets name log in with password.
func (s *Server) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = password
}

// Refuse makes fn decide every MAIL (arg: the sender), RCPT (arg: the
// recipient) and DATA (arg: "") from now on; a non-nil result is the
// server's answer. nil restores acceptance.
func (s *Server) Refuse(fn func(stage Stage, arg string) *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = fn
}

// Messages returns the accepted messages so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Attempts counts the MAIL commands received, accepted or not.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Stop closes the listener and every connection: the address then refuses
// connections until Start.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	<-done
}

// Start listens again on the same address after Stop.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; give the kernel a moment if needed.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("smtptest: listen again on %s: %v", s.Addr, err)
	}
	s.serve(ln)
}

func (s *Server) serve(ln net.Listener) {
	if s.opt.TLS != nil && s.opt.Implicit {
		ln = tls.NewListener(ln, s.opt.TLS)
	}
	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = "smtp.test"
	srv.MaxMessageBytes = s.opt.MaxMessageBytes
	if srv.MaxMessageBytes == 0 {
		srv.MaxMessageBytes = 50 << 20
	}
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.EnableSMTPUTF8 = true
	srv.AllowInsecureAuth = s.opt.TLS == nil
	if s.opt.TLS != nil && !s.opt.Implicit {
		srv.TLSConfig = s.opt.TLS
	}
	srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.done = srv, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
}

type backend struct{ s *Server }

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s}, nil
}

type session struct {
	s      *Server
	user   string
	authed bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opt.NoAuth {
		return nil
	}
	if len(ss.s.opt.Mechanisms) == 0 {
		return []string{sasl.Plain}
	}
	return ss.s.opt.Mechanisms
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ok := false
	for _, m := range ss.AuthMechanisms() {
		ok = ok || strings.EqualFold(m, mech)
	}
	if !ok {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, password string) error {
		ss.s.mu.Lock()
		want, known := ss.s.users[user]
		ss.s.mu.Unlock()
		if !known || want != password {
			return smtp.ErrAuthFailed
		}
		ss.user, ss.authed = user, true
		return nil
	}
	if strings.EqualFold(mech, sasl.Login) {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(identity, user, password string) error {
		if identity != "" && identity != user {
			return smtp.ErrAuthFailed
		}
		return check(user, password)
	}), nil
}

func (ss *session) allowed() error {
	if !ss.authed && !ss.s.opt.NoAuth {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (ss *session) refused(stage Stage, arg string) error {
	ss.s.mu.Lock()
	fn := ss.s.refuse
	if stage == StageMail {
		ss.s.attempts++
	}
	ss.s.mu.Unlock()
	if fn == nil {
		return nil
	}
	if e := fn(stage, arg); e != nil {
		return e
	}
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := ss.allowed(); err != nil {
		return err
	}
	if err := ss.refused(StageMail, from); err != nil {
		return err
	}
	ss.from, ss.to = from, nil
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.allowed(); err != nil {
		return err
	}
	if err := ss.refused(StageRcpt, to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if err := ss.allowed(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		return fmt.Errorf("read message: %w", err)
	}
	if err := ss.refused(StageData, ""); err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, Message{User: ss.user, From: ss.from, To: ss.to, Data: buf.Bytes()})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// loginServer is the server side of the obsolete LOGIN mechanism, which
// some submission servers still offer alone; go-sasl has only the client.
type loginServer struct {
	check    func(user, password string) error
	user     string
	haveUser bool
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	if !l.haveUser {
		if response == nil {
			return []byte("Username:"), false, nil
		}
		l.user, l.haveUser = string(response), true
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(response))
}
