package eas

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are what a Server reports to Prometheus, in a registry of their
// own that the admin listener serves at /metrics. Other parts (the
// upstream connections, the state store) register theirs in Registry.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	waiting     *prometheus.GaugeVec
	items       *prometheus.CounterVec
	pushLatency prometheus.Histogram
	authFails   prometheus.Counter
	prefetches  *prometheus.CounterVec
	corrupt     *prometheus.CounterVec
}

// NewMetrics creates the metrics in a new registry, with the Go runtime's
// and the process's own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easgate_requests_total",
			Help: "Requests by command, protocol version, HTTP status and EAS status (0 when the answer has none).",
		}, []string{"command", "version", "http", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "easgate_request_duration_seconds",
			Help: "Time to answer a request, by command. Ping and Sync include their wait.",
			// From a cached answer to an hour-long Ping.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600},
		}, []string{"command"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "easgate_waiting_requests",
			Help: "Requests waiting for changes (Ping, Sync with a heartbeat) now.",
		}, []string{"command"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easgate_items_sent_total",
			Help: "Server changes sent to phones in Sync responses, by kind (Add, Change, Delete, SoftDelete).",
		}, []string{"kind"}),
		pushLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "easgate_push_latency_seconds",
			Help:    "Time from the watcher's notice of an upstream change to the waiting request answering with it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		authFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "easgate_auth_failures_total",
			Help: "Logins refused by the upstream or throttled.",
		}),
		prefetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easgate_sync_prefetches_total",
			Help: "Sync windows computed ahead of the phone's next Sync, by result: used, unused (the phone asked something else, or nothing within a minute) or failed.",
		}, []string{"result"}),
		corrupt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easgate_state_corrupt_total",
			Help: "Stored state that could not be read and was dropped, by kind (replay: the record that answers a repeated Sync).",
		}, []string{"kind"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.waiting, m.items, m.pushLatency, m.authFails, m.prefetches, m.corrupt,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where every metric of the gateway is registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) request(cmd string, v Version, code, status int, took time.Duration) {
	ver := ""
	if v != 0 {
		ver = v.String()
	}
	m.requests.WithLabelValues(cmd, ver, strconv.Itoa(code), strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(cmd).Observe(took.Seconds())
}

func (m *Metrics) itemsSent(kind string, n int) {
	if n > 0 {
		m.items.WithLabelValues(kind).Add(float64(n))
	}
}

func (m *Metrics) prefetch(result string) {
	m.prefetches.WithLabelValues(result).Inc()
}

// stateCorrupted counts stored state of kind that could not be read.
func (m *Metrics) stateCorrupted(kind string) {
	m.corrupt.WithLabelValues(kind).Inc()
}
