// Package dovecottest runs a throwaway Dovecot IMAP server for tests.
//
// Each Start launches its own Dovecot master process on 127.0.0.1 with a
// private configuration, passwd files and maildirs under a temporary
// directory, so tests in different packages (and parallel tests in one
// package) never share state. Close stops the instance and removes its
// directory. Start, Close, AddAccount and Login are an ordinary API, which
// a benchmark program can use too; New, AddUser, Dial, Append, Stop and the
// Start method are their forms for tests, which fail the test on error and
// clean up when it ends.
//
// Every user gets INBOX plus Drafts, Sent, Trash, Junk and Archive, created
// and subscribed on first login and marked with their SPECIAL-USE
// attributes. Folders are maildirs; the hierarchy separator is '/'.
//
// Options.LMTP adds an LMTP listener that DeliverMail delivers through, as
// an MTA would; Options.Metadata turns on IMAP METADATA, which
// SetServerMetadata sets; Options.Config adds plugin settings, such as
// push_notification's.
//
// Dovecot must be installed (Debian: dovecot-imapd; dovecot-lmtpd for LMTP). A test that cannot find
// it fails; run ./test.sh to install the test dependencies.
package dovecottest

import (
	"bufio"
	"errors"
	"fmt"
	"mime"
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

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"

	"github.com/easgate/easgate/bridge/upstream/internal/proc"
)

// Options tune the instance. The zero value gives a Dovecot with its default
// capabilities.
type Options struct {
	// NoCondstore hides CONDSTORE and QRESYNC from the capability list so
	// clients take the path they use for servers without them.
	NoCondstore bool
	// MaxUserIPConnections is mail_max_userip_connections; 0 means 1000.
	// Dovecot's own default of 10 is easy to exceed with a test that opens
	// a pool, an IDLE watcher and setup connections for one user.
	MaxUserIPConnections int
	// LMTP adds an LMTP listener on 127.0.0.1 (LMTPAddr), for delivering
	// mail the way an MTA does; Debian's dovecot-lmtpd must be installed.
	LMTP bool
	// Metadata turns on IMAP METADATA (RFC 5464) with a file dictionary in
	// each user's home, which Dovecot's push_notification plugin reads to
	// decide whom to notify.
	Metadata bool
	// Config is appended to the generated dovecot.conf, for plugins and
	// their settings (protocol and plugin sections).
	Config string
	// Logf receives the harness's notes, such as a Dovecot that had to be
	// killed; nil drops them. New sets it to the test's Logf.
	Logf func(format string, args ...any)
	// TrustedNetworks is login_trusted_networks: clients there may name
	// the address they log in for (IMAP ID x-originating-ip).
	TrustedNetworks string
}

// Server is one running (or stopped) Dovecot instance.
type Server struct {
	bin     string
	dir     string
	opt     Options
	mailUID int
	mailGID int

	mu    sync.Mutex
	port  int
	users []account
	proc  *proc.Proc

	lmtpPort int // 0 without Options.LMTP; guarded by mu
}

type account struct{ name, password string }

const (
	startTimeout = 20 * time.Second
	stopTimeout  = 15 * time.Second
	// A port picked free may be grabbed by someone else before Dovecot
	// binds it (parallel tests do exactly that), so a bind failure is
	// retried with a new port.
	bindAttempts = 5
)

