package twofactor

import (
	"context"
	"errors"
	"net/http"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/secure"
)

// subject is who answers a second-factor request: a signed-in user
// (session set) or the holder of a sign-in challenge (challenge set).
type subject struct {
	user       *core.User
	session    *core.Session
	challenge  string
	rememberMe bool
	// cookie is true when the challenge came in the two_factor cookie,
	// which a failure that burns the challenge expires.
	cookie bool
}

// otpKey names the emailed code of this subject: the challenge, or the
// user and session.
func (s *subject) otpKey() string {
	if s.challenge != "" {
		return s.challenge
	}
	return s.user.ID + "!" + s.session.ID
}

// subjectOf resolves a verify request: the session first, as Better Auth
// does, then the two_factor cookie.
func (p *Plugin) subjectOf(ctx context.Context, r *core.Request) (*subject, error) {
	if r.Session != nil && r.User != nil {
		return &subject{user: r.User, session: r.Session}, nil
	}
	id := p.e.Cookies.ReadSigned(r, cookieTwoFactor)
	if id == "" {
		return nil, ErrInvalidCookie
	}
	s, err := p.challengeSubject(ctx, id)
	if err != nil {
		return nil, err
	}
	s.cookie = true
	return s, nil
}

// challengeSubject loads the live challenge id (without consuming it).
func (p *Plugin) challengeSubject(ctx context.Context, id string) (*subject, error) {
	if !challengeIDPattern.MatchString(id) {
		return nil, ErrInvalidCookie
	}
	v, err := p.e.PeekVerification(ctx, p.e.DB, id)
	if errors.Is(err, core.ErrVerificationNotFound) {
		return nil, ErrInvalidCookie
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "load 2fa challenge", err)
	}
	c, ok := parseChallenge(v)
	if !ok {
		return nil, ErrInvalidCookie
	}
	u, err := p.e.UserByID(ctx, p.e.DB, c.UserID)
	if errors.Is(err, db.ErrNoRows) {
		return nil, ErrInvalidCookie
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "load 2fa user", err)
	}
	return &subject{user: u, challenge: id, rememberMe: c.RememberMe}, nil
}

// spendAttempt counts one code checked against a challenge. Past
// ChallengeAttempts the challenge is burned (every factor must start a new
// sign-in) and the two_factor cookie expired. Signed-in subjects have no
// per-challenge cap; the account lockout still applies to them.
func (p *Plugin) spendAttempt(ctx context.Context, s *subject) error {
	if s.challenge == "" {
		return nil
	}
	n, err := p.spend(ctx, attemptsID(s.challenge))
	if errors.Is(err, core.ErrVerificationNotFound) {
		return p.withExpiry(s, ErrInvalidCookie)
	}
	if err != nil {
		return p.e.DBError(ctx, "count 2fa attempt", err)
	}
	if n <= ChallengeAttempts {
		return nil
	}
	p.burn(ctx, s.challenge)
	return p.withExpiry(s, ErrTooManyAttempts)
}

// burn deletes a challenge and its counters.
func (p *Plugin) burn(ctx context.Context, challenge string) {
	for _, id := range []string{challenge, attemptsID(challenge), otpID(challenge),
		otpAttemptsID(challenge)} {
		if err := p.e.DeleteVerification(ctx, p.e.DB, id); err != nil {
			p.log.WarnContext(ctx, "burning 2fa challenge", "err", err)
		}
	}
}

// withExpiry adds the deletion of the two_factor cookie to an error when the
// challenge came in that cookie.
func (p *Plugin) withExpiry(s *subject, ae *core.APIError) error {
	if !s.cookie {
		return ae
	}
	c := *ae
	c.Header = http.Header{"Set-Cookie": {p.e.Cookies.Expire(cookieTwoFactor).String()}}
	return &c
}

