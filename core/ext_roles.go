package core

import "strings"

// ErrForbidden answers a signed-in user who lacks the role a route needs.
var ErrForbidden = NewError(403, "FORBIDDEN",
	"You are not allowed to perform this action")

// RequireRole checks that the request's user holds role: 401 UNAUTHORIZED
// without a user, 403 FORBIDDEN without the role. users.role may list
// several roles separated by commas ("admin,user"), as Better Auth's admin
// plugin stores them. Routes that call it should use AuthSensitive, so a
// role taken away counts at once rather than after a cached session
// expires.
func RequireRole(r *Request, role string) error {
	if r == nil || r.User == nil {
		return ErrUnauthorized
	}
	for have := range strings.SplitSeq(r.User.Role, ",") {
		if strings.TrimSpace(have) == role && role != "" {
			return nil
		}
	}
	return ErrForbidden
}
