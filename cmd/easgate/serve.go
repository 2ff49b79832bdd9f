package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/bridge/dav/contacts"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/store"
)

// serveConfig is everything `easgate serve` can be told.
type serveConfig struct {
	Listen         string
	IMAP           string
	IMAPSecurity   string
	DB             string
	PublicURL      string
	AdminListen    string
	AdminTokenFile string
	TrustedProxies prefixList
	LogFormat      string
	LogLevel       string
	MaxRequest     int64
	MinHeartbeat   time.Duration
	MaxHeartbeat   time.Duration
	// FolderCheckInterval is how often push compares the watched folders
	// other than INBOX (and the folder list) with the last look.
	FolderCheckInterval time.Duration
	Domain              string
	SMTP                string
	SMTPSecurity        string
	SentCopy            bool
	// CardDAV is the contacts server; "" serves no contacts.
	CardDAV string
	// CalDAV is the calendar and tasks server; "" serves neither.
	CalDAV          string
	DAVPollInterval time.Duration
	// insecureTLS is for tests with self-signed upstreams only; no flag.
	tlsConfig *tls.Config
}

// prefixList is a repeatable --trusted-proxy flag.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	var s []string
	for _, x := range *p {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (p *prefixList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return fmt.Errorf("trusted proxy %q: %w", part, err)
			}
			*p = append(*p, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pf, err := netip.ParsePrefix(part)
		if err != nil {
			return fmt.Errorf("trusted proxy %q: %w", part, err)
		}
		*p = append(*p, pf.Masked())
	}
	return nil
}

func serveFlags(c *serveConfig, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", ":8080", "EAS listener address")
	fs.StringVar(&c.IMAP, "imap", "", "upstream IMAP server HOST:PORT (required)")
	fs.StringVar(&c.IMAPSecurity, "imap-security", "tls", "upstream IMAP security: tls, starttls or none")
	fs.StringVar(&c.DB, "db", "./easgate.db", "SQLite state file")
	fs.StringVar(&c.PublicURL, "public-url", "", "URL phones reach easgate at, for Autodiscover (e.g. https://mail.example.com)")
	fs.StringVar(&c.AdminListen, "admin-listen", "127.0.0.1:8081", "admin API listener address")
	fs.StringVar(&c.AdminTokenFile, "admin-token-file", "", "file holding the admin API bearer token; without it the admin API is off")
	fs.Var(&c.TrustedProxies, "trusted-proxy", "address or CIDR of a proxy whose X-Forwarded-For/-Proto are honoured (repeatable)")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Int64Var(&c.MaxRequest, "max-request-bytes", 64<<20, "largest request body accepted (HTTP 413 beyond)")
	fs.DurationVar(&c.MinHeartbeat, "min-heartbeat", 60*time.Second, "shortest Ping/Sync heartbeat accepted")
	fs.DurationVar(&c.MaxHeartbeat, "max-heartbeat", 3540*time.Second, "longest Ping/Sync heartbeat accepted")
	fs.DurationVar(&c.FolderCheckInterval, "folder-check-interval", bridge.DefaultCheckInterval,
		"how often push checks watched folders other than INBOX, and the folder list (INBOX is watched with IDLE)")
	fs.StringVar(&c.Domain, "domain", "", "mail domain for users who log in without @domain")
	fs.StringVar(&c.SMTP, "smtp", "", "upstream SMTP submission server HOST:PORT; without it phones cannot send")
	fs.StringVar(&c.SMTPSecurity, "smtp-security", "starttls", "upstream SMTP security: tls, starttls or none")
	fs.BoolVar(&c.SentCopy, "sent-copy", true, "file a copy of sent mail in the Sent folder when the phone asks; false for upstreams that file it themselves")
	fs.StringVar(&c.CardDAV, "carddav", "", "CardDAV server URL for contacts (e.g. https://dav.example.com/); users log in with their own credentials")
	fs.StringVar(&c.CalDAV, "caldav", "", "CalDAV server URL for calendars and tasks (e.g. https://dav.example.com/); users log in with their own credentials")
	fs.DurationVar(&c.DAVPollInterval, "dav-poll-interval", dav.DefaultPollInterval, "how often push polls watched address books and calendars")
	return fs
}

