package twofactor

import (
	"errors"

	"github.com/mana/mana-auth/core"
)

// Errors with Better Auth's two-factor codes and statuses (reference §9.7).
var (
	ErrOTPNotEnabled    = core.NewError(400, "OTP_NOT_ENABLED", "OTP not enabled")
	ErrOTPNotConfigured = core.NewError(400, "OTP_NOT_CONFIGURED",
		"OTP isn't configured")
	ErrOTPExpired          = core.NewError(400, "OTP_HAS_EXPIRED", "OTP has expired")
	ErrTOTPNotEnabled      = core.NewError(400, "TOTP_NOT_ENABLED", "TOTP not enabled")
	ErrTOTPAlreadyEnabled  = core.NewError(400, "TOTP_ALREADY_ENABLED", "TOTP already enabled")
	ErrTwoFactorNotEnabled = core.NewError(400, "TWO_FACTOR_NOT_ENABLED",
		"Two factor isn't enabled")
	ErrBackupCodesNotEnabled = core.NewError(400, "BACKUP_CODES_NOT_ENABLED",
		"Backup codes aren't enabled")
	ErrInvalidBackupCode = core.NewError(401, "INVALID_BACKUP_CODE", "Invalid backup code")
	ErrInvalidCode       = core.NewError(401, "INVALID_CODE", "Invalid code")
	ErrTooManyAttempts   = core.NewError(400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE",
		"Too many attempts. Please request a new code.")
	ErrAccountLocked = core.NewError(429, "ACCOUNT_TEMPORARILY_LOCKED",
		"Account temporarily locked due to too many failed attempts. Please try again later.")
	ErrInvalidCookie = core.NewError(401, "INVALID_TWO_FACTOR_COOKIE",
		"Invalid two factor cookie")
	ErrBackupCodeRace = core.NewError(409, "CONFLICT",
		"Backup codes changed concurrently. Please try again.")
)

// Internal outcomes of the completing transaction.
var (
	// errReplay: the code was right but its time step, emailed code or
	// challenge was used meanwhile by a racing request.
	errReplay = errors.New("twofactor: one-time value already used")
	// errCASConflict: the backup codes changed between read and write.
	errCASConflict = errors.New("twofactor: backup codes changed concurrently")
)
