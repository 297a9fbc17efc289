package vault

import "github.com/mana/mana-auth/core"

// The vault's API errors (WIRE.md §2.3). Their codes are stable.
var (
	// ErrNotInitialized answers a route that needs a vault the user lacks.
	ErrNotInitialized = core.NewError(404, "VAULT_NOT_INITIALIZED",
		"The encryption vault is not initialized")
	// ErrZKRotateForbidden refuses a rotation in zero-knowledge mode: the
	// server cannot produce the key data is encrypted with.
	ErrZKRotateForbidden = core.NewError(409, "ZK_ROTATE_FORBIDDEN",
		"The master key cannot be rotated in zero-knowledge mode")
	// ErrZKActive refuses to delete the recovery wrap in zero-knowledge mode,
	// where it is the only copy of the key.
	ErrZKActive = core.NewError(409, "ZK_ACTIVE",
		"The recovery wrap cannot be removed in zero-knowledge mode")
	// ErrInvalidRecoveryWrap answers a recovery wrap that is not 48 bytes of
	// standard base64 with a 12-byte IV.
	ErrInvalidRecoveryWrap = core.NewError(400, "INVALID_RECOVERY_WRAP",
		"The recovery wrap must be 48 bytes and its IV 12 bytes, in standard base64")
	// ErrRecoveryWrapMissing refuses zero-knowledge mode without a recovery
	// wrap, which would lose the key.
	ErrRecoveryWrapMissing = core.NewError(400, "RECOVERY_WRAP_MISSING",
		"Set a recovery wrap before enabling zero-knowledge mode")
	// ErrInvalidMasterKey answers a master key that is not 32 bytes of
	// standard base64 or is not the vault's key.
	ErrInvalidMasterKey = core.NewError(400, "INVALID_MASTER_KEY",
		"The master key must be the vault's 32-byte key in standard base64")
)
