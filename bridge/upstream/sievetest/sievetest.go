//go:build unix

// Package sievetest runs a throwaway Dovecot with Pigeonhole for tests of
// Sieve: IMAP (for logins), ManageSieve (RFC 5804) and LMTP delivery through
// the user's active Sieve script, with the messages Sieve sends (vacation
// replies, redirects) submitted to an SMTP server of the test's choosing.
//
// Each Start launches its own Dovecot master on 127.0.0.1 with a private
// configuration under a temporary directory; Close stops it and removes the
// directory (New does that when the test ends). Users log in and receive mail under
// their login name; LMTP takes "name@any.domain" for user "name".
//
// Dovecot with Pigeonhole must be installed (Debian: dovecot-imapd,
// dovecot-sieve, dovecot-managesieved, dovecot-lmtpd). A test that cannot
// find it fails; ./test.sh installs them.
package sievetest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/easgate/easgate/bridge/upstream/internal/proc"
)

// Options tune the instance.
type Options struct {
	// SubmissionAddr is the SMTP server ("host:port", no TLS, no AUTH)
	// that receives what Sieve sends. Required.
	SubmissionAddr string
	// Hostname is the name Dovecot uses for itself in the messages it
	// generates; default "mail.example.com".
	Hostname string
	// TLS gives ManageSieve a certificate for 127.0.0.1 (trusted by Roots)
	// and STARTTLS. (Dovecot 2.3's implicit-TLS ManageSieve listener drops
	// a command now and then; tests of implicit TLS put their own TLS in
	// front of SieveAddr.)
	TLS bool
}

// Server is one running Dovecot.
type Server struct {
	// IMAPAddr, SieveAddr and LMTPAddr are "127.0.0.1:port".
	IMAPAddr, SieveAddr, LMTPAddr string
	// Roots trusts the certificate of Options.TLS.
	Roots *x509.CertPool

	dir      string
	opt      Options
	uid, gid int
	proc     *proc.Proc

	mu    sync.Mutex
	users map[string]bool
}

const (
	startTimeout = 20 * time.Second
	stopTimeout  = 15 * time.Second
	// A free port may be taken by a parallel test before Dovecot binds it.
	bindAttempts = 5
)

// Start launches Dovecot on free ports of 127.0.0.1. Close stops it and
// removes its directory.
func Start(opt Options) (*Server, error) {
	if opt.SubmissionAddr == "" {
		return nil, errors.New("sievetest: Options.SubmissionAddr is required")
	}
	if opt.Hostname == "" {
		opt.Hostname = "mail.example.com"
	}
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		bin = "/usr/sbin/dovecot"
	}
	if _, err := os.Stat("/usr/lib/dovecot/modules/lib90_sieve_plugin.so"); err != nil {
		return nil, fmt.Errorf("sievetest: Pigeonhole not installed (%v); run ./test.sh to install dovecot-sieve, dovecot-managesieved and dovecot-lmtpd", err)
	}
	// Not t.TempDir: as root the mail processes run as nobody and must reach
	// their homes through it, and Dovecot's socket paths must stay short.
	dir, err := os.MkdirTemp("", "sievetest-")
	if err != nil {
		return nil, fmt.Errorf("sievetest: %w", err)
	}
	s := &Server{dir: dir, opt: opt, users: map[string]bool{}}
	if err := s.start(bin); err != nil {
		if cerr := s.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("sievetest: %w", err)
	}
	return s, nil
}

// New is Start for tests: it fails t if Dovecot cannot start, and closes
// the server when the test ends.
func New(t testing.TB, opt Options) *Server {
	t.Helper()
	s, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Close stops Dovecot and removes its configuration and mail.
func (s *Server) Close() error {
	err := s.stop()
	if rerr := os.RemoveAll(s.dir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", s.dir, rerr))
	}
	if err != nil {
		return fmt.Errorf("sievetest: %w", err)
	}
	return nil
}

// start prepares the directory and launches Dovecot, with new ports when
// the picked ones were taken.
func (s *Server) start(bin string) error {
	if err := s.prepare(); err != nil {
		return err
	}
	var err error
	for range bindAttempts {
		if err = s.launch(bin); err == nil || !strings.Contains(err.Error(), "Address already in use") {
			return err
		}
	}
	return err
}

// AddUser adds an account; it can log in (IMAP, ManageSieve) and receive
// mail at once.
func (s *Server) AddUser(t testing.TB, name, password string) {
	t.Helper()
	if name == "" || strings.ContainsAny(name, ":/@\r\n\x00") || strings.ContainsAny(password, ":\r\n\x00") {
		t.Fatalf("sievetest: user %q or its password cannot be a passwd-file entry", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[name] {
		t.Fatalf("sievetest: user %q already exists", name)
	}
	s.users[name] = true
	home := filepath.Join(s.dir, "home", name)
	line := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", name, password, s.uid, s.gid, home)
	tmp := filepath.Join(s.dir, "passwd.tmp")
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		t.Fatalf("sievetest: %v", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "passwd.d", name)); err != nil {
		t.Fatalf("sievetest: %v", err)
	}
}

// Deliver hands raw to Dovecot's LMTP with the given envelope, as a mail
// server delivering to the user would; the user's active Sieve script runs.
func (s *Server) Deliver(t testing.TB, from, to string, raw []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.LMTPAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("sievetest: dial LMTP: %v", err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mx.example.net"); err != nil {
		t.Fatalf("sievetest: LMTP LHLO: %v", err)
	}
	if err := c.SendMail(from, []string{to}, bytes.NewReader(raw)); err != nil {
		t.Fatalf("sievetest: LMTP delivery to %s: %v\n%s", to, err, s.Log())
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("sievetest: LMTP QUIT: %v", err)
	}
}

// Log returns Dovecot's log so far, for failure messages.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "dovecot.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// prepare picks the owner of the mail and creates the directories.
func (s *Server) prepare() error {
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	s.uid, s.gid = os.Getuid(), os.Getgid()
	if s.uid == 0 {
		// Dovecot refuses to run mail processes as root.
		nobody, err := user.Lookup("nobody")
		if err != nil {
			return fmt.Errorf("running as root needs a 'nobody' user: %w", err)
		}
		s.uid, _ = strconv.Atoi(nobody.Uid)
		s.gid, _ = strconv.Atoi(nobody.Gid)
	}
	home := filepath.Join(s.dir, "home")
	for _, d := range []string{home, filepath.Join(s.dir, "passwd.d")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chown(home, s.uid, s.gid); err != nil {
		return err
	}
	if s.opt.TLS {
		return s.writeCert()
	}
	return nil
}

// writeCert makes a certificate for 127.0.0.1 and a pool that trusts it.
func (s *Server) writeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sieve.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	s.Roots = x509.NewCertPool()
	s.Roots.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(s.dir, "cert.pem"), certPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "key.pem"), keyPEM, 0o600)
}

