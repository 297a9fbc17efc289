package twofactor

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"

	"github.com/go-kit/kit/endpoint"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/secure"
)

// challengeIDPattern is the shape of a challenge id (and of the two_factor
// cookie's signed value).
var challengeIDPattern = regexp.MustCompile(`^2fa-[A-Za-z0-9_-]{20}$`)

// GateSignIn implements core.SignInGate. Only password sign-ins are
// challenged, as in Better Auth (reference §9.2: magic-link and social
// sign-ins are not). A valid trust_device cookie lets the sign-in through
// and is rotated; otherwise a challenge is stored and returned, and no
// session exists until a verify endpoint completes it.
func (p *Plugin) GateSignIn(ctx context.Context, a *core.SignInAttempt) (*core.Challenge,
	error) {
	if a.Method != "password" || a.User == nil || !enabled(a.User) {
		return nil, nil
	}
	uid := a.User.ID
	if a.Request != nil {
		ok, err := p.passTrusted(ctx, a.Request, uid)
		if err != nil {
			return nil, err
		}
		if ok {
			return nil, nil
		}
	}
	w, err := loadRow(ctx, p.e.DB, uid)
	if err != nil && !errors.Is(err, db.ErrNoRows) {
		return nil, p.e.DBError(ctx, "load 2fa", err)
	}
	id := "2fa-" + secure.RandomString(20, secure.URLSafe)
	val, _ := json.Marshal(challengeValue{UserID: uid, RememberMe: a.RememberMe})
	err = p.e.DB.Tx(ctx, func(tx db.Tx) error {
		err := p.e.CreateVerification(ctx, tx, id, string(val), ChallengeTTL)
		if err != nil {
			return err
		}
		return p.e.CreateVerification(ctx, tx, attemptsID(id), "0", ChallengeTTL)
	})
	if err != nil {
		return nil, p.e.DBError(ctx, "store 2fa challenge", err)
	}
	p.m.challenges.Inc()
	return &core.Challenge{
		Methods: p.methods(w),
		Token:   id,
		Cookies: []*core.Cookie{p.e.Cookies.Signed(cookieTwoFactor, id,
			int(ChallengeTTL.Seconds()))},
	}, nil
}

// methods lists the second factors a challenge offers. The emailed code is
// offered only to users without a verified TOTP secret: offering it to TOTP
// users would let whoever holds the mailbox (which also resets passwords)
// skip the authenticator. Better Auth offers it to everyone when sendOTP is
// configured; this is a deliberate difference.
func (p *Plugin) methods(w *row) []string {
	m := []string{}
	if w.totpReady() {
		m = append(m, "totp")
	}
	if p.otpAllowed(w) {
		m = append(m, "otp")
	}
	return m
}

func (p *Plugin) otpAllowed(w *row) bool { return !p.set.DisableOTP && !w.totpReady() }

// cookieBox carries the rotated trust_device cookie from the gate, which
// has no response to write to, to the hook around the sign-in endpoint.
type cookieBox struct {
	mu      sync.Mutex
	cookies []*core.Cookie
}

type boxKey struct{}

func (b *cookieBox) put(c *core.Cookie) {
	b.mu.Lock()
	b.cookies = append(b.cookies, c)
	b.mu.Unlock()
}

// Hooks implements core.HookProvider: the password sign-in routes get a box
// for the rotated trust_device cookie.
func (p *Plugin) Hooks() []core.Hook {
	return []core.Hook{{
		Match: func(rt *core.Route) bool {
			return rt.Name == "sign-in/email" || rt.Path == "/api/v1/auth/login"
		},
		Middleware: trustCookieHook,
	}}
}

func trustCookieHook(next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		box := &cookieBox{}
		resp, err := next(context.WithValue(ctx, boxKey{}, box), req)
		if err != nil {
			return resp, err
		}
		if out, ok := resp.(*core.Response); ok && out != nil {
			box.mu.Lock()
			for _, c := range box.cookies {
				out.AddCookie(c)
			}
			box.mu.Unlock()
		}
		return resp, nil
	}
}

// errNotTrusted aborts a rotation whose record is not the user's.
var errNotTrusted = errors.New("twofactor: device not trusted")

// passTrusted reports whether the request carries a valid trust_device
// cookie for uid: the inner HMAC binds it to the user, and its verification
// row must be live and owned by the user. When the sign-in route can carry
// a cookie back, the record is consumed and replaced (rotation).
func (p *Plugin) passTrusted(ctx context.Context, r *core.Request, uid string) (bool,
	error) {
	id, ok := p.trustID(r, uid)
	if !ok {
		return false, nil
	}
	box, _ := ctx.Value(boxKey{}).(*cookieBox)
	if box == nil {
		// No response to rotate into (a caller without cookies): accept
		// the device as it is.
		owner, err := p.e.PeekVerification(ctx, p.e.DB, id)
		if errors.Is(err, core.ErrVerificationNotFound) {
			return false, nil
		}
		if err != nil {
			return false, p.e.DBError(ctx, "trusted device", err)
		}
		return secure.Equal(owner, uid), nil
	}
	var next *core.Cookie
	err := p.e.DB.Tx(ctx, func(tx db.Tx) error {
		owner, err := p.e.ConsumeVerification(ctx, tx, id)
		if errors.Is(err, core.ErrVerificationNotFound) {
			return errNotTrusted
		}
		if err != nil {
			return err
		}
		if !secure.Equal(owner, uid) {
			return errNotTrusted
		}
		next, err = p.newTrust(ctx, tx, uid)
		return err
	})
	if errors.Is(err, errNotTrusted) {
		return false, nil
	}
	if err != nil {
		return false, p.e.DBError(ctx, "rotate trusted device", err)
	}
	box.put(next)
	p.e.Security(ctx, r, uid, "two_factor_trusted_device", "success", nil)
	return true, nil
}

// trustID returns the record id of the request's trust_device cookie if its
// signature and inner HMAC are valid for uid.
func (p *Plugin) trustID(r *core.Request, uid string) (string, bool) {
	v := p.e.Cookies.ReadSigned(r, cookieTrustDevice)
	mac, id, found := strings.Cut(v, "!")
	if !found || !strings.HasPrefix(id, trustPrefix) || len(id) > 64 {
		return "", false
	}
	if !p.e.Secrets.VerifyHMACBase64URL(uid+"!"+id, mac) {
		return "", false
	}
	return id, true
}

// newTrust stores a trusted-device record for uid and returns its cookie:
// signed "<base64url HMAC(userId!trustId)>!trust-device-<32>", 30 days.
func (p *Plugin) newTrust(ctx context.Context, q db.Querier, uid string) (*core.Cookie,
	error) {
	id := trustPrefix + secure.RandomString(32, secure.URLSafe)
	if err := p.e.CreateVerification(ctx, q, id, uid, TrustDeviceTTL); err != nil {
		return nil, err
	}
	mac := p.e.Secrets.HMACBase64URL(uid + "!" + id)
	return p.e.Cookies.Signed(cookieTrustDevice, mac+"!"+id,
		int(TrustDeviceTTL.Seconds())), nil
}
