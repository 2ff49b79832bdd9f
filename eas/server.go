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
	handle     func(ctx context.Context, r *request) (*reply, error)
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
	}
	s.auth = newAuthenticator(backend, cfg.AuthCacheTTL, cfg.Now)
	s.commands = map[string]*command{}
	s.register()
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
	r.Options("/microsoft-server-activesync", s.serveOptions)
	r.Post("/microsoft-server-activesync", s.serveEAS)
	r.Post("/autodiscover/autodiscover.xml", s.serveAutodiscover)
	r.Get("/autodiscover/autodiscover.json", s.serveAutodiscoverJSON)
	r.Get("/autodiscover/autodiscover.json/*", s.serveAutodiscoverJSON)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found", http.StatusNotFound)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "OPTIONS, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	return r
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

// serveOptions answers the capability probe (MS-ASHTTP 2.2.3). Phones send
// credentials with it and expect 401 without them, which is also how they
// learn that Basic authentication is wanted.
func (s *Server) serveOptions(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Now()
	cred, ok := basicCredentials(r)
	if !ok {
		s.unauthorized(w)
		s.logRequest(r, nil, "", "OPTIONS", http.StatusUnauthorized, 0, start, 0, nil)
		return
	}
	mb, err := s.auth.check(r.Context(), cred, s.clientAddr(r).String())
	if mb != nil {
		mb.Close()
	}
	if err != nil {
		code := s.authFailure(w, err)
		s.logRequest(r, nil, cred.Username, "OPTIONS", code, 0, start, 0, err)
		return
	}
	h := w.Header()
	h.Set("Allow", "OPTIONS,POST")
	h.Set("Public", "OPTIONS,POST")
	h.Set("MS-Server-ActiveSync", "16.1")
	h.Set("MS-ASProtocolVersions", s.versionList())
	h.Set("MS-ASProtocolCommands", strings.Join(s.Commands(), ","))
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	s.logRequest(r, nil, cred.Username, "OPTIONS", http.StatusOK, 0, start, 0, nil)
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="ActiveSync"`)
	http.Error(w, "authentication required", http.StatusUnauthorized)
}

// authFailure answers a failed login and returns the HTTP status it used.
func (s *Server) authFailure(w http.ResponseWriter, err error) int {
	switch {
	case errors.Is(err, ErrUnauthorized), errors.Is(err, errThrottled):
		s.unauthorized(w)
		return http.StatusUnauthorized
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "30")
		http.Error(w, "mail server unavailable", http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	}
	http.Error(w, "internal error", http.StatusInternalServerError)
	return http.StatusInternalServerError
}

// request is one EAS request on its way through the dispatcher.
type request struct {
	s    *Server
	http *http.Request
	q    *Query
	cred Credentials
	user string
	dev  *Device
	body []byte
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
	r.mbox = mb
	return mb, nil
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
	if err := wbxml.UnmarshalLimits(r.body, v, wbxml.Limits{MaxSize: int(r.s.cfg.MaxRequestBytes)}); err != nil {
		return &badRequest{fmt.Errorf("%s body: %w", r.q.Cmd, err)}
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
}

// badRequest marks errors that are the client's fault (HTTP 400).
type badRequest struct{ err error }

func (e *badRequest) Error() string { return e.err.Error() }
func (e *badRequest) Unwrap() error { return e.err }

// statusReply is a response holding only a top-level Status.
func statusReply(cmd *command, status int) *reply {
	e := &wbxml.Element{Tag: cmd.root}
	st, _ := wbxml.Lookup(cmd.root.Namespace(), "Status")
	e.Add((&wbxml.Element{Tag: st}).SetText(strconv.Itoa(status)))
	return &reply{body: e, easStatus: status}
}

func (s *Server) serveEAS(w http.ResponseWriter, hr *http.Request) {
	start := s.cfg.Now()
	ctx := hr.Context()
	q, err := ParseQuery(hr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		s.logRequest(hr, q, "", "", http.StatusBadRequest, 0, start, 0, err)
		return
	}
	cred, ok := basicCredentials(hr)
	if !ok {
		s.unauthorized(w)
		s.logRequest(hr, q, "", q.Cmd, http.StatusUnauthorized, 0, start, 0, nil)
		return
	}
	r := &request{s: s, http: hr, q: q, cred: cred, user: cred.Username, arrived: start}
	// WithLazy: a waiting Ping keeps its logger for up to an hour, and
	// With would encode the fields into a buffer of its own at once.
	r.log = s.log.WithLazy(zap.String("user", r.user), zap.String("device", q.DeviceID))
	defer r.releaseMailbox()

	mb, err := s.auth.check(ctx, cred, s.clientAddr(hr).String())
	if err != nil {
		code := s.authFailure(w, err)
		s.logRequest(hr, q, r.user, q.Cmd, code, 0, start, 0, err)
		return
	}
	r.mbox = mb

	cmd := s.commands[strings.ToLower(q.Cmd)]
	if cmd == nil {
		http.Error(w, "command not implemented", http.StatusNotImplemented)
		s.logRequest(hr, q, r.user, q.Cmd, http.StatusNotImplemented, 0, start, 0, nil)
		return
	}
	r.cmd = cmd
	if q.Version == 0 {
		err := errors.New("no MS-ASProtocolVersion")
		http.Error(w, err.Error(), http.StatusBadRequest)
		s.logRequest(hr, q, r.user, q.Cmd, http.StatusBadRequest, 0, start, 0, err)
		return
	}
	body, err := s.readBody(w, hr)
	if err != nil {
		var mbe *http.MaxBytesError
		code := http.StatusBadRequest
		switch {
		case errors.As(err, &mbe):
			code = http.StatusRequestEntityTooLarge
		case errors.Is(err, errUnsupportedEncoding):
			code = http.StatusUnsupportedMediaType
		}
		http.Error(w, http.StatusText(code), code)
		s.logRequest(hr, q, r.user, q.Cmd, code, 0, start, len(body), err)
		return
	}
	r.body = body

	if err := s.store.TouchDevice(ctx, DeviceSeen{
		User: r.user, DeviceID: q.DeviceID, DeviceType: q.DeviceType,
		UserAgent: hr.UserAgent(), Protocol: q.Version.String(), Command: cmd.name, At: start,
	}); err != nil {
		r.log.Error("store: touch device", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		s.logRequest(hr, q, r.user, q.Cmd, http.StatusInternalServerError, 0, start, len(body), err)
		return
	}
	if r.dev, err = s.store.Device(ctx, r.user, q.DeviceID); err != nil {
		r.log.Error("store: read device", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		s.logRequest(hr, q, r.user, q.Cmd, http.StatusInternalServerError, 0, start, len(body), err)
		return
	}
	if r.dev.Trace {
		r.log.Info("trace request", zap.String("cmd", q.Cmd), zap.String("xml", traceXML(body)))
	}

	rep, err := s.run(ctx, r)
	code, n := s.writeReply(w, r, rep, err)
	eas := 0
	if rep != nil {
		eas = rep.easStatus
	}
	s.logRequest(hr, q, r.user, cmd.name, code, eas, start, len(body), err, zap.Int("out", n))
}

// run checks provisioning, serialises the device and calls the handler.
func (s *Server) run(ctx context.Context, r *request) (*reply, error) {
	if rep := s.checkPolicy(r); rep != nil {
		return rep, nil
	}
	key := deviceKey{r.user, r.q.DeviceID}
	if r.cmd.supersedes {
		s.devices.supersede(key)
	}
	unlock, err := s.devices.lock(ctx, key)
	if err != nil {
		return nil, err
	}
	// Any request of the device ends its prefetch; only a Sync may use it.
	r.prefetched = s.prefetches.take(key)
	defer func() {
		if r.prefetched != nil {
			s.cfg.Metrics.prefetch("unused")
		}
	}()
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
		u, err := s.devices.lock(ctx, key)
		if err != nil {
			return err
		}
		unlock, locked = u, true
		return nil
	}
	defer r.unlockDevice()
	return r.cmd.handle(ctx, r)
}

var errUnsupportedEncoding = errors.New("unsupported Content-Encoding")

// readBody reads a request's body, gunzipping one that comes compressed;
// the limit applies to what is read on the wire and to what it expands to.
func (s *Server) readBody(w http.ResponseWriter, hr *http.Request) ([]byte, error) {
	r := io.Reader(http.MaxBytesReader(w, hr.Body, s.cfg.MaxRequestBytes))
	switch enc := strings.ToLower(strings.TrimSpace(hr.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip request body: %w", err)
		}
		defer zr.Close()
		var mbe http.MaxBytesError
		mbe.Limit = s.cfg.MaxRequestBytes
		body, err := io.ReadAll(io.LimitReader(zr, s.cfg.MaxRequestBytes+1))
		if err == nil && int64(len(body)) > s.cfg.MaxRequestBytes {
			return nil, &mbe
		}
		return body, err
	default:
		return nil, fmt.Errorf("%w %q", errUnsupportedEncoding, enc)
	}
	return io.ReadAll(r)
}

// writeReply sends a handler's answer, or maps its error to an HTTP status.
func (s *Server) writeReply(w http.ResponseWriter, r *request, rep *reply, err error) (int, int) {
	if err != nil {
		var br *badRequest
		switch {
		case errors.As(err, &br):
			http.Error(w, "bad request", http.StatusBadRequest)
			return http.StatusBadRequest, 0
		case errors.Is(err, ErrUnauthorized):
			s.unauthorized(w)
			return http.StatusUnauthorized, 0
		case errors.Is(err, ErrUnavailable):
			w.Header().Set("Retry-After", "30")
			http.Error(w, "mail server unavailable", http.StatusServiceUnavailable)
			return http.StatusServiceUnavailable, 0
		case errors.Is(err, context.Canceled):
			// The phone went away; nobody reads the answer.
			return 499, 0
		}
		r.log.Error("command failed", zap.String("cmd", r.q.Cmd), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return http.StatusInternalServerError, 0
	}
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
			r.log.Error("encode response", zap.String("cmd", r.q.Cmd), zap.Error(merr))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return http.StatusInternalServerError, 0
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
		r.log.Info("trace response", zap.String("cmd", r.q.Cmd), zap.String("xml", traceXML(data)))
	}
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("Content-Type", ctype)
	h.Set("MS-Server-ActiveSync", "16.1")
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

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") ||
				strings.Contains(params, "q=0.")
		}
	}
	return false
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

func (s *Server) logRequest(hr *http.Request, q *Query, user, cmd string, code, eas int, start time.Time, in int, err error, extra ...zap.Field) {
	fields := []zap.Field{
		zap.String("client", s.clientAddr(hr).String()),
		zap.String("user", user),
		zap.String("cmd", cmd),
		zap.Int("http", code),
		zap.Duration("took", s.cfg.Now().Sub(start)),
		zap.Int("in", in),
	}
	if q != nil {
		fields = append(fields, zap.String("device", q.DeviceID), zap.String("deviceType", q.DeviceType))
		if q.Version != 0 {
			fields = append(fields, zap.String("version", q.Version.String()))
		}
	}
	if eas != 0 {
		fields = append(fields, zap.Int("status", eas))
	}
	if err != nil {
		fields = append(fields, zap.NamedError("reason", err))
	}
	fields = append(fields, extra...)
	s.log.Info("request", fields...)
	var v Version
	if q != nil {
		v = q.Version
	}
	if cmd == "" {
		cmd = "unknown"
	}
	if code == http.StatusUnauthorized && user != "" {
		s.cfg.Metrics.authFails.Inc()
	}
	s.cfg.Metrics.request(cmd, v, code, eas, s.cfg.Now().Sub(start))
}

// traceXML renders a WBXML body for a trace line.
func traceXML(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	e, err := wbxml.Parse(b)
	if err != nil {
		return fmt.Sprintf("(not WBXML: %v; %d bytes)", err, len(b))
	}
	return e.XML()
}
