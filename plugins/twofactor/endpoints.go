package twofactor

import (
	"context"
	"errors"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/mail"
	"github.com/mana/mana-auth/core/secure"
)

// Routes implements core.RouteProvider: Better Auth's eight /two-factor/*
// endpoints, all POST (reference §9.1).
func (p *Plugin) Routes() []core.Route {
	base := p.cfg.BasePath + "/two-factor"
	r := func(path string, auth core.AuthMode, h core.Handler) core.Route {
		return core.Route{Method: "POST", Path: base + path, Name: "two-factor" + path,
			Auth: auth, NoStore: true, Handler: h}
	}
	return []core.Route{
		r("/enable", core.AuthSensitive, p.hEnable),
		r("/disable", core.AuthSensitive, p.hDisable),
		r("/get-totp-uri", core.AuthRequired, p.hGetTOTPURI),
		r("/verify-totp", core.AuthOptional, p.hVerifyTOTP),
		r("/send-otp", core.AuthOptional, p.hSendOTP),
		r("/verify-otp", core.AuthOptional, p.hVerifyOTP),
		r("/verify-backup-code", core.AuthOptional, p.hVerifyBackup),
		r("/generate-backup-codes", core.AuthSensitive, p.hGenerateBackupCodes),
	}
}

// checkPassword confirms a signed-in user's password. With
// AllowPasswordless, a user who has none may send an empty one.
func (p *Plugin) checkPassword(ctx context.Context, u *core.User, pw string) error {
	if pw == "" && !p.set.AllowPasswordless {
		return core.Required("password", pw)
	}
	err := p.e.VerifyUserPassword(ctx, u.ID, pw)
	if errors.Is(err, core.ErrCredentialAccountNotFound) && p.set.AllowPasswordless &&
		pw == "" {
		return nil
	}
	return err
}

func (p *Plugin) hEnable(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Password string `json:"password"`
		Issuer   string `json:"issuer"`
		Method   string `json:"method"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	switch in.Method {
	case "", "totp", "otp":
	default:
		return nil, core.ValidationError("body.method",
			`Invalid option: expected one of "totp"|"otp"`)
	}
	if err := p.checkPassword(ctx, r.User, in.Password); err != nil {
		return nil, err
	}
	if in.Method == "otp" {
		return p.enableOTP(ctx, r)
	}
	return p.enableTOTP(ctx, r, in.Issuer)
}

// enableTOTP enrols a new secret. Unless SkipVerificationOnEnable, 2FA
// becomes active only with the first correct verify-totp.
func (p *Plugin) enableTOTP(ctx context.Context, r *core.Request,
	issuer string) (*core.Response, error) {
	u := r.User
	secret := newSecret()
	secretCT, err := p.e.Secrets.Encrypt(secret)
	if err != nil {
		return nil, core.ErrInternal
	}
	codes := newBackupCodes()
	codesCT, err := p.encodeCodes(codes)
	if err != nil {
		return nil, core.ErrInternal
	}
	active := p.set.SkipVerificationOnEnable
	err = p.e.DB.Tx(ctx, func(tx db.Tx) error {
		if err := p.putTOTP(ctx, tx, u.ID, secretCT, codesCT, active); err != nil {
			return err
		}
		outcome := "pending"
		if active {
			outcome = "success"
			if err := p.setUserEnabled(ctx, tx, u.ID, true); err != nil {
				return err
			}
		}
		p.e.SecurityTx(ctx, tx, r, u.ID, "two_factor_enable", outcome,
			map[string]any{"method": "totp"})
		return nil
	})
	if err != nil {
		return nil, p.txError(ctx, err)
	}
	if active {
		p.e.InvalidateUser(ctx, u.ID)
	}
	if issuer == "" {
		issuer = p.set.Issuer
	}
	return core.JSON(map[string]any{"method": "totp",
		"totpURI": TOTPURI(secret, issuer, u.Email), "backupCodes": codes}), nil
}

// enableOTP turns 2FA on with the emailed code as the method.
func (p *Plugin) enableOTP(ctx context.Context, r *core.Request) (*core.Response, error) {
	if p.set.DisableOTP {
		return nil, ErrOTPNotConfigured
	}
	u := r.User
	err := p.e.DB.Tx(ctx, func(tx db.Tx) error {
		if err := p.putOTPOnly(ctx, tx, u.ID); err != nil {
			return err
		}
		if err := p.setUserEnabled(ctx, tx, u.ID, true); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, u.ID, "two_factor_enable", "success",
			map[string]any{"method": "otp"})
		return nil
	})
	if err != nil {
		return nil, p.txError(ctx, err)
	}
	p.e.InvalidateUser(ctx, u.ID)
	return core.JSON(map[string]any{"method": "otp"}), nil
}

func (p *Plugin) hDisable(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Password string `json:"password"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := p.checkPassword(ctx, r.User, in.Password); err != nil {
		return nil, err
	}
	uid := r.User.ID
	err := p.e.DB.Tx(ctx, func(tx db.Tx) error {
		if err := p.setUserEnabled(ctx, tx, uid, false); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM two_factors WHERE user_id = $1", uid)
		if err != nil {
			return err
		}
		if _, err := deleteTrust(ctx, tx, uid); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, uid, "two_factor_disable", "success", nil)
		return nil
	})
	if err != nil {
		return nil, p.e.DBError(ctx, "disable 2fa", err)
	}
	p.e.InvalidateUser(ctx, uid)
	resp := core.JSON(map[string]bool{"status": true})
	resp.AddCookie(p.e.Cookies.Expire(cookieTrustDevice))
	return resp, nil
}