// fail records a wrong code: the account's failure count (and lock), the
// security log and the metrics. It returns err for the caller to answer.
func (p *Plugin) fail(ctx context.Context, r *core.Request, s *subject, method string,
	err error) error {
	locked, ferr := p.addFailure(ctx, s.user.ID)
	if ferr != nil {
		p.log.WarnContext(ctx, "counting 2fa failure", "err", ferr)
	}
	p.m.verifications.WithLabelValues(method, "failure").Inc()
	p.e.Security(ctx, r, s.user.ID, "two_factor_verify", "failure",
		map[string]any{"method": method})
	if locked {
		p.m.lockouts.Inc()
		p.e.Security(ctx, r, s.user.ID, "two_factor_lockout", "locked",
			map[string]any{"seconds": int(p.set.LockoutDuration.Seconds())})
	}
	return err
}

// commit runs the completing transaction of a correct code: work (which
// consumes the code), then the challenge, the failure reset and the
// security event, all or nothing.
func (p *Plugin) commit(ctx context.Context, r *core.Request, s *subject, method string,
	work func(tx db.Tx) error) error {
	return p.e.DB.Tx(ctx, func(tx db.Tx) error {
		if err := work(tx); err != nil {
			return err
		}
		if s.challenge != "" {
			v, err := p.e.ConsumeVerification(ctx, tx, s.challenge)
			if errors.Is(err, core.ErrVerificationNotFound) {
				return ErrInvalidCookie
			}
			if err != nil {
				return err
			}
			if c, ok := parseChallenge(v); !ok || !secure.Equal(c.UserID, s.user.ID) {
				return ErrInvalidCookie
			}
			if err := p.e.DeleteVerification(ctx, tx, attemptsID(s.challenge)); err != nil {
				return err
			}
		}
		if err := p.resetFailures(ctx, tx, s.user.ID); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, s.user.ID, "two_factor_verify", "success",
			map[string]any{"method": method})
		return nil
	})
}

// outcome is a completed verification: a new session (challenge) or the
// current one (signed-in subject).
type outcome struct {
	res     *core.SignInResult
	token   string
	user    *core.User
	cookies []*core.Cookie
}

// complete finishes a verification whose transaction committed: a challenge
// becomes a session (CompleteSignIn, the one sign-in path) with, on
// request, a trusted-device cookie.
func (p *Plugin) complete(ctx context.Context, r *core.Request, s *subject, method string,
	trustDevice bool) (*outcome, error) {
	p.m.verifications.WithLabelValues(method, "success").Inc()
	if s.challenge == "" {
		return &outcome{token: s.session.Token, user: s.user}, nil
	}
	u, err := p.e.UserByID(ctx, p.e.DB, s.user.ID)
	if err != nil {
		return nil, p.e.DBError(ctx, "load 2fa user", err)
	}
	res, err := p.e.CompleteSignIn(ctx, r, u, "two-factor", s.rememberMe)
	if err != nil {
		return nil, err
	}
	if s.cookie {
		res.Cookies = append(res.Cookies, p.e.Cookies.Expire(cookieTwoFactor))
	}
	if trustDevice {
		c, err := p.newTrust(ctx, p.e.DB, u.ID)
		if err != nil {
			// The session exists; only the convenience is lost.
			p.log.WarnContext(ctx, "storing trusted device", "err", err)
		} else {
			res.Cookies = append(res.Cookies, c)
		}
	}
	return &outcome{res: res, token: res.Session.Token, user: res.User,
		cookies: res.Cookies}, nil
}

