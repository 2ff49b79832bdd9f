package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// binDir holds the easgate binary the process tests build once; TestMain
// removes it.
var binDir string

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "easgate-e2e-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "easgate")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/easgate/easgate/cmd/easgate").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build cmd/easgate: %v\n%s", err, out)
	}
	return bin, nil
})

// easgateBinary builds cmd/easgate, once for the test binary.
func easgateBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// syncBuffer is a log buffer the process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one `easgate serve` process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	addr  string // EAS listener
	admin string // admin API URL
	token string
	log   *syncBuffer
	done  chan struct{}
	// exit is the process's end, once done is closed.
	exit error
}

func (p *proc) URL() string { return "http://" + p.addr }

// startProc runs `easgate serve` on db with imap as its upstream and
// waits until it accepts connections. The test's end kills it if it is
// still running.
func startProc(t testing.TB, name, db, imap string, extra ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), token: adminToken,
		log: &syncBuffer{}, done: make(chan struct{})}
	adminAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p.admin = "http://" + adminAddr
	args := append([]string{"serve", "--listen", p.addr, "--admin-listen", adminAddr, "--admin-token-file", tokenFile,
		"--db", db, "--imap", imap, "--imap-security", "none", "--log-format", "console", "--log-level", "warn"}, extra...)
	p.cmd = exec.Command(easgateBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.exit = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.log.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", p.addr); err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited at start: %v\n%s", name, p.exit, p.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after 30s:\n%s", name, p.log.String())
		}
	}
}

// signal sends sig to the process.
func (p *proc) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// exited waits at most bound for the process to end and returns how it
// ended.
func (p *proc) exited(t testing.TB, bound time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.exit
	case <-time.After(bound):
		t.Fatalf("%s still running %v after the signal", p.name, bound)
	}
	return nil
}

// waitingNow reads easgate_waiting_requests from the admin API's metrics.
func (p *proc) waitingNow(t testing.TB) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.admin+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: metrics: %v", p.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: metrics: HTTP %d", p.name, resp.StatusCode)
	}
	total := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "easgate_waiting_requests"); ok && !strings.HasPrefix(line, "#") {
			var v float64
			f := strings.Fields(rest)
			if len(f) > 0 {
				fmt.Sscan(f[len(f)-1], &v)
			}
			total += int(v)
		}
	}
	return total
}

// waiting blocks until p holds k waiting requests.
func (p *proc) waiting(t testing.TB, k int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		got := p.waitingNow(t)
		if got == k {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d waiting requests, want %d", p.name, got, k)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stallProxy forwards TCP to an upstream and can hold back what the
// upstream sends, so that a node's request stops in the middle of its work.
type stallProxy struct {
	ln     net.Listener
	to     string
	paused atomic.Bool
}

func startStallProxy(t testing.TB, to string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stallProxy{ln: ln, to: to}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *stallProxy) Addr() string { return s.ln.Addr().String() }

func (s *stallProxy) serve(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", s.to)
	if err != nil {
		return
	}
	defer u.Close()
	go func() {
		io.Copy(u, c)
		u.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := u.Read(buf)
		for s.paused.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// advisoryLocks counts the advisory locks granted in the database at url.
func advisoryLocks(t testing.TB, ctx context.Context, url string) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
