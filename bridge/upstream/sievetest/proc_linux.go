package sievetest

import "syscall"

// procAttr puts Dovecot in its own process group, so that it can be stopped
// with all its children, and has the kernel stop it if the test binary dies
// without running its cleanups.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
