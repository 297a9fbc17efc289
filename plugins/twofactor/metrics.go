package twofactor

import "github.com/prometheus/client_golang/prometheus"

// metrics are the plugin's Prometheus collectors.
type metrics struct {
	verifications *prometheus.CounterVec
	challenges    prometheus.Counter
	lockouts      prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mana", Subsystem: "twofactor", Name: "verifications_total",
			Help: "Second-factor verifications by method (totp, otp, backup) and outcome.",
		}, []string{"method", "outcome"}),
		challenges: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "mana", Subsystem: "twofactor", Name: "challenges_total",
			Help: "Password sign-ins turned into a two-factor challenge.",
		}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "mana", Subsystem: "twofactor", Name: "lockouts_total",
			Help: "Accounts locked after too many failed second-factor codes.",
		}),
	}
}

// Collectors implements core.MetricsProvider.
func (p *Plugin) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.m.verifications, p.m.challenges, p.m.lockouts}
}
