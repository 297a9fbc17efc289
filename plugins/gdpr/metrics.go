package gdpr

import "github.com/prometheus/client_golang/prometheus"

// metrics are the plugin's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	remote   *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_gdpr_requests_total",
			Help: "GDPR summaries, exports and erasures by outcome.",
		}, []string{"action", "outcome"}),
		remote: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_gdpr_remote_calls_total",
			Help: "Calls to remote services (credits, sync) by operation and outcome.",
		}, []string{"service", "op", "outcome"}),
	}
}

// Collectors implements core.MetricsProvider.
func (p *Plugin) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.m.requests, p.m.remote}
}
