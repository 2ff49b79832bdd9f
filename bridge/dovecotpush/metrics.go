package dovecotpush

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	received *prometheus.CounterVec
	rejected *prometheus.CounterVec
	delay    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easgate_dovecot_notifications_total",
			Help: "Events reported by Dovecot's push_notification plugin, by kind (MessageNew, FlagsSet, MailboxCreate, ... or other).",
		}, []string{"event"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easgate_dovecot_notifications_rejected_total",
			Help: "Notification requests refused, by reason (unauthorized, malformed, too_large, unknown_user, method, read).",
		}, []string{"reason"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "easgate_dovecot_notification_delay_seconds",
			Help: "Time from the end of the Dovecot transaction to the notification's arrival, where the payload says (easgate-push.lua; whole seconds).",
			// The script's clock counts whole seconds, so finer buckets
			// would only say which side of a second boundary it fell.
			Buckets: []float64{1, 2, 5, 10, 30, 60, 300},
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, m.rejected, m.delay} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("dovecotpush: register metrics: %w", err)
		}
	}
	return m, nil
}
