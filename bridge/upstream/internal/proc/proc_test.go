//go:build unix

package proc

import (
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	notYet := errors.New("not yet")
	tests := []struct {
		name       string
		script     string
		ready      func() error
		wantExited bool
		wantOutput string
	}{
		{"ready", "sleep 30", func() error { return nil }, false, ""},
		{"exits", "echo bind failed >&2; exit 3", func() error { return notYet }, true, "bind failed"},
		{"never ready", "echo starting; sleep 30", func() error { return notYet }, false, "starting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start(exec.Command("sh", "-c", tt.script), 300*time.Millisecond, tt.ready)
			if tt.wantOutput == "" {
				if err != nil {
					t.Fatal(err)
				}
				if killed, err := p.Stop(10 * time.Second); killed || err != nil {
					t.Errorf("Stop = %v, %v; want a clean stop on SIGTERM", killed, err)
				}
				return
			}
			var serr *StartError
			if !errors.As(err, &serr) {
				t.Fatalf("Start = %v, %v; want a *StartError", p, err)
			}
			if serr.Exited != tt.wantExited || !strings.Contains(serr.Output, tt.wantOutput) {
				t.Errorf("StartError = %+v; want Exited %v and output with %q", serr, tt.wantExited, tt.wantOutput)
			}
			if !strings.Contains(err.Error(), tt.wantOutput) {
				t.Errorf("error %q does not show the output", err)
			}
			if !tt.wantExited && !errors.Is(err, notYet) {
				t.Errorf("error %v does not carry the last readiness error", err)
			}
		})
	}
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	// The shell and its child both ignore SIGTERM, as a hung server would.
	cmd := exec.Command("sh", "-c", `trap "" TERM; echo up; sleep 30`)
	p, err := Start(cmd, 10*time.Second, func() error {
		if !strings.Contains(cmdOutput(cmd), "up") {
			return errors.New("no output yet")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	killed, err := p.Stop(100 * time.Millisecond)
	if !killed || err != nil {
		t.Fatalf("Stop = %v, %v; want killed", killed, err)
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("process ended with %v; want SIGKILL", cmd.ProcessState)
	}
}

func cmdOutput(cmd *exec.Cmd) string { return cmd.Stdout.(*buffer).String() }

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d from FreePort cannot be bound: %v", port, err)
	}
	ln.Close()
}