// parseWithEnv parses args; every flag can also come from the environment
// as EASGATE_<NAME> (dashes as underscores). The command line wins.
func parseWithEnv(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "EASGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

func parseSecurity(s string) (bridge.Security, error) {
	switch strings.ToLower(s) {
	case "tls":
		return bridge.SecurityTLS, nil
	case "starttls":
		return bridge.SecuritySTARTTLS, nil
	case "none":
		return bridge.SecurityNone, nil
	}
	return 0, fmt.Errorf("security %q: want tls, starttls or none", s)
}

func newLogger(format, level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), lvl)), nil
}

// gateway is a running easgate: EAS listener, admin listener and their
// dependencies.
type gateway struct {
	log     *zap.Logger
	store   *store.Store
	backend *bridge.Backend
	push    *bridge.Notifier
	metrics *eas.Metrics
	eas     *eas.Server
	easLn   net.Listener
	admLn   net.Listener
	easSrv  *http.Server
	admSrv  *http.Server
}

// startGateway opens the state, builds the server and starts listening.
func startGateway(ctx context.Context, c *serveConfig, log *zap.Logger, adminToken string) (*gateway, error) {
	if c.IMAP == "" {
		return nil, errors.New("--imap is required")
	}
	sec, err := parseSecurity(c.IMAPSecurity)
	if err != nil {
		return nil, err
	}
	if c.SMTPSecurity == "" {
		c.SMTPSecurity = "starttls"
	}
	smtpSec, err := parseSecurity(c.SMTPSecurity)
	if err != nil {
		return nil, fmt.Errorf("--smtp-security: %w", err)
	}
	if c.MinHeartbeat <= 0 || c.MaxHeartbeat < c.MinHeartbeat {
		return nil, fmt.Errorf("heartbeat bounds %v..%v are not a range", c.MinHeartbeat, c.MaxHeartbeat)
	}
	st, err := store.Open(ctx, c.DB)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", c.DB, err)
	}
	g := &gateway{log: log, store: st}
	g.backend = bridge.New(bridge.Config{
		Addr: c.IMAP, Security: sec, TLSConfig: c.tlsConfig, Domain: c.Domain,
		Logger:   log.Named("imap"),
		SMTPAddr: c.SMTP, SMTPSecurity: smtpSec, SMTPTLSConfig: c.tlsConfig, NoSentCopy: !c.SentCopy,
	})
	g.push = bridge.NewNotifier(g.backend, bridge.WatchConfig{CheckInterval: c.FolderCheckInterval})
	g.metrics = eas.NewMetrics()
	registerUpstreamMetrics(g.metrics.Registry(), g.backend, g.push, st)
	var backend eas.Backend = g.backend
	var notifier eas.Notifier = g.push
	ups, err := c.davUpstreams(log)
	if err != nil {
		g.Close()
		return nil, err
	}
	if len(ups) > 0 {
		comb := eas.Combine(g.backend, g.push, ups...)
		backend, notifier = comb, comb
	}
	g.eas = eas.NewServer(eas.Config{
		PublicURL: c.PublicURL, MaxRequestBytes: c.MaxRequest, TrustedProxies: c.TrustedProxies,
		MinHeartbeat: c.MinHeartbeat, MaxHeartbeat: c.MaxHeartbeat, Logger: log.Named("eas"),
		Metrics: g.metrics,
	}, backend, st, notifier)

	if g.easLn, err = net.Listen("tcp", c.Listen); err != nil {
		g.Close()
		return nil, fmt.Errorf("listen %s: %w", c.Listen, err)
	}
	g.easSrv = &http.Server{
		Handler:           g.eas.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		// No WriteTimeout: a Ping legitimately stays open for up to an hour.
		IdleTimeout: 5 * time.Minute,
		ErrorLog:    zap.NewStdLog(log.Named("http")),
	}
	go g.easSrv.Serve(g.easLn)
	if adminToken != "" {
		if g.admLn, err = net.Listen("tcp", c.AdminListen); err != nil {
			g.Close()
			return nil, fmt.Errorf("listen %s: %w", c.AdminListen, err)
		}
		g.admSrv = &http.Server{Handler: g.eas.AdminHandler(adminToken), ReadHeaderTimeout: 10 * time.Second}
		go g.admSrv.Serve(g.admLn)
	}
	return g, nil
}

