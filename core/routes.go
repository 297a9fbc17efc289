package core

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Routes returns the core's Better Auth endpoints under BasePath.
func (e *Engine) Routes() []Route {
	p := e.Config.BasePath
	r := func(method, path, name string, auth AuthMode, h Handler) Route {
		return Route{Method: method, Path: p + path, Name: name, Auth: auth, Handler: h}
	}
	routes := []Route{
		r("POST", "/sign-up/email", "sign-up/email", AuthNone, e.hSignUp),
		r("POST", "/sign-in/email", "sign-in/email", AuthNone, e.hSignIn),
		r("POST", "/sign-out", "sign-out", AuthNone, e.hSignOut),
		r("GET", "/get-session", "get-session", AuthNone, e.hGetSession),
		r("GET", "/list-sessions", "list-sessions", AuthFresh, e.hListSessions),
		r("POST", "/revoke-session", "revoke-session", AuthSensitive, e.hRevokeSession),
		r("POST", "/revoke-sessions", "revoke-sessions", AuthSensitive, e.hRevokeSessions),
		r("POST", "/revoke-other-sessions", "revoke-other-sessions", AuthSensitive,
			e.hRevokeOther),
		r("POST", "/update-session", "update-session", AuthRequired, e.hUpdateSession),
		r("POST", "/change-password", "change-password", AuthSensitive, e.hChangePassword),
		r("POST", "/request-password-reset", "request-password-reset", AuthNone,
			e.hRequestReset),
		r("GET", "/reset-password/{token}", "reset-password/callback", AuthNone,
			e.hResetCallback),
		r("POST", "/reset-password", "reset-password", AuthNone, e.hResetPassword),
		r("POST", "/verify-password", "verify-password", AuthSensitive, e.hVerifyPassword),
		r("GET", "/verify-email", "verify-email", AuthNone, e.hVerifyEmail),
		r("POST", "/send-verification-email", "send-verification-email", AuthOptional,
			e.hSendVerification),
		r("POST", "/change-email", "change-email", AuthSensitive, e.hChangeEmail),
		r("POST", "/update-user", "update-user", AuthRequired, e.hUpdateUser),
		r("POST", "/delete-user", "delete-user", AuthSensitive, e.hDeleteUser),
		r("GET", "/delete-user/callback", "delete-user/callback", AuthSensitive,
			e.hDeleteCallback),
		r("GET", "/list-accounts", "list-accounts", AuthRequired, e.hListAccounts),
		r("GET", "/ok", "ok", AuthNone, e.hOK),
		r("GET", "/error", "error", AuthNone, e.hError),
	}
	for i := range routes {
		switch routes[i].Name {
		case "sign-up/email", "sign-in/email":
			routes[i].Form, routes[i].CSRF = true, true
		}
		routes[i].NoStore = true
	}
	return routes
}

// signInBody is the response of sign-in and sign-up.
type signInBody struct {
	Redirect *bool   `json:"redirect,omitempty"`
	Token    *string `json:"token"`
	URL      *string `json:"url,omitempty"`
	User     *User   `json:"user"`
}

// ChallengeResponse renders a sign-in gate's challenge for the native API.
func ChallengeResponse(ch *Challenge) *Response {
	resp := JSON(map[string]any{"twoFactorRedirect": true, "twoFactorMethods": ch.Methods})
	resp.Cookies = ch.Cookies
	return resp
}

func (e *Engine) hSignUp(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		Name        *string `json:"name"`
		Email       string  `json:"email"`
		Password    string  `json:"password"`
		Image       *string `json:"image"`
		CallbackURL string  `json:"callbackURL"`
		RememberMe  *bool   `json:"rememberMe"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if in.Name == nil {
		return nil, MissingField("body.name", "string")
	}
	if err := Required("email", in.Email, "password", in.Password); err != nil {
		return nil, err
	}
	res, err := e.SignUp(ctx, r, SignUpInput{Name: *in.Name, Email: in.Email,
		Password: in.Password, Image: in.Image, RememberMe: in.RememberMe == nil || *in.RememberMe,
		CallbackURL: in.CallbackURL})
	if err != nil {
		return nil, err
	}
	body := signInBody{User: res.User}
	resp := JSON(&body)
	if res.Session != nil {
		body.Token = &res.Session.Token
		resp.Cookies = res.Cookies
	}
	return resp, nil
}

func (e *Engine) hSignIn(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		Email       string `json:"email"`
		Password    string `json:"password"`
		CallbackURL string `json:"callbackURL"`
		RememberMe  *bool  `json:"rememberMe"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := Required("email", in.Email, "password", in.Password); err != nil {
		return nil, err
	}
	res, err := e.SignInPassword(ctx, r, in.Email, in.Password,
		in.RememberMe == nil || *in.RememberMe)
	if err != nil {
		return nil, err
	}
	if res.Challenge != nil {
		return ChallengeResponse(res.Challenge), nil
	}
	redirect := in.CallbackURL != ""
	body := &signInBody{Redirect: &redirect, Token: &res.Session.Token, User: res.User}
	resp := JSON(body)
	if redirect {
		body.URL = &in.CallbackURL
		resp.SetHeader("Location", in.CallbackURL)
	}
	resp.Cookies = res.Cookies
	return resp, nil
}

