package vault

import "github.com/prometheus/client_golang/prometheus"

// metrics are the vault's Prometheus collectors.
type metrics struct {
	ops *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{ops: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mana_auth_vault_operations_total",
		Help: "Encryption-vault operations by action and outcome " +
			"(success, denied, error).",
	}, []string{"action", "outcome"})}
}

// observe counts one operation.
func (m *metrics) observe(action, outcome string) {
	m.ops.WithLabelValues(action, outcome).Inc()
}