// Start launches a new Dovecot instance on a free port of 127.0.0.1. Close
// stops it and removes its mail.
func Start(opt Options) (*Server, error) {
	if opt.MaxUserIPConnections <= 0 {
		opt.MaxUserIPConnections = 1000
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	bin, err := findDovecot()
	if err != nil {
		return nil, fmt.Errorf("dovecottest: %w", err)
	}
	// Not t.TempDir: that directory is 0700 and nested in another 0700
	// directory, but as root the mail processes run as nobody and must
	// reach their maildirs. A short path also keeps Dovecot's unix socket
	// paths under the 108-byte limit.
	dir, err := os.MkdirTemp("", "dovecottest-")
	if err != nil {
		return nil, fmt.Errorf("dovecottest: create temp dir: %w", err)
	}
	s := &Server{bin: bin, dir: dir, opt: opt}
	if err := s.start(); err != nil {
		if cerr := s.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("dovecottest: %w", err)
	}
	return s, nil
}

// start prepares the directory and launches Dovecot on a free port.
func (s *Server) start() error {
	if strings.ContainsAny(s.dir, " \t\"'#\\") {
		return fmt.Errorf("temp dir %q has characters the Dovecot config cannot take; set TMPDIR to a plain path", s.dir)
	}
	if err := s.prepare(); err != nil {
		return err
	}
	var lastErr error
	for range bindAttempts {
		port, err := proc.FreePort()
		if err != nil {
			return err
		}
		lmtpPort := 0
		if s.opt.LMTP {
			if lmtpPort, err = proc.FreePort(); err != nil {
				return err
			}
		}
		s.mu.Lock()
		s.port, s.lmtpPort = port, lmtpPort
		s.mu.Unlock()
		lastErr = s.launch()
		if lastErr == nil {
			return nil
		}
		if !strings.Contains(lastErr.Error(), "Address already in use") {
			break
		}
	}
	return lastErr
}

// New is Start for tests: it fails t if Dovecot cannot start, and closes
// the server when the test ends.
func New(t testing.TB, opt Options) *Server {
	t.Helper()
	if opt.Logf == nil {
		opt.Logf = t.Logf
	}
	s, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			// The log goes with the directory: what Dovecot saw is often
			// what explains a failure seen once under load.
			t.Logf("dovecot.log, last lines:\n%s", s.logTail(60))
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// logTail returns the last n lines of Dovecot's log, or why it cannot.
func (s *Server) logTail(n int) string {
	b, err := os.ReadFile(filepath.Join(s.dir, "dovecot.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// Close stops Dovecot and removes its configuration and mail. Closing a
// closed server does nothing.
func (s *Server) Close() error {
	if err := s.stop(s.opt.Logf); err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("dovecottest: remove %s: %w", s.dir, err)
	}
	return nil
}

// Addr is the IMAP address, "127.0.0.1:port". It stays the same across Stop
// and Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// MasterPID is the process id of the running Dovecot master, as it wrote
// it in its base_dir: its children are this instance's imap, login and
// auth processes.
func (s *Server) MasterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "run", "master.pid"))
	if err != nil {
		return 0, fmt.Errorf("dovecottest: master pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("dovecottest: master pid: %w", err)
	}
	return pid, nil
}

// AddAccount adds an account with a plain-text password. It may be called
// while the server runs; the user can log in as soon as AddAccount returns.
func (s *Server) AddAccount(name, password string) error {
	if name == "" || strings.ContainsAny(name, ":/\r\n\x00") || name == "." || name == ".." {
		return fmt.Errorf("dovecottest: user name %q cannot be a passwd-file entry", name)
	}
	if strings.ContainsAny(password, ":\r\n\x00") {
		return fmt.Errorf("dovecottest: password for %q cannot contain ':' or line breaks", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.name == name {
			return fmt.Errorf("dovecottest: user %q already exists", name)
		}
	}
	s.users = append(s.users, account{name, password})
	if err := s.writePasswd(); err != nil {
		return fmt.Errorf("dovecottest: %w", err)
	}
	return nil
}

// AddUser is AddAccount for tests: it fails t on error.
func (s *Server) AddUser(t testing.TB, name, password string) {
	t.Helper()
	if err := s.AddAccount(name, password); err != nil {
		t.Fatal(err)
	}
}

// Login opens an independent connection logged in as user. The caller
// closes it.
func (s *Server) Login(user, password string) (*imapclient.Client, error) {
	c, err := s.login(user, password)
	if err != nil {
		return nil, fmt.Errorf("dovecottest: %w", err)
	}
	return c, nil
}

// Log returns what Dovecot has logged since it last started.
func (s *Server) Log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "dovecot.log"))
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	return string(b)
}

