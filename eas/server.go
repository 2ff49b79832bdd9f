package eas

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// Config tunes a Server. Zero values take the defaults.
type Config struct {
	// PublicURL is the address phones reach easgate at (Autodiscover), e.g.
	// https://mail.example.com.
	PublicURL string
	// MaxRequestBytes bounds request bodies (HTTP 413 beyond); default 64 MiB.
	MaxRequestBytes int64
	// AuthCacheTTL is how long a successful login is remembered; default 2 min.
	AuthCacheTTL time.Duration
	// MinHeartbeat and MaxHeartbeat bound Ping and Sync heartbeats; default
	// 60 s and 3540 s, what Exchange allows.
	MinHeartbeat, MaxHeartbeat time.Duration
	// MaxPingFolders bounds the folders one Ping may watch; default 300.
	MaxPingFolders int
	// TrustedProxies may set X-Forwarded-For and X-Forwarded-Proto.
	TrustedProxies []netip.Prefix
	// Logger receives one line per request; default: no logging.
	Logger *zap.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Metrics receive the server's figures; default: unregistered ones.
	Metrics *Metrics
	// BodyReadTimeout is how long a request's body may take to start
	// arriving, and MinBodyRate (bytes/s) how fast it must come after
	// that; default 60 s and 2 KiB/s. A body that stalls gets HTTP 408.
	BodyReadTimeout time.Duration
	MinBodyRate     int64
	// Limits bound the work one request may ask for.
	Limits Limits
	// Upstreams are the servers easgate depends on, which /healthz on the
	// admin listener checks and reports one by one.
	Upstreams []HealthCheck
	// UpstreamRetry is how long a Ping waits while the upstream is down
	// before answering Status 8 (bounded by its heartbeat); default 45 s.
	UpstreamRetry time.Duration
	// Oof keeps out-of-office settings; nil: Settings Oof is not available.
	Oof OofBackend
}

// Limits bound the work one request may ask for; zero values take the
// defaults. A request beyond them gets its command's "too many" status.
type Limits struct {
	// ItemOperations is the most operations (Fetch, Move, EmptyFolderContents)
	// in one ItemOperations request; default 100.
	ItemOperations int
	// MoveItems is the most Move elements in one MoveItems request;
	// default 500.
	MoveItems int
	// Collections is the most collections in one GetItemEstimate
	// request; default 300, like MaxPingFolders.
	Collections int
	// Elements is the most WBXML elements one request body may hold;
	// default 100,000. The decoded tree costs about 100 bytes an element,
	// so this bounds a request's memory whatever its commands; a Sync of a
	// full 512-item window holds some tens of thousands. Beyond it the
	// answer is HTTP 413.
	Elements int
}

func (c *Config) setDefaults() {
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 64 << 20
	}
	if c.AuthCacheTTL <= 0 {
		c.AuthCacheTTL = 2 * time.Minute
	}
	if c.MinHeartbeat <= 0 {
		c.MinHeartbeat = 60 * time.Second
	}
	if c.MaxHeartbeat <= 0 {
		c.MaxHeartbeat = 3540 * time.Second
	}
	if c.MaxPingFolders <= 0 {
		c.MaxPingFolders = 300
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = 60 * time.Second
	}
	if c.MinBodyRate <= 0 {
		c.MinBodyRate = 2 << 10
	}
	if c.Limits.ItemOperations <= 0 {
		c.Limits.ItemOperations = 100
	}
	if c.Limits.MoveItems <= 0 {
		c.Limits.MoveItems = 500
	}
	if c.Limits.Collections <= 0 {
		c.Limits.Collections = 300
	}
	if c.Limits.Elements <= 0 {
		c.Limits.Elements = 100_000
	}
	if c.UpstreamRetry <= 0 {
		c.UpstreamRetry = 45 * time.Second
	}
}

// Server is the ActiveSync endpoint. It is safe for concurrent use.
type Server struct {
	cfg      Config
	backend  Backend
	store    Store
	notifier Notifier
	log      *zap.Logger
	auth     *authenticator
	devices  *deviceLocks
	users    *keyedMutex
	commands map[string]*command
	// buffers are reused between responses, gzip writers (about 800 KB
	// of tables each) among them.
	buffers *responseBuffers
	// prefetches hold the next window of devices in the middle of a sync.
	prefetches *prefetches
	// inflight counts running requests and background work for Close.
	inflight inflight
	health   healthCache
	// listed keeps each user's folder list for merged collections.
	listed folderCache
	// quit is closed by Close: requests held back (a Ping while the
	// upstream is down) answer at once.
	quit     chan struct{}
	quitOnce sync.Once
	// stopWatching ends the watch of the store's device events (see
	// cluster.go); nil when the store has none.
	stopWatching context.CancelFunc
}

