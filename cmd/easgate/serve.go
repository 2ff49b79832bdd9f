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
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/dav"
	"github.com/easgate/easgate/bridge/dav/calendars"
	"github.com/easgate/easgate/bridge/dav/contacts"
	"github.com/easgate/easgate/bridge/dovecotpush"
	"github.com/easgate/easgate/bridge/notes"
	"github.com/easgate/easgate/bridge/sieve"
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
	// DeviceRetention, when positive, is how long a device may go unseen
	// before it is deleted with its state.
	DeviceRetention time.Duration
	// BodyReadTimeout and MinBodyRate bound how long a request body may
	// take (eas.Config).
	BodyReadTimeout time.Duration
	MinBodyRate     int64
	// MaxConnsPerClient bounds the connections of one client address.
	MaxConnsPerClient int
	Limits            eas.Limits
	Sieve             string
	SieveSecurity     string
	// oof replaces the ManageSieve backend (the demo keeps Oof in memory).
	oof eas.OofBackend
	// CardDAV is the contacts server; "" serves no contacts.
	CardDAV string
	// CalDAV is the calendar and tasks server; "" serves neither.
	CalDAV          string
	DAVPollInterval time.Duration
	// TimeZone is the users' zone for floating times and all-day items
	// of calendars that name none (CALDAV:calendar-timezone) and for the
	// birthdays phones send; nil is the host's.
	TimeZone *time.Location
	// PushSource is idle, dovecot or both (bridge.ParsePushSource);
	// PushSecretFile holds the secret Dovecot's notifications carry.
	PushSource     string
	PushSecretFile string
	// pushSecret replaces the content of PushSecretFile (tests).
	pushSecret string
	// upstreamIdle replaces bridge.DefaultIdleTimeout (tests); no flag.
	upstreamIdle time.Duration
	// adminListener, when set, is the admin listener itself, already
	// open: tests whose Dovecot must name its address before easgate
	// starts. No flag.
	adminListener net.Listener
	// insecureTLS is for tests with self-signed upstreams only; no flag.
	tlsConfig *tls.Config
}

// loadZone reads the --timezone flag: an IANA zone name, or "Local".
// LoadLocation takes "" for UTC, which no one means by an empty setting.
func loadZone(v string) (*time.Location, error) {
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("time zone: empty name")
	}
	l, err := time.LoadLocation(v)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", v, err)
	}
	return l, nil
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
	fs.StringVar(&c.DB, "db", "./easgate.db", "state database: SQLite file, or postgres:// URL for several nodes on one database")
	fs.DurationVar(&c.DeviceRetention, "device-retention", 0, "delete devices not seen for this long, with their state (e.g. 2160h); 0 keeps them")
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
	fs.DurationVar(&c.BodyReadTimeout, "body-read-timeout", 60*time.Second,
		"how long a request body may take to start arriving (HTTP 408 beyond)")
	fs.Int64Var(&c.MinBodyRate, "min-body-rate", 2048,
		"bytes per second a request body must arrive at after --body-read-timeout; a slow phone uploading an attachment stays well above it")
	fs.IntVar(&c.MaxConnsPerClient, "max-conns-per-client", 50,
		"connections one client address may hold at once (trusted proxies and loopback exempt; 0: no bound)")
	fs.IntVar(&c.Limits.ItemOperations, "max-item-operations", 100, "operations in one ItemOperations request")
	fs.IntVar(&c.Limits.MoveItems, "max-move-items", 500, "items in one MoveItems request")
	fs.IntVar(&c.Limits.Collections, "max-collections", 300, "collections in one GetItemEstimate request")
	fs.IntVar(&c.Limits.Elements, "max-request-elements", 100_000, "WBXML elements in one request body (HTTP 413 beyond); bounds a request's memory")
	fs.StringVar(&c.Sieve, "sieve", "", "upstream ManageSieve server HOST:PORT for Out of Office; without it phones get no Out of Office switch")
	fs.StringVar(&c.SieveSecurity, "sieve-security", "starttls", "upstream ManageSieve security: tls, starttls or none")
	fs.BoolVar(&c.SentCopy, "sent-copy", true, "file a copy of sent mail in the Sent folder when the phone asks; false for upstreams that file it themselves")
	fs.StringVar(&c.CardDAV, "carddav", "", "CardDAV server URL for contacts (e.g. https://dav.example.com/); users log in with their own credentials")
	fs.StringVar(&c.CalDAV, "caldav", "", "CalDAV server URL for calendars and tasks (e.g. https://dav.example.com/); users log in with their own credentials")
	fs.DurationVar(&c.DAVPollInterval, "dav-poll-interval", dav.DefaultPollInterval, "how often push polls watched address books and calendars")
	c.TimeZone = time.Local
	fs.Func("timezone",
		"IANA `zone` (e.g. Europe/Berlin) of the users' floating times and all-day events, for calendars that name no CALDAV:calendar-timezone, and of the birthdays phones send; default the host's",
		func(v string) error {
			l, err := loadZone(v)
			if err == nil {
				c.TimeZone = l
			}
			return err
		})
	fs.StringVar(&c.PushSource, "push-source", "idle",
		"where mail push comes from: idle (an IMAP IDLE connection per account with a waiting phone), dovecot (Dovecot's push_notification plugin calls /api/push/dovecot on --admin-listen; no connection held) or both")
	fs.StringVar(&c.PushSecretFile, "push-secret-file", "", "file holding the secret Dovecot's notifications must present; required by --push-source dovecot or both")
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

