package organization

import "github.com/prometheus/client_golang/prometheus"

// metrics are the plugin's Prometheus collectors.
type metrics struct {
	created     prometheus.Counter
	deleted     prometheus.Counter
	invitations *prometheus.CounterVec
	denied      *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mana_auth_organizations_created_total", Help: "Organizations created.",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mana_auth_organizations_deleted_total", Help: "Organizations deleted.",
		}),
		invitations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_organization_invitations_total",
			Help: "Invitation events: sent, resent, accepted, rejected, canceled.",
		}, []string{"event"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_organization_access_denied_total",
			Help: "Organization access refused: not_member or no_permission.",
		}, []string{"reason"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.created, m.deleted, m.invitations, m.denied}
}