// command describes how the dispatcher runs one EAS command.
type command struct {
	name string
	// root is the response's root element, used for status-only answers
	// (provisioning needed, server error); zero when the command has none.
	root wbxml.Tag
	// provisioned: the command needs a provisioned device.
	provisioned bool
	// supersedes: the command ends the device's waiting Ping or Sync.
	supersedes bool
	// takesPrefetch: the command may use the device's prefetched Sync
	// window (Sync).
	takesPrefetch bool
	handle        func(ctx context.Context, r *request) (*reply, error)
}

// NewServer builds a Server. notifier may be nil (no push: Ping then only
// waits for its heartbeat).
func NewServer(cfg Config, backend Backend, store Store, notifier Notifier) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:        cfg,
		backend:    backend,
		store:      store,
		notifier:   notifier,
		log:        cfg.Logger,
		devices:    newDeviceLocks(),
		users:      newKeyedMutex(),
		buffers:    newResponseBuffers(),
		prefetches: newPrefetches(cfg.Metrics),
		quit:       make(chan struct{}),
	}
	s.auth = newAuthenticator(backend, cfg.AuthCacheTTL, cfg.Now)
	s.auth.throttled = cfg.Metrics.authThrottled
	s.commands = map[string]*command{}
	s.register()
	s.startWatching()
	return s
}

func (s *Server) add(c *command) {
	s.commands[strings.ToLower(c.name)] = c
}

// root returns the tag of a command's response root element.
func root(ns, name string) wbxml.Tag { return wbxml.MustLookup(ns, name) }

// Commands lists the commands the server implements, for OPTIONS.
func (s *Server) Commands() []string {
	var names []string
	for _, n := range commandOrder {
		if _, ok := s.commands[strings.ToLower(n)]; ok {
			names = append(names, n)
		}
	}
	return names
}

// commandOrder is the order of MS-ASProtocolCommands as Exchange lists them.
var commandOrder = []string{
	"Sync", "SendMail", "SmartForward", "SmartReply", "GetAttachment",
	"FolderSync", "FolderCreate", "FolderDelete", "FolderUpdate", "MoveItems",
	"GetItemEstimate", "MeetingResponse", "Search", "Settings", "Ping",
	"ItemOperations", "Provision", "ResolveRecipients", "ValidateCert", "Find",
}

// Handler returns the HTTP handler for the ActiveSync endpoint and
// Autodiscover.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.caseInsensitivePaths)
	r.Options("/microsoft-server-activesync", s.endpoint("OPTIONS", s.handleOptions))
	r.Post("/microsoft-server-activesync", s.endpoint("", s.handleEAS))
	r.Post("/autodiscover/autodiscover.xml", s.endpoint("Autodiscover", s.handleAutodiscover))
	r.Get("/autodiscover/autodiscover.json", s.endpoint("AutodiscoverJSON", s.handleAutodiscoverJSON))
	r.Get("/autodiscover/autodiscover.json/*", s.endpoint("AutodiscoverJSON", s.handleAutodiscoverJSON))
	r.NotFound(s.endpoint("", func(context.Context, *request) (*reply, error) {
		return nil, httpError(http.StatusNotFound, errors.New("no such endpoint"))
	}))
	r.MethodNotAllowed(s.endpoint("", func(context.Context, *request) (*reply, error) {
		return &reply{status: http.StatusMethodNotAllowed, header: http.Header{"Allow": {"OPTIONS, POST"}},
			raw: []byte("method not allowed\n"), contentType: "text/plain; charset=utf-8"}, nil
	}))
	return r
}

// handler is what every endpoint and every EAS command implements: it
// answers with a reply, or with an error that respond turns into one.
type handler func(ctx context.Context, r *request) (*reply, error)

