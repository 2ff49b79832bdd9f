// Package proc runs the server processes of the real-server test harnesses:
// it starts one in its own process group with its output collected, waits
// until it answers, and stops it with SIGTERM, then SIGKILL after a bound.
package proc

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Proc is one started server process.
type Proc struct {
	cmd    *exec.Cmd
	out    *buffer
	exited chan struct{}
	err    error // cmd.Wait's result; read only after exited is closed
}

// Start starts cmd in its own process group, collecting what it writes to
// stdout and stderr, and waits until ready succeeds. It gives up when the
// process exits or ready has not succeeded within timeout; the process is
// then killed and the *StartError carries ready's last error and the output.
func Start(cmd *exec.Cmd, timeout time.Duration, ready func() error) (*Proc, error) {
	p := &Proc{cmd: cmd, out: &buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.exited:
			return nil, &StartError{Exited: true, Err: p.err, Output: p.Output()}
		default:
		}
		err := ready()
		if err == nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.Kill()
			return nil, &StartError{Err: fmt.Errorf("did not answer within %v (last error: %w)", timeout, err), Output: p.Output()}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartError is why Start gave up.
type StartError struct {
	// Exited is set when the process exited during startup; Err is then
	// its exit status.
	Exited bool
	Err    error
	// Output is what the process wrote so far.
	Output string
}

func (e *StartError) Error() string {
	msg := e.Err.Error()
	if e.Exited {
		msg = fmt.Sprintf("exited during startup (%v)", e.Err)
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += ":\n" + out
	}
	return msg
}

func (e *StartError) Unwrap() error { return e.Err }

// Output returns what the process has written to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// Stop sends SIGTERM to the process group and waits for the process to
// exit; after grace it kills the group. It reports whether it had to.
func (p *Proc) Stop(grace time.Duration) (killed bool, err error) {
	if err := termGroup(p.cmd); err != nil {
		return false, fmt.Errorf("signal %s: %w", p.cmd.Path, err)
	}
	select {
	case <-p.exited:
		return false, nil
	case <-time.After(grace):
	}
	p.Kill()
	return true, nil
}

// Kill kills the process group and waits for the process to exit.
func (p *Proc) Kill() {
	killGroup(p.cmd)
	<-p.exited
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
// Another process may take it before the server binds it, so callers retry
// on a bind failure.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// buffer collects the output, written by os/exec's copying goroutine and
// read by the harness.
type buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
