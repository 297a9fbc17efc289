package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mana/mana-auth/core"
)

// MaxBody is the largest request body accepted (413 beyond).
const MaxBody = 1 << 20

// Options configure the HTTP layer.
type Options struct {
	// Registry receives the HTTP metrics and serves /metrics.
	Registry *prometheus.Registry
	// Ready reports whether the server can take traffic (/readyz).
	Ready func(ctx context.Context) error
	// Limiter, when set, rate-limits requests.
	Limiter *Limiter
}

// Server is the HTTP handler of mana-auth.
type Server struct {
	e       *core.Engine
	mux     *http.ServeMux
	ips     *IPResolver
	metrics *httpMetrics
	limiter *Limiter
	handler http.Handler
}

// New mounts the core routes and every plugin's routes and hooks.
func New(e *core.Engine, o Options) (*Server, error) {
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	s := &Server{e: e, mux: http.NewServeMux(), ips: NewIPResolver(e.Config.TrustedProxy),
		metrics: newHTTPMetrics(o.Registry), limiter: o.Limiter}

	routes := e.Routes()
	var hooks []core.Hook
	for _, p := range e.Plugins() {
		if rp, ok := p.(core.RouteProvider); ok {
			routes = append(routes, rp.Routes()...)
		}
		if hp, ok := p.(core.HookProvider); ok {
			hooks = append(hooks, hp.Hooks()...)
		}
		if mp, ok := p.(core.MetricsProvider); ok {
			for _, c := range mp.Collectors() {
				if err := o.Registry.Register(c); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := s.mount(routes, hooks); err != nil {
		return nil, err
	}
	s.mountOps(o)
	s.handler = s.middleware(s.mux)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

type methodSet map[string]http.Handler

func (m methodSet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := m[r.Method]
	if !ok {
		notFound(w)
		return
	}
	h.ServeHTTP(w, r)
}

func notFound(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }

func (s *Server) mount(routes []core.Route, hooks []core.Hook) error {
	byPath := map[string]methodSet{}
	var paths []string
	for i := range routes {
		rt := &routes[i]
		if byPath[rt.Path] == nil {
			byPath[rt.Path] = methodSet{}
			paths = append(paths, rt.Path)
		}
		if _, dup := byPath[rt.Path][rt.Method]; dup {
			return errors.New("transport: duplicate route " + rt.Method + " " + rt.Path)
		}
		byPath[rt.Path][rt.Method] = s.routeHandler(rt, hooks)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s.mux.Handle(p, byPath[p])
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	return nil
}

func (s *Server) routeHandler(rt *core.Route, hooks []core.Hook) http.Handler {
	ep := endpoint.Endpoint(func(ctx context.Context, req any) (any, error) {
		return rt.Handler(ctx, req.(*core.Request))
	})
	ep = sessionMiddleware(s.e, rt.Auth)(ep)
	for i := len(hooks) - 1; i >= 0; i-- {
		if hooks[i].Match(rt) {
			ep = hooks[i].Middleware(ep)
		}
	}
	srv := kithttp.NewServer(ep, s.decoder(rt), s.encode,
		kithttp.ServerErrorEncoder(s.encodeError),
		kithttp.ServerErrorHandler(errorLogger{s.e.Log}),
	)
	return s.instrument(rt, srv)
}

type errorLogger struct{ l *slog.Logger }

func (el errorLogger) Handle(ctx context.Context, err error) {
	if ae, ok := core.AsAPIError(err); ok && ae.Status < 500 {
		return
	}
	el.l.ErrorContext(ctx, "request failed", "err", err, "request_id", RequestIDFrom(ctx))
}

// sessionMiddleware resolves the session a route needs (core.AuthMode).
func sessionMiddleware(e *core.Engine, mode core.AuthMode) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		switch mode {
		case core.AuthNone:
			return next
		case core.AuthService:
			return func(ctx context.Context, req any) (any, error) {
				if err := e.CheckServiceKey(req.(*core.Request)); err != nil {
					return nil, err
				}
				return next(ctx, req)
			}
		}
		return func(ctx context.Context, req any) (any, error) {
			r := req.(*core.Request)
			tok, fromCookie := e.SessionToken(r)
			st, err := e.LookupSession(ctx, tok, false, mode == core.AuthSensitive)
			if err != nil {
				return nil, err
			}
			if st.Session == nil {
				if mode == core.AuthOptional {
					return next(ctx, r)
				}
				return nil, core.ErrUnauthorized
			}
			if mode == core.AuthFresh && !e.Fresh(st.Session) {
				return nil, core.ErrSessionNotFresh
			}
			r.Session, r.User = st.Session, st.User
			resp, err := next(ctx, r)
			if err == nil && st.Refreshed && fromCookie {
				if out, ok := resp.(*core.Response); ok && out != nil && len(out.Cookies) == 0 {
					out.Cookies = e.Cookies.Session(st.Session)
				}
			}
			return resp, err
		}
	}
}

// decoder builds the core.Request: body (JSON, or form where allowed),
// query, client IP, and the origin and callback-URL checks.
func (s *Server) decoder(rt *core.Route) kithttp.DecodeRequestFunc {
	return func(ctx context.Context, hr *http.Request) (any, error) {
		r := &core.Request{HTTP: hr, Route: rt, Query: hr.URL.Query(),
			UserAgent: hr.Header.Get("User-Agent")}
		if a := ClientIPFrom(ctx); a.IsValid() {
			r.ClientIP = a.String()
		}
		if err := s.checkOrigin(rt, hr); err != nil {
			return nil, err
		}
		if err := readBody(r, rt); err != nil {
			return nil, err
		}
		if err := s.checkCallbacks(r); err != nil {
			return nil, err
		}
		return r, nil
	}
}

func readBody(r *core.Request, rt *core.Route) error {
	hr := r.HTTP
	if hr.Body == nil || hr.Method == http.MethodGet {
		return nil
	}
	raw, err := core.ReadBody(hr.Body, MaxBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(hr.Header.Get("Content-Type"))
	switch {
	case mt == "application/json":
	case mt == "application/x-www-form-urlencoded" && rt.Form:
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return core.ErrBadRequest.WithMessage("Invalid form body")
		}
		m := map[string]any{}
		for k, v := range vals {
			m[k] = v[0]
			if k == "rememberMe" {
				m[k] = v[0] == "true" || v[0] == "on"
			}
		}
		raw, _ = json.Marshal(m)
	default:
		ct := hr.Header.Get("Content-Type")
		return core.ErrUnsupportedMedia.WithMessage("Content-Type \"" + ct +
			"\" is not allowed. Allowed types: application/json")
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return core.ErrBodyNotObject
		}
		return core.ErrBadRequest
	}
	if body == nil {
		return core.ErrBodyNotObject
	}
	r.Body, r.RawBody = body, raw
	return nil
}

// checkOrigin is Better Auth's origin/CSRF rule (reference §5.2): a
// state-changing request that carries cookies must come from a trusted
// origin; on sign-in and sign-up any browser signal forces the check.
func (s *Server) checkOrigin(rt *core.Route, hr *http.Request) error {
	if rt.NoOriginCheck || rt.Auth == core.AuthService {
		return nil
	}
	switch hr.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	forced := false
	if rt.CSRF {
		site, mode := hr.Header.Get("Sec-Fetch-Site"), hr.Header.Get("Sec-Fetch-Mode")
		if site == "cross-site" && mode == "navigate" {
			return core.ErrCrossSiteNavigation
		}
		forced = site != "" || mode != "" || hr.Header.Get("Sec-Fetch-Dest") != "" ||
			hr.Header.Get("Origin") != "" || hr.Header.Get("Referer") != ""
	}
	if hr.Header.Get("Cookie") == "" && !forced && hr.Header.Get("Expo-Origin") == "" {
		return nil
	}
	o := hr.Header.Get("Origin")
	if o == "" {
		// Expo apps (@better-auth/expo) name their scheme here instead.
		o = hr.Header.Get("Expo-Origin")
	}
	if o == "" || o == "null" {
		if o == "null" && hr.Header.Get("Sec-Fetch-Site") == "same-origin" {
			return nil
		}
		o = refererOrigin(hr.Header.Get("Referer"))
	}
	if o == "" || o == "null" {
		return core.ErrMissingOrigin
	}
	if !s.e.Origins.TrustedOrigin(o) {
		return core.ErrInvalidOrigin
	}
	return nil
}

func refererOrigin(ref string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

var callbackFields = []struct {
	name string
	err  *core.APIError
}{
	{"callbackURL", core.ErrInvalidCallback},
	{"redirectTo", core.ErrInvalidRedirect},
	{"errorCallbackURL", core.ErrInvalidErrorCB},
	{"newUserCallbackURL", core.ErrInvalidNewUserCB},
}

// checkCallbacks validates every URL the client asks us to send someone to
// (body or query) with the one origin checker. Body keys are matched
// case-insensitively, as encoding/json binds them, so "CallbackURL" cannot
// slip past the check into a handler's callbackURL field.
func (s *Server) checkCallbacks(r *core.Request) error {
	for key, raw := range r.Body {
		for _, f := range callbackFields {
			if !strings.EqualFold(key, f.name) || string(raw) == "null" {
				continue
			}
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return core.ErrBadRequest.WithMessage("Invalid " + f.name + ": expected a string")
			}
			if v != "" && !s.e.Origins.TrustedURL(v, true) {
				return f.err
			}
		}
	}
	for _, f := range callbackFields {
		for _, v := range r.Query[f.name] {
			if v != "" && !s.e.Origins.TrustedURL(v, true) {
				return f.err
			}
		}
	}
	return nil
}

// encode writes a core.Response.
func (s *Server) encode(ctx context.Context, w http.ResponseWriter, resp any) error {
	out, _ := resp.(*core.Response)
	if out == nil {
		out = core.JSON(nil)
	}
	h := w.Header()
	for k, vs := range out.Header {
		h[k] = vs
	}
	for _, c := range out.Cookies {
		h.Add("Set-Cookie", c.String())
	}
	if out.Redirect != "" {
		h.Set("Location", out.Redirect)
		w.WriteHeader(http.StatusFound)
		return nil
	}
	status := out.Status
	if status == 0 {
		status = http.StatusOK
	}
	if out.Raw != nil {
		w.WriteHeader(status)
		_, err := w.Write(out.Raw)
		return err
	}
	h["Content-Type"] = hvJSONType
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out.Body)
}

// encodeError is the one error encoder: Better Auth's {"message","code"}.
func (s *Server) encodeError(ctx context.Context, err error, w http.ResponseWriter) {
	ae, ok := core.AsAPIError(err)
	if !ok {
		ae = core.ErrInternal
	}
	for k, vs := range ae.Header {
		w.Header()[k] = vs
	}
	if ae.NoBody {
		w.WriteHeader(ae.Status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.Status)
	body := map[string]string{"message": ae.Message}
	if ae.Code != "" {
		body["code"] = ae.Code
	}
	_ = json.NewEncoder(w).Encode(body)
}

// cleanPath reports whether p is already canonical: no "//", "/./",
// "/../" or trailing slash variants reach a route.
func cleanPath(p string) bool {
	return p == "/" || (p == path.Clean(p) && !strings.HasSuffix(p, "/"))
}