// endpoint adapts h to net/http. It builds the request value, counts the
// request as in flight for Close, runs h and hands what it returns to
// respond, the one place that writes an answer, logs it and counts it.
func (s *Server) endpoint(name string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, hr *http.Request) {
		r := &request{s: s, http: hr, w: w, name: name, start: s.cfg.Now(), log: s.log}
		if !s.inflight.enter() {
			s.respond(r, nil, httpError(http.StatusServiceUnavailable, errShuttingDown))
			return
		}
		defer s.inflight.leave()
		defer r.releaseMailbox()
		rep, err := h(hr.Context(), r)
		s.respond(r, rep, err)
	}
}

// caseInsensitivePaths routes on the lower-cased path: clients spell
// "Microsoft-Server-ActiveSync" and "Autodiscover" in various cases.
func (s *Server) caseInsensitivePaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx := chi.RouteContext(r.Context())
		if rctx != nil {
			rctx.RoutePath = strings.TrimSuffix(strings.ToLower(r.URL.Path), "/")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) versionList() string {
	vs := make([]string, len(Versions))
	for i, v := range Versions {
		vs[i] = v.String()
	}
	return strings.Join(vs, ",")
}

// handleOptions answers the capability probe (MS-ASHTTP 2.2.3). Phones
// send credentials with it and expect 401 without them, which is also how
// they learn that Basic authentication is wanted.
func (s *Server) handleOptions(ctx context.Context, r *request) (*reply, error) {
	if err := s.login(ctx, r); err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Allow", "OPTIONS,POST")
	h.Set("Public", "OPTIONS,POST")
	h.Set("MS-ASProtocolVersions", s.versionList())
	h.Set("MS-ASProtocolCommands", strings.Join(s.Commands(), ","))
	return &reply{header: h, raw: []byte{}}, nil
}

// errNoCredentials: the request carries no Basic credentials (HTTP 401).
var errNoCredentials = errors.New("no credentials")

// errShuttingDown: the server is closing (HTTP 503).
var errShuttingDown = errors.New("server shutting down")

// login checks the request's Basic credentials with the upstream and keeps
// the mailbox the check opened, if any, for the handler.
func (s *Server) login(ctx context.Context, r *request) error {
	cred, ok := s.credentials(r.http)
	if !ok {
		return errNoCredentials
	}
	r.cred, r.user = cred, cred.Username
	deviceID := ""
	if r.q != nil {
		deviceID = r.q.DeviceID
	}
	// WithLazy: a waiting Ping keeps its logger for up to an hour, and
	// With would encode the fields into a buffer of its own at once.
	r.log = s.log.WithLazy(zap.String("user", r.user), zap.String("device", deviceID))
	mb, err := s.auth.check(ctx, cred, s.clientAddr(r.http).String())
	if err != nil {
		return err
	}
	r.mbox = r.multiplexed(mb)
	return nil
}

// request is one request on its way through the server: the EAS
// dispatcher, OPTIONS and Autodiscover alike.
type request struct {
	s    *Server
	http *http.Request
	w    http.ResponseWriter
	// name is the command for the log and the metrics.
	name  string
	start time.Time
	q     *Query
	cred  Credentials
	user  string
	dev   *Device
	body  []byte
	// in is the body's size for the log: a waiting request drops the body.
	in   int
	cmd  *command
	log  *zap.Logger
	mbox Mailbox
	// unlockDevice lets a long-waiting command (Ping, Sync with Wait) stop
	// holding the device while it waits; lockDevice takes it again.
	unlockDevice func()
	lockDevice   func(ctx context.Context) error
	// folderIDs caches the user's folder id map for the request.
	folderIDs []FolderID
	// prefetched is the device's prefetched Sync window, taken from the
	// server when the request got hold of the device.
	prefetched *prefetch
	// arrived is when the request came in, by the server's clock.
	arrived time.Time
	// number is the request's number among its device's requests
	// (DeviceEvent.Request), 0 when the store does not tell it.
	number uint64
}

// Mailbox opens the user's mailbox on first use; the dispatcher closes it.
func (r *request) mailbox(ctx context.Context) (Mailbox, error) {
	if r.mbox != nil {
		return r.mbox, nil
	}
	mb, err := r.s.backend.Open(ctx, r.cred)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			r.s.auth.forget(r.cred)
		}
		return nil, fmt.Errorf("open mailbox: %w", err)
	}
	r.mbox = r.multiplexed(mb)
	return r.mbox, nil
}

