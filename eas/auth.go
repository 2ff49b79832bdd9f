package eas

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// NormalizeUser turns the forms phones put in the user name field into the
// login the upstream knows: "DOMAIN\user" becomes "user"; "user" and
// "user@domain" stay as they are.
func NormalizeUser(u string) string {
	u = strings.TrimSpace(u)
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	return u
}

// basicCredentials reads HTTP Basic credentials.
func basicCredentials(r *http.Request) (Credentials, bool) {
	u, p, ok := r.BasicAuth()
	if !ok {
		return Credentials{}, false
	}
	u = NormalizeUser(u)
	if u == "" {
		return Credentials{}, false
	}
	return Credentials{Username: u, Password: p}, true
}

// credentials reads HTTP Basic credentials and notes the phone's address.
func (s *Server) credentials(r *http.Request) (Credentials, bool) {
	c, ok := basicCredentials(r)
	if ok {
		c.RemoteAddr = s.remoteAddr(r)
	}
	return c, ok
}

// remoteAddr is the phone's address, with its port when the phone itself
// is the TCP peer: a proxy passes on no port.
func (s *Server) remoteAddr(r *http.Request) string {
	addr := s.clientAddr(r)
	if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && peer.Addr().Unmap() == addr {
		return netip.AddrPortFrom(addr, peer.Port()).String()
	}
	return addr.String()
}

// authenticator checks credentials against the upstream, remembers
// successful logins for a short time so that not every request logs in
// again, and throttles repeated failures per user and client address, and
// per client address. A user's failures from one address never lock out the
// same user elsewhere: anyone who knows a user name could otherwise keep its
// owner out. Guessing one password from many addresses is left to the
// upstream, which sees every phone's address (see Credentials.RemoteAddr).
//
// Nothing here is written to disk or logged: remembered logins are salted
// hashes in memory only.
type authenticator struct {
	backend Backend
	ttl     time.Duration
	now     func() time.Time
	salt    [32]byte

	// throttled counts refusals without asking the upstream; nil: none.
	throttled prometheus.Counter

	mu       sync.Mutex
	ok       map[[32]byte]time.Time // hash(user, password) → valid until
	failures map[string]*failure    // see failureKeys
}

type failure struct {
	count int
	last  time.Time
	until time.Time // rejected without asking the upstream until then
}

// Throttling: after freeFailures failures within failureWindow, each further
// failure locks the key out for a doubling period, at most maxLockout.
const (
	freeFailures  = 5
	failureWindow = 15 * time.Minute
	firstLockout  = 10 * time.Second
	maxLockout    = 5 * time.Minute
	maxAuthKeys   = 100000
)

// errThrottled is returned while a user at an address, or an address, is
// locked out.
var errThrottled = errors.New("eas: too many failed logins")

func newAuthenticator(b Backend, ttl time.Duration, now func() time.Time) *authenticator {
	a := &authenticator{backend: b, ttl: ttl, now: now,
		ok: map[[32]byte]time.Time{}, failures: map[string]*failure{}}
	if _, err := rand.Read(a.salt[:]); err != nil {
		panic(fmt.Sprintf("eas: no randomness for the login cache: %v", err))
	}
	return a
}

func (a *authenticator) hash(c Credentials) [32]byte {
	h := sha256.New()
	h.Write(a.salt[:])
	h.Write([]byte(c.Username))
	h.Write([]byte{0})
	h.Write([]byte(c.Password))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// failureKeys are the throttling keys of a login from addr: the user at
// that address, and the address trying any user.
func failureKeys(user, addr string) [2]string {
	return [2]string{"u:" + addr + "\x00" + user, "a:" + addr}
}

// check verifies credentials. It returns ErrUnauthorized, errThrottled, or
// an error of the upstream (ErrUnavailable …). A successful check may hand
// back the Mailbox the upstream login opened, so the caller can use it
// instead of opening another; it is nil when the login was remembered.
func (a *authenticator) check(ctx context.Context, c Credentials, addr string) (Mailbox, error) {
	k := a.hash(c)
	keys := failureKeys(c.Username, addr)
	if remembered, err := a.admit(k, keys); remembered || err != nil {
		return nil, err
	}
	mb, err := a.backend.Open(ctx, c)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			for _, key := range keys {
				a.fail(key, now)
			}
		}
		return nil, err
	}
	if len(a.ok) >= maxAuthKeys {
		a.prune(now)
	}
	a.ok[k] = now.Add(a.ttl)
	delete(a.failures, keys[0])
	return mb, nil
}

// admit reports whether the login k is remembered, or errThrottled while
// one of keys is locked out.
func (a *authenticator) admit(k [32]byte, keys [2]string) (bool, error) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	// Locked out first: a remembered login must not let a locked-out
	// address confirm a guess.
	for _, key := range keys {
		if f := a.failures[key]; f != nil && now.Before(f.until) {
			if a.throttled != nil {
				a.throttled.Inc()
			}
			return false, errThrottled
		}
	}
	until, ok := a.ok[k]
	return ok && now.Before(until), nil
}

func (a *authenticator) fail(key string, now time.Time) {
	f := a.failures[key]
	if f == nil || now.Sub(f.last) > failureWindow {
		if len(a.failures) >= maxAuthKeys {
			a.prune(now)
		}
		f = &failure{}
		a.failures[key] = f
	}
	f.count++
	f.last = now
	if f.count >= freeFailures {
		d := firstLockout << min(f.count-freeFailures, 10)
		if d > maxLockout {
			d = maxLockout
		}
		f.until = now.Add(d)
	}
}

// forget drops a remembered login (the upstream refused it later).
func (a *authenticator) forget(c Credentials) {
	k := a.hash(c)
	a.mu.Lock()
	delete(a.ok, k)
	a.mu.Unlock()
}

func (a *authenticator) prune(now time.Time) {
	for k, until := range a.ok {
		if !now.Before(until) {
			delete(a.ok, k)
		}
	}
	for k, f := range a.failures {
		if now.Sub(f.last) > failureWindow && !now.Before(f.until) {
			delete(a.failures, k)
		}
	}
}