func (e *Engine) hSignOut(ctx context.Context, r *Request) (*Response, error) {
	if tok, _ := e.SessionToken(r); tok != "" {
		st, err := e.LookupSession(ctx, tok, true, true)
		if err == nil && st.Session != nil {
			if err := e.RevokeSession(ctx, st.Session.UserID, tok); err != nil {
				e.Log.WarnContext(ctx, "sign-out", "err", err)
			}
			e.Security(ctx, r, st.Session.UserID, "sign_out", "success", nil)
		}
	}
	resp := JSON(map[string]bool{"success": true})
	resp.Cookies = e.Cookies.ClearSession()
	return resp, nil
}

// truthy applies JavaScript truthiness to a query value, as Better Auth
// does: any non-empty value, "false" included, is true.
func truthy(v url.Values, k string) bool { return v.Get(k) != "" }

func (e *Engine) hGetSession(ctx context.Context, r *Request) (*Response, error) {
	tok, _ := e.SessionToken(r)
	if tok == "" {
		return JSON(nil), nil
	}
	st, err := e.LookupSession(ctx, tok, truthy(r.Query, "disableRefresh"), false)
	if err != nil {
		return nil, err
	}
	if st.Session == nil {
		resp := JSON(nil)
		resp.Cookies = e.Cookies.ClearSession()
		return resp, nil
	}
	r.Session, r.User = st.Session, st.User
	resp := JSON(&SessionWithUser{Session: st.Session, User: st.User})
	if st.Refreshed {
		resp.Cookies = e.Cookies.Session(st.Session)
	}
	return resp, nil
}

func (e *Engine) hListSessions(ctx context.Context, r *Request) (*Response, error) {
	list, err := e.ListSessions(ctx, e.DB, r.User.ID)
	if err != nil {
		return nil, e.dbError(ctx, "list sessions", err)
	}
	return JSON(list), nil
}

func (e *Engine) hRevokeSession(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		Token string `json:"token"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := Required("token", in.Token); err != nil {
		return nil, err
	}
	if err := e.RevokeSession(ctx, r.User.ID, in.Token); err != nil {
		return nil, e.dbError(ctx, "revoke session", err)
	}
	e.Security(ctx, r, r.User.ID, "session_revoke", "success", nil)
	resp := JSON(map[string]bool{"status": true})
	if in.Token == r.Session.Token {
		resp.Cookies = e.Cookies.ClearSession()
	}
	return resp, nil
}

func (e *Engine) hRevokeSessions(ctx context.Context, r *Request) (*Response, error) {
	if err := e.RevokeSessions(ctx, e.DB, r.User.ID, ""); err != nil {
		return nil, e.dbError(ctx, "revoke sessions", err)
	}
	e.Security(ctx, r, r.User.ID, "session_revoke_all", "success", nil)
	resp := JSON(map[string]bool{"status": true})
	resp.Cookies = e.Cookies.ClearSession()
	return resp, nil
}

func (e *Engine) hRevokeOther(ctx context.Context, r *Request) (*Response, error) {
	if err := e.RevokeSessions(ctx, e.DB, r.User.ID, r.Session.Token); err != nil {
		return nil, e.dbError(ctx, "revoke other sessions", err)
	}
	e.Security(ctx, r, r.User.ID, "session_revoke_others", "success", nil)
	return JSON(map[string]bool{"status": true}), nil
}

func (e *Engine) hUpdateSession(ctx context.Context, r *Request) (*Response, error) {
	for k := range r.Body {
		// Plugin session fields (activeOrganizationId, …) are set through
		// their own endpoints; none is client-writable here.
		return nil, ErrFieldNotAllowed.WithMessage(k + " is not allowed to be set")
	}
	return JSON(map[string]any{"session": r.Session}), nil
}

func (e *Engine) hChangePassword(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		NewPassword         string `json:"newPassword"`
		CurrentPassword     string `json:"currentPassword"`
		RevokeOtherSessions bool   `json:"revokeOtherSessions"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := Required("newPassword", in.NewPassword,
		"currentPassword", in.CurrentPassword); err != nil {
		return nil, err
	}
	s, err := e.ChangePassword(ctx, r, in.CurrentPassword, in.NewPassword,
		in.RevokeOtherSessions)
	if err != nil {
		return nil, err
	}
	body := signInBody{User: r.User}
	resp := JSON(&body)
	if s != nil {
		body.Token = &s.Token
		resp.Cookies = e.Cookies.Session(s)
	}
	return resp, nil
}

