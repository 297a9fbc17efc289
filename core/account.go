package core

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/mail"
	"github.com/mana/mana-auth/core/secure"
)

const (
	resetPrefix  = "reset-password:"
	deletePrefix = "delete-account-"
)

// RequestPasswordReset mails a reset link when the email belongs to a user.
// It never says whether it did.
func (e *Engine) RequestPasswordReset(ctx context.Context, r *Request, rawEmail,
	redirectTo string) error {
	email, err := NormalizeEmail(rawEmail)
	if err != nil {
		return nil
	}
	u, err := e.UserByEmail(ctx, e.DB, email)
	if errors.Is(err, db.ErrNoRows) {
		e.Security(ctx, r, "", "password_reset_request", "unknown_user", nil)
		return nil
	}
	if err != nil {
		return e.dbError(ctx, "reset lookup", err)
	}
	token := secure.RandomString(24, secure.AlphaNum)
	if err := e.CreateVerification(ctx, e.DB, resetPrefix+token, u.ID,
		e.Config.Session.ResetTokenTTL); err != nil {
		return e.dbError(ctx, "store reset token", err)
	}
	link := e.Config.AuthURL("/reset-password/"+token) + "?callbackURL=" +
		url.QueryEscape(redirectTo)
	e.SendMail(mail.KindResetPassword, u.Email, mail.Data{URL: link, Email: u.Email,
		Name: u.Name, ExpiresIn: e.Config.Session.ResetTokenTTL})
	e.Security(ctx, r, u.ID, "password_reset_request", "success", nil)
	return nil
}

// ResetTokenValid reports whether a reset token is live (for the GET link).
func (e *Engine) ResetTokenValid(ctx context.Context, token string) bool {
	_, err := e.PeekVerification(ctx, e.DB, resetPrefix+token)
	return err == nil
}

// ResetPassword sets a new password with a reset token. The token is
// consumed in the same transaction that writes the password, so a token
// works once even when raced. Sessions are revoked unless configured off.
func (e *Engine) ResetPassword(ctx context.Context, r *Request, token, newPassword string) error {
	if token == "" {
		return ErrInvalidToken
	}
	userID, err := e.PeekVerification(ctx, e.DB, resetPrefix+token)
	if errors.Is(err, ErrVerificationNotFound) {
		return ErrInvalidToken
	}
	if err != nil {
		return e.dbError(ctx, "reset lookup", err)
	}
	u, err := e.UserByID(ctx, e.DB, userID)
	if errors.Is(err, db.ErrNoRows) {
		return ErrUserNotFound
	}
	if err != nil {
		return e.dbError(ctx, "reset user", err)
	}
	if err := e.CheckNewPassword(newPassword, u.Email); err != nil {
		return err
	}
	hash, err := e.Passwords.Hash(ctx, newPassword)
	if err != nil {
		return e.hashError(ctx, err)
	}
	var revoked []string
	err = e.DB.Tx(ctx, func(tx db.Tx) error {
		v, err := e.ConsumeVerification(ctx, tx, resetPrefix+token)
		if err != nil {
			return err
		}
		if !secure.Equal(v, userID) {
			return ErrVerificationNotFound
		}
		if err := e.setPassword(ctx, tx, userID, hash); err != nil {
			return err
		}
		if e.Config.RevokeOnReset {
			revoked, err = e.deleteSessions(ctx, tx, userID, "")
		}
		return err
	})
	if errors.Is(err, ErrVerificationNotFound) {
		return ErrInvalidToken
	}
	if err != nil {
		return e.dbError(ctx, "reset password", err)
	}
	if e.Config.RevokeOnReset {
		e.Emit(ctx, SessionsRevoked{UserID: userID, Tokens: revoked, All: true})
	}
	e.Security(ctx, r, userID, "password_reset", "success", nil)
	return nil
}

// ChangePassword replaces a signed-in user's password after checking the
// current one. With revokeOthers every session ends and a new one is
// returned.
func (e *Engine) ChangePassword(ctx context.Context, r *Request, current, next string,
	revokeOthers bool) (*Session, error) {
	u := r.User
	if err := e.VerifyUserPassword(ctx, u.ID, current); err != nil {
		e.Security(ctx, r, u.ID, "password_change", "failure", nil)
		return nil, err
	}
	if err := e.CheckNewPassword(next, u.Email); err != nil {
		return nil, err
	}
	hash, err := e.Passwords.Hash(ctx, next)
	if err != nil {
		return nil, e.hashError(ctx, err)
	}
	var sess *Session
	var revoked []string
	err = e.DB.Tx(ctx, func(tx db.Tx) error {
		if err := e.setPassword(ctx, tx, u.ID, hash); err != nil {
			return err
		}
		if !revokeOthers {
			return nil
		}
		if revoked, err = e.deleteSessions(ctx, tx, u.ID, ""); err != nil {
			return err
		}
		sess, err = e.CreateSession(ctx, tx, u.ID, !r.Session.DontRemember, r.Meta())
		return err
	})
	if err != nil {
		return nil, e.dbError(ctx, "change password", err)
	}
	if revokeOthers {
		e.Emit(ctx, SessionsRevoked{UserID: u.ID, Tokens: revoked, All: true})
		e.Emit(ctx, SessionCreated{Session: sess})
	}
	e.Security(ctx, r, u.ID, "password_change", "success",
		map[string]any{"revokeOtherSessions": revokeOthers})
	return sess, nil
}