// releaseMailbox returns the upstream connection early (before a long wait).
func (r *request) releaseMailbox() {
	if r.mbox != nil {
		r.mbox.Close()
		r.mbox = nil
	}
}

// decode reads the request body into v; errors become HTTP 400.
func (r *request) decode(v any) error {
	limits := wbxml.Limits{MaxSize: int(r.s.cfg.MaxRequestBytes), MaxElements: r.s.cfg.Limits.Elements}
	if err := wbxml.UnmarshalLimits(r.body, v, limits); err != nil {
		err = fmt.Errorf("%s body: %w", r.q.Cmd, err)
		if le := (*wbxml.LimitError)(nil); errors.As(err, &le) {
			return httpError(http.StatusRequestEntityTooLarge, err)
		}
		return &badRequest{err}
	}
	return nil
}

// version is the protocol version of the request.
func (r *request) version() Version { return r.q.Version }

// reply is what a command handler answers.
type reply struct {
	// status is the HTTP status; 0 means 200.
	status int
	// body is marshalled as WBXML; nil means an empty body.
	body any
	// raw is sent as it is with contentType when body is nil.
	raw         []byte
	contentType string
	header      http.Header
	// easStatus is the command's top-level status, for the log.
	easStatus int
	// reason explains a failure status in the log line.
	reason error
}

// badRequest marks errors that are the client's fault (HTTP 400).
type badRequest struct{ err error }

func (e *badRequest) Error() string { return e.err.Error() }
func (e *badRequest) Unwrap() error { return e.err }

// statusCodeError is an error answered with an HTTP status and no EAS body.
type statusCodeError struct {
	code int
	err  error
}

func (e *statusCodeError) Error() string { return e.err.Error() }
func (e *statusCodeError) Unwrap() error { return e.err }

// httpError makes err an answer with HTTP status code.
func httpError(code int, err error) error { return &statusCodeError{code: code, err: err} }

// easError is an error answered with HTTP 200 and a body holding only the
// command's top-level Status.
type easError struct {
	status int
	err    error
}

func (e *easError) Error() string { return fmt.Sprintf("status %d: %v", e.status, e.err) }
func (e *easError) Unwrap() error { return e.err }

// statusError makes err an answer with the command's top-level status.
func statusError(status int, err error) error { return &easError{status: status, err: err} }

// limit refuses a request that asks for more than max of something (n
// items of what) with the command's status for it.
func (r *request) limit(n, max int, what string, status int) error {
	if n <= max {
		return nil
	}
	return statusError(status, fmt.Errorf("%s asks for %d %s, more than %d", r.name, n, what, max))
}

// statusReply is a response holding only a top-level Status.
func statusReply(cmd *command, status int) *reply {
	e := &wbxml.Element{Tag: cmd.root}
	st, _ := wbxml.Lookup(cmd.root.Namespace(), "Status")
	e.Add((&wbxml.Element{Tag: st}).SetText(strconv.Itoa(status)))
	return &reply{body: e, easStatus: status}
}

// handleEAS is the ActiveSync endpoint: it checks the request, reads the
// device and runs the command.
func (s *Server) handleEAS(ctx context.Context, r *request) (*reply, error) {
	// The checks run in a function of their own so that their frame is off
	// the stack while a Ping or Sync waits: a goroutine's stack shrinks
	// to a quarter of what it holds at most, and thousands of phones wait.
	untrack, err := s.admit(ctx, r)
	if err != nil {
		return nil, err
	}
	defer untrack()
	return s.run(ctx, r)
}

// admit parses and authenticates an EAS request, reads its body and
// records it; r is then ready for run. untrack ends the node's tracking
// of the device (see deviceLocks.track), which lasts while r runs.
func (s *Server) admit(ctx context.Context, r *request) (untrack func(), err error) {
	q, err := ParseQuery(r.http)
	if err != nil {
		return nil, httpError(http.StatusBadRequest, err)
	}
	r.q, r.name = q, q.Cmd
	if err := s.login(ctx, r); err != nil {
		return nil, err
	}
	cmd := s.commands[strings.ToLower(q.Cmd)]
	if cmd == nil {
		return nil, httpError(http.StatusNotImplemented, fmt.Errorf("command %q not implemented", q.Cmd))
	}
	r.cmd, r.name = cmd, cmd.name
	if q.Version == 0 {
		return nil, httpError(http.StatusBadRequest, errors.New("no MS-ASProtocolVersion"))
	}
	if err = s.readBody(r, s.cfg.MaxRequestBytes); err != nil {
		return nil, err
	}
	untrack = func() {}
	if cmd.supersedes {
		untrack = s.devices.track(deviceKey{r.user, q.DeviceID})
	}
	if r.dev, r.number, err = s.recordRequest(ctx, DeviceSeen{
		User: r.user, DeviceID: q.DeviceID, DeviceType: q.DeviceType,
		UserAgent: r.http.UserAgent(), Protocol: q.Version.String(), Command: cmd.name, At: r.start,
	}); err != nil {
		untrack()
		return nil, err
	}
	if r.dev.Trace {
		r.log.Info("trace request", zap.String("cmd", q.Cmd), zap.String("xml", traceXML(r.body)))
	}
	return untrack, nil
}

