package dovecottest

import (
	"os"
	"strings"
	"testing"
)

// TestLaunchOnTakenPort: a Dovecot launched on a port that another Dovecot
// holds cannot bind it. launch must report that, so that start tries
// another port, and not take the other instance's greeting for its own:
// the test would then talk to another test's server, its mail and its
// users (seen as a CREATE answered ALREADYEXISTS for a folder the test had
// not made, while packages ran in parallel).
func TestLaunchOnTakenPort(t *testing.T) {
	first := New(t, Options{})
	dir, err := os.MkdirTemp("", "dovecottest-")
	if err != nil {
		t.Fatal(err)
	}
	second := &Server{bin: first.bin, dir: dir, opt: Options{MaxUserIPConnections: 1000, Logf: t.Logf}}
	t.Cleanup(func() {
		if err := second.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := second.prepare(); err != nil {
		t.Fatal(err)
	}
	first.mu.Lock()
	second.port = first.port
	first.mu.Unlock()
	err = second.launch()
	if err == nil {
		t.Fatalf("launch on %s, which another Dovecot holds, succeeded", second.Addr())
	}
	if !strings.Contains(err.Error(), "Address already in use") {
		t.Errorf("launch on a taken port: %v; want the bind failure, which start retries", err)
	}
}
