package core

import (
	"strconv"
	"strings"
)

// Cookie is a Set-Cookie line. It is serialized in Better Auth's attribute
// order (name=value; Max-Age; Domain; Path; HttpOnly; Secure; SameSite) so
// responses match byte for byte.
type Cookie struct {
	Name  string
	Value string
	// MaxAge < 0 omits the attribute (a browser-session cookie); 0 deletes.
	MaxAge   int
	Domain   string
	Path     string
	HTTPOnly bool
	Secure   bool
	SameSite string // "Lax", "Strict", "None"
}

// String serializes the cookie for a Set-Cookie header.
func (c *Cookie) String() string {
	var b strings.Builder
	b.Grow(len(c.Name) + len(c.Value) + 64)
	b.WriteString(c.Name)
	b.WriteByte('=')
	b.WriteString(c.Value)
	if c.MaxAge >= 0 {
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(c.MaxAge))
	}
	if c.Domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(c.Domain)
	}
	if c.Path != "" {
		b.WriteString("; Path=")
		b.WriteString(c.Path)
	}
	if c.HTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	if c.SameSite != "" {
		b.WriteString("; SameSite=")
		b.WriteString(c.SameSite)
	}
	return b.String()
}

// Cookie names used by the core (logical names, before the prefix).
const (
	CookieSessionToken = "session_token"
	CookieDontRemember = "dont_remember"
	CookieSessionData  = "session_data"
)

// Cookies builds and reads every auth cookie: one place for names,
// attributes and the signed envelope.
type Cookies struct {
	prefix string
	domain string
	secure bool
	e      *Engine
}

func newCookies(e *Engine) *Cookies {
	c := &Cookies{prefix: e.Config.CookiePrefix + ".", domain: e.Config.CookieDomain,
		secure: e.Config.Secure(), e: e}
	if c.secure {
		c.prefix = "__Secure-" + c.prefix
	}
	return c
}

// Name returns the full cookie name for a logical name.
func (c *Cookies) Name(logical string) string { return c.prefix + logical }

// New builds a cookie with the default attributes. maxAge < 0 omits Max-Age.
func (c *Cookies) New(logical, value string, maxAge int) *Cookie {
	return &Cookie{Name: c.Name(logical), Value: value, MaxAge: maxAge, Domain: c.domain,
		Path: "/", HTTPOnly: true, Secure: c.secure, SameSite: "Lax"}
}

// Signed builds a cookie whose value is signed with the auth secret.
func (c *Cookies) Signed(logical, value string, maxAge int) *Cookie {
	return c.New(logical, c.e.Secrets.SignCookie(value), maxAge)
}

// Expire builds the deletion of a cookie (empty value, Max-Age=0).
func (c *Cookies) Expire(logical string) *Cookie { return c.New(logical, "", 0) }

// ReadSigned returns the verified value of a signed cookie on the request,
// or "" when it is absent, tampered or signed with a foreign secret.
func (c *Cookies) ReadSigned(r *Request, logical string) string {
	raw := r.Cookie(c.Name(logical))
	if raw == "" {
		return ""
	}
	v, ok := c.e.Secrets.VerifyCookie(raw)
	if !ok {
		return ""
	}
	return v
}

// Session builds the cookies of a new or refreshed session.
func (c *Cookies) Session(s *Session) []*Cookie {
	if s.DontRemember {
		return []*Cookie{
			c.Signed(CookieSessionToken, s.Token, -1),
			c.Signed(CookieDontRemember, "true", -1),
		}
	}
	maxAge := int(c.e.Config.Session.ExpiresIn.Seconds())
	return []*Cookie{c.Signed(CookieSessionToken, s.Token, maxAge)}
}

// ClearSession builds the deletions of every session cookie.
func (c *Cookies) ClearSession() []*Cookie {
	return []*Cookie{
		c.Expire(CookieSessionToken),
		c.Expire(CookieSessionData),
		c.Expire(CookieDontRemember),
	}
}