// recordRequest records the request in the store and returns the device,
// in one statement when the store can (see RequestRecorder), and then also
// the request's number among the device's requests. Otherwise the count
// read back may include a request that came in meanwhile, and number is 0.
func (s *Server) recordRequest(ctx context.Context, seen DeviceSeen) (d *Device, number uint64, err error) {
	if rr, ok := s.store.(RequestRecorder); ok {
		d, err := rr.RecordRequest(ctx, seen)
		if err != nil {
			return nil, 0, fmt.Errorf("store: record request: %w", err)
		}
		return d, d.Requests, nil
	}
	if err := s.store.TouchDevice(ctx, seen); err != nil {
		return nil, 0, fmt.Errorf("store: touch device: %w", err)
	}
	d, err = s.store.Device(ctx, seen.User, seen.DeviceID)
	if err != nil {
		return nil, 0, fmt.Errorf("store: read device: %w", err)
	}
	return d, 0, nil
}

// run checks provisioning, serialises the device and calls the handler.
func (s *Server) run(ctx context.Context, r *request) (*reply, error) {
	// enter and leave are functions of their own to keep this frame, which
	// a waiting request keeps on its stack, small (see handleEAS).
	if rep, err := s.enter(ctx, r); rep != nil || err != nil {
		return rep, err
	}
	defer s.leave(r)
	return r.cmd.handle(ctx, r)
}

// leave ends what enter began: it lets the device go and counts a
// prefetch nobody used.
func (s *Server) leave(r *request) {
	r.unlockDevice()
	s.dropPrefetch(r)
}

// dropPrefetch lets go of the prefetched Sync window r took, counting it
// as unused.
func (s *Server) dropPrefetch(r *request) {
	if r.prefetched != nil {
		s.cfg.Metrics.prefetch("unused")
		r.prefetched = nil
	}
}

// enter checks provisioning and takes the device for r; a reply is the
// answer without running the command.
func (s *Server) enter(ctx context.Context, r *request) (*reply, error) {
	if rep := s.checkPolicy(r); rep != nil {
		return rep, nil
	}
	key := deviceKey{r.user, r.q.DeviceID}
	if r.cmd.supersedes {
		s.supersedeDevice(ctx, r.log, key, r.number)
	}
	unlock, err := s.lockDevice(ctx, key)
	if err != nil {
		return nil, err
	}
	// Any request of the device ends its prefetch. Only a Sync may use
	// it: any other lets it go now rather than hold it while it runs (a
	// Ping may wait an hour).
	r.prefetched = s.prefetches.take(key)
	if !r.cmd.takesPrefetch {
		s.dropPrefetch(r)
	}
	locked := true
	r.unlockDevice = func() {
		if locked {
			locked = false
			unlock()
		}
	}
	r.lockDevice = func(ctx context.Context) error {
		if locked {
			return nil
		}
		u, err := s.lockDevice(ctx, key)
		if err != nil {
			return err
		}
		unlock, locked = u, true
		return nil
	}
	return nil, nil
}

var errUnsupportedEncoding = errors.New("unsupported Content-Encoding")

// readBody reads a request's body into r.body, and its size into r.in,
// which outlasts a body a waiting request drops. It gunzips a body that
// comes compressed; the limit applies to what is read on the wire and to
// what it expands to. A body that stops arriving is cut off (see
// bodyDeadline).
func (s *Server) readBody(r *request, limit int64) error {
	body, err := s.readBodyLimited(r, limit)
	if err == nil {
		r.body, r.in = body, len(body)
		return nil
	}
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return httpError(http.StatusRequestEntityTooLarge, err)
	case errors.Is(err, errUnsupportedEncoding):
		return httpError(http.StatusUnsupportedMediaType, err)
	case errors.As(err, &ne) && ne.Timeout():
		return httpError(http.StatusRequestTimeout, fmt.Errorf("request body too slow: %w", err))
	}
	return httpError(http.StatusBadRequest, err)
}

