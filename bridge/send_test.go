package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"

	"github.com/easgate/easgate/bridge/upstream/smtptest"
	"github.com/easgate/easgate/eas"
)

func outgoing(to string) []byte {
	return []byte("From: alice@example.org\r\nTo: " + to + "\r\nSubject: Hello\r\n\r\nHi there.\r\n")
}

// sendTo runs one Send against an in-memory IMAP upstream and an SMTP
// server at smtpAddr.
func sendTo(t *testing.T, cfg Config, c eas.Compose, folders ...string) (*upstream, error) {
	t.Helper()
	cfg.Domain = "example.org"
	u := startMemServer(t, nil, cfg, folders...)
	mb := u.open(t)
	return u, mb.Send(context.Background(), c)
}

func sendError(t *testing.T, err error) *eas.SendError {
	t.Helper()
	var se *eas.SendError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *eas.SendError", err)
	}
	return se
}

func TestSendAuthentication(t *testing.T) {
	tests := []struct {
		name     string
		opt      smtptest.Options
		wantUser string
		wantErr  string
	}{
		{name: "PLAIN", opt: smtptest.Options{Mechanisms: []string{sasl.Plain}}, wantUser: testUser},
		{name: "LOGIN only", opt: smtptest.Options{Mechanisms: []string{sasl.Login}}, wantUser: testUser},
		{name: "LOGIN and PLAIN", opt: smtptest.Options{Mechanisms: []string{sasl.Login, sasl.Plain}}, wantUser: testUser},
		{name: "relay without AUTH", opt: smtptest.Options{NoAuth: true}},
		{name: "no usable mechanism", opt: smtptest.Options{Mechanisms: []string{"CRAM-MD5"}}, wantErr: "neither AUTH PLAIN nor LOGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := smtptest.New(t, tt.opt)
			sink.AddUser(testUser, testPass)
			_, err := sendTo(t, Config{SMTPAddr: sink.Addr, SMTPSecurity: SecurityNone},
				eas.Compose{MIME: outgoing("bob@example.net")})
			if tt.wantErr != "" {
				se := sendError(t, err)
				if se.Temporary || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v (temporary %v), want a final one about %q", err, se.Temporary, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := sink.Messages()
			if len(got) != 1 || got[0].User != tt.wantUser || got[0].From != "alice@example.org" ||
				!slices.Equal(got[0].To, []string{"bob@example.net"}) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestSendSecurity(t *testing.T) {
	cert, roots := selfSigned(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	trusting := &tls.Config{RootCAs: roots}
	tests := []struct {
		name     string
		opt      smtptest.Options
		security Security
		client   *tls.Config
		wantErr  string
	}{
		{name: "implicit TLS, trusted", opt: smtptest.Options{TLS: serverTLS, Implicit: true}, security: SecurityTLS, client: trusting},
		{name: "STARTTLS, trusted", opt: smtptest.Options{TLS: serverTLS}, security: SecuritySTARTTLS, client: trusting},
		{name: "implicit TLS, certificate not trusted", opt: smtptest.Options{TLS: serverTLS, Implicit: true}, security: SecurityTLS, wantErr: "certificate"},
		{name: "STARTTLS, certificate not trusted", opt: smtptest.Options{TLS: serverTLS}, security: SecuritySTARTTLS, wantErr: "certificate"},
		{name: "STARTTLS not offered", opt: smtptest.Options{}, security: SecuritySTARTTLS, client: trusting, wantErr: "STARTTLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := smtptest.New(t, tt.opt)
			sink.AddUser(testUser, testPass)
			_, err := sendTo(t, Config{SMTPAddr: sink.Addr, SMTPSecurity: tt.security, SMTPTLSConfig: tt.client},
				eas.Compose{MIME: outgoing("bob@example.net")})
			if tt.wantErr == "" {
				if err != nil || len(sink.Messages()) != 1 {
					t.Fatalf("send: %v, %d messages", err, len(sink.Messages()))
				}
				return
			}
			se := sendError(t, err)
			if se.Temporary || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v (temporary %v), want a final one about %q", err, se.Temporary, tt.wantErr)
			}
			if n := sink.Attempts(); n != 0 {
				t.Fatalf("the message was offered over an unprotected connection (%d attempts)", n)
			}
		})
	}
}

func TestSendTooLarge(t *testing.T) {
	sink := smtptest.New(t, smtptest.Options{MaxMessageBytes: 1000})
	sink.AddUser(testUser, testPass)
	big := append(outgoing("bob@example.net"), bytes.Repeat([]byte("0123456789\r\n"), 200)...)
	_, err := sendTo(t, Config{SMTPAddr: sink.Addr, SMTPSecurity: SecurityNone}, eas.Compose{MIME: big})
	if se := sendError(t, err); se.Reason != eas.SendTooLarge || se.Temporary {
		t.Fatalf("error %v: reason %d, want SendTooLarge", err, se.Reason)
	}
	if n := sink.Attempts(); n != 0 {
		t.Fatalf("sent although the server announced a smaller SIZE (%d attempts)", n)
	}
}

// Every wait for the SMTP server ends: a server that accepts the
// connection and never greets is given up on when the request ends or the
// command timeout passes, and the failure is temporary.
func TestSendSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  bool
	}{
		{name: "command timeout", timeout: 300 * time.Millisecond},
		{name: "request ends", timeout: time.Hour, cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := startMemServer(t, nil, Config{SMTPAddr: ln.Addr().String(), SMTPSecurity: SecurityNone, CommandTimeout: tt.timeout})
			mb := u.open(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					time.Sleep(100 * time.Millisecond)
					cancel()
				}()
			}
			err := mb.Send(ctx, eas.Compose{MIME: outgoing("bob@example.net")})
			if se := sendError(t, err); !se.Temporary {
				t.Fatalf("error %v is not temporary", err)
			}
		})
	}
}

// The copy goes to the folder FolderSync calls Sent; an account without
// one gets a "Sent" folder.
func TestSendSentFolder(t *testing.T) {
	tests := []struct {
		name    string
		folders []string
		want    string
	}{
		{name: "by name", folders: []string{"Sent Items", "Drafts"}, want: "Sent Items"},
		{name: "German name", folders: []string{"Gesendet"}, want: "Gesendet"},
		{name: "none yet", folders: nil, want: "Sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := smtptest.New(t, smtptest.Options{})
			sink.AddUser(testUser, testPass)
			u, err := sendTo(t, Config{SMTPAddr: sink.Addr, SMTPSecurity: SecurityNone},
				eas.Compose{MIME: outgoing("bob@example.net"), SaveInSent: true}, tt.folders...)
			if err != nil {
				t.Fatal(err)
			}
			c := u.dial(t)
			if _, err := c.Select(tt.want, nil).Wait(); err != nil {
				t.Fatalf("select %s: %v", tt.want, err)
			}
			var all imap.UIDSet
			all.AddRange(1, 0)
			msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || msgs[0].Envelope.Subject != "Hello" || !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
				t.Fatalf("%s holds %+v", tt.want, msgs)
			}
		})
	}
}
