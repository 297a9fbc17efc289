package transport

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// IPResolver decides the client IP of a request: the socket peer, unless
// the peer is a trusted proxy; only then is X-Forwarded-For read, right to
// left, skipping trusted hops. It is the one place this is decided; the rate
// limiter, sessions and the security log all use its answer.
type IPResolver struct {
	trusted []netip.Prefix
}

// NewIPResolver builds a resolver trusting the given proxy networks.
func NewIPResolver(trusted []netip.Prefix) *IPResolver {
	return &IPResolver{trusted: trusted}
}

func (ipr *IPResolver) isTrusted(a netip.Addr) bool {
	for _, p := range ipr.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client address of r (invalid when the socket
// address cannot be parsed).
func (ipr *IPResolver) ClientIP(r *http.Request) netip.Addr {
	peer := parseHostPort(r.RemoteAddr)
	if !peer.IsValid() || !ipr.isTrusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client // a garbled hop: stop at the last good one
			}
			client = a.Unmap()
			if !ipr.isTrusted(client) {
				return client
			}
		}
	}
	return client
}

func parseHostPort(s string) netip.Addr {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// BucketKey is the rate-limit identity of an address: IPv4 as is, IPv6 by
// its /64, so rotating addresses inside one prefix gains nothing.
func BucketKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

type ctxKey int

const (
	keyClientIP ctxKey = iota
	keyRequestID
	keyRoute
)

// ClientIPFrom returns the client IP the middleware stored in ctx.
func ClientIPFrom(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(keyClientIP).(netip.Addr)
	return a
}

// RequestIDFrom returns the request id the middleware stored in ctx.
func RequestIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}
