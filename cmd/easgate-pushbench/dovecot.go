package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
)

// dovecotUpstream is a throwaway Dovecot from bridge/upstream/dovecottest.
type dovecotUpstream struct {
	srv *dovecottest.Server
	run *runner
}

func startDovecot(accounts int) (up *dovecotUpstream, err error) {
	r := &runner{}
	defer func() {
		if v := recover(); v != nil {
			r.cleanup()
			up, err = nil, fmt.Errorf("dovecot: %v", v)
		}
	}()
	srv := dovecottest.Start(r, dovecottest.Options{MaxUserIPConnections: 100000})
	for i := range accounts {
		c := credentials(i)
		srv.AddUser(r, c.Username, c.Password)
		// Dovecot makes INBOX at the first login; the gateway's first
		// logins come several at once, and two sessions making the same
		// INBOX may give it two UIDVALIDITYs. Log in once first.
		cl := srv.Dial(r, c.Username, c.Password)
		if _, err := cl.Select("INBOX", nil).Wait(); err != nil {
			panic(fmt.Sprintf("select INBOX of %s: %v", c.Username, err))
		}
		cl.Close()
	}
	return &dovecotUpstream{srv: srv, run: r}, nil
}

func (u *dovecotUpstream) Addr() string { return u.srv.Addr() }
func (u *dovecotUpstream) Close()       { u.run.cleanup() }

// runner lets dovecottest, made for tests, run in this program: it offers
// the few testing.TB methods dovecottest calls, and turns a failure into a
// panic that startDovecot recovers. The embedded TB is nil; any other
// method would panic, which is what a misuse deserves.
type runner struct {
	testing.TB
	cleanups []func()
}

func (r *runner) Helper()                        {}
func (r *runner) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (r *runner) Fatal(a ...any)                 { panic(fmt.Sprint(a...)) }
func (r *runner) Errorf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "dovecot: "+format+"\n", a...)
}
func (r *runner) Logf(format string, a ...any)     {}
func (r *runner) Cleanup(f func())                 { r.cleanups = append(r.cleanups, f) }
func (r *runner) Name() string                     { return "easgate-pushbench" }
func (r *runner) Failed() bool                     { return false }
func (r *runner) Skipf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}
