//go:build !unix

package proc

import (
	"os/exec"
	"syscall"
)

// the server runs on Unix only; this keeps the package building elsewhere.
func procAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func termGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