// VerifyEmailToken checks a verification link and applies it: marks the
// address verified, or carries out an email change.
func (e *Engine) VerifyEmailToken(ctx context.Context, r *Request, token string) (*User, error) {
	var c verificationClaims
	if err := e.Secrets.VerifyJWT(token, e.Now(), &c); err != nil {
		if errors.Is(err, secure.ErrTokenExpired) {
			return nil, ErrTokenExpired
		}
		return nil, ErrInvalidToken.WithMessage("Invalid token")
	}
	u, err := e.UserByEmail(ctx, e.DB, c.Email)
	if errors.Is(err, db.ErrNoRows) {
		return nil, &APIError{Status: 401, Code: "USER_NOT_FOUND", Message: "User not found"}
	}
	if err != nil {
		return nil, e.dbError(ctx, "verify lookup", err)
	}
	if u.ID != c.UserID {
		return nil, ErrInvalidUser
	}
	switch {
	case c.UpdateTo != "" && c.RequestType == "change-email-confirmation":
		e.sendChangeEmailVerification(u, c.UpdateTo, "")
		e.Security(ctx, r, u.ID, "email_change_confirmed", "success", nil)
		return u, nil
	case c.UpdateTo != "":
		return e.applyEmailChange(ctx, r, u, c.UpdateTo)
	}
	if !u.EmailVerified {
		if _, err := e.DB.Exec(ctx, "UPDATE users SET email_verified = $1, updated_at = $2 "+
			"WHERE id = $3", true, e.Now(), u.ID); err != nil {
			return nil, e.dbError(ctx, "verify email", err)
		}
		u.EmailVerified = true
		e.InvalidateUser(ctx, u.ID)
		e.Security(ctx, r, u.ID, "email_verified", "success", nil)
	}
	return u, nil
}

func (e *Engine) applyEmailChange(ctx context.Context, r *Request, u *User,
	newEmail string) (*User, error) {
	now := e.Now()
	_, err := e.DB.Exec(ctx, "UPDATE users SET email = $1, email_verified = $2, "+
		"updated_at = $3 WHERE id = $4", newEmail, true, now, u.ID)
	if errors.Is(err, db.ErrConflict) {
		return nil, ErrInvalidToken.WithMessage("Email is already in use")
	}
	if err != nil {
		return nil, e.dbError(ctx, "change email", err)
	}
	e.InvalidateUser(ctx, u.ID)
	e.Security(ctx, r, u.ID, "email_change", "success", nil)
	u.Email, u.EmailVerified, u.UpdatedAt = newEmail, true, now
	return u, nil
}

// ChangeEmail starts an email change. A verified user first confirms from
// the old address; then a link to the new address completes the change.
// An address already in use answers the same as a free one.
func (e *Engine) ChangeEmail(ctx context.Context, r *Request, rawNew, callbackURL string) error {
	u := r.User
	email, err := NormalizeEmail(rawNew)
	if err != nil {
		return err
	}
	if email == u.Email {
		return ErrEmailIsTheSame
	}
	if _, err := e.UserByEmail(ctx, e.DB, email); err == nil {
		e.Security(ctx, r, u.ID, "email_change_request", "address_taken", nil)
		return nil
	} else if !errors.Is(err, db.ErrNoRows) {
		return e.dbError(ctx, "change email lookup", err)
	}
	e.Security(ctx, r, u.ID, "email_change_request", "success", nil)
	if !u.EmailVerified {
		e.sendChangeEmailVerification(u, email, callbackURL)
		return nil
	}
	link, err := e.verificationURL(verificationClaims{Email: u.Email, UserID: u.ID,
		UpdateTo: email, RequestType: "change-email-confirmation"}, callbackURL)
	if err != nil {
		return err
	}
	e.SendMail(mail.KindChangeEmail, u.Email, mail.Data{URL: link, Email: email,
		Name: u.Name, ExpiresIn: e.Config.Session.VerifyTokenTTL})
	return nil
}

