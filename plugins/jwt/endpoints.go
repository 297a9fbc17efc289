package jwt

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-kit/kit/endpoint"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// HeaderSetAuthJWT carries a fresh token on get-session responses.
const HeaderSetAuthJWT = "set-auth-jwt"

// Routes implements core.RouteProvider: Better Auth's /token and /jwks and
// the v1 token API.
func (p *Plugin) Routes() []core.Route {
	base := p.cfg.BasePath
	return append([]core.Route{
		{Method: "GET", Path: base + "/token", Name: "token", Auth: core.AuthRequired,
			NoStore: true, Handler: p.hToken},
		{Method: "GET", Path: base + "/jwks", Name: "jwks", Auth: core.AuthNone,
			Handler: p.hJWKS},
	}, p.v1Routes()...)
}

// Hooks implements core.HookProvider: set-auth-jwt after a get-session that
// found a session. The transport already exposes the header to CORS.
func (p *Plugin) Hooks() []core.Hook {
	return []core.Hook{{
		Match:      func(r *core.Route) bool { return r.Name == "get-session" },
		Middleware: p.setAuthJWT,
	}}
}

func (p *Plugin) setAuthJWT(next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		resp, err := next(ctx, req)
		if err != nil {
			return resp, err
		}
		r, _ := req.(*core.Request)
		out, _ := resp.(*core.Response)
		if r == nil || out == nil || r.Session == nil || r.User == nil {
			return resp, nil
		}
		tok, err := p.Mint(ctx, r.User, r.Session)
		if err != nil {
			// The session answer stands; only the convenience header is lost.
			p.log.WarnContext(ctx, "set-auth-jwt: minting failed", "err", err)
			return resp, nil
		}
		out.SetHeader(HeaderSetAuthJWT, tok)
		return resp, nil
	}
}

func (p *Plugin) hToken(ctx context.Context, r *core.Request) (*core.Response, error) {
	tok, err := p.Mint(ctx, r.User, r.Session)
	if err != nil {
		return nil, p.mintError(ctx, err)
	}
	return core.JSON(map[string]string{"token": tok}), nil
}

// hJWKS serves the published keys, creating the first key on demand as
// Better Auth does. Verifiers may cache it for five minutes.
func (p *Plugin) hJWKS(ctx context.Context, r *core.Request) (*core.Response, error) {
	if _, err := p.currentSigner(ctx); err != nil {
		// Still serve what verifies, when there is anything.
		p.log.WarnContext(ctx, "jwks: no signing key", "err", err)
	}
	ks := p.keys.Load()
	if ks != nil && !ks.nextExpiry.IsZero() && !p.e.Now().Before(ks.nextExpiry) {
		// A retired key's grace ended: drop it from the set we publish.
		if err := p.Reload(ctx); err != nil {
			p.log.WarnContext(ctx, "jwks: reloading keys", "err", err)
		}
		ks = p.keys.Load()
	}
	if ks == nil {
		return nil, core.ErrUnavailable
	}
	resp := &core.Response{Raw: ks.jwks, Header: http.Header{}}
	resp.Header.Set("Content-Type", "application/json")
	resp.Header.Set("Cache-Control", "public, max-age=300")
	return resp, nil
}

// mintError logs why a token could not be signed and answers a bare 500
// (503 when the database is unreachable).
func (p *Plugin) mintError(ctx context.Context, err error) error {
	if ae, ok := core.AsAPIError(err); ok {
		return ae
	}
	if errors.Is(err, db.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return core.ErrUnavailable
	}
	p.log.ErrorContext(ctx, "minting a token failed", "err", err)
	return core.ErrInternal
}