// oofBackend is where Out of Office settings go: nil without --sieve.
func (c *serveConfig) oofBackend() (eas.OofBackend, error) {
	if c.oof != nil {
		return c.oof, nil
	}
	if c.Sieve == "" {
		return nil, nil
	}
	if c.SieveSecurity == "" {
		c.SieveSecurity = "starttls"
	}
	sec, err := parseSecurity(c.SieveSecurity)
	if err != nil {
		return nil, fmt.Errorf("--sieve-security: %w", err)
	}
	return sieve.New(sieve.Config{Addr: c.Sieve, Security: sec, TLSConfig: c.tlsConfig, Domain: c.Domain}), nil
}

// gateway is a running easgate: EAS listener, admin listener and their
// dependencies.
type gateway struct {
	log     *zap.Logger
	store   *store.Store
	backend *bridge.Backend
	push    *bridge.Notifier
	poker   dovecotpush.Poker // g.push, or one that tells the other nodes too
	metrics *eas.Metrics
	eas     *eas.Server
	easLn   net.Listener
	admLn   net.Listener
	easSrv  *http.Server
	admSrv  *http.Server
	// served ends when both listeners stopped; serveErrs has what made
	// them stop other than Close.
	served    sync.WaitGroup
	serveErrs chan error
	closeOnce sync.Once
	closeErr  error
	// grace replaces shutdownGrace in tests.
	grace time.Duration
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
	oof, err := c.oofBackend()
	if err != nil {
		return nil, err
	}
	source, pushSecret, err := c.pushSource()
	if err != nil {
		return nil, err
	}
	if c.MinHeartbeat <= 0 || c.MaxHeartbeat < c.MinHeartbeat {
		return nil, fmt.Errorf("heartbeat bounds %v..%v are not a range", c.MinHeartbeat, c.MaxHeartbeat)
	}
	st, err := store.Open(ctx, c.DB)
	if err != nil {
		return nil, fmt.Errorf("open state: %w", err) // names the database, without its password
	}
	g := &gateway{log: log, store: st, serveErrs: make(chan error, 2)}
	st.OnListenError(func(err error) { log.Warn("listening for other nodes' device events; trying again", zap.Error(err)) })
	if c.DeviceRetention > 0 {
		go st.SweepDevices(ctx, c.DeviceRetention, func(n int64, err error) {
			if err != nil {
				log.Warn("device retention sweep", zap.Error(err))
			} else if n > 0 {
				log.Info("deleted devices not seen within the retention", zap.Int64("devices", n), zap.Duration("retention", c.DeviceRetention))
			}
		})
	}
	g.backend = bridge.New(bridge.Config{
		Addr: c.IMAP, Security: sec, TLSConfig: c.tlsConfig, Domain: c.Domain,
		Logger: log.Named("imap"), IdleTimeout: c.upstreamIdle,
		SMTPAddr: c.SMTP, SMTPSecurity: smtpSec, SMTPTLSConfig: c.tlsConfig, NoSentCopy: !c.SentCopy,
	})
	g.push = bridge.NewNotifier(g.backend, bridge.WatchConfig{CheckInterval: c.FolderCheckInterval, Source: source})
	if source != bridge.PushIdle {
		g.knowUsers(ctx)
	}
	g.joinNodes(store.IsPostgres(c.DB))
	g.metrics = eas.NewMetrics()
	registerUpstreamMetrics(g.metrics.Registry(), g.backend, g.push, st)
	refused := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "easgate_connections_refused_total",
		Help: "Connections refused because their client address held --max-conns-per-client already.",
	})
	g.metrics.Registry().MustRegister(refused)
	upstreams := []eas.HealthCheck{upstreamCheck{"imap", c.IMAP, sec, c.tlsConfig}.upstream()}
	if c.SMTP != "" {
		upstreams = append(upstreams, upstreamCheck{"smtp", c.SMTP, smtpSec, c.tlsConfig}.upstream())
	}
	// The state database too: with PostgreSQL on another machine, it is
	// the one an operator most needs to see go away.
	upstreams = append(upstreams, eas.HealthCheck{Name: "db", Addr: store.Redact(c.DB), Check: st.Ping})
	// Notes live in the IMAP notes mailbox, beside the mail; contacts,
	// calendars and tasks on the DAV servers when there are some.
	others := []eas.Upstream{{
		Name: "notes", Backend: notes.New(g.backend, log.Named("notes")), Notifier: notes.NewNotifier(g.push),
	}}
	davs, err := c.davUpstreams(log)
	if err != nil {
		g.Close()
		return nil, err
	}
	others = append(others, davs...)
	comb := eas.Combine(g.backend, g.push, others...)
	g.eas = eas.NewServer(eas.Config{
		PublicURL: c.PublicURL, MaxRequestBytes: c.MaxRequest, TrustedProxies: c.TrustedProxies,
		MinHeartbeat: c.MinHeartbeat, MaxHeartbeat: c.MaxHeartbeat, Logger: log.Named("eas"),
		Metrics: g.metrics, BodyReadTimeout: c.BodyReadTimeout, MinBodyRate: c.MinBodyRate,
		Limits: c.Limits, Upstreams: upstreams,
		Oof: oof,
	}, comb, st, comb)

	if g.easLn, err = net.Listen("tcp", c.Listen); err != nil {
		g.Close()
		return nil, fmt.Errorf("listen %s: %w", c.Listen, err)
	}
	// A proxy's connections carry many phones: trusted proxies, and the
	// loopback address a local reverse proxy comes from, are not bounded.
	unbounded := append([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, c.TrustedProxies...)
	g.easLn = limitPerClient(g.easLn, c.MaxConnsPerClient, unbounded, refused.Inc)
	g.easSrv = &http.Server{
		Handler:           g.eas.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		// No WriteTimeout: a Ping legitimately stays open for up to an hour.
		IdleTimeout: 5 * time.Minute,
		ErrorLog:    zap.NewStdLog(log.Named("http")),
	}
	g.serving(g.easSrv, g.easLn, "eas")
	if adminToken != "" || pushSecret != "" {
		h, err := g.adminHandler(adminToken, pushSecret, c.Domain)
		if err != nil {
			g.Close()
			return nil, err
		}
		if g.admLn = c.adminListener; g.admLn == nil {
			g.admLn, err = net.Listen("tcp", c.AdminListen)
		}
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("listen %s: %w", c.AdminListen, err)
		}
		// Dovecot calls within the delivery or IMAP command that caused
		// the event: a slow or stuck client must not hold a worker long.
		g.admSrv = &http.Server{
			Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			IdleTimeout: 2 * time.Minute, ErrorLog: zap.NewStdLog(log.Named("admin")),
		}
		g.serving(g.admSrv, g.admLn, "admin")
	}
	return g, nil
}