func (e *Engine) sendChangeEmailVerification(u *User, newEmail, callbackURL string) {
	link, err := e.verificationURL(verificationClaims{Email: u.Email, UserID: u.ID,
		UpdateTo: newEmail, RequestType: "change-email-verification"}, callbackURL)
	if err != nil {
		e.Log.Error("signing verification token", "err", err)
		return
	}
	e.SendMail(mail.KindVerifyEmail, newEmail, mail.Data{URL: link, Email: newEmail,
		Name: u.Name, ExpiresIn: e.Config.Session.VerifyTokenTTL})
}

// UpdateUser changes the name and image of a user.
func (e *Engine) UpdateUser(ctx context.Context, userID string, name, image *string) error {
	sets, args := []string{}, []any{}
	if name != nil {
		args = append(args, *name)
		sets = append(sets, "name = $"+strconv.Itoa(len(args)))
	}
	if image != nil {
		if *image == "" {
			args = append(args, nil)
		} else {
			args = append(args, *image)
		}
		sets = append(sets, "image = $"+strconv.Itoa(len(args)))
	}
	if len(sets) == 0 {
		return ErrNoFieldsToUpdate
	}
	args = append(args, e.Now(), userID)
	q := "UPDATE users SET " + strings.Join(sets, ", ") + ", updated_at = $" +
		strconv.Itoa(len(args)-1) + " WHERE id = $" + strconv.Itoa(len(args))
	if _, err := e.DB.Exec(ctx, q, args...); err != nil {
		return e.dbError(ctx, "update user", err)
	}
	e.InvalidateUser(ctx, userID)
	return nil
}

// RequestDeleteUser mails a deletion link to the signed-in user.
func (e *Engine) RequestDeleteUser(ctx context.Context, r *Request, callbackURL string) error {
	token := secure.RandomString(32, secure.LowerAlphaNum)
	if err := e.CreateVerification(ctx, e.DB, deletePrefix+token, r.User.ID,
		e.Config.Session.DeleteTokenTTL); err != nil {
		return e.dbError(ctx, "store delete token", err)
	}
	if callbackURL == "" {
		callbackURL = "/"
	}
	link := e.Config.AuthURL("/delete-user/callback") + "?token=" + token +
		"&callbackURL=" + url.QueryEscape(callbackURL)
	e.SendMail(mail.KindDeleteAccount, r.User.Email, mail.Data{URL: link,
		Email: r.User.Email, Name: r.User.Name, ExpiresIn: e.Config.Session.DeleteTokenTTL})
	e.Security(ctx, r, r.User.ID, "delete_request", "success", nil)
	return nil
}

// DeleteUserWithToken deletes the signed-in user with a mailed token.
func (e *Engine) DeleteUserWithToken(ctx context.Context, r *Request, token string) error {
	return e.DeleteUser(ctx, r, r.User.ID, func(tx db.Tx) error {
		v, err := e.ConsumeVerification(ctx, tx, deletePrefix+token)
		if errors.Is(err, ErrVerificationNotFound) || (err == nil && !secure.Equal(v, r.User.ID)) {
			return &APIError{Status: 404, Code: "INVALID_TOKEN", Message: "Invalid token"}
		}
		return err
	})
}

// DeleteUser deletes a user and every row a plugin keeps about it, in one
// transaction; check runs first inside it (e.g. consuming a token).
func (e *Engine) DeleteUser(ctx context.Context, r *Request, userID string,
	check func(tx db.Tx) error) error {
	var email string
	err := e.DB.Tx(ctx, func(tx db.Tx) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		u, err := e.UserByID(ctx, tx, userID)
		if err != nil {
			return err
		}
		email = u.Email
		if err := e.EraseUserData(ctx, tx, userID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM users WHERE id = $1", userID)
		return err
	})
	if errors.Is(err, db.ErrNoRows) {
		return ErrUserNotFound
	}
	if err != nil {
		return e.dbError(ctx, "delete user", err)
	}
	e.Emit(ctx, SessionsRevoked{UserID: userID, All: true})
	e.Emit(ctx, UserDeleted{UserID: userID, Email: email})
	e.Log.InfoContext(ctx, "security event", "event", "user_deleted", "user_id", userID)
	return nil
}

// EraseUserData calls every UserDataProvider's Erase inside tx.
func (e *Engine) EraseUserData(ctx context.Context, tx db.Tx, userID string) error {
	for _, p := range e.plugins {
		if up, ok := p.(UserDataProvider); ok {
			if _, err := up.EraseUserData(ctx, tx, userID); err != nil {
				return err
			}
		}
	}
	return nil
}
