// Package backenderr classifies backend failures into stable, CamelCase reasons
// that the reconcile loop turns into conditions. It has no Kubernetes imports.
package backenderr

import (
	"errors"
	"fmt"
)

// Reasons shared by every engine.
const (
	// ReasonInvalidSpec: the spec cannot be applied on this engine; retrying won't help.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonUnavailable: the backend could not be reached or did not answer in time.
	ReasonUnavailable = "BackendUnavailable"
	// ReasonAuthFailed: the backend refused the admin login.
	ReasonAuthFailed = "AuthenticationFailed"
	// ReasonDeletionBlocked: the backend object cannot be removed as things are.
	ReasonDeletionBlocked = "DeletionBlocked"
	// ReasonDependencyMissing: something the spec names does not exist on the backend.
	ReasonDependencyMissing = "DependencyMissing"
	// ReasonBackendError: the backend rejected an operation.
	ReasonBackendError = "BackendError"
)

// Error is a backend failure with a stable reason and a message safe to show in
// a condition (no secrets, no timestamps).
type Error struct {
	Reason string
	// Message is shown to users.
	Message string
	// Terminal marks failures that retrying cannot fix until the spec changes.
	Terminal bool
	// Wait marks expected states that go away by themselves or by someone
	// else's action (a dependency not created yet, a deletion blocked by
	// what the object still owns): they are polled, not retried with backoff.
	Wait bool
	// Announce asks for a Warning event even for a Wait error: something a
	// person must act on (a deletion blocked by data).
	Announce bool
	// Err is the underlying cause, kept for logs.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid reports a spec the engine cannot apply.
func Invalid(format string, args ...any) error {
	return &Error{Reason: ReasonInvalidSpec, Message: fmt.Sprintf(format, args...), Terminal: true}
}

// Unavailable reports a backend that cannot be reached.
func Unavailable(err error) error {
	return &Error{Reason: ReasonUnavailable, Message: "backend unavailable", Err: err}
}

// New reports a failure with the given reason.
func New(reason, message string, cause error) error {
	return &Error{Reason: reason, Message: message, Err: cause}
}

// Missing reports something the spec names that does not exist yet; it is
// polled until it appears.
func Missing(message string, cause error) error {
	return &Error{Reason: ReasonDependencyMissing, Message: message, Err: cause, Wait: true}
}

// Blocked reports a deletion that cannot finish as things are; it is polled
// until the cause goes away.
func Blocked(message string, cause error) error {
	return &Error{Reason: ReasonDeletionBlocked, Message: message, Err: cause, Wait: true, Announce: true}
}

// As returns the classified error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
