// Package radicaletest runs a throwaway Radicale CardDAV/CalDAV server for
// tests.
//
// Each Start launches its own Radicale on 127.0.0.1 with a private
// configuration, plain htpasswd users and storage under a temporary
// directory. Radicale gives a new user no collections: tests make them with
// AddressBook and Calendar, or let the code under test make them.
//
// Radicale 3 must be installed for the system Python (Debian: radicale); it
// is started as `/usr/bin/python3 -m radicale`. A test that cannot find it
// fails; run ./test.sh to install the test dependencies.
package radicaletest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easgate/easgate/bridge/upstream/internal/proc"
)

// Python is the interpreter Radicale is installed for. A pyenv or venv
// python3 earlier in PATH lacks the module, so the path is fixed.
const Python = "/usr/bin/python3"

// Options tune the instance. The zero value is a Radicale with htpasswd
// users and owner-only rights.
type Options struct {
	// Users maps user names to passwords, added before the start.
	Users map[string]string
}

// Server is one running (or stopped) Radicale instance.
type Server struct {
	dir string

	mu    sync.Mutex
	port  int
	users map[string]string
	proc  *proc.Proc
}

const (
	startTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
	bindAttempts = 5
)

// Start launches a new Radicale on a free port of 127.0.0.1. The caller
// stops it with Close, which also removes its storage.
func Start(opt Options) (*Server, error) {
	if _, err := os.Stat(Python); err != nil {
		return nil, fmt.Errorf("radicaletest: %s not found (install radicale): %w", Python, err)
	}
	dir, err := os.MkdirTemp("", "radicaletest-")
	if err != nil {
		return nil, fmt.Errorf("radicaletest: create temp dir: %w", err)
	}
	s := &Server{dir: dir, users: map[string]string{}}
	for u, p := range opt.Users {
		s.users[u] = p
	}
	if err := s.writeUsers(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var lastErr error
	for range bindAttempts {
		port, err := proc.FreePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("radicaletest: %w", err)
		}
		s.mu.Lock()
		s.port = port
		s.mu.Unlock()
		if lastErr = s.launch(); lastErr == nil {
			return s, nil
		}
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("radicaletest: %w", lastErr)
}

// New starts a Radicale for a test and stops it when the test ends. It
// fails the test when Radicale cannot start.
func New(t testing.TB, opt Options) *Server {
	t.Helper()
	s, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("radicaletest: %v", err)
		}
	})
	return s
}

// URL is the server's base URL, "http://127.0.0.1:port/". It stays the
// same across Stop and Restart.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) + "/"
}

// Dir is the storage root; collections of user U are under
// Dir()/collection-root/U.
func (s *Server) Dir() string { return filepath.Join(s.dir, "collections") }

// AddUser adds (or changes) a user; Radicale reads the file on each login.
func (s *Server) AddUser(name, password string) error {
	s.mu.Lock()
	s.users[name] = password
	s.mu.Unlock()
	return s.writeUsers()
}

// AddressBook makes an address book for user at /user/name/ by writing
// Radicale's storage directly, as an existing account would have it.
func (s *Server) AddressBook(user, name, displayName string) error {
	return s.collection(user, name, map[string]string{"tag": "VADDRESSBOOK", "D:displayname": displayName})
}

// Calendar makes a calendar for user at /user/name/ holding the given
// components ("VEVENT", "VTODO", …).
func (s *Server) Calendar(user, name, displayName string, components ...string) error {
	return s.collection(user, name, map[string]string{"tag": "VCALENDAR", "D:displayname": displayName,
		"C:supported-calendar-component-set": strings.Join(components, ",")})
}

func (s *Server) collection(user, name string, props map[string]string) error {
	dir := filepath.Join(s.Dir(), "collection-root", user, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("radicaletest: %w", err)
	}
	b, err := json.Marshal(props)
	if err != nil {
		return fmt.Errorf("radicaletest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".Radicale.props"), b, 0o644); err != nil {
		return fmt.Errorf("radicaletest: %w", err)
	}
	return nil
}

// Do sends one request as user, as another client of the same account
// would; it returns the status and the response's ETag.
func (s *Server) Do(ctx context.Context, user, method, path, contentType string, body []byte) (status int, etag string, err error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(s.URL(), "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	s.mu.Lock()
	req.SetBasicAuth(user, s.users[user])
	s.mu.Unlock()
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), nil
}

// Stop stops the server, keeping its storage, so that tests can see what
// a client does while the upstream is down.
func (s *Server) Stop() error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	_, err := p.Stop(stopTimeout)
	return err
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart() error {
	if err := s.launch(); err != nil {
		return fmt.Errorf("radicaletest: %w", err)
	}
	return nil
}

// Close stops the server and removes its storage.
func (s *Server) Close() error {
	err := s.Stop()
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

func (s *Server) writeUsers() error {
	s.mu.Lock()
	var b strings.Builder
	for u, p := range s.users {
		fmt.Fprintf(&b, "%s:%s\n", u, p)
	}
	s.mu.Unlock()
	if err := os.WriteFile(filepath.Join(s.dir, "users"), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("radicaletest: write users: %w", err)
	}
	return nil
}

func (s *Server) config() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf(`[server]
hosts = 127.0.0.1:%d

[auth]
type = htpasswd
htpasswd_filename = %s
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = %s

[web]
type = none

[logging]
level = warning
`, s.port, filepath.Join(s.dir, "users"), s.Dir())
}

func (s *Server) launch() error {
	confPath := filepath.Join(s.dir, "config")
	if err := os.WriteFile(confPath, []byte(s.config()), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	url := s.URL()
	cmd := exec.Command(Python, "-m", "radicale", "--config", confPath)
	cmd.Dir = s.dir
	p, err := proc.Start(cmd, startTimeout, func() error { return probe(url) })
	if err != nil {
		return fmt.Errorf("radicale on %s: %w", url, err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// probe succeeds once Radicale answers HTTP at all.
func probe(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return errors.New(resp.Status)
	}
	return nil
}
