package core

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/mana/mana-auth/core/mail"
)

// SendMail renders a template and sends it in the background, so the
// request's timing does not depend on whether a mail went out (no account
// enumeration through latency) and a slow SMTP server cannot stall
// sign-up. Failures are logged without the message. Wait drains pending
// mail on shutdown.
func (e *Engine) SendMail(kind mail.Kind, to string, d mail.Data) {
	if d.AppName == "" {
		d.AppName = "mana"
	}
	m, err := mail.Render(kind, to, d)
	if err != nil {
		e.Log.Error("rendering mail", "kind", kind, "err", err)
		return
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Mail.Send(ctx, m); err != nil {
			e.Log.Error("sending mail", "kind", kind, "err", err)
		}
	}()
}

// Go runs fn in the background, tracked so Wait can drain it.
func (e *Engine) Go(fn func()) {
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		fn()
	}()
}

// Wait blocks until background work (mail) has finished.
func (e *Engine) Wait() { e.bg.Wait() }

// verificationClaims is the payload of Better Auth's email verification JWT.
// Field order matters: it is the order Better Auth writes.
type verificationClaims struct {
	Email       string `json:"email"`
	UserID      string `json:"userId"`
	UpdateTo    string `json:"updateTo,omitempty"`
	RequestType string `json:"requestType,omitempty"`
	Iat         int64  `json:"iat"`
	Exp         int64  `json:"exp"`
}

// verificationURL signs a verification token and builds its link.
func (e *Engine) verificationURL(c verificationClaims, callbackURL string) (string, error) {
	now := e.Now()
	c.Iat, c.Exp = now.Unix(), now.Add(e.Config.Session.VerifyTokenTTL).Unix()
	tok, err := e.Secrets.SignJWT(c)
	if err != nil {
		return "", err
	}
	if callbackURL == "" {
		callbackURL = "/"
	}
	return e.Config.AuthURL("/verify-email") + "?token=" + url.QueryEscape(tok) +
		"&callbackURL=" + url.QueryEscape(callbackURL), nil
}

// SendVerificationEmail mails u a link that verifies its address.
func (e *Engine) SendVerificationEmail(u *User, callbackURL string) {
	link, err := e.verificationURL(verificationClaims{Email: u.Email, UserID: u.ID}, callbackURL)
	if err != nil {
		e.Log.Error("signing verification token", "err", err)
		return
	}
	e.SendMail(mail.KindVerifyEmail, u.Email, mail.Data{URL: link, Email: u.Email,
		Name: u.Name, ExpiresIn: e.Config.Session.VerifyTokenTTL})
}

// undeliverable is the mailer of a production server without SMTP: every
// send fails (and is logged as failed, without the message), because
// writing mail to the log would put secrets there.
type undeliverable struct{}

// Send implements mail.Sender.
func (undeliverable) Send(context.Context, mail.Message) error {
	return errors.New("no SMTP server configured (SMTP_HOST)")
}
