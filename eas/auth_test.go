package eas

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// countingBackend accepts one password and counts the logins it is asked for.
type countingBackend struct {
	mu       sync.Mutex
	password string
	logins   int
}

func (b *countingBackend) Open(ctx context.Context, c Credentials) (Mailbox, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logins++
	if c.Password != b.password {
		return nil, ErrUnauthorized
	}
	return nil, nil
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestAuthCacheAndThrottle(t *testing.T) {
	b := &countingBackend{password: "right"}
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := newAuthenticator(b, time.Minute, clk.now)
	ctx := context.Background()
	good := Credentials{Username: "anna", Password: "right"}

	// A successful login is remembered for the TTL.
	for i := 0; i < 3; i++ {
		if _, err := a.check(ctx, good, "198.51.100.7"); err != nil {
			t.Fatal(err)
		}
	}
	if b.logins != 1 {
		t.Fatalf("%d upstream logins for three requests, want 1", b.logins)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	a.check(ctx, good, "198.51.100.7")
	if b.logins != 2 {
		t.Fatalf("login not checked again after the TTL: %d", b.logins)
	}
	// A different password is never served from the cache.
	if _, err := a.check(ctx, Credentials{Username: "anna", Password: "wrong"}, "198.51.100.7"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}

	// Failures for one user: after the free ones, the upstream is spared.
	bad := Credentials{Username: "bob", Password: "guess"}
	for i := 0; i < freeFailures; i++ {
		a.check(ctx, bad, "203.0.113.9")
	}
	before := b.logins
	if _, err := a.check(ctx, bad, "203.0.113.9"); !errors.Is(err, errThrottled) {
		t.Fatalf("after %d failures: %v", freeFailures, err)
	}
	if _, err := a.check(ctx, Credentials{Username: "carol", Password: "x"}, "203.0.113.9"); !errors.Is(err, errThrottled) {
		t.Fatalf("same address, other user: %v", err)
	}
	if b.logins != before {
		t.Fatalf("throttled attempts reached the upstream")
	}
	// Another user from another address is unaffected.
	if _, err := a.check(ctx, good, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	// The lockout ends.
	clk.t = clk.t.Add(maxLockout + time.Second)
	if _, err := a.check(ctx, bad, "203.0.113.9"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("after the lockout: %v", err)
	}
}

func TestDeviceLocks(t *testing.T) {
	l := newDeviceLocks()
	k := deviceKey{"anna", "d1"}
	ctx := context.Background()
	unlock, err := l.lock(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	// A second lock waits until the first is released.
	got := make(chan struct{})
	go func() {
		u, err := l.lock(ctx, k)
		if err == nil {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("second lock did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	unlock()
	<-got

	// A waiting request is woken by supersede, and by a newer waiter
	// (unnumbered requests: each is taken as newer than the others).
	w1, done1 := l.wait(k, 0)
	w2, done2 := l.wait(k, 0)
	select {
	case <-w1:
	default:
		t.Fatal("older waiter not woken by a newer one")
	}
	l.supersede(k, 0)
	select {
	case <-w2:
	default:
		t.Fatal("waiter not woken by supersede")
	}
	done1()
	done2()
	l.mu.Lock()
	n := len(l.slots)
	l.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d slots left behind", n)
	}
	// A canceled lock attempt gives up.
	unlock, _ = l.lock(ctx, k)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.lock(cctx, k); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled lock: %v", err)
	}
	unlock()
}

func TestHierarchyDiff(t *testing.T) {
	have := []deviceFolder{{ID: "1", ParentID: "0", Name: "Inbox", Type: 2}, {ID: "2", ParentID: "0", Name: "Old", Type: 12},
		{ID: "3", ParentID: "0", Name: "Keep", Type: 12}}
	want := []deviceFolder{{ID: "1", ParentID: "0", Name: "Inbox", Type: 2}, {ID: "3", ParentID: "0", Name: "Kept", Type: 12},
		{ID: "5", ParentID: "4", Name: "Child", Type: 12}, {ID: "4", ParentID: "0", Name: "Parent", Type: 12}}
	adds, updates, deletes := hierarchyDiff(have, want)
	if len(adds) != 2 || adds[0].ID != "4" || adds[1].ID != "5" {
		t.Fatalf("adds %+v (parents must come first)", adds)
	}
	if len(updates) != 1 || updates[0].Name != "Kept" {
		t.Fatalf("updates %+v", updates)
	}
	if len(deletes) != 1 || deletes[0].ID != "2" {
		t.Fatalf("deletes %+v", deletes)
	}
}

// TestThrottlePerAddress: failures of a user from one address never keep
// the same user out from another address.
func TestThrottlePerAddress(t *testing.T) {
	const attacker, phone = "203.0.113.9", "198.51.100.7"
	anna := Credentials{Username: "anna", Password: "right"}
	guess := Credentials{Username: "anna", Password: "guess"}
	tests := []struct {
		name     string
		cred     Credentials
		addr     string
		want     error
		upstream bool // the attempt reaches the upstream
	}{
		{"owner from her phone", anna, phone, nil, true},
		{"attacker still locked out", anna, attacker, errThrottled, false},
		{"owner's wrong password from her phone", guess, phone, ErrUnauthorized, true},
		{"other user from the attacker's address", Credentials{Username: "bob", Password: "x"}, attacker, errThrottled, false},
	}
	b := &countingBackend{password: "right"}
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := newAuthenticator(b, time.Minute, clk.now)
	a.throttled = prometheus.NewCounter(prometheus.CounterOpts{Name: "throttled"})
	ctx := context.Background()
	for i := 0; i < 2*freeFailures; i++ {
		a.check(ctx, guess, attacker)
	}
	refused := counterValue(t, a.throttled)
	if refused != freeFailures {
		t.Fatalf("%v refusals counted, want %d", refused, freeFailures)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.logins
			clk.t = clk.t.Add(time.Second)
			if _, err := a.check(ctx, tt.cred, tt.addr); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := b.logins > before; got != tt.upstream {
				t.Fatalf("asked the upstream: %v, want %v", got, tt.upstream)
			}
			if tt.want == errThrottled {
				refused++
			}
			if got := counterValue(t, a.throttled); got != refused {
				t.Fatalf("%v refusals counted, want %v", got, refused)
			}
		})
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestRemoteAddr(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}
	tests := []struct {
		name, peer, forwarded, want string
	}{
		{"phone itself", "198.51.100.7:50123", "", "198.51.100.7:50123"},
		{"phone itself, IPv6", "[2001:db8::7]:443", "", "[2001:db8::7]:443"},
		{"untrusted peer's header ignored", "198.51.100.7:50123", "203.0.113.9", "198.51.100.7:50123"},
		{"behind a trusted proxy", "127.0.0.1:40000", "203.0.113.9", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/Microsoft-Server-ActiveSync", nil)
			r.RemoteAddr = tt.peer
			if tt.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tt.forwarded)
			}
			r.SetBasicAuth("anna", "pw")
			c, ok := s.credentials(r)
			if !ok || c.RemoteAddr != tt.want {
				t.Fatalf("RemoteAddr %q (%v), want %q", c.RemoteAddr, ok, tt.want)
			}
		})
	}
}
