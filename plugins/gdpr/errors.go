package gdpr

import "github.com/mana/mana-auth/core"

// The plugin's API errors. Their codes are stable.
var (
	// ErrUserNotFound answers an admin route naming a user that does not
	// exist.
	ErrUserNotFound = core.NewError(404, "USER_NOT_FOUND", "User not found")
	// ErrNotFresh refuses an erasure from a session older than FreshAge
	// without the password: Better Auth's SESSION_NOT_FRESH code, with a
	// message that says what to do.
	ErrNotFresh = core.ErrSessionNotFresh.WithMessage(
		"Sign in again, or confirm with your password, to erase your data")
)
