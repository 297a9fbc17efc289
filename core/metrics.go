package core

import (
	"github.com/mana/mana-auth/core/db"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus collectors.
type Metrics struct {
	signIns         *prometheus.CounterVec
	signUps         *prometheus.CounterVec
	sessionsCreated prometheus.Counter
	hashesInFlight  prometheus.GaugeFunc
	throttled       prometheus.Counter
	outboxJobs      *prometheus.CounterVec
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
		outboxJobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_outbox_jobs_total",
			Help: "Outbox job runs by kind and outcome (done, retry).",
		}, []string{"kind", "outcome"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mana_auth_sign_in_throttled_total",
			Help: "Sign-ins refused by the per-account failure throttle.",
		}),
	}
	pool := func(name, help string, f func(db.PoolStats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(db.Stats(e.DB))) })
	}
	if reg != nil {
		reg.MustRegister(
			pool("mana_auth_db_connections_open", "Database connections open.",
				func(s db.PoolStats) int { return s.Open }),
			pool("mana_auth_db_connections_in_use", "Database connections in use.",
				func(s db.PoolStats) int { return s.InUse }),
			pool("mana_auth_db_connections_idle", "Database connections idle.",
				func(s db.PoolStats) int { return s.Idle }),
			pool("mana_auth_db_connections_max", "Database connection limit.",
				func(s db.PoolStats) int { return s.Max }),
			m.outboxJobs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mana_auth_outbox_pending",
				Help: "Outbox jobs waiting to run or be retried (read at scrape time).",
			}, func() float64 { return e.outboxPending() }),
		)
		reg.MustRegister(m.signIns, m.signUps, m.sessionsCreated, m.hashesInFlight,
			m.throttled)
	}
	return m
}
