package transport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mana/mana-auth/core"
)

// middleware wraps the router with what every request passes, outermost
// first: recover, request id and client IP, security headers, path check,
// logging, CORS, rate limit.
func (s *Server) middleware(next http.Handler) http.Handler {
	h := s.rateLimit(next)
	h = s.cors(h)
	h = s.logRequests(h)
	h = exactPaths(h)
	h = securityHeaders(h)
	h = s.identify(h)
	return s.recoverer(h)
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.e.Log.ErrorContext(r.Context(), "panic serving request", "panic", v,
					"request_id", RequestIDFrom(r.Context()))
				s.encodeError(r.Context(), core.ErrInternal, w)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), keyRequestID, id)
		ctx = context.WithValue(ctx, keyClientIP, s.ips.ClientIP(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' ||
			c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Shared header values: assigning them avoids an allocation per header per
// response. Each has capacity 1, so an Add on a response copies, never
// writes into the shared array.
var (
	hvNosniff  = []string{"nosniff"}
	hvDeny     = []string{"DENY"}
	hvNoRef    = []string{"no-referrer"}
	hvNoStore  = []string{"no-store"}
	hvNoCache  = []string{"no-cache"}
	hvJSONType = []string{"application/json"}
)

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = hvNosniff
		h["X-Frame-Options"] = hvDeny
		h["Referrer-Policy"] = hvNoRef
		next.ServeHTTP(w, r)
	})
}

// exactPaths answers 404 to non-canonical paths before the mux would
// redirect them.
func exactPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cleanPath(r.URL.Path) || strings.Contains(strings.ToLower(r.URL.RawPath), "%2f") {
			notFound(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// logRequests writes one line per request. It logs the route pattern, never
// the raw path or query (they can hold tokens).
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		holder := &routeHolder{name: "unmatched"}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), keyRoute, holder)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		lvl := slog.LevelDebug
		if sw.status >= 500 {
			lvl = slog.LevelError
		}
		s.e.Log.LogAttrs(r.Context(), lvl, "request",
			slog.String("method", r.Method), slog.String("route", holder.name),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
			slog.String("ip", ClientIPFrom(r.Context()).String()),
			slog.String("request_id", RequestIDFrom(r.Context())))
	})
}

type routeHolder struct{ name string }

// cors answers trusted origins with credentials and exposes set-auth-jwt;
// untrusted origins get no CORS headers at all.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Header.Get("Origin")
		if o == "" || !s.e.Origins.CORSAllowed(o) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "set-auth-jwt, set-auth-token, X-Retry-After")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, "+
				"X-Request-Id, X-Service-Key")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// httpMetrics are the per-route request counters and latency histograms.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	limited  *prometheus.CounterVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_http_requests_total", Help: "HTTP requests by route, method, status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mana_auth_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mana_auth_rate_limited_total", Help: "Requests refused by the rate limiter.",
		}, []string{"rule"}),
	}
	reg.MustRegister(m.requests, m.latency, m.limited)
	return m
}

func (s *Server) instrument(rt *core.Route, next http.Handler) http.Handler {
	name := rt.Name
	noStore := rt.NoStore
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := r.Context().Value(keyRoute).(*routeHolder); ok {
			h.name = name
		}
		if noStore {
			w.Header()["Cache-Control"] = hvNoStore
			w.Header()["Pragma"] = hvNoCache
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
		s.metrics.requests.WithLabelValues(name, r.Method, statusText(sw.status)).Inc()
	})
}

func statusText(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

// mountOps mounts /healthz, /readyz and /metrics.
func (s *Server) mountOps(o Options) {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if o.Ready != nil {
			if err := o.Ready(ctx); err != nil {
				s.e.Log.WarnContext(ctx, "not ready", "err", err)
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"status":"unavailable"}` + "\n"))
				return
			}
		}
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
}