// Dial opens an independent, logged-in connection for test setup and
// assertions. It is closed by t.Cleanup.
func (s *Server) Dial(t testing.TB, user, password string) *imapclient.Client {
	t.Helper()
	c, err := s.login(user, password)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	// Close, not Logout: a test may leave the connection in IDLE, and then
	// every other command would wait behind it.
	t.Cleanup(func() { c.Close() })
	return c
}

// Append stores raw in mailbox of user with the given flags and returns its
// UID.
func (s *Server) Append(t testing.TB, user, password, mailbox string, raw []byte, flags ...imap.Flag) imap.UID {
	t.Helper()
	c, err := s.login(user, password)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	defer c.Close()
	cmd := c.Append(mailbox, int64(len(raw)), &imap.AppendOptions{Flags: flags})
	if _, err := cmd.Write(raw); err != nil {
		t.Fatalf("dovecottest: append to %q: %v", mailbox, err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("dovecottest: append to %q: %v", mailbox, err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("dovecottest: append to %q: %v", mailbox, err)
	}
	if data.UID == 0 {
		t.Fatalf("dovecottest: append to %q: server returned no APPENDUID", mailbox)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatalf("dovecottest: logout after append: %v", err)
	}
	return data.UID
}

// Stop stops the Dovecot process and drops every connection to it, as an
// upstream outage would. The mail stays; Start brings it back. Stopping a
// stopped server does nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(t.Logf); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
}

// Start starts a stopped server again on the same port with the same users
// and mail.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	running := s.proc != nil
	s.mu.Unlock()
	if running {
		t.Fatalf("dovecottest: Start: server at %s is already running", s.Addr())
	}
	if err := s.launch(); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
}

func (s *Server) login(user, password string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(s.Addr(), &imapclient.Options{
		WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader},
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", s.Addr(), err)
	}
	if err := c.Login(user, password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login as %q at %s: %w", user, s.Addr(), err)
	}
	return c, nil
}

func findDovecot() (string, error) {
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/dovecot", "/sbin/dovecot", "/usr/local/sbin/dovecot"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("dovecot not found in PATH or /usr/sbin; run ./test.sh to install dovecot-imapd")
}

// prepare decides which user owns the mail and creates the directories.
func (s *Server) prepare() error {
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", s.dir, err)
	}
	if os.Geteuid() == 0 {
		// Dovecot refuses to run mail processes as root.
		nobody, err := user.Lookup("nobody")
		if err != nil {
			return fmt.Errorf("running as root needs a 'nobody' user for the mail processes: %w", err)
		}
		if s.mailUID, err = strconv.Atoi(nobody.Uid); err != nil {
			return fmt.Errorf("uid of nobody: %w", err)
		}
		if s.mailGID, err = strconv.Atoi(nobody.Gid); err != nil {
			return fmt.Errorf("gid of nobody: %w", err)
		}
	} else {
		s.mailUID, s.mailGID = os.Getuid(), os.Getgid()
	}
	mail := filepath.Join(s.dir, "mail")
	if err := os.Mkdir(mail, 0o755); err != nil {
		return fmt.Errorf("create mail dir: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(mail, s.mailUID, s.mailGID); err != nil {
			return fmt.Errorf("chown mail dir: %w", err)
		}
	}
	if err := os.Mkdir(filepath.Join(s.dir, "passwd.d"), 0o755); err != nil {
		return fmt.Errorf("create passwd dir: %w", err)
	}
	return nil
}