// Close stops listening, lets requests finish for a moment, and closes the
// upstream connections and the state.
func (g *gateway) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if g.push != nil {
		// Ends the waiting Pings first (Status 1), so that Shutdown does not
		// wait for their heartbeats.
		g.push.Close()
	}
	if g.easSrv != nil {
		g.easSrv.Shutdown(ctx)
	}
	if g.admSrv != nil {
		g.admSrv.Shutdown(ctx)
	}
	if g.backend != nil {
		g.backend.Close()
	}
	if g.store != nil {
		return g.store.Close()
	}
	return nil
}

func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", fmt.Errorf("admin token in %s is shorter than 16 characters", path)
	}
	return tok, nil
}

// runServe is `easgate serve`.
func runServe(args []string, stdout, stderr io.Writer) int {
	var c serveConfig
	fs := serveFlags(&c, stderr)
	if err := parseWithEnv(fs, args, os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "easgate serve: %v\n", err)
		return 2
	}
	log, err := newLogger(c.LogFormat, c.LogLevel, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "easgate serve: %v\n", err)
		return 2
	}
	defer log.Sync()
	token, err := readToken(c.AdminTokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "easgate serve: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := startGateway(ctx, &c, log, token)
	if err != nil {
		fmt.Fprintf(stderr, "easgate serve: %v\n", err)
		return 1
	}
	log.Info("easgate listening", zap.String("eas", g.easLn.Addr().String()), zap.String("imap", c.IMAP),
		zap.Bool("admin", g.admLn != nil))
	<-ctx.Done()
	log.Info("shutting down")
	if err := g.Close(); err != nil {
		log.Error("close", zap.Error(err))
		return 1
	}
	return 0
}

// registerUpstreamMetrics reports the IMAP side and the state store, read
// from their own counters at each scrape.
func registerUpstreamMetrics(reg prometheus.Registerer, b *bridge.Backend, n *bridge.Notifier, st *store.Store) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "easgate_upstream_connections",
			Help: "IMAP connections open: pooled for requests and watching for push.",
		}, func() float64 { return float64(b.Stats().Connections + n.Stats().Connected) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "easgate_upstream_watchers",
			Help: "Accounts with an IMAP IDLE watcher for waiting phones.",
		}, func() float64 { return float64(n.Stats().Watchers) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "easgate_upstream_errors_total",
			Help: "IMAP connection attempts that failed (server down, TLS, timeout); refused logins not counted.",
		}, func() float64 { return float64(b.Stats().DialFailures) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "easgate_upstream_reconnects_total",
			Help: "Watching IMAP connections lost and dialled again.",
		}, func() float64 { return float64(n.Stats().Reconnects) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "easgate_store_errors_total",
			Help: "Failed SQLite operations.",
		}, func() float64 { return float64(st.Errors()) }),
	)
}

// davUpstreams are the CardDAV and CalDAV stores the flags name.
func (c *serveConfig) davUpstreams(log *zap.Logger) ([]eas.Upstream, error) {
	var ups []eas.Upstream
	if c.CardDAV != "" {
		davCfg := dav.Config{URL: c.CardDAV}
		if _, err := dav.NewClient(davCfg, dav.Credentials{}); err != nil {
			return nil, fmt.Errorf("--carddav: %w", err)
		}
		cards := contacts.New(contacts.Config{DAV: davCfg, PollInterval: c.DAVPollInterval, Log: log.Named("carddav")})
		ups = append(ups, eas.Upstream{Name: "carddav", Backend: cards, Notifier: cards.Notifier()})
	}
	if c.CalDAV != "" {
		davCfg := dav.Config{URL: c.CalDAV}
		if _, err := dav.NewClient(davCfg, dav.Credentials{}); err != nil {
			return nil, fmt.Errorf("--caldav: %w", err)
		}
		cals := calendars.New(calendars.Config{DAV: davCfg, PollInterval: c.DAVPollInterval, Log: log.Named("caldav")})
		ups = append(ups, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier()})
	}
	return ups, nil
}
