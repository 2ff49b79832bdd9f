package bridge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/easgate/easgate/eas"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "imap.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots
}

// tlsServer serves the in-memory server with implicit TLS (implicit) or
// with STARTTLS on a plain port.
func tlsServer(t *testing.T, cert tls.Certificate, implicit bool) string {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(testUser, testPass)
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger: discardLogger{},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		ln = tls.NewListener(ln, cfg)
	} else {
		opts.TLSConfig = cfg
	}
	srv := imapserver.New(opts)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestSecurity(t *testing.T) {
	cert, roots := selfSigned(t)
	tlsAddr := tlsServer(t, cert, true)
	startTLSAddr := tlsServer(t, cert, false)
	plain := startMemServer(t, nil, Config{}).addr
	trusting := &tls.Config{RootCAs: roots}
	tests := []struct {
		name     string
		addr     string
		security Security
		tls      *tls.Config
		wantErr  error
		wantText string
	}{
		{"implicit TLS, trusted", tlsAddr, SecurityTLS, trusting, nil, ""},
		{"implicit TLS, certificate not trusted", tlsAddr, SecurityTLS, nil, eas.ErrUnavailable, "certificate"},
		{"STARTTLS, trusted", startTLSAddr, SecuritySTARTTLS, trusting, nil, ""},
		{"STARTTLS, certificate not trusted", startTLSAddr, SecuritySTARTTLS, nil, eas.ErrUnavailable, "certificate"},
		{"STARTTLS refused by the server", plain, SecuritySTARTTLS, trusting, eas.ErrUnavailable, "STARTTLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(Config{Addr: tt.addr, Security: tt.security, TLSConfig: tt.tls, CommandTimeout: 10 * time.Second})
			defer b.Close()
			// With the phone's address, the IMAP ID exchange comes first.
			mb, err := b.Open(context.Background(), eas.Credentials{Username: testUser, Password: testPass, RemoteAddr: "192.0.2.1:4711"})
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr)
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Errorf("error %q does not mention %q", err, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer mb.Close()
			if _, err := mb.Folders(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPrimaryAddress(t *testing.T) {
	tests := []struct{ domain, user, want string }{
		{"example.org", "alice", "alice@example.org"},
		{"example.org", "bob@example.net", "bob@example.net"},
		{"", "alice", "alice"},
	}
	for _, tt := range tests {
		b := &Backend{cfg: Config{Domain: tt.domain}}
		if got := b.primaryAddress(tt.user); got != tt.want {
			t.Errorf("primaryAddress(%q) with domain %q = %q, want %q", tt.user, tt.domain, got, tt.want)
		}
	}
}
