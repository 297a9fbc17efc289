package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// v1Base is the token API's prefix (WIRE.md §2.1).
const v1Base = "/api/v1/auth"

// Errors of the v1 token API.
var (
	// ErrTwoFactorNotEnabled answers /two-factor when no plugin completes
	// sign-in challenges (the two-factor plugin is not compiled in).
	ErrTwoFactorNotEnabled = core.NewError(400, "TWO_FACTOR_NOT_ENABLED",
		"Two-factor authentication is not enabled on this server")
	// ErrInvalidRefreshToken answers /refresh with an unknown, expired or
	// revoked session token.
	ErrInvalidRefreshToken = core.NewError(401, "INVALID_REFRESH_TOKEN",
		"Invalid refresh token")
)

// Codes of /validate's {valid:false, code} answers.
const (
	CodeTokenExpired   = "TOKEN_EXPIRED"
	CodeInvalidToken   = "INVALID_TOKEN"
	CodeSessionRevoked = "SESSION_REVOKED"
)

func (p *Plugin) v1Routes() []core.Route {
	r := func(method, path string, auth core.AuthMode, h core.Handler) core.Route {
		return core.Route{Method: method, Path: v1Base + path, Name: "v1/auth" + path,
			Auth: auth, NoStore: true, Handler: h}
	}
	return []core.Route{
		r("POST", "/register", core.AuthNone, p.hRegister),
		r("POST", "/login", core.AuthNone, p.hLogin),
		r("POST", "/two-factor", core.AuthNone, p.hTwoFactor),
		r("POST", "/refresh", core.AuthNone, p.hRefresh),
		r("POST", "/logout", core.AuthNone, p.hLogout),
		r("POST", "/validate", core.AuthNone, p.hValidate),
		r("GET", "/session", core.AuthRequired, p.hSession),
	}
}

// loginBody is a successful v1 sign-in. token and refreshToken are the
// session token; accessToken is a JWT.
type loginBody struct {
	User                      *core.User `json:"user"`
	EmailVerificationRequired *bool      `json:"emailVerificationRequired,omitempty"`
	Token                     string     `json:"token,omitempty"`
	AccessToken               string     `json:"accessToken,omitempty"`
	RefreshToken              string     `json:"refreshToken,omitempty"`
}

// signedIn renders a sign-in result: the challenge of a gate, or the
// session's tokens and its cookie (the SSO session for browsers).
func (p *Plugin) signedIn(ctx context.Context, res *core.SignInResult,
	body *loginBody) (*core.Response, error) {
	if res.Challenge != nil {
		resp := core.JSON(map[string]any{"twoFactorRedirect": true,
			"twoFactorMethods": res.Challenge.Methods, "twoFactorToken": res.Challenge.Token})
		resp.Cookies = res.Challenge.Cookies
		return resp, nil
	}
	body.User = res.User
	resp := core.JSON(body)
	if res.Session == nil {
		return resp, nil
	}
	at, err := p.Mint(ctx, res.User, res.Session)
	if err != nil {
		return nil, p.mintError(ctx, err)
	}
	body.Token, body.RefreshToken = res.Session.Token, res.Session.Token
	body.AccessToken = at
	resp.Cookies = res.Cookies
	return resp, nil
}

func (p *Plugin) hRegister(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Email    string  `json:"email"`
		Password string  `json:"password"`
		Name     *string `json:"name"`
		Image    *string `json:"image"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := core.Required("email", in.Email); err != nil {
		return nil, err
	}
	if err := core.Required("password", in.Password); err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, core.MissingField("body.name", "string")
	}
	res, err := p.e.SignUp(ctx, r, core.SignUpInput{Name: *in.Name, Email: in.Email,
		Password: in.Password, Image: in.Image, RememberMe: true})
	if err != nil {
		return nil, err
	}
	required := res.Session == nil
	return p.signedIn(ctx, res, &loginBody{EmailVerificationRequired: &required})
}

func (p *Plugin) hLogin(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := core.Required("email", in.Email); err != nil {
		return nil, err
	}
	if err := core.Required("password", in.Password); err != nil {
		return nil, err
	}
	res, err := p.e.SignInPassword(ctx, r, in.Email, in.Password, true)
	if err != nil {
		return nil, err
	}
	return p.signedIn(ctx, res, &loginBody{})
}

func (p *Plugin) hTwoFactor(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		TwoFactorToken string `json:"twoFactorToken"`
		Code           string `json:"code"`
		Method         string `json:"method"`
		TrustDevice    bool   `json:"trustDevice"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := core.Required("twoFactorToken", in.TwoFactorToken, "code", in.Code,
		"method", in.Method); err != nil {
		return nil, err
	}
	switch in.Method {
	case "totp", "otp", "backup":
	default:
		return nil, core.ValidationError("body.method",
			`Invalid option: expected one of "totp"|"otp"|"backup"`)
	}
	cv := p.e.ChallengeVerifier()
	if cv == nil {
		return nil, ErrTwoFactorNotEnabled
	}
	res, err := cv.VerifyChallenge(ctx, r, core.ChallengeInput{Token: in.TwoFactorToken,
		Method: in.Method, Code: in.Code, TrustDevice: in.TrustDevice})
	if err != nil {
		return nil, err
	}
	return p.signedIn(ctx, res, &loginBody{})
}

