package eas

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// AdminHandler serves the administrator's JSON API. Every /api request
// needs "Authorization: Bearer <token>"; /healthz does not, so that a load
// balancer can probe it. An empty token refuses every /api request.
func (s *Server) AdminHandler(token string) http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", s.adminHealth)
	// Metrics need no token either: a scraper reaches the admin listener,
	// which is on the loopback address unless configured otherwise.
	r.Handle("/metrics", promhttp.HandlerFor(s.cfg.Metrics.Registry(), promhttp.HandlerOpts{}))
	r.Route("/api", func(r chi.Router) {
		r.Use(bearer(token))
		r.Get("/devices", s.adminList)
		r.Get("/devices/{user}/{device}", s.adminShow)
		r.Post("/devices/{user}/{device}/reset", s.adminReset)
		r.Post("/devices/{user}/{device}/wipe", s.adminWipe)
		r.Post("/devices/{user}/{device}/trace", s.adminTrace)
		r.Delete("/devices/{user}/{device}", s.adminDelete)
	})
	return r
}

// HealthCheck is a server easgate depends on (IMAP, SMTP), as /healthz
// reports it.
type HealthCheck struct {
	// Name says what it is for: "imap", "smtp".
	Name string
	Addr string
	// Check reaches the server and returns why it cannot, nil when it can.
	Check func(ctx context.Context) error
}

// UpstreamState is one upstream's state in /healthz.
type UpstreamState struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	Up    bool   `json:"up"`
	Error string `json:"error,omitempty"`
}

// Health is what /healthz answers.
type Health struct {
	// Status is "ok", or "degraded" when an upstream is down.
	Status    string          `json:"status"`
	Upstreams []UpstreamState `json:"upstreams"`
	CheckedAt time.Time       `json:"checkedAt"`
}

// healthCheckEvery bounds how often /healthz reaches the upstreams: a load
// balancer polling every second does not make easgate dial them as often.
const healthCheckEvery = 10 * time.Second

// healthCheckTimeout bounds one round of checks.
const healthCheckTimeout = 5 * time.Second

type healthCache struct {
	mu   sync.Mutex
	last *Health
}

// CheckUpstreams checks every configured upstream at once and reports
// their states; results are reused for healthCheckEvery.
func (s *Server) CheckUpstreams(ctx context.Context) Health {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	now := s.cfg.Now()
	if h := s.health.last; h != nil && now.Sub(h.CheckedAt) < healthCheckEvery {
		return *h
	}
	// The result is cached for every caller: a caller that hangs up must
	// not cut the checks short and leave them "down" for the next ones.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthCheckTimeout)
	defer cancel()
	h := &Health{Status: "ok", Upstreams: make([]UpstreamState, len(s.cfg.Upstreams)), CheckedAt: now}
	var wg sync.WaitGroup
	for i, u := range s.cfg.Upstreams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := UpstreamState{Name: u.Name, Addr: u.Addr, Up: true}
			if err := u.Check(ctx); err != nil {
				st.Up, st.Error = false, err.Error()
			}
			h.Upstreams[i] = st
		}()
	}
	wg.Wait()
	for _, u := range h.Upstreams {
		if !u.Up {
			h.Status = "degraded"
		}
	}
	s.health.last = h
	return *h
}

// adminHealth answers /healthz: easgate's liveness, with the state of
// each upstream. It stays HTTP 200 while an upstream is down: easgate
// itself works (phones get retryable answers), and a load balancer that
// took every instance out for a shared upstream would turn that into a
// refused connection.
func (s *Server) adminHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.CheckUpstreams(r.Context()))
}

func bearer(token string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="easgate admin"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) adminError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such device"})
		return
	}
	s.log.Error("admin", zap.Error(err))
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
}

func (s *Server) adminList(w http.ResponseWriter, r *http.Request) {
	devs, err := s.store.Devices(r.Context())
	if err != nil {
		s.adminError(w, err)
		return
	}
	if devs == nil {
		devs = []Device{}
	}
	writeJSON(w, http.StatusOK, devs)
}

func adminKey(r *http.Request) deviceKey {
	return deviceKey{user: chi.URLParam(r, "user"), device: chi.URLParam(r, "device")}
}

func (s *Server) adminShow(w http.ResponseWriter, r *http.Request) {
	k := adminKey(r)
	d, err := s.store.Device(r.Context(), k.user, k.device)
	if err != nil {
		s.adminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// withDevice runs fn while the device is not in the middle of a request,
// after ending its waiting Ping, so a reset or delete never races a Sync.
func (s *Server) withDevice(ctx context.Context, k deviceKey, fn func() error) error {
	s.supersedeDevice(ctx, s.log, k, 0)
	unlock, err := s.lockDevice(ctx, k)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

func (s *Server) adminReset(w http.ResponseWriter, r *http.Request) {
	k := adminKey(r)
	err := s.withDevice(r.Context(), k, func() error {
		if _, err := s.store.Device(r.Context(), k.user, k.device); err != nil {
			return err
		}
		return s.store.ResetDevice(r.Context(), k.user, k.device)
	})
	if err != nil {
		s.adminError(w, err)
		return
	}
	s.log.Info("admin: device reset", zap.String("user", k.user), zap.String("device", k.device))
	writeJSON(w, http.StatusOK, map[string]string{"result": "reset"})
}

func (s *Server) adminWipe(w http.ResponseWriter, r *http.Request) {
	k := adminKey(r)
	var body struct {
		AccountOnly bool `json:"accountOnly"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
			return
		}
	}
	d, err := s.store.Device(r.Context(), k.user, k.device)
	if err != nil {
		s.adminError(w, err)
		return
	}
	if body.AccountOnly {
		if v, err := ParseVersion(d.Protocol); err != nil || !v.AtLeast(V161) {
			writeJSON(w, http.StatusConflict, map[string]string{
				"error": "account-only wipe needs protocol 16.1; the device speaks " + d.Protocol})
			return
		}
	}
	err = s.withDevice(r.Context(), k, func() error {
		return s.store.RequestWipe(r.Context(), k.user, k.device, body.AccountOnly, s.cfg.Now())
	})
	if err != nil {
		s.adminError(w, err)
		return
	}
	s.log.Warn("admin: remote wipe requested", zap.String("user", k.user), zap.String("device", k.device),
		zap.Bool("accountOnly", body.AccountOnly))
	writeJSON(w, http.StatusAccepted, map[string]string{"result": "wipe requested"})
}

func (s *Server) adminTrace(w http.ResponseWriter, r *http.Request) {
	k := adminKey(r)
	var body struct {
		On bool `json:"on"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body: want {"on": true|false}`})
		return
	}
	if err := s.store.SetTrace(r.Context(), k.user, k.device, body.On); err != nil {
		s.adminError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"trace": body.On})
}

func (s *Server) adminDelete(w http.ResponseWriter, r *http.Request) {
	k := adminKey(r)
	err := s.withDevice(r.Context(), k, func() error {
		if _, err := s.store.Device(r.Context(), k.user, k.device); err != nil {
			return err
		}
		return s.store.DeleteDevice(r.Context(), k.user, k.device)
	})
	if err != nil {
		s.adminError(w, err)
		return
	}
	s.log.Info("admin: device deleted", zap.String("user", k.user), zap.String("device", k.device))
	writeJSON(w, http.StatusOK, map[string]string{"result": "deleted"})
}
