package admin

import "github.com/prometheus/client_golang/prometheus"

// metrics are the plugin's Prometheus collectors.
type metrics struct {
	actions *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_admin_actions_total",
			Help: "Admin API actions by outcome (success, denied, invalid, error).",
		}, []string{"action", "outcome"}),
	}
}

// Collectors implements core.MetricsProvider.
func (p *Plugin) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.m.actions}
}