// hRefresh slides the session named by the refresh token (the session
// token) and mints a new access token. The refresh token stays the same.
func (p *Plugin) hRefresh(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		RefreshToken string `json:"refreshToken"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := core.Required("refreshToken", in.RefreshToken); err != nil {
		return nil, err
	}
	if len(in.RefreshToken) > 64 {
		return nil, p.refreshFailed(ctx, r)
	}
	st, err := p.e.LookupSession(ctx, in.RefreshToken, true, true)
	if err != nil {
		return nil, err
	}
	if st.Session == nil {
		return nil, p.refreshFailed(ctx, r)
	}
	s, err := p.e.ExtendSession(ctx, st.Session)
	if errors.Is(err, core.ErrUnauthorized) {
		return nil, p.refreshFailed(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	at, err := p.Mint(ctx, st.User, s)
	if err != nil {
		return nil, p.mintError(ctx, err)
	}
	p.e.Security(ctx, r, s.UserID, "token_refresh", "success", nil)
	return core.JSON(map[string]any{"accessToken": at, "refreshToken": s.Token,
		"expiresIn": int(TokenLifetime / time.Second)}), nil
}

func (p *Plugin) refreshFailed(ctx context.Context, r *core.Request) error {
	p.e.Security(ctx, r, "", "token_refresh", "failure", nil)
	return ErrInvalidRefreshToken
}

// hLogout revokes the session of the bearer token or cookie, if any, and
// clears the cookies. It always succeeds, like sign-out.
func (p *Plugin) hLogout(ctx context.Context, r *core.Request) (*core.Response, error) {
	if tok, _ := p.e.SessionToken(r); tok != "" {
		st, err := p.e.LookupSession(ctx, tok, true, true)
		if err != nil {
			return nil, err
		}
		if st.Session != nil {
			if err := p.e.RevokeSession(ctx, st.Session.UserID, tok); err != nil {
				return nil, p.e.DBError(ctx, "v1 logout", err)
			}
			p.e.Security(ctx, r, st.Session.UserID, "logout", "success", nil)
		}
	}
	resp := core.JSON(map[string]bool{"success": true})
	resp.Cookies = p.e.Cookies.ClearSession()
	return resp, nil
}

type validation struct {
	Valid   bool            `json:"valid"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Code    string          `json:"code,omitempty"`
}

// hValidate verifies a JWT and that the session named by its sid is still
// alive, so a revoked session's tokens fail at once.
func (p *Plugin) hValidate(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Token string `json:"token"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := core.Required("token", in.Token); err != nil {
		return nil, err
	}
	v, err := p.validate(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	outcome := "valid"
	switch v.Code {
	case CodeTokenExpired:
		outcome = "expired"
	case CodeInvalidToken:
		outcome = "invalid"
	case CodeSessionRevoked:
		outcome = "revoked"
	}
	p.metrics.validated(outcome)
	return core.JSON(v), nil
}

func (p *Plugin) validate(ctx context.Context, token string) (*validation, error) {
	c, err := p.verify(ctx, token)
	switch {
	case errors.Is(err, ErrTokenExpired):
		return &validation{Code: CodeTokenExpired}, nil
	case err != nil:
		return &validation{Code: CodeInvalidToken}, nil
	case c.SessionID == "":
		// Not one of ours (Better Auth's tokens carry no sid): its session
		// cannot be checked, so it does not validate.
		return &validation{Code: CodeInvalidToken}, nil
	}
	s, err := p.e.SessionByID(ctx, c.SessionID)
	if errors.Is(err, db.ErrNoRows) {
		return &validation{Code: CodeSessionRevoked}, nil
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "validate session", err)
	}
	if s.UserID != c.Subject {
		return &validation{Code: CodeInvalidToken}, nil
	}
	return &validation{Valid: true, Payload: c.Raw}, nil
}

func (p *Plugin) hSession(ctx context.Context, r *core.Request) (*core.Response, error) {
	return core.JSON(&core.SessionWithUser{Session: r.Session, User: r.User}), nil
}