func (e *Engine) hRequestReset(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		Email      string `json:"email"`
		RedirectTo string `json:"redirectTo"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := Required("email", in.Email); err != nil {
		return nil, err
	}
	if err := e.RequestPasswordReset(ctx, r, in.Email, in.RedirectTo); err != nil {
		return nil, err
	}
	return JSON(map[string]any{"status": true,
		"message": "If this email exists in our system, check your email for the reset link"}), nil
}

// resolveCallback turns a validated callback URL into an absolute one
// (relative paths resolve against BaseURL) with extra query parameters.
func (e *Engine) resolveCallback(cb string, params url.Values) string {
	base, _ := url.Parse(e.Config.BaseURL + "/")
	u, err := url.Parse(cb)
	if err != nil {
		return e.Config.BaseURL
	}
	u = base.ResolveReference(u)
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (e *Engine) hResetCallback(ctx context.Context, r *Request) (*Response, error) {
	cb := r.Query.Get("callbackURL")
	if cb == "" {
		return nil, ErrCallbackRequired
	}
	tok := r.Param("token")
	if !e.ResetTokenValid(ctx, tok) {
		return Redirect(e.resolveCallback(cb, url.Values{"error": {"INVALID_TOKEN"}})), nil
	}
	return Redirect(e.resolveCallback(cb, url.Values{"token": {tok}})), nil
}

func (e *Engine) hResetPassword(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		NewPassword string `json:"newPassword"`
		Token       string `json:"token"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if in.Token == "" {
		in.Token = r.Query.Get("token")
	}
	if err := Required("newPassword", in.NewPassword); err != nil {
		return nil, err
	}
	if err := e.ResetPassword(ctx, r, in.Token, in.NewPassword); err != nil {
		return nil, err
	}
	return JSON(map[string]bool{"status": true}), nil
}