// adminHandler is the admin listener's handler: the admin API (every /api
// request refused without a token), /healthz, /metrics and, with a push
// secret, Dovecot's notifications at /api/push/dovecot.
func (g *gateway) adminHandler(token, pushSecret, domain string) (http.Handler, error) {
	admin := g.eas.AdminHandler(token)
	if pushSecret == "" {
		return admin, nil
	}
	push, err := dovecotpush.NewHandler(dovecotpush.Config{
		Poker: g.poker, Secret: pushSecret, Domain: domain, Registerer: g.metrics.Registry(),
	})
	if err != nil {
		return nil, fmt.Errorf("dovecot push endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/push/dovecot", push)
	mux.Handle("/", admin)
	return mux, nil
}

// pushSource reads --push-source and the secret its notifications need.
func (c *serveConfig) pushSource() (bridge.PushSource, string, error) {
	source, err := bridge.ParsePushSource(c.PushSource)
	if err != nil {
		return 0, "", fmt.Errorf("--push-source: %w", err)
	}
	if c.pushSecret == "" && c.PushSecretFile != "" {
		b, err := os.ReadFile(c.PushSecretFile)
		if err != nil {
			return 0, "", fmt.Errorf("--push-secret-file: %w", err)
		}
		c.pushSecret = strings.TrimSpace(string(b))
	}
	switch {
	case source == bridge.PushIdle && c.pushSecret != "":
		return 0, "", errors.New("--push-secret-file is set but --push-source is idle: choose dovecot or both")
	case source != bridge.PushIdle && c.pushSecret == "":
		return 0, "", fmt.Errorf("--push-source %s needs --push-secret-file", source)
	case source != bridge.PushIdle && len(c.pushSecret) < 16:
		return 0, "", errors.New("the push secret is shorter than 16 characters")
	}
	return source, c.pushSecret, nil
}

// serving runs srv on ln; an error other than the server's closing is
// logged and returned by Close.
func (g *gateway) serving(srv *http.Server, ln net.Listener, name string) {
	g.served.Add(1)
	go func() {
		defer g.served.Done()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("listener failed", zap.String("listener", name), zap.Error(err))
			g.serveErrs <- fmt.Errorf("%s listener: %w", name, err)
		}
	}()
}