func (p *Plugin) hGetTOTPURI(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Password string `json:"password"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := p.checkPassword(ctx, r.User, in.Password); err != nil {
		return nil, err
	}
	w, err := loadRow(ctx, p.e.DB, r.User.ID)
	if errors.Is(err, db.ErrNoRows) || (err == nil && w.Secret == nil) {
		return nil, ErrTOTPNotEnabled
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "load 2fa", err)
	}
	secret, err := p.e.Secrets.Decrypt(*w.Secret)
	if err != nil {
		p.log.ErrorContext(ctx, "decrypting TOTP secret", "user_id", r.User.ID, "err", err)
		return nil, core.ErrInternal
	}
	return core.JSON(map[string]string{
		"totpURI": TOTPURI(secret, p.set.Issuer, r.User.Email)}), nil
}

// verifyInput is the body of the three verify endpoints.
type verifyInput struct {
	Code           string `json:"code"`
	TrustDevice    bool   `json:"trustDevice"`
	DisableSession bool   `json:"disableSession"`
}

func (p *Plugin) verifyHandler(ctx context.Context, r *core.Request,
	check func(context.Context, *core.Request, *subject, string, bool) (*outcome, error),
) (*core.Response, error) {
	var in verifyInput
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := core.Required("code", in.Code); err != nil {
		return nil, err
	}
	s, err := p.subjectOf(ctx, r)
	if err != nil {
		return nil, err
	}
	out, err := check(ctx, r, s, in.Code, in.TrustDevice)
	if err != nil {
		return nil, err
	}
	resp := core.JSON(map[string]any{"token": out.token, "user": out.user})
	for _, c := range out.cookies {
		resp.AddCookie(c)
	}
	return resp, nil
}

func (p *Plugin) hVerifyTOTP(ctx context.Context, r *core.Request) (*core.Response, error) {
	return p.verifyHandler(ctx, r, p.verifyTOTP)
}

func (p *Plugin) hVerifyOTP(ctx context.Context, r *core.Request) (*core.Response, error) {
	return p.verifyHandler(ctx, r, p.verifyOTP)
}

// hVerifyBackup accepts Better Auth's disableSession flag but always signs
// in: a consumed backup code that yields no session would only lose a code.
func (p *Plugin) hVerifyBackup(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	return p.verifyHandler(ctx, r, p.verifyBackup)
}

// hSendOTP mails a 6-digit code to the user of the session or challenge.
// Besides Better Auth's session and cookie, it takes the v1 challenge token
// as body.twoFactorToken, so clients without cookies can ask for a code.
func (p *Plugin) hSendOTP(ctx context.Context, r *core.Request) (*core.Response, error) {
	if p.set.DisableOTP {
		return nil, ErrOTPNotConfigured
	}
	var in struct {
		TwoFactorToken string `json:"twoFactorToken"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	var s *subject
	var err error
	if r.Session == nil && in.TwoFactorToken != "" &&
		p.e.Cookies.ReadSigned(r, cookieTwoFactor) == "" {
		s, err = p.challengeSubject(ctx, in.TwoFactorToken)
	} else {
		s, err = p.subjectOf(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	if s.challenge != "" {
		w, err := loadRow(ctx, p.e.DB, s.user.ID)
		if err != nil && !errors.Is(err, db.ErrNoRows) {
			return nil, p.e.DBError(ctx, "load 2fa", err)
		}
		if !p.otpAllowed(w) {
			return nil, ErrOTPNotEnabled
		}
	}
	code := secure.RandomString(OTPDigits, "0123456789")
	key := s.otpKey()
	err = p.e.DB.Tx(ctx, func(tx db.Tx) error {
		for _, id := range []string{otpID(key), otpAttemptsID(key)} {
			if err := p.e.DeleteVerification(ctx, tx, id); err != nil {
				return err
			}
		}
		if err := p.e.CreateVerification(ctx, tx, otpID(key), secure.HashToken(code),
			OTPTTL); err != nil {
			return err
		}
		return p.e.CreateVerification(ctx, tx, otpAttemptsID(key), "0", OTPTTL)
	})
	if err != nil {
		return nil, p.e.DBError(ctx, "store otp", err)
	}
	p.e.SendMail(mail.KindOTP, s.user.Email, mail.Data{Code: code, Email: s.user.Email,
		Name: s.user.Name, ExpiresIn: OTPTTL})
	p.e.Security(ctx, r, s.user.ID, "two_factor_otp_sent", "success", nil)
	return core.JSON(map[string]bool{"status": true}), nil
}

func (p *Plugin) hGenerateBackupCodes(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	var in struct {
		Password string `json:"password"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := p.checkPassword(ctx, r.User, in.Password); err != nil {
		return nil, err
	}
	if !enabled(r.User) {
		return nil, ErrTwoFactorNotEnabled
	}
	codes := newBackupCodes()
	ct, err := p.encodeCodes(codes)
	if err != nil {
		return nil, core.ErrInternal
	}
	uid := r.User.ID
	err = p.e.DB.Tx(ctx, func(tx db.Tx) error {
		n, err := tx.Exec(ctx, "UPDATE two_factors SET backup_codes = $1, updated_at = $2 "+
			"WHERE user_id = $3", ct, p.now(), uid)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrTwoFactorNotEnabled
		}
		p.e.SecurityTx(ctx, tx, r, uid, "two_factor_backup_codes", "regenerated", nil)
		return nil
	})
	if err != nil {
		return nil, p.txError(ctx, err)
	}
	return core.JSON(map[string]any{"status": true, "backupCodes": codes}), nil
}
