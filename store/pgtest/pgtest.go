// Package pgtest runs a throwaway PostgreSQL cluster for tests: initdb in a
// temporary directory, a server on 127.0.0.1 and a free port, and a fresh
// database per test. A missing PostgreSQL installation is an error, never a
// reason to skip: tests that need the database must not pass without it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultBinDir is where Debian installs PostgreSQL 15's server programs.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Options configures Start. The zero value is ready to use.
type Options struct {
	// BinDir holds initdb and pg_ctl; EASGATE_PG_BIN, then DefaultBinDir,
	// when empty.
	BinDir string
	// Dir is the parent of the cluster's directory; the system's temporary
	// directory when empty.
	Dir string
}

// Server is a running throwaway cluster. Its superuser is postgres, with
// trust authentication on 127.0.0.1 only.
type Server struct {
	bin   string
	dir   string // holds data/, the socket and the log
	port  int
	runAs *user.User // non-nil when running as root
	dbs   atomic.Int64
}

// Start creates a cluster and starts its server.
func Start(opts Options) (*Server, error) {
	bin := firstNonEmpty(opts.BinDir, os.Getenv("EASGATE_PG_BIN"), DefaultBinDir)
	for _, prog := range []string{"initdb", "pg_ctl"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err != nil {
			return nil, fmt.Errorf("pgtest: PostgreSQL is not installed (need %s): %w", filepath.Join(bin, prog), err)
		}
	}
	reapOrphans(bin, opts.Dir)
	dir, err := os.MkdirTemp(opts.Dir, "easgate-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	// A test binary that panics never stops its cluster; the owner file
	// lets a later Start find and remove it.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, errors.Join(fmt.Errorf("pgtest: %w", err), os.RemoveAll(dir))
	}
	s := &Server{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		if s.runAs, err = user.Lookup("postgres"); err != nil {
			return nil, errors.Join(fmt.Errorf("pgtest: running as root needs the postgres user: %w", err), os.RemoveAll(dir))
		}
		if err := s.chown(dir); err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
	}
	if err := s.run("initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C"); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	// Another process may take the port between choosing and binding it;
	// a few attempts absorb that.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err == nil {
			if err = s.Start(); err == nil {
				return s, nil
			}
		}
		if attempt == 2 {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
	}
}

// ownerFile holds the pid of the process that made a cluster.
const ownerFile = "owner.pid"

// reapOrphans stops and removes the clusters under parent (the temporary
// directory when empty) whose owning process is gone.
func reapOrphans(bin, parent string) {
	if parent == "" {
		parent = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(parent, "easgate-pg-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // being set up, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		s := &Server{bin: bin, dir: dir}
		if os.Geteuid() == 0 {
			if s.runAs, err = user.Lookup("postgres"); err != nil {
				continue
			}
		}
		if _, err := os.Stat(filepath.Join(s.data(), "postmaster.pid")); err == nil {
			s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
		}
		os.RemoveAll(dir)
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) chown(path string) error {
	uid, _ := strconv.Atoi(s.runAs.Uid)
	gid, _ := strconv.Atoi(s.runAs.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// run runs one of PostgreSQL's programs, as the postgres user under root.
func (s *Server) run(prog string, args ...string) error {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.runAs != nil {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", prog, err, out)
	}
	return nil
}

// Start starts the server again after Stop, on the same port and data.
func (s *Server) Start() error {
	// Durability is worthless for a throwaway cluster and costs seconds.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", s.port, s.dir)
	err := s.run("pg_ctl", "-D", s.data(), "-o", opts, "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	return nil
}

// Stop stops the server, disconnecting every client; the data stays for
// Start.
func (s *Server) Stop() error {
	return s.run("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "stop")
}

// Close stops the server and removes the cluster.
func (s *Server) Close() error {
	err := s.Stop()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// URL is the connection URL of database name.
func (s *Server) URL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// CreateDatabase creates an empty database whose name starts with prefix
// and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, prefix string) (string, error) {
	name := unsafeChars.ReplaceAllString(strings.ToLower(prefix), "_")
	name = fmt.Sprintf("%.40s_%d", name, s.dbs.Add(1))
	err := s.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// DropDatabase drops a database made by CreateDatabase, closing the
// connections left to it.
func (s *Server) DropDatabase(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	return s.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func (s *Server) admin(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("pgtest: %s: %w", stmt, err)
	}
	return nil
}

// New starts a cluster for tb and removes it when tb ends. Without
// PostgreSQL the test fails.
func New(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start(Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// Database creates a fresh database for tb on s, drops it when tb ends,
// and returns its URL.
func (s *Server) Database(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := s.CreateDatabase(ctx, tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.DropDatabase(ctx, u); err != nil {
			tb.Error(err)
		}
	})
	return u
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