// writePasswd writes the passwd file of the newest user. Each user has a
// file of their own because Dovecot rereads a passwd file at most once a
// second: a user added to a shared file just after another login could not
// log in for up to a second, while a file Dovecot has not seen yet is read on
// first use. The caller holds s.mu (or owns s exclusively).
func (s *Server) writePasswd() error {
	u := s.users[len(s.users)-1]
	home := filepath.Join(s.dir, "mail", u.name)
	line := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", u.name, u.password, s.mailUID, s.mailGID, home)
	path := filepath.Join(s.dir, "passwd.d", u.name)
	tmp := filepath.Join(s.dir, "passwd.tmp")
	// Readable by all: the auth process runs as Dovecot's internal user.
	// The rename keeps Dovecot from reading half a file.
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		return fmt.Errorf("write passwd file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("install passwd file: %w", err)
	}
	return nil
}

// Dovecot 2.3's capability list after login, less CONDSTORE and QRESYNC.
// imap_capability can only replace the list or add to it, so hiding two
// entries means spelling out the rest; TestCapabilities checks that this
// matches what the installed Dovecot advertises.
const capsWithoutCondstore = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY " +
	"THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT " +
	"CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT SEARCHRES WITHIN " +
	"CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE " +
	"SAVEDATE LITERAL+ NOTIFY SPECIAL-USE"

func (s *Server) config() (string, error) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	p("# Throwaway test instance; everything lives under %s.", s.dir)
	p("base_dir = %s/run", s.dir)
	p("state_dir = %s/state", s.dir)
	p("log_path = %s/dovecot.log", s.dir)
	p("instance_name = %s", filepath.Base(s.dir))
	// The greeting names the instance, so that the probe knows its own
	// server from another that holds the port (see probe).
	p("login_greeting = %s", s.greeting())
	if s.opt.LMTP {
		p("protocols = imap lmtp")
	} else {
		p("protocols = imap")
	}
	p("listen = 127.0.0.1")
	p("ssl = no")
	p("disable_plaintext_auth = no")
	p("auth_mechanisms = plain login")
	p("auth_verbose = yes")
	if s.opt.TrustedNetworks != "" {
		p("login_trusted_networks = %s", s.opt.TrustedNetworks)
	}
	// Tests of rejected logins need no brute-force protection.
	p("auth_failure_delay = 0")
	// Tests never survive a power cut; skipping fsync keeps them fast.
	p("mail_fsync = never")
	p("mail_location = maildir:~/Maildir")
	p("first_valid_uid = %d", s.mailUID)
	p("first_valid_gid = %d", s.mailGID)
	if os.Geteuid() != 0 {
		// Unprivileged Dovecot cannot switch users or chroot, so every
		// service runs as the invoking user.
		me, err := user.Current()
		if err != nil {
			return "", fmt.Errorf("current user: %w", err)
		}
		grp, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
		if err != nil {
			return "", fmt.Errorf("current group: %w", err)
		}
		p("default_internal_user = %s", me.Username)
		p("default_internal_group = %s", grp.Name)
		p("default_login_user = %s", me.Username)
		p("service imap-login {\n  chroot =\n}")
		p("service anvil {\n  chroot =\n}")
	}
	p("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN %s/passwd.d/%%u\n}", s.dir)
	p("userdb {\n  driver = passwd-file\n  args = %s/passwd.d/%%u\n}", s.dir)
	p("namespace inbox {")
	p("  inbox = yes")
	p("  separator = /")
	for _, m := range []struct{ name, use string }{
		{"Drafts", `\Drafts`},
		{"Sent", `\Sent`},
		{"Trash", `\Trash`},
		{"Junk", `\Junk`},
		{"Archive", `\Archive`},
	} {
		p("  mailbox %s {\n    special_use = %s\n    auto = subscribe\n  }", m.name, m.use)
	}
	p("}")
	p("protocol imap {")
	p("  mail_max_userip_connections = %d", s.opt.MaxUserIPConnections)
	if s.opt.NoCondstore {
		p("  imap_capability = %s", capsWithoutCondstore)
	}
	if s.opt.Metadata {
		p("  imap_metadata = yes")
	}
	p("}")
	if s.opt.Metadata {
		p("mail_attribute_dict = file:%%h/dovecot-attributes")
	}
	if s.opt.LMTP {
		p("service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = %d\n  }\n}", s.lmtpPort)
	}
	// After a failed login Dovecot delays every login from the same IP (2 s
	// growing to 15 s, for half a minute), which would slow every test that
	// follows one checking a wrong password. The penalty is kept by anvil;
	// a socket nobody may open makes the auth process run without it.
	p("service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}")
	p("service imap-login {")
	p("  inet_listener imap {\n    address = 127.0.0.1\n    port = %d\n  }", s.port)
	p("  inet_listener imaps {\n    port = 0\n  }")
	p("}")
	if s.opt.Config != "" {
		p("# Options.Config")
		p("%s", s.opt.Config)
	}
	return b.String(), nil
}