// verifyTOTP checks a TOTP code. A signed-in user's first correct code
// activates an enrolment.
func (p *Plugin) verifyTOTP(ctx context.Context, r *core.Request, s *subject, code string,
	trustDevice bool) (*outcome, error) {
	w, err := loadRow(ctx, p.e.DB, s.user.ID)
	if errors.Is(err, db.ErrNoRows) || (err == nil && w.Secret == nil) {
		return nil, ErrTOTPNotEnabled
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "load 2fa", err)
	}
	// A challenge accepts only an enrolment that was verified.
	if s.challenge != "" && !w.Verified {
		return nil, ErrTOTPNotEnabled
	}
	if err := p.checkLock(ctx, w); err != nil {
		return nil, err
	}
	if err := p.spendAttempt(ctx, s); err != nil {
		return nil, err
	}
	secret, err := p.e.Secrets.Decrypt(*w.Secret)
	if err != nil {
		p.log.ErrorContext(ctx, "decrypting TOTP secret", "user_id", s.user.ID, "err", err)
		return nil, core.ErrInternal
	}
	st, ok := matchTOTP(secret, code, p.now(), w.LastStep)
	if !ok {
		return nil, p.fail(ctx, r, s, "totp", ErrInvalidCode)
	}
	activate := s.session != nil && !w.Verified
	err = p.commit(ctx, r, s, "totp", func(tx db.Tx) error {
		if err := p.acceptStep(ctx, tx, s.user.ID, *w.Secret, st, activate); err != nil {
			return err
		}
		if !activate {
			return nil
		}
		if err := p.setUserEnabled(ctx, tx, s.user.ID, true); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, s.user.ID, "two_factor_enable", "success",
			map[string]any{"method": "totp"})
		return nil
	})
	if errors.Is(err, errReplay) {
		return nil, p.fail(ctx, r, s, "totp", ErrInvalidCode)
	}
	if err != nil {
		return nil, p.txError(ctx, err)
	}
	if activate {
		p.e.InvalidateUser(ctx, s.user.ID)
		u, err := p.e.UserByID(ctx, p.e.DB, s.user.ID)
		if err != nil {
			return nil, p.e.DBError(ctx, "load 2fa user", err)
		}
		s.user = u
	}
	return p.complete(ctx, r, s, "totp", trustDevice)
}

// verifyOTP checks an emailed code.
func (p *Plugin) verifyOTP(ctx context.Context, r *core.Request, s *subject, code string,
	trustDevice bool) (*outcome, error) {
	if p.set.DisableOTP {
		return nil, ErrOTPNotConfigured
	}
	w, err := loadRow(ctx, p.e.DB, s.user.ID)
	if err != nil && !errors.Is(err, db.ErrNoRows) {
		return nil, p.e.DBError(ctx, "load 2fa", err)
	}
	if s.challenge != "" && !p.otpAllowed(w) {
		return nil, ErrOTPNotEnabled
	}
	if err := p.checkLock(ctx, w); err != nil {
		return nil, err
	}
	if err := p.spendAttempt(ctx, s); err != nil {
		return nil, err
	}
	key := s.otpKey()
	n, err := p.spend(ctx, otpAttemptsID(key))
	if errors.Is(err, core.ErrVerificationNotFound) {
		return nil, ErrOTPExpired
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "count otp attempt", err)
	}
	if n > OTPAttempts {
		for _, id := range []string{otpID(key), otpAttemptsID(key)} {
			_ = p.e.DeleteVerification(ctx, p.e.DB, id)
		}
		return nil, ErrTooManyAttempts
	}
	stored, err := p.e.PeekVerification(ctx, p.e.DB, otpID(key))
	if errors.Is(err, core.ErrVerificationNotFound) {
		return nil, ErrOTPExpired
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "load otp", err)
	}
	if !sixDigits(code) || !secure.Equal(stored, secure.HashToken(code)) {
		return nil, p.fail(ctx, r, s, "otp", ErrInvalidCode)
	}
	err = p.commit(ctx, r, s, "otp", func(tx db.Tx) error {
		v, err := p.e.ConsumeVerification(ctx, tx, otpID(key))
		if errors.Is(err, core.ErrVerificationNotFound) {
			return errReplay
		}
		if err != nil {
			return err
		}
		if !secure.Equal(v, stored) {
			return errReplay
		}
		return p.e.DeleteVerification(ctx, tx, otpAttemptsID(key))
	})
	if errors.Is(err, errReplay) {
		return nil, p.fail(ctx, r, s, "otp", ErrInvalidCode)
	}
	if err != nil {
		return nil, p.txError(ctx, err)
	}
	return p.complete(ctx, r, s, "otp", trustDevice)
}

