package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// AuthMode says what session a route needs.
type AuthMode int

// Auth modes, after Better Auth's session middlewares.
const (
	AuthNone      AuthMode = iota // no session read
	AuthOptional                  // session read when present
	AuthRequired                  // 401 without a session
	AuthSensitive                 // required, read from the database, never a cache
	AuthFresh                     // required and created less than FreshAge ago
	// AuthService: no session; the X-Service-Key header must equal
	// MANA_SERVICE_KEY (Engine.CheckServiceKey).
	AuthService
)

// Route is one HTTP endpoint. Several routes may share a path with
// different methods.
type Route struct {
	Method string // GET, POST, PUT, DELETE
	Path   string // full path with {params}, e.g. /api/auth/reset-password/{token}
	Name   string // stable name for hooks and metrics, e.g. "sign-in/email"
	Auth   AuthMode
	// Form also accepts application/x-www-form-urlencoded bodies.
	Form bool
	// CSRF applies Better Auth's form-CSRF rule even without cookies.
	CSRF bool
	// NoStore marks responses that carry a session, token or user.
	NoStore bool
	// NoOriginCheck skips the cookie-bearing origin check (service routes
	// authenticated by a key, not a cookie).
	NoOriginCheck bool
	Handler       Handler
}

// Handler serves one route.
type Handler func(ctx context.Context, r *Request) (*Response, error)

// Request is the decoded HTTP request every handler receives.
type Request struct {
	HTTP      *http.Request
	Route     *Route
	Body      map[string]json.RawMessage // nil without a body
	RawBody   []byte
	Query     url.Values
	ClientIP  string
	UserAgent string

	// Session and User are set by the session middleware.
	Session *Session
	User    *User
}

// Param returns a path parameter.
func (r *Request) Param(name string) string { return r.HTTP.PathValue(name) }

// Header returns a request header.
func (r *Request) Header(name string) string { return r.HTTP.Header.Get(name) }

// Cookie returns the raw value of a cookie, or "".
func (r *Request) Cookie(name string) string {
	c, err := r.HTTP.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// Has reports whether the body has the key.
func (r *Request) Has(key string) bool {
	_, ok := r.Body[key]
	return ok
}

// Bind decodes the JSON body into dst (a pointer to a struct). Type errors
// become 400 VALIDATION_ERROR with Better Auth's "[body.field]" message.
func (r *Request) Bind(dst any) error {
	if len(r.RawBody) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.RawBody))
	err := dec.Decode(dst)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return ValidationError("body."+te.Field,
			fmt.Sprintf("Invalid input: expected %s, received %s", jsType(te.Type.Kind().String()),
				te.Value))
	}
	return ErrBadRequest
}

// Required takes pairs of body field names and values and returns
// VALIDATION_ERROR for the first value that is empty:
// Required("email", in.Email, "password", in.Password).
func Required(nameValues ...string) error {
	for i := 0; i+1 < len(nameValues); i += 2 {
		if nameValues[i+1] == "" {
			return MissingField("body."+nameValues[i], "string")
		}
	}
	return nil
}

// MissingField is Better Auth's validation error for an absent field of
// the given JavaScript type ("string", "boolean", "object", …); path is
// "body.<field>" or "query.<field>".
func MissingField(path, jsType string) *APIError {
	return ValidationError(path, "Invalid input: expected "+jsType+", received undefined")
}

// ValidationError builds Better Auth's validation error for one field.
func ValidationError(path, msg string) *APIError {
	return ErrValidation.WithMessage("[" + path + "] " + msg)
}

func jsType(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	if strings.HasPrefix(goKind, "int") || strings.HasPrefix(goKind, "float") ||
		strings.HasPrefix(goKind, "uint") {
		return "number"
	}
	return goKind
}

// Response is what a handler answers. The transport writes Body as JSON
// (nil writes null), the cookies in order, and a 302 when Redirect is set.
type Response struct {
	Status   int
	Body     any
	Header   http.Header
	Cookies  []*Cookie
	Redirect string
	// Raw, when set, is written as is with Header's Content-Type.
	Raw []byte
}

// JSON builds a 200 response.
func JSON(body any) *Response { return &Response{Body: body} }

// Redirect builds a 302 response.
func Redirect(to string) *Response { return &Response{Status: http.StatusFound, Redirect: to} }

// SetHeader sets a response header.
func (r *Response) SetHeader(k, v string) {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set(k, v)
}

// AddCookie appends a cookie, replacing an earlier one of the same name so a
// valid value never leaves next to its expiry.
func (r *Response) AddCookie(c *Cookie) {
	for i, old := range r.Cookies {
		if old.Name == c.Name {
			r.Cookies = append(r.Cookies[:i], r.Cookies[i+1:]...)
			break
		}
	}
	r.Cookies = append(r.Cookies, c)
}

// ReadBody reads at most limit bytes of the body; larger bodies answer 413.
func ReadBody(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, ErrBadRequest.WithMessage("Could not read request body")
	}
	if int64(len(b)) > limit {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}
