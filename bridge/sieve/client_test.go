package sieve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/sieve"
	"github.com/easgate/easgate/bridge/upstream/sievetest"
	"github.com/easgate/easgate/bridge/upstream/smtptest"
)

// env is a Dovecot with Pigeonhole and an SMTP sink for what Sieve sends.
type env struct {
	dc   *sievetest.Server
	sink *smtptest.Server
}

func startEnv(t *testing.T) *env {
	t.Helper()
	sink := smtptest.New(t, smtptest.Options{NoAuth: true})
	return &env{dc: sievetest.New(t, sievetest.Options{SubmissionAddr: sink.Addr}), sink: sink}
}

func (e *env) dial(t *testing.T, user, pw string) *sieve.Client {
	t.Helper()
	ctx := context.Background()
	c, err := sieve.Dial(ctx, sieve.DialConfig{Addr: e.dc.SieveAddr, Security: bridge.SecurityNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Authenticate(ctx, user, pw); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientScripts(t *testing.T) {
	e := startEnv(t)
	e.dc.AddUser(t, "anna", "secret")
	ctx := context.Background()
	c := e.dial(t, "anna", "secret")
	if ext, ok := c.Capability("SIEVE"); !ok || !strings.Contains(ext, "vacation") || !strings.Contains(ext, "include") {
		t.Fatalf("SIEVE capability %q %v", ext, ok)
	}

	// Names and content that need quoting and literals, byte for byte.
	scripts := []struct{ name, content string }{
		{"plain", "keep;\r\n"},
		{`quo"te\d`, "# Grüße \"x\" \\ y\nrequire \"fileinto\";\nif header :contains \"subject\" \"spam\" { fileinto \"Junk\"; }\n"},
		{"Ünïcode", "# no final newline\nkeep;"},
	}
	for _, s := range scripts {
		if err := c.PutScript(ctx, s.name, s.content); err != nil {
			t.Fatalf("put %q: %v", s.name, err)
		}
	}
	for _, s := range scripts {
		got, err := c.GetScript(ctx, s.name)
		if err != nil || got != s.content {
			t.Errorf("get %q = %q, %v; want %q", s.name, got, err, s.content)
		}
	}
	if err := c.SetActive(ctx, `quo"te\d`); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListScripts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []sieve.Script{{"Ünïcode", false}, {"plain", false}, {`quo"te\d`, true}}
	slices.SortFunc(list, func(a, b sieve.Script) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(want, func(a, b sieve.Script) int { return strings.Compare(a.Name, b.Name) })
	if !slices.Equal(list, want) {
		t.Errorf("list = %v, want %v", list, want)
	}

	tests := []struct {
		name string
		do   func() error
		code string
	}{
		{"delete active", func() error { return c.DeleteScript(ctx, `quo"te\d`) }, "ACTIVE"},
		{"get missing", func() error { _, err := c.GetScript(ctx, "nope"); return err }, "NONEXISTENT"},
		{"activate missing", func() error { return c.SetActive(ctx, "nope") }, "NONEXISTENT"},
		{"put broken", func() error { return c.PutScript(ctx, "broken", "if {") }, ""},
	}
	for _, tt := range tests {
		err := tt.do()
		var se *sieve.Error
		if !errors.As(err, &se) {
			t.Errorf("%s: %v, want a NO", tt.name, err)
			continue
		}
		if tt.code != "" && !sieve.HasCode(err, tt.code) {
			t.Errorf("%s: %v, want code %s", tt.name, err, tt.code)
		}
	}

	if err := c.SetActive(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteScript(ctx, "plain"); err != nil {
		t.Fatal(err)
	}
	list, err = c.ListScripts(ctx)
	if err != nil || len(list) != 2 || list[0].Active || list[1].Active {
		t.Errorf("after deactivate and delete: %v %v", list, err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Errorf("logout: %v", err)
	}
}

func TestClientAuthFailure(t *testing.T) {
	e := startEnv(t)
	e.dc.AddUser(t, "anna", "secret")
	ctx := context.Background()
	c, err := sieve.Dial(ctx, sieve.DialConfig{Addr: e.dc.SieveAddr, Security: bridge.SecurityNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Authenticate(ctx, "anna", "wrong"); !errors.Is(err, sieve.ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := c.Authenticate(ctx, "anna", "secret"); err != nil {
		t.Fatalf("retry on the same connection: %v", err)
	}
}

func TestClientDialFailures(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tests := []struct {
		name string
		cfg  sieve.DialConfig
	}{
		// Dovecot here offers no STARTTLS: asking for it must fail, not
		// fall back to plain text.
		{"starttls not offered", sieve.DialConfig{Addr: e.dc.SieveAddr, Security: bridge.SecuritySTARTTLS}},
		{"implicit TLS to plain server", sieve.DialConfig{Addr: e.dc.SieveAddr, Security: bridge.SecurityTLS}},
		{"nothing listening", sieve.DialConfig{Addr: "127.0.0.1:1", Security: bridge.SecurityNone}},
	}
	for _, tt := range tests {
		c, err := sieve.Dial(ctx, tt.cfg)
		if err == nil {
			c.Close()
			t.Errorf("%s: dial succeeded", tt.name)
		}
	}
}

// TestClientTLS: STARTTLS (Dovecot's) and implicit TLS (a TLS front to
// Dovecot's plain port), certificates verified.
func TestClientTLS(t *testing.T) {
	sink := smtptest.New(t, smtptest.Options{NoAuth: true})
	dc := sievetest.New(t, sievetest.Options{SubmissionAddr: sink.Addr, TLS: true})
	dc.AddUser(t, "anna", "secret")
	front, frontRoots := tlsFront(t, dc.SieveAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name   string
		cfg    sieve.DialConfig
		wantOK bool
	}{
		{"starttls", sieve.DialConfig{Addr: dc.SieveAddr, Security: bridge.SecuritySTARTTLS, TLSConfig: &tls.Config{RootCAs: dc.Roots}}, true},
		{"implicit", sieve.DialConfig{Addr: front, Security: bridge.SecurityTLS, TLSConfig: &tls.Config{RootCAs: frontRoots}}, true},
		{"starttls, untrusted", sieve.DialConfig{Addr: dc.SieveAddr, Security: bridge.SecuritySTARTTLS}, false},
		{"implicit, untrusted", sieve.DialConfig{Addr: front, Security: bridge.SecurityTLS}, false},
	}
	for _, tt := range tests {
		c, err := sieve.Dial(ctx, tt.cfg)
		if err == nil {
			err = c.Authenticate(ctx, "anna", "secret")
			if err == nil {
				_, err = c.ListScripts(ctx)
			}
			c.Close()
		}
		if (err == nil) != tt.wantOK {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// tlsFront terminates TLS for 127.0.0.1 and passes the bytes on to
// backend; it returns its address and a pool trusting its certificate.
func tlsFront(t *testing.T, backend string) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String(), roots
}