func (s *Server) readBodyLimited(r *request, limit int64) (_ []byte, err error) {
	hr := r.http
	body := s.bodyDeadline(r)
	defer func() { body.done(err) }()
	in := io.Reader(http.MaxBytesReader(r.w, body, limit))
	switch enc := strings.ToLower(strings.TrimSpace(hr.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, fmt.Errorf("gzip request body: %w", err)
		}
		defer zr.Close()
		var mbe http.MaxBytesError
		mbe.Limit = limit
		body, err := io.ReadAll(io.LimitReader(zr, limit+1))
		if err == nil && int64(len(body)) > limit {
			return nil, &mbe
		}
		return body, err
	default:
		return nil, fmt.Errorf("%w %q", errUnsupportedEncoding, enc)
	}
	return io.ReadAll(in)
}

// respond is the one place that answers a request: it writes the reply,
// or the answer its error stands for, then logs the request and counts it.
func (s *Server) respond(r *request, rep *reply, err error) {
	if err != nil {
		rep = s.errorReply(r, err)
	}
	code, out := s.write(r, rep)
	eas := 0
	if rep != nil {
		eas = rep.easStatus
		if err == nil {
			err = rep.reason
		}
	}
	s.logRequest(r, code, eas, err, out)
}

// errorReply is the answer an error stands for: the HTTP status it
// carries, 401 for refused credentials, 503 (retry later) for an upstream
// that is down, 500 for anything unexpected; nil when nobody is there to
// read it.
func (s *Server) errorReply(r *request, err error) *reply {
	text := func(code int, msg string) *reply {
		return &reply{status: code, raw: []byte(msg + "\n"), contentType: "text/plain; charset=utf-8"}
	}
	var sce *statusCodeError
	var ee *easError
	switch {
	case errors.As(err, &ee) && r.cmd != nil && r.cmd.root != (wbxml.Tag{}) &&
		(ee.status < 100 || r.version().AtLeast(V140)):
		return statusReply(r.cmd, ee.status)
	case errors.As(err, &ee):
		// A common status (above 100) means nothing before 14.0: the
		// request is refused as malformed.
		return text(http.StatusBadRequest, "bad request")
	case errors.As(err, &sce):
		msg := http.StatusText(sce.code)
		if sce.code == http.StatusBadRequest {
			msg = err.Error()
		}
		return text(sce.code, msg)
	case errors.As(err, new(*badRequest)):
		return text(http.StatusBadRequest, "bad request")
	case errors.Is(err, ErrUnauthorized), errors.Is(err, errThrottled), errors.Is(err, errNoCredentials):
		rep := text(http.StatusUnauthorized, "authentication required")
		rep.header = http.Header{"Www-Authenticate": {`Basic realm="ActiveSync"`}}
		return rep
	case errors.Is(err, ErrUnavailable):
		rep := text(http.StatusServiceUnavailable, "mail server unavailable")
		rep.header = http.Header{"Retry-After": {"30"}}
		return rep
	case errors.Is(err, context.Canceled):
		// The phone went away; nobody reads the answer.
		return nil
	}
	r.log.Error("request failed", zap.String("cmd", r.name), zap.Error(err))
	return text(http.StatusInternalServerError, "internal error")
}

