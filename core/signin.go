package core

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"unicode"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/password"
)

// NormalizeEmail trims and lower-cases an email and checks its shape. It
// refuses control characters, display names and addresses over 254 bytes.
func NormalizeEmail(raw string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" || len(e) > 254 {
		return "", ErrInvalidEmail
	}
	for _, r := range e {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", ErrInvalidEmail
		}
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(e, '@')
	if at < 1 || !strings.Contains(e[at+1:], ".") || strings.HasSuffix(e, ".") {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// CheckNewPassword applies the one password policy: length in UTF-16 units,
// then the common/breached list and the user's own email.
func (e *Engine) CheckNewPassword(pw, email string) error {
	switch err := e.Passwords.Validate(pw, email); {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrTooShort):
		return ErrPasswordTooShort
	case errors.Is(err, password.ErrTooLong):
		return ErrPasswordTooLong
	case errors.Is(err, password.ErrCompromised):
		return ErrPasswordCompromised
	default:
		return ErrInvalidPassword
	}
}

// SignUpInput is a new user by email and password.
type SignUpInput struct {
	Name       string
	Email      string
	Password   string
	Image      *string
	RememberMe bool
	// CallbackURL goes into the verification mail's link.
	CallbackURL string
}

// SignInResult is a sign-in: either a session with its cookies, or a
// challenge from a sign-in gate (then Session is nil).
type SignInResult struct {
	User      *User
	Session   *Session
	Cookies   []*Cookie
	Challenge *Challenge
}

// SignUp creates a user with a credential account and, unless email
// verification is required, signs it in. An existing email answers 422,
// except when verification is required: then it answers like a success
// with a synthetic user, so sign-up cannot be used to find accounts.
func (e *Engine) SignUp(ctx context.Context, r *Request, in SignUpInput) (*SignInResult, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := e.CheckNewPassword(in.Password, email); err != nil {
		return nil, err
	}
	now := e.Now()
	u := &User{ID: e.NewID(), Name: in.Name, Email: email, Image: in.Image, Role: "user",
		CreatedAt: now, UpdatedAt: now}
	if _, err := e.UserByEmail(ctx, e.DB, email); err == nil {
		return e.existingSignUp(ctx, r, u, in.Password)
	} else if !errors.Is(err, db.ErrNoRows) {
		return nil, e.dbError(ctx, "sign-up lookup", err)
	}

	hash, err := e.Passwords.Hash(ctx, in.Password)
	if err != nil {
		return nil, e.hashError(ctx, err)
	}
	var sess *Session
	err = e.DB.Tx(ctx, func(tx db.Tx) error {
		if err := e.insertUser(ctx, tx, u); err != nil {
			return err
		}
		if err := e.insertCredential(ctx, tx, u.ID, hash, now); err != nil {
			return err
		}
		if err := e.afterInsertUser(ctx, tx, u); err != nil {
			return err
		}
		if e.Config.RequireVerify {
			return nil
		}
		sess, err = e.CreateSession(ctx, tx, u.ID, in.RememberMe, r.Meta())
		return err
	})
	if errors.Is(err, db.ErrConflict) {
		return e.existingSignUp(ctx, r, u, "")
	}
	if err != nil {
		return nil, e.dbError(ctx, "sign-up", err)
	}
	// Re-read so plugin columns carry their defaults.
	if full, err := e.UserByID(ctx, e.DB, u.ID); err == nil {
		u = full
	}
	e.Metrics.signUps.WithLabelValues("success").Inc()
	e.Security(ctx, r, u.ID, "sign_up", "success", nil)
	e.Emit(ctx, UserCreated{User: u})
	if e.Config.RequireVerify {
		e.SendVerificationEmail(u, in.CallbackURL)
		return &SignInResult{User: u}, nil
	}
	e.Emit(ctx, SessionCreated{Session: sess})
	return &SignInResult{User: u, Session: sess, Cookies: e.Cookies.Session(sess)}, nil
}

func (e *Engine) existingSignUp(ctx context.Context, r *Request, fake *User,
	pw string) (*SignInResult, error) {
	e.Metrics.signUps.WithLabelValues("exists").Inc()
	if !e.Config.RequireVerify {
		return nil, ErrUserAlreadyExists
	}
	if pw != "" {
		e.Passwords.VerifyDummy(ctx, pw) // equalise timing with a real sign-up
	}
	e.Security(ctx, r, "", "sign_up", "existing_email", nil)
	return &SignInResult{User: fake}, nil
}