func (s *Server) config() (string, error) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("base_dir = %s/run", s.dir)
	p("state_dir = %s/state", s.dir)
	p("log_path = %s/dovecot.log", s.dir)
	p("instance_name = %s", filepath.Base(s.dir))
	p("protocols = imap lmtp sieve")
	p("listen = 127.0.0.1")
	if s.opt.TLS {
		p("ssl = yes")
		p("ssl_cert = <%s/cert.pem", s.dir)
		p("ssl_key = <%s/key.pem", s.dir)
	} else {
		p("ssl = no")
	}
	p("disable_plaintext_auth = no")
	p("auth_mechanisms = plain login")
	p("auth_failure_delay = 0")
	p("mail_fsync = never")
	p("mail_location = maildir:~/Maildir")
	p("first_valid_uid = %d", s.uid)
	p("first_valid_gid = %d", s.gid)
	p("hostname = %s", s.opt.Hostname)
	p("postmaster_address = postmaster@%s", s.opt.Hostname)
	p("submission_host = %s", s.opt.SubmissionAddr)
	if os.Geteuid() != 0 {
		me, err := user.Current()
		if err != nil {
			return "", err
		}
		grp, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
		if err != nil {
			return "", err
		}
		p("default_internal_user = %s", me.Username)
		p("default_internal_group = %s", grp.Name)
		p("default_login_user = %s", me.Username)
		for _, svc := range []string{"imap-login", "managesieve-login", "anvil"} {
			p("service %s {\n  chroot =\n}", svc)
		}
	}
	p("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN %s/passwd.d/%%n\n}", s.dir)
	p("userdb {\n  driver = passwd-file\n  args = %s/passwd.d/%%n\n}", s.dir)
	// LMTP recipients are addresses; the account is the local part.
	p("protocol lmtp {\n  mail_plugins = $mail_plugins sieve\n  auth_username_format = %%Ln\n}")
	p("plugin {\n  sieve = file:~/sieve;active=~/.dovecot.sieve\n}")
	p("service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}")
	p("service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = %s\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}", port(s.IMAPAddr))
	p("service managesieve-login {\n  inet_listener sieve {\n    address = 127.0.0.1\n    port = %s\n  }\n}", port(s.SieveAddr))
	p("service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = %s\n  }\n}", port(s.LMTPAddr))
	return b.String(), nil
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// launch picks ports, writes the config, starts the master and waits until
// all three services greet.
func (s *Server) launch(bin string) error {
	for _, a := range []*string{&s.IMAPAddr, &s.SieveAddr, &s.LMTPAddr} {
		port, err := proc.FreePort()
		if err != nil {
			return err
		}
		*a = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	conf, err := s.config()
	if err != nil {
		return err
	}
	confPath := filepath.Join(s.dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	os.Remove(filepath.Join(s.dir, "dovecot.log"))
	p, err := proc.Start(exec.Command(bin, "-F", "-c", confPath), startTimeout, s.greet)
	if err != nil {
		return fmt.Errorf("dovecot: %w\n%s", err, s.Log())
	}
	s.proc = p
	return nil
}

// greet succeeds once all three services greet.
func (s *Server) greet() error {
	for _, w := range []struct{ addr, ready string }{
		{s.IMAPAddr, "* OK [CAPABILITY "}, {s.SieveAddr, "OK"}, {s.LMTPAddr, "220 "},
	} {
		if err := greets(w.addr, w.ready); err != nil {
			return fmt.Errorf("%s: %w", w.addr, err)
		}
	}
	return nil
}

// greets succeeds once a line starting with ready arrives on addr.
func greets(addr, ready string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, ready) {
			return nil
		}
	}
}

func (s *Server) stop() error {
	if s.proc == nil {
		return nil
	}
	_, err := s.proc.Stop(stopTimeout)
	s.proc = nil
	return err
}