// launch writes the config for the current port, starts the master process
// and waits until it greets with its capabilities, which means the login and
// auth processes are up.
func (s *Server) launch() error {
	conf, err := s.config()
	if err != nil {
		return err
	}
	confPath := filepath.Join(s.dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("write dovecot.conf: %w", err)
	}
	// The log of an earlier run would only confuse a failure report.
	logPath := filepath.Join(s.dir, "dovecot.log")
	if err := os.Remove(logPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove old log: %w", err)
	}

	addr := s.Addr()
	cmd := exec.Command(s.bin, "-F", "-c", confPath)
	cmd.Dir = s.dir
	greeting := s.greeting()
	p, err := proc.Start(cmd, startTimeout, func() error { return probe(addr, greeting) })
	if err != nil {
		return fmt.Errorf("dovecot on %s: %w\n%s", addr, err, s.report())
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// greeting is the instance's login_greeting: its directory's name, unique
// among the instances running.
func (s *Server) greeting() string {
	return filepath.Base(s.dir) + " ready."
}

// probe succeeds once Dovecot sends its real greeting. Before the auth
// process is up it first sends "* OK Waiting for authentication process",
// and only then the greeting with the capability list. That greeting must
// end with this instance's: a port picked free may have been taken by
// another test's Dovecot meanwhile, which would greet too while this one
// fails to bind and exits (start then tries another port).
func probe(addr, greeting string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("read greeting: %w", err)
		}
		if strings.HasPrefix(line, "* OK [CAPABILITY ") {
			_, _ = conn.Write([]byte("x LOGOUT\r\n"))
			if !strings.HasSuffix(strings.TrimRight(line, "\r\n"), "] "+greeting) {
				return fmt.Errorf("another server greets on %s: %q", addr, strings.TrimSpace(line))
			}
			return nil
		}
		if !strings.HasPrefix(line, "* OK") {
			return fmt.Errorf("unexpected greeting %q", strings.TrimSpace(line))
		}
	}
}

// stop stops the master process; logf notes a Dovecot that had to be killed.
func (s *Server) stop(logf func(format string, args ...any)) error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	// The master alone would let its imap processes linger for ten seconds
	// before they drop their clients; the whole group stops at once.
	killed, err := p.Stop(stopTimeout)
	if killed {
		logf("dovecottest: dovecot ignored SIGTERM for %v, killing it", stopTimeout)
	}
	return err
}

// report gathers what Dovecot said beyond its output, its log and its
// version, for start failures.
func (s *Server) report() string {
	var b strings.Builder
	if log, err := os.ReadFile(filepath.Join(s.dir, "dovecot.log")); err == nil {
		fmt.Fprintf(&b, "--- %s/dovecot.log ---\n%s", s.dir, log)
	} else {
		fmt.Fprintf(&b, "(no dovecot.log: %v)\n", err)
	}
	if out, err := exec.Command(s.bin, "--version").Output(); err == nil {
		fmt.Fprintf(&b, "--- %s --version: %s", s.bin, out)
	}
	return b.String()
}