// SignInPassword checks an email and password and, when they match and no
// gate objects, creates the session. It is the one password sign-in: the
// native endpoint and the v1 token API both call it. Unknown emails cost a
// dummy hash so timing does not reveal accounts.
func (e *Engine) SignInPassword(ctx context.Context, r *Request, rawEmail, pw string,
	rememberMe bool) (*SignInResult, error) {
	// Failures are counted for every address, known or not, so the
	// throttle itself does not tell which emails have accounts.
	key := strings.ToLower(strings.TrimSpace(rawEmail))
	if err := e.Throttle(ctx, key); err != nil {
		return nil, err
	}
	email, err := NormalizeEmail(rawEmail)
	if err != nil {
		// Do the work anyway: malformed and unknown emails look alike.
		e.Passwords.VerifyDummy(ctx, pw)
		e.RecordFailure(ctx, key)
		return nil, e.signInFailed(ctx, r, "", "invalid_email")
	}
	u, hash, err := e.userWithPassword(ctx, email)
	if errors.Is(err, db.ErrNoRows) || (err == nil && hash == nil) {
		e.Passwords.VerifyDummy(ctx, pw)
		e.RecordFailure(ctx, key)
		return nil, e.signInFailed(ctx, r, "", "unknown_user")
	}
	if err != nil {
		return nil, e.dbError(ctx, "sign-in lookup", err)
	}
	ok, err := e.Passwords.Verify(ctx, *hash, pw)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return nil, e.hashError(ctx, err)
	}
	if !ok {
		e.RecordFailure(ctx, key)
		return nil, e.signInFailed(ctx, r, u.ID, "bad_password")
	}
	if e.Config.RequireVerify && !u.EmailVerified {
		e.Security(ctx, r, u.ID, "sign_in", "email_not_verified", nil)
		e.Metrics.signIns.WithLabelValues("email_not_verified").Inc()
		return nil, ErrEmailNotVerified
	}
	e.ClearFailures(ctx, key)
	return e.SignIn(ctx, r, u, "password", rememberMe)
}

// SignIn completes a first-factor sign-in of u: sign-in gates run first and
// may answer with a challenge; otherwise a session is created and its
// cookies returned.
func (e *Engine) SignIn(ctx context.Context, r *Request, u *User, method string,
	rememberMe bool) (*SignInResult, error) {
	a := &SignInAttempt{User: u, RememberMe: rememberMe, Request: r, Method: method}
	for _, g := range e.gates {
		ch, err := g.GateSignIn(ctx, a)
		if err != nil {
			return nil, err
		}
		if ch != nil {
			e.Security(ctx, r, u.ID, "sign_in", "challenge", map[string]any{"method": method})
			e.Metrics.signIns.WithLabelValues("challenge").Inc()
			return &SignInResult{User: u, Challenge: ch}, nil
		}
	}
	return e.CompleteSignIn(ctx, r, u, method, rememberMe)
}

// CompleteSignIn creates the session of a sign-in whose every factor has
// been checked, logs it and returns it with its cookies. Gates do not run.
func (e *Engine) CompleteSignIn(ctx context.Context, r *Request, u *User, method string,
	rememberMe bool) (*SignInResult, error) {
	s, err := e.CreateSession(ctx, e.DB, u.ID, rememberMe, r.Meta())
	if err != nil {
		return nil, e.dbError(ctx, "create session", err)
	}
	e.Security(ctx, r, u.ID, "sign_in", "success", map[string]any{"method": method})
	e.Metrics.signIns.WithLabelValues("success").Inc()
	e.Emit(ctx, SessionCreated{Session: s})
	return &SignInResult{User: u, Session: s, Cookies: e.Cookies.Session(s)}, nil
}

func (e *Engine) signInFailed(ctx context.Context, r *Request, userID, why string) error {
	e.Security(ctx, r, userID, "sign_in", "failure", map[string]any{"reason": why})
	e.Metrics.signIns.WithLabelValues("failure").Inc()
	return ErrInvalidEmailOrPassword
}

func (e *Engine) hashError(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ErrUnavailable
	}
	e.Log.ErrorContext(ctx, "password hashing failed", "err", err)
	return ErrInternal
}

// VerifyUserPassword checks a signed-in user's password. It answers
// CREDENTIAL_ACCOUNT_NOT_FOUND without a password and INVALID_PASSWORD on a
// mismatch.
func (e *Engine) VerifyUserPassword(ctx context.Context, userID, pw string) error {
	hash, err := e.passwordHash(ctx, e.DB, userID)
	if errors.Is(err, db.ErrNoRows) {
		e.Passwords.VerifyDummy(ctx, pw)
		return ErrCredentialAccountNotFound
	}
	if err != nil {
		return e.dbError(ctx, "password lookup", err)
	}
	ok, err := e.Passwords.Verify(ctx, hash, pw)
	if err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return e.hashError(ctx, err)
	}
	if !ok {
		return ErrInvalidPassword
	}
	return nil
}