// write sends rep and returns the HTTP status and the body's length. A nil
// rep writes nothing (499 in the log: the client closed the request).
func (s *Server) write(r *request, rep *reply) (int, int) {
	if rep == nil {
		return 499, 0
	}
	w := r.w
	var data []byte
	ctype := rep.contentType
	if rep.body != nil {
		var merr error
		if e, ok := rep.body.(*wbxml.Element); ok {
			data, merr = e.AppendBytes(s.buffers.buffer())
		} else {
			data, merr = wbxml.MarshalAppend(s.buffers.buffer(), rep.body)
		}
		defer s.buffers.release(data)
		if merr != nil {
			r.log.Error("encode response", zap.String("cmd", r.name), zap.Error(merr))
			return s.write(r, &reply{status: http.StatusInternalServerError, raw: []byte("internal error\n"), contentType: "text/plain; charset=utf-8"})
		}
		ctype = "application/vnd.ms-sync.wbxml"
	} else {
		data = rep.raw
	}
	if ctype == "" {
		// Some devices choke on text/plain even for an empty body.
		ctype = "application/vnd.ms-sync.wbxml"
	}
	if r.dev != nil && r.dev.Trace && rep.body != nil {
		r.log.Info("trace response", zap.String("cmd", r.name), zap.String("xml", traceXML(data)))
	}
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.q != nil || r.name == "OPTIONS" {
		h.Set("MS-Server-ActiveSync", "16.1")
	}
	code := rep.status
	if code == 0 {
		code = http.StatusOK
	}
	if len(data) > 1024 && acceptsGzip(r.http) {
		data = s.buffers.gzip(data)
		defer s.buffers.release(data)
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(code)
	w.Write(data)
	return code, len(data)
}

// acceptsGzip tells whether the request's Accept-Encoding allows gzip
// (RFC 9110 12.5.3): named, or covered by "*", with a q-value above 0.
func acceptsGzip(r *http.Request) bool {
	star := false
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept-Encoding"), ","), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		switch name {
		case "gzip", "x-gzip":
			return qValue(params) > 0
		case "*":
			star = qValue(params) > 0
		}
	}
	return star
}

// qValue reads the weight among an Accept-Encoding entry's parameters:
// 1 when it has none, 0 when it is malformed.
func qValue(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}

// clientAddr is the phone's address: the peer, or what a trusted proxy put
// in X-Forwarded-For.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	addr := s.peerAddr(r)
	if !s.trusted(addr) {
		return addr
	}
	// Walk X-Forwarded-For from the right: the last address a trusted proxy
	// did not add is the client.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		addr = a
		if !s.trusted(a) {
			break
		}
	}
	return addr
}

// peerAddr is the address of the TCP peer.
func (s *Server) peerAddr(r *http.Request) netip.Addr {
	if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return peer.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	return netip.Addr{}
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// logRequest writes the request's log line and counts it.
func (s *Server) logRequest(r *request, code, eas int, err error, out int) {
	took := s.cfg.Now().Sub(r.start)
	fields := []zap.Field{
		zap.String("client", s.clientAddr(r.http).String()),
		zap.String("user", r.user),
		zap.String("cmd", r.name),
		zap.Int("http", code),
		zap.Duration("took", took),
		zap.Int("in", r.in),
		zap.Int("out", out),
	}
	var v Version
	if q := r.q; q != nil {
		fields = append(fields, zap.String("device", q.DeviceID), zap.String("deviceType", q.DeviceType))
		if q.Version != 0 {
			fields = append(fields, zap.String("version", q.Version.String()))
		}
		v = q.Version
	}
	if eas != 0 {
		fields = append(fields, zap.Int("status", eas))
	}
	if err != nil {
		fields = append(fields, zap.NamedError("reason", err))
	}
	s.log.Info("request", fields...)
	cmd := r.name
	if cmd == "" || r.q != nil && r.cmd == nil {
		// Only commands the server knows make labels: a phone chooses
		// what it sends.
		cmd = "unknown"
	}
	if code == http.StatusUnauthorized && r.user != "" {
		s.cfg.Metrics.authFails.Inc()
	}
	s.cfg.Metrics.request(cmd, v, code, eas, took)
}

// traceXML renders a WBXML body for a trace line, with every secret in it
// replaced (see redact).
func traceXML(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	e, err := wbxml.Parse(b)
	if err != nil {
		return fmt.Sprintf("(not WBXML: %v; %d bytes)", err, len(b))
	}
	redact(e)
	return e.XML()
}

// secretElements are the elements whose content is a credential:
// ItemOperations and Search Password (access to a document share with the
// user's password), Settings DevicePassword/Password (the recovery
// password).
var secretElements = map[string]bool{"Password": true, "RecoveryPassword": true}

// redacted stands in for a secret in traces.
const redacted = "(redacted)"

// redact replaces the content of secret elements in e's tree.
func redact(e *wbxml.Element) {
	if secretElements[e.Name()] {
		e.Children, e.Data, e.Opaque = nil, []byte(redacted), false
		return
	}
	for _, c := range e.Children {
		redact(c)
	}
}
