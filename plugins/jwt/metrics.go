package jwt

import "github.com/prometheus/client_golang/prometheus"

// metrics are the plugin's Prometheus collectors.
type metrics struct {
	minted      prometheus.Counter
	validations *prometheus.CounterVec
	rotations   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		minted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mana_auth_jwt_tokens_minted_total", Help: "JWTs signed.",
		}),
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_jwt_validations_total",
			Help: "JWT verifications by outcome (valid, invalid, expired, revoked).",
		}, []string{"outcome"}),
		rotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mana_auth_jwt_key_rotations_total",
			Help: "Signing keys created by this instance.",
		}),
	}
	for _, o := range []string{"valid", "invalid", "expired", "revoked"} {
		m.validations.WithLabelValues(o)
	}
	return m
}

func (m *metrics) validated(outcome string) {
	m.validations.WithLabelValues(outcome).Inc()
}

// Collectors implements core.MetricsProvider.
func (p *Plugin) Collectors() []prometheus.Collector {
	m := p.metrics
	return []prometheus.Collector{m.minted, m.validations, m.rotations}
}