// shutdownGrace is how long Close lets running requests finish before it
// cuts their connections; closeBound how long it then waits for them (and
// background work) to notice before closing the store under them.
const (
	shutdownGrace = 5 * time.Second
	closeBound    = 10 * time.Second
)

// Close stops listening, lets requests finish for a moment, cuts those
// still running, waits for them and for background work, then closes the
// upstream connections and the state. It returns every error on the way.
func (g *gateway) Close() error {
	g.closeOnce.Do(func() { g.closeErr = g.close() })
	return g.closeErr
}

func (g *gateway) close() error {
	var errs []error
	if g.push != nil {
		// Ends the waiting Pings first (Status 1), so that Shutdown does not
		// wait for their heartbeats.
		g.push.Close()
	}
	grace := g.grace
	if grace == 0 {
		grace = shutdownGrace
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// The EAS server's Close at once answers the requests it holds back
	// (a Ping while the upstream is down), then waits for everything it
	// runs, the requests Shutdown waits for and background work.
	easClosed := make(chan error, 1)
	if g.eas != nil {
		wctx, wcancel := context.WithTimeout(context.Background(), grace+closeBound)
		defer wcancel()
		go func() { easClosed <- g.eas.Close(wctx) }()
	} else {
		easClosed <- nil
	}
	for _, srv := range []*http.Server{g.easSrv, g.admSrv} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			// Requests still running: cut their connections, which
			// cancels their contexts.
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
			if err := srv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close listener: %w", err))
			}
		}
	}
	g.served.Wait()
	close(g.serveErrs)
	for err := range g.serveErrs {
		errs = append(errs, err)
	}
	if err := <-easClosed; err != nil {
		errs = append(errs, err)
	}
	if g.backend != nil {
		if err := g.backend.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close upstream connections: %w", err))
		}
	}
	if g.store != nil {
		if err := g.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close state: %w", err))
		}
	}
	return errors.Join(errs...)
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
	warnUnreachable(ctx, g.eas, log)
	select {
	case <-ctx.Done():
	case err := <-g.serveErrs:
		// A listener failed: the gateway cannot serve; Close reports it.
		g.serveErrs <- err
	}
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
			Help: "Accounts with phones waiting for changes (each holds an IMAP IDLE connection unless --push-source is dovecot).",
		}, func() float64 { return float64(n.Stats().Watchers) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "easgate_upstream_push_connections",
			Help: "IMAP connections held open for push (IDLE); zero with --push-source dovecot.",
		}, func() float64 { return float64(n.Stats().Connected) }),
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
			Help: "Failed state store operations (SQLite or PostgreSQL).",
		}, func() float64 { return float64(st.Errors()) }),
	)
}

// zone is --timezone, the host's zone when unset.
func (c *serveConfig) zone() *time.Location {
	if c.TimeZone == nil {
		return time.Local
	}
	return c.TimeZone
}

// davUpstreams are the CardDAV and CalDAV stores the flags name.
func (c *serveConfig) davUpstreams(log *zap.Logger) ([]eas.Upstream, error) {
	var ups []eas.Upstream
	if c.CardDAV != "" {
		davCfg := dav.Config{URL: c.CardDAV}
		if _, err := dav.NewClient(davCfg, dav.Credentials{}); err != nil {
			return nil, fmt.Errorf("--carddav: %w", err)
		}
		cards := contacts.New(contacts.Config{DAV: davCfg, PollInterval: c.DAVPollInterval, Zone: c.zone(), Log: log.Named("carddav")})
		ups = append(ups, eas.Upstream{Name: "carddav", Backend: cards, Notifier: cards.Notifier(),
			Classes: []eas.Class{eas.ClassContacts}})
	}
	if c.CalDAV != "" {
		davCfg := dav.Config{URL: c.CalDAV}
		if _, err := dav.NewClient(davCfg, dav.Credentials{}); err != nil {
			return nil, fmt.Errorf("--caldav: %w", err)
		}
		cals := calendars.New(calendars.Config{DAV: davCfg, PollInterval: c.DAVPollInterval, Zone: c.zone(), Log: log.Named("caldav")})
		ups = append(ups, eas.Upstream{Name: "caldav", Backend: cals, Notifier: cals.Notifier(),
			Classes: []eas.Class{eas.ClassCalendar, eas.ClassTasks}})
	}
	return ups, nil
}
