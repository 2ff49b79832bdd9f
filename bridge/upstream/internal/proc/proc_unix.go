//go:build unix && !linux

package proc

import "syscall"

// procAttr puts the server in its own process group, so that a hung instance
// can be killed with all its children.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
