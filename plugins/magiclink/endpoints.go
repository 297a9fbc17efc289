package magiclink

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/mail"
	"github.com/mana/mana-auth/core/secure"
)

// tokenLen is the length of a link token: 32 letters, as Better Auth's.
const tokenLen = 32

// identifier is a token's verification row: only its hash is stored.
func identifier(token string) string { return "magic-link:" + secure.HashToken(token) }

// linkValue is what a link's verification row holds.
type linkValue struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// hSignIn mails a sign-in link. It answers {status:true} whatever the
// address, so the endpoint cannot tell who has an account.
func (p *Plugin) hSignIn(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Email              string          `json:"email"`
		Name               string          `json:"name"`
		CallbackURL        string          `json:"callbackURL"`
		NewUserCallbackURL string          `json:"newUserCallbackURL"`
		ErrorCallbackURL   string          `json:"errorCallbackURL"`
		Metadata           json.RawMessage `json:"metadata"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := core.Required("email", in.Email); err != nil {
		return nil, err
	}
	email, err := core.NormalizeEmail(in.Email)
	if err != nil {
		p.m.requests.WithLabelValues("invalid").Inc()
		return nil, core.ValidationError("body.email", "Invalid email address")
	}
	ok := core.JSON(map[string]bool{"status": true})
	if p.set.DisableSignUp {
		_, err := p.e.UserByEmail(ctx, p.e.DB, email)
		if errors.Is(err, db.ErrNoRows) {
			p.m.requests.WithLabelValues("unknown_user").Inc()
			p.e.Security(ctx, r, "", "magic_link_request", "unknown_user", nil)
			return ok, nil
		}
		if err != nil {
			return nil, p.e.DBError(ctx, "magic link lookup", err)
		}
	}
	token := secure.RandomString(tokenLen, secure.Alpha)
	val, _ := json.Marshal(linkValue{Email: email, Name: in.Name})
	if err := p.e.CreateVerification(ctx, p.e.DB, identifier(token), string(val),
		p.set.ExpiresIn); err != nil {
		return nil, p.e.DBError(ctx, "store magic link", err)
	}
	p.e.SendMail(mail.KindMagicLink, email, mail.Data{
		URL:   p.link(token, in.CallbackURL, in.NewUserCallbackURL, in.ErrorCallbackURL),
		Email: email, ExpiresIn: p.set.ExpiresIn})
	p.m.requests.WithLabelValues("sent").Inc()
	p.e.Security(ctx, r, "", "magic_link_request", "sent", nil)
	return ok, nil
}

// link builds the verify URL the mail carries, from BASE_URL (never from
// the request's Host), with the callback URLs the origin checker accepted.
func (p *Plugin) link(token, cb, newUserCB, errorCB string) string {
	if cb == "" {
		cb = "/"
	}
	var b strings.Builder
	b.WriteString(p.cfg.AuthURL("/magic-link/verify"))
	b.WriteString("?token=")
	b.WriteString(token)
	b.WriteString("&callbackURL=")
	b.WriteString(url.QueryEscape(cb))
	if newUserCB != "" {
		b.WriteString("&newUserCallbackURL=")
		b.WriteString(url.QueryEscape(newUserCB))
	}
	if errorCB != "" {
		b.WriteString("&errorCallbackURL=")
		b.WriteString(url.QueryEscape(errorCB))
	}
	return b.String()
}

// hVerify redeems a link: a session and a redirect to the callback (to
// newUserCallbackURL for a new user), or, without callbackURL, Better
// Auth's JSON {token, user, session}. Failures redirect to
// errorCallbackURL (default callbackURL, default "/") with ?error=.
func (p *Plugin) hVerify(ctx context.Context, r *core.Request) (*core.Response, error) {
	q := r.Query
	tok := q.Get("token")
	if tok == "" {
		return nil, core.MissingField("query.token", "string")
	}
	cbRaw := q.Get("callbackURL")
	cb := cbRaw
	if cb == "" {
		cb = "/"
	}
	errCB, newCB := q.Get("errorCallbackURL"), q.Get("newUserCallbackURL")
	if errCB == "" {
		errCB = cb
	}
	if newCB == "" {
		newCB = cb
	}
	fail := func(code string) (*core.Response, error) {
		p.m.verifies.WithLabelValues(code).Inc()
		p.e.Security(ctx, r, "", "magic_link_verify", "failure",
			map[string]any{"reason": code})
		return core.Redirect(p.e.CallbackURL(errCB, url.Values{"error": {code}})), nil
	}
	if !validToken(tok) {
		return fail("INVALID_TOKEN")
	}
	out, err := p.redeem(ctx, r, tok)
	if errors.Is(err, db.ErrConflict) {
		return fail("failed_to_create_user")
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "redeem magic link", err)
	}
	if out.code != "" {
		return fail(out.code)
	}
	p.afterRedeem(ctx, out)
	u, err := p.e.UserByID(ctx, p.e.DB, out.user.ID)
	if err != nil {
		p.log.ErrorContext(ctx, "reloading magic-link user", "err", err)
		return fail("user_not_found")
	}
	res, err := p.e.SignIn(ctx, r, u, "magic-link", true)
	if err != nil {
		p.log.WarnContext(ctx, "magic-link sign-in", "err", err)
		return fail("failed_to_create_session")
	}
	p.m.verifies.WithLabelValues("success").Inc()
	if res.Challenge != nil {
		// No gate challenges magic links today (Better Auth does not either);
		// should one, the client gets the challenge as a password sign-in would.
		if cbRaw == "" {
			return core.ChallengeResponse(res.Challenge), nil
		}
		resp := core.Redirect(p.e.CallbackURL(cb, nil))
		resp.Cookies = res.Challenge.Cookies
		return resp, nil
	}
	var resp *core.Response
	switch {
	case cbRaw == "":
		resp = core.JSON(&verifyBody{Token: res.Session.Token, User: res.User,
			Session: res.Session})
	case out.created:
		resp = core.Redirect(p.e.CallbackURL(newCB, nil))
	default:
		resp = core.Redirect(p.e.CallbackURL(cb, nil))
	}
	resp.Cookies = res.Cookies
	return resp, nil
}

// verifyBody is the JSON answer of a link verified without callbackURL.
type verifyBody struct {
	Token   string        `json:"token"`
	User    *core.User    `json:"user"`
	Session *core.Session `json:"session"`
}

// validToken reports whether t has the shape of a link token, so that junk
// never reaches the database.
func validToken(t string) bool {
	if len(t) != tokenLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
