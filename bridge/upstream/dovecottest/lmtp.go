package dovecottest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// LMTPAddr is the LMTP address, "127.0.0.1:port", of a server started with
// Options.LMTP; "" without.
func (s *Server) LMTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lmtpPort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.lmtpPort))
}

// DeliverMail delivers raw to the INBOX of each recipient by LMTP, as an
// MTA hands mail to Dovecot; the recipients are user names as AddAccount
// was given them. It needs Options.LMTP.
func (s *Server) DeliverMail(from string, to []string, raw []byte) error {
	addr := s.LMTPAddr()
	if addr == "" {
		return errors.New("dovecottest: DeliverMail needs Options.LMTP")
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dovecottest: dial LMTP %s: %w", addr, err)
	}
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		conn.Close()
		return fmt.Errorf("dovecottest: LMTP deadline: %w", err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("dovecottest: LHLO: %w", err)
	}
	if err := c.SendMail(from, to, bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("dovecottest: deliver to %v: %w", to, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("dovecottest: LMTP QUIT: %w", err)
	}
	return nil
}

// Deliver is DeliverMail for tests: it fails t on error.
func (s *Server) Deliver(t testing.TB, from string, to []string, raw []byte) {
	t.Helper()
	if err := s.DeliverMail(from, to, raw); err != nil {
		t.Fatal(err)
	}
}

// SetServerMetadata sets a server METADATA entry (RFC 5464, mailbox "") of
// user, logged in as that user; value nil removes it. It needs
// Options.Metadata. Dovecot's push_notification plugin notifies a user only
// while /private/vendor/vendor.dovecot/http-notify is set.
func (s *Server) SetServerMetadata(user, password, entry string, value *string) error {
	c, err := s.login(user, password)
	if err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	defer c.Close()
	var v *[]byte
	if value != nil {
		b := []byte(*value)
		v = &b
	}
	if err := c.SetMetadata("", map[string]*[]byte{entry: v}).Wait(); err != nil {
		return fmt.Errorf("dovecottest: SETMETADATA %s for %q: %w", entry, user, err)
	}
	if err := c.Logout().Wait(); err != nil {
		return fmt.Errorf("dovecottest: logout after SETMETADATA: %w", err)
	}
	return nil
}
