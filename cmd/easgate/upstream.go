package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"
	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
)

// upstreamCheck reaches an upstream server as the gateway would, short of
// logging in: TCP, TLS (or STARTTLS) with the certificate verified, and the
// server's greeting.
type upstreamCheck struct {
	proto    string // "imap" or "smtp"
	addr     string
	security bridge.Security
	tls      *tls.Config
}

func (u upstreamCheck) upstream() eas.HealthCheck {
	return eas.HealthCheck{Name: u.proto, Addr: u.addr, Check: u.check}
}

func (u upstreamCheck) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if u.tls != nil {
		cfg = u.tls.Clone()
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(u.addr)
		if err != nil {
			host = u.addr
		}
		cfg.ServerName = host
	}
	return cfg
}

func (u upstreamCheck) check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if u.security == bridge.SecurityTLS {
		tc := tls.Client(conn, u.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		conn = tc
	}
	if u.proto == "smtp" {
		return u.greetSMTP(conn)
	}
	return u.greetIMAP(conn)
}

func (u upstreamCheck) greetIMAP(conn net.Conn) error {
	var c *imapclient.Client
	if u.security == bridge.SecuritySTARTTLS {
		var err error
		if c, err = imapclient.NewStartTLS(conn, &imapclient.Options{TLSConfig: u.tlsConfig()}); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	} else {
		c = imapclient.New(conn, nil)
	}
	defer c.Close()
	if err := c.WaitGreeting(); err != nil {
		return fmt.Errorf("IMAP greeting: %w", err)
	}
	return nil
}

func (u upstreamCheck) greetSMTP(conn net.Conn) error {
	var c *smtp.Client
	if u.security == bridge.SecuritySTARTTLS {
		var err error
		if c, err = smtp.NewClientStartTLS(conn, u.tlsConfig()); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	} else {
		c = smtp.NewClient(conn)
		if err := c.Hello("localhost"); err != nil {
			c.Close()
			return fmt.Errorf("SMTP greeting: %w", err)
		}
	}
	defer c.Close()
	return c.Quit()
}

// warnUnreachable checks every upstream once and logs a warning naming each
// one easgate cannot reach, and why. easgate keeps running: phones get
// retryable answers until the upstream comes.
func warnUnreachable(ctx context.Context, s *eas.Server, log *zap.Logger) {
	for _, u := range s.CheckUpstreams(ctx).Upstreams {
		if !u.Up {
			log.Warn("upstream unreachable; phones get retryable answers until it is back",
				zap.String("upstream", u.Name), zap.String("addr", u.Addr), zap.String("reason", u.Error))
		}
	}
}

// perClientListener bounds the connections one client address holds at
// once; beyond that a connection is answered 503 and closed. Trusted
// proxies are not bounded: their connections carry many phones (the
// per-phone address is then the proxy's to bound).
type perClientListener struct {
	net.Listener
	max     int
	exempt  []netip.Prefix
	refused func()

	mu sync.Mutex
	n  map[netip.Addr]int
}

func limitPerClient(ln net.Listener, max int, exempt []netip.Prefix, refused func()) net.Listener {
	if max <= 0 {
		return ln
	}
	return &perClientListener{Listener: ln, max: max, exempt: exempt, refused: refused, n: map[netip.Addr]int{}}
}

func (l *perClientListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil
		}
		addr := ap.Addr().Unmap()
		if l.isExempt(addr) {
			return c, nil
		}
		if !l.take(addr) {
			l.refused()
			go refuseConn(c)
			continue
		}
		return &countedConn{Conn: c, release: func() { l.release(addr) }}, nil
	}
}

func (l *perClientListener) isExempt(a netip.Addr) bool {
	for _, p := range l.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *perClientListener) take(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[a] >= l.max {
		return false
	}
	l.n[a]++
	return true
}

func (l *perClientListener) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[a]--; l.n[a] <= 0 {
		delete(l.n, a)
	}
}

// refuseConn tells the client to come back later and closes.
func refuseConn(c net.Conn) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
}

// countedConn gives its place back when closed, once.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