func (e *Engine) hVerifyPassword(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		Password string `json:"password"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := Required("password", in.Password); err != nil {
		return nil, err
	}
	if err := e.VerifyUserPassword(ctx, r.User.ID, in.Password); err != nil {
		return nil, err
	}
	return JSON(map[string]bool{"status": true}), nil
}

func (e *Engine) hVerifyEmail(ctx context.Context, r *Request) (*Response, error) {
	tok, cb := r.Query.Get("token"), r.Query.Get("callbackURL")
	if tok == "" {
		return nil, MissingField("query.token", "string")
	}
	u, err := e.VerifyEmailToken(ctx, r, tok)
	if err != nil {
		ae, ok := AsAPIError(err)
		if !ok || cb == "" {
			if ok && ae.Code == "INVALID_TOKEN" {
				return nil, &APIError{Status: 401, Code: ae.Code, Message: ae.Message}
			}
			return nil, err
		}
		return Redirect(e.resolveCallback(cb, url.Values{"error": {ae.Code}})), nil
	}
	if cb != "" {
		return Redirect(e.resolveCallback(cb, nil)), nil
	}
	if r.User != nil && r.User.ID == u.ID {
		return JSON(map[string]any{"status": true, "user": u}), nil
	}
	return JSON(map[string]any{"status": true, "user": nil}), nil
}

func (e *Engine) hSendVerification(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		Email       string `json:"email"`
		CallbackURL string `json:"callbackURL"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := Required("email", in.Email); err != nil {
		return nil, err
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if r.User != nil {
		if email != r.User.Email {
			return nil, ErrEmailMismatch
		}
		if r.User.EmailVerified {
			return nil, ErrEmailAlreadyVerified
		}
		e.SendVerificationEmail(r.User, in.CallbackURL)
		return JSON(map[string]bool{"status": true}), nil
	}
	// Without a session: the same answer and a time floor whether or not
	// the address belongs to an unverified user.
	floor := time.After(500 * time.Millisecond)
	if u, err := e.UserByEmail(ctx, e.DB, email); err == nil && !u.EmailVerified {
		e.SendVerificationEmail(u, in.CallbackURL)
	}
	select {
	case <-floor:
	case <-ctx.Done():
	}
	return JSON(map[string]bool{"status": true}), nil
}

func (e *Engine) hChangeEmail(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		NewEmail    string `json:"newEmail"`
		CallbackURL string `json:"callbackURL"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := Required("newEmail", in.NewEmail); err != nil {
		return nil, err
	}
	if err := e.ChangeEmail(ctx, r, in.NewEmail, in.CallbackURL); err != nil {
		return nil, err
	}
	return JSON(map[string]bool{"status": true}), nil
}

// userInputFalse are user fields clients may never set.
var userInputFalse = map[string]bool{"id": true, "emailVerified": true, "role": true,
	"createdAt": true, "updatedAt": true, "twoFactorEnabled": true, "banned": true}

func (e *Engine) hUpdateUser(ctx context.Context, r *Request) (*Response, error) {
	if r.Body == nil {
		return nil, ErrBodyNotObject
	}
	if _, ok := r.Body["email"]; ok {
		return nil, ErrEmailCannotBeUpdated
	}
	var in struct {
		Name  *string `json:"name"`
		Image *string `json:"image"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	for k, v := range r.Body {
		if userInputFalse[k] && !falsy(v) {
			return nil, ErrFieldNotAllowed.WithMessage(k + " is not allowed to be set")
		}
	}
	if err := e.UpdateUser(ctx, r.User.ID, in.Name, in.Image); err != nil {
		return nil, err
	}
	return JSON(map[string]bool{"status": true}), nil
}

func falsy(v []byte) bool {
	switch strings.TrimSpace(string(v)) {
	case "false", "null", "0", `""`:
		return true
	}
	return false
}

func (e *Engine) hDeleteUser(ctx context.Context, r *Request) (*Response, error) {
	var in struct {
		Password    string `json:"password"`
		Token       string `json:"token"`
		CallbackURL string `json:"callbackURL"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	switch {
	case in.Token != "":
		if err := e.DeleteUserWithToken(ctx, r, in.Token); err != nil {
			return nil, err
		}
	case in.Password != "":
		if err := e.VerifyUserPassword(ctx, r.User.ID, in.Password); err != nil {
			return nil, err
		}
		if err := e.DeleteUser(ctx, r, r.User.ID, nil); err != nil {
			return nil, err
		}
	default:
		// Without a password the owner of the mailbox confirms.
		if err := e.RequestDeleteUser(ctx, r, in.CallbackURL); err != nil {
			return nil, err
		}
		return JSON(map[string]any{"success": true, "message": "Verification email sent"}), nil
	}
	resp := JSON(map[string]any{"success": true, "message": "User deleted"})
	resp.Cookies = e.Cookies.ClearSession()
	return resp, nil
}

func (e *Engine) hDeleteCallback(ctx context.Context, r *Request) (*Response, error) {
	tok, cb := r.Query.Get("token"), r.Query.Get("callbackURL")
	if tok == "" {
		return nil, MissingField("query.token", "string")
	}
	if err := e.DeleteUserWithToken(ctx, r, tok); err != nil {
		return nil, err
	}
	var resp *Response
	if cb != "" {
		resp = Redirect(e.resolveCallback(cb, nil))
	} else {
		resp = JSON(map[string]any{"success": true, "message": "User deleted"})
	}
	resp.Cookies = e.Cookies.ClearSession()
	return resp, nil
}

// accountView is a linked account as list-accounts shows it: never a
// password or provider token.
type accountView struct {
	ID         string   `json:"id"`
	ProviderID string   `json:"providerId"`
	AccountID  string   `json:"accountId"`
	UserID     string   `json:"userId"`
	CreatedAt  Time     `json:"createdAt"`
	UpdatedAt  Time     `json:"updatedAt"`
	Scopes     []string `json:"scopes"`
}

func (e *Engine) hListAccounts(ctx context.Context, r *Request) (*Response, error) {
	accts, err := e.Accounts(ctx, e.DB, r.User.ID)
	if err != nil {
		return nil, e.dbError(ctx, "list accounts", err)
	}
	out := make([]accountView, 0, len(accts))
	for _, a := range accts {
		v := accountView{ID: a.ID, ProviderID: a.ProviderID, AccountID: a.AccountID,
			UserID: a.UserID, CreatedAt: Time{a.CreatedAt}, UpdatedAt: Time{a.UpdatedAt},
			Scopes: []string{}}
		if a.Scope != nil && *a.Scope != "" {
			v.Scopes = strings.Split(*a.Scope, ",")
		}
		out = append(out, v)
	}
	return JSON(out), nil
}

func (e *Engine) hOK(ctx context.Context, r *Request) (*Response, error) {
	return JSON(map[string]bool{"ok": true}), nil
}

var errorParam = regexp.MustCompile(`^['A-Za-z0-9_-]+$`)

func (e *Engine) hError(ctx context.Context, r *Request) (*Response, error) {
	code := r.Query.Get("error")
	if !errorParam.MatchString(code) {
		code = "UNKNOWN"
	}
	page := "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Error</title></head>" +
		"<body><h1>Something went wrong</h1><p>Error code: <code>" + html.EscapeString(code) +
		"</code></p></body></html>"
	resp := &Response{Raw: []byte(page), Header: http.Header{}}
	resp.Header.Set("Content-Type", "text/html; charset=utf-8")
	return resp, nil
}