// verifyBackup checks and consumes a backup code. The code list is swapped
// by compare-and-swap on its ciphertext; a lost race re-reads the list, so
// one code raced from two requests is accepted once while two different
// codes used at once both work.
func (p *Plugin) verifyBackup(ctx context.Context, r *core.Request, s *subject, code string,
	trustDevice bool) (*outcome, error) {
	w, err := loadRow(ctx, p.e.DB, s.user.ID)
	if errors.Is(err, db.ErrNoRows) {
		return nil, ErrBackupCodesNotEnabled
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "load 2fa", err)
	}
	if err := p.checkLock(ctx, w); err != nil {
		return nil, err
	}
	if err := p.spendAttempt(ctx, s); err != nil {
		return nil, err
	}
	for try := 0; try < 5; try++ {
		codes, err := p.decodeCodes(w.BackupCodes)
		if err != nil {
			p.log.ErrorContext(ctx, "decrypting backup codes", "user_id", s.user.ID,
				"err", err)
			return nil, core.ErrInternal
		}
		i := findCode(codes, code)
		if i < 0 {
			return nil, p.fail(ctx, r, s, "backup", ErrInvalidBackupCode)
		}
		rest := append(append([]string{}, codes[:i]...), codes[i+1:]...)
		next, err := p.encodeCodes(rest)
		if err != nil {
			return nil, core.ErrInternal
		}
		err = p.commit(ctx, r, s, "backup", func(tx db.Tx) error {
			err := p.swapBackupCodes(ctx, tx, s.user.ID, w.BackupCodes, next)
			if err != nil {
				return err
			}
			p.e.SecurityTx(ctx, tx, r, s.user.ID, "two_factor_backup_code", "used",
				map[string]any{"remaining": len(rest)})
			return nil
		})
		if errors.Is(err, errCASConflict) {
			if w, err = loadRow(ctx, p.e.DB, s.user.ID); err != nil {
				return nil, p.e.DBError(ctx, "reload 2fa", err)
			}
			continue
		}
		if err != nil {
			return nil, p.txError(ctx, err)
		}
		return p.complete(ctx, r, s, "backup", trustDevice)
	}
	return nil, ErrBackupCodeRace
}

// findCode returns the index of code in codes, comparing every entry in
// constant time, or -1.
func findCode(codes []string, code string) int {
	at := -1
	for i, c := range codes {
		if secure.Equal(c, code) && at < 0 {
			at = i
		}
	}
	return at
}

// txError maps a failed completing transaction: API errors as they are,
// storage errors through the engine.
func (p *Plugin) txError(ctx context.Context, err error) error {
	if _, ok := core.AsAPIError(err); ok {
		return err
	}
	return p.e.DBError(ctx, "complete 2fa", err)
}

// VerifyChallenge implements core.ChallengeVerifier: the v1 token API
// completes a challenge by its token. Method is "totp", "otp" or "backup".
func (p *Plugin) VerifyChallenge(ctx context.Context, r *core.Request,
	in core.ChallengeInput) (*core.SignInResult, error) {
	tok := in.Token
	if v, ok := p.e.Secrets.VerifyCookie(tok); ok {
		tok = v // the signed cookie form is accepted too
	}
	s, err := p.challengeSubject(ctx, tok)
	if err != nil {
		return nil, err
	}
	var out *outcome
	switch in.Method {
	case "totp", "":
		out, err = p.verifyTOTP(ctx, r, s, in.Code, in.TrustDevice)
	case "otp":
		out, err = p.verifyOTP(ctx, r, s, in.Code, in.TrustDevice)
	case "backup", "backup_code", "backupCode":
		out, err = p.verifyBackup(ctx, r, s, in.Code, in.TrustDevice)
	default:
		return nil, core.ValidationError("body.method",
			`Invalid option: expected one of "totp"|"otp"|"backup"`)
	}
	if err != nil {
		return nil, err
	}
	return out.res, nil
}
