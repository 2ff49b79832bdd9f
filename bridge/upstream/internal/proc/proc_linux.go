package proc

import "syscall"

// procAttr puts the server in its own process group, so that a hung instance
// can be killed with all its children, and has the kernel stop it if the
// test binary dies without running its cleanups (a -timeout panic).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
