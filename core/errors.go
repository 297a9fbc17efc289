package core

import (
	"errors"
	"fmt"
	"net/http"
)

// APIError is the one public error type: it carries the HTTP status, the
// stable code clients switch on and the human message. It is the only error
// whose text reaches a response; every other error becomes a bare 500.
type APIError struct {
	Status  int
	Code    string
	Message string
	// NoBody makes the encoder answer with the status only, as Better Auth
	// does for a few errors (delete-user disabled, for example).
	NoBody bool
	// Header holds extra response headers (X-Retry-After on a 429).
	Header http.Header
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Is matches APIErrors by code, so errors.Is(err, ErrInvalidToken) works on
// copies with another message.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Code == e.Code && t.Code != ""
}

// WithMessage returns a copy of e with another message.
func (e *APIError) WithMessage(msg string) *APIError {
	c := *e
	c.Message = msg
	return &c
}

// NewError builds an APIError.
func NewError(status int, code, msg string) *APIError {
	return &APIError{Status: status, Code: code, Message: msg}
}

// AsAPIError returns the APIError inside err, if there is one.
func AsAPIError(err error) (*APIError, bool) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae, true
	}
	return nil, false
}

// Errors with Better Auth's codes, messages and statuses (reference §3.2).
var (
	ErrUnauthorized = NewError(401, "UNAUTHORIZED", "Unauthorized")
	ErrBadRequest   = NewError(400, "BAD_REQUEST", "Invalid JSON in request body")
	ErrValidation   = NewError(400, "VALIDATION_ERROR", "Validation error")
	ErrNotFound     = NewError(404, "NOT_FOUND", "Not Found")
	ErrInternal     = NewError(500, "INTERNAL_SERVER_ERROR", "Internal server error")
	ErrUnavailable  = NewError(503, "SERVICE_UNAVAILABLE",
		"The service is temporarily unavailable. Please try again.")
	ErrTooManyRequests = NewError(429, "",
		"Too many requests. Please try again later.")

	ErrUserNotFound           = NewError(400, "USER_NOT_FOUND", "User not found")
	ErrFailedToCreateUser     = NewError(422, "FAILED_TO_CREATE_USER", "Failed to create user")
	ErrFailedToCreateSession  = NewError(400, "FAILED_TO_CREATE_SESSION", "Failed to create session")
	ErrInvalidPassword        = NewError(400, "INVALID_PASSWORD", "Invalid password")
	ErrInvalidEmail           = NewError(400, "INVALID_EMAIL", "Invalid email")
	ErrInvalidEmailOrPassword = NewError(401, "INVALID_EMAIL_OR_PASSWORD",
		"Invalid email or password")
	ErrInvalidUser         = NewError(401, "INVALID_USER", "Invalid user")
	ErrInvalidToken        = NewError(400, "INVALID_TOKEN", "Invalid token")
	ErrTokenExpired        = NewError(401, "TOKEN_EXPIRED", "Token expired")
	ErrEmailNotVerified    = NewError(403, "EMAIL_NOT_VERIFIED", "Email not verified")
	ErrPasswordTooShort    = NewError(400, "PASSWORD_TOO_SHORT", "Password too short")
	ErrPasswordTooLong     = NewError(400, "PASSWORD_TOO_LONG", "Password too long")
	ErrPasswordCompromised = NewError(400, "PASSWORD_COMPROMISED",
		"This password is too common or appears in known data breaches. "+
			"Please choose a different password.")
	ErrUserAlreadyExists = NewError(422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
		"User already exists. Use another email.")
	ErrEmailCannotBeUpdated = NewError(400, "EMAIL_CAN_NOT_BE_UPDATED",
		"Email can not be updated")
	ErrChangeEmailDisabled = NewError(400, "CHANGE_EMAIL_DISABLED",
		"Change email is disabled")
	ErrCredentialAccountNotFound = NewError(400, "CREDENTIAL_ACCOUNT_NOT_FOUND",
		"Credential account not found")
	ErrSessionExpired = NewError(400, "SESSION_EXPIRED",
		"Session expired. Re-authenticate to perform this action.")
	ErrSessionNotFresh     = NewError(403, "SESSION_NOT_FRESH", "Session is not fresh")
	ErrCrossSiteNavigation = NewError(403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
		"Cross-site navigation login blocked. This request appears to be a CSRF attack.")
	ErrVerificationDisabled = NewError(400, "VERIFICATION_EMAIL_NOT_ENABLED",
		"Verification email isn't enabled")
	ErrEmailAlreadyVerified = NewError(400, "EMAIL_ALREADY_VERIFIED",
		"Email is already verified")
	ErrEmailMismatch    = NewError(400, "EMAIL_MISMATCH", "Email mismatch")
	ErrInvalidOrigin    = NewError(403, "INVALID_ORIGIN", "Invalid origin")
	ErrMissingOrigin    = NewError(403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin")
	ErrInvalidCallback  = NewError(403, "INVALID_CALLBACK_URL", "Invalid callbackURL")
	ErrInvalidRedirect  = NewError(403, "INVALID_REDIRECT_URL", "Invalid redirectURL")
	ErrInvalidErrorCB   = NewError(403, "INVALID_ERROR_CALLBACK_URL", "Invalid errorCallbackURL")
	ErrInvalidNewUserCB = NewError(403, "INVALID_NEW_USER_CALLBACK_URL",
		"Invalid newUserCallbackURL")
	ErrCallbackRequired = NewError(400, "CALLBACK_URL_REQUIRED", "callbackURL is required")
	ErrFieldNotAllowed  = NewError(400, "FIELD_NOT_ALLOWED", "Field is not allowed to be set")
	ErrBodyNotObject    = NewError(400, "BODY_MUST_BE_AN_OBJECT", "Body must be an object")
	ErrResetDisabled    = NewError(400, "RESET_PASSWORD_DISABLED",
		"Reset password isn't enabled")
	ErrUnsupportedMedia = NewError(415, "UNSUPPORTED_MEDIA_TYPE",
		"Content-Type is not allowed. Allowed types: application/json")
	ErrBodyTooLarge     = NewError(413, "PAYLOAD_TOO_LARGE", "Request body is too large")
	ErrNoFieldsToUpdate = &APIError{Status: 400, Message: "No fields to update"}
	ErrEmailIsTheSame   = &APIError{Status: 400, Message: "Email is the same"}
)
