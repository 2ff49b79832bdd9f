//go:build unix && !linux

package sievetest

import "syscall"

// procAttr puts Dovecot in its own process group, so that it can be stopped
// with all its children.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
