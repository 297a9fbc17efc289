package magiclink

import "github.com/prometheus/client_golang/prometheus"

// metrics are the plugin's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	verifies *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mana", Subsystem: "magiclink", Name: "requests_total",
			Help: "Magic-link requests by outcome (sent, unknown_user, invalid).",
		}, []string{"outcome"}),
		verifies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mana", Subsystem: "magiclink", Name: "verifications_total",
			Help: "Magic-link verifications by outcome (the error code, or success).",
		}, []string{"outcome"}),
	}
}

// Collectors implements core.MetricsProvider.
func (p *Plugin) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.m.requests, p.m.verifies}
}
