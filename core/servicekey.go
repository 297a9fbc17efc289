package core

import (
	"crypto/sha256"
	"crypto/subtle"
)

// CheckServiceKey is the one check of service-to-service calls: the
// X-Service-Key header must equal MANA_SERVICE_KEY. The comparison is
// constant-time over SHA-256 digests, so neither content nor length leaks;
// an unset MANA_SERVICE_KEY accepts nothing. Routes ask for it with
// AuthService.
func (e *Engine) CheckServiceKey(r *Request) error {
	want, got := e.Config.ServiceKey, r.Header("X-Service-Key")
	if want == "" || got == "" {
		return ErrUnauthorized
	}
	a, b := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return ErrUnauthorized
	}
	return nil
}
