package admin

import "github.com/mana/mana-auth/core"

// The plugin's API errors. Their codes are stable.
var (
	// ErrUserNotFound answers a route naming a user that does not exist.
	ErrUserNotFound = core.NewError(404, "USER_NOT_FOUND", "User not found")
	// ErrInvalidTier answers a tier that is not in ACCESS_TIERS.
	ErrInvalidTier = core.NewError(400, "INVALID_TIER", "Invalid tier")
)
