package core

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus collectors.
type Metrics struct {
	signIns         *prometheus.CounterVec
	signUps         *prometheus.CounterVec
	sessionsCreated prometheus.Counter
	hashesInFlight  prometheus.GaugeFunc
}

func newMetrics(e *Engine, reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_sign_ins_total", Help: "Sign-in attempts by outcome.",
		}, []string{"outcome"}),
		signUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_sign_ups_total", Help: "Sign-up attempts by outcome.",
		}, []string{"outcome"}),
		sessionsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mana_auth_sessions_created_total", Help: "Sessions created.",
		}),
		hashesInFlight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mana_auth_password_hashes_in_flight",
			Help: "Password hashes being computed right now.",
		}, func() float64 { return float64(e.Passwords.InFlight()) }),
	}
	if reg != nil {
		reg.MustRegister(m.signIns, m.signUps, m.sessionsCreated, m.hashesInFlight)
	}
	return m
}
