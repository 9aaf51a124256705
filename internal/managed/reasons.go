package managed

import (
	"errors"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

// ConditionReady is the condition every managed kind reports.
const ConditionReady = "Ready"

// Reasons of the Ready condition. Backend failures add those of backenderr.
const (
	ReasonAvailable        = "Available"
	ReasonDeleting         = "Deleting"
	ReasonConflict         = "Conflict"
	ReasonAlreadyExists    = "AlreadyExists"
	ReasonDrifted          = "Drifted"
	ReasonNotFound         = "NotFound"
	ReasonServerNotFound   = "ServerNotFound"
	ReasonServerNotAllowed = "ServerNotAllowed"
	ReasonServerNotReady   = "ServerNotReady"
	ReasonSecretNotFound   = "SecretNotFound"
	ReasonSecretInvalid    = "SecretInvalid"
	ReasonInvalidSpec      = backenderr.ReasonInvalidSpec

	// ConditionStalled is True while the object cannot progress without a
	// person changing something (its spec, another object, a namespace
	// label): kstatus (Flux, kpt) reads it as Failed.
	ConditionStalled = "Stalled"
)

// Reasoned is an error with the condition reason and message to report.
type Reasoned struct {
	Reason  string
	Message string
	// Terminal errors are not retried until the object changes.
	Terminal bool
	// Wait errors are expected states (a server not ready yet): they are polled
	// rather than retried with backoff, and logged quietly.
	Wait bool
	// Announce emits a Warning event for a Wait error too, when its reason
	// is new: a state a person must act on.
	Announce bool
	// Pending marks a Wait on another object this operator is about to
	// create (a Database a grant names, not reconciled yet): the first such
	// wait for each reason of an object that has no Ready condition yet
	// writes no status, since the other object's Ready change wakes it (see
	// Pending).
	Pending bool
	Err     error
}

func (e *Reasoned) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Reasoned) Unwrap() error { return e.Err }

// Fail returns a Reasoned error that is retried with backoff.
func Fail(reason, message string, err error) error {
	return &Reasoned{Reason: reason, Message: message, Err: err}
}

// Wait returns a Reasoned error for a state that is polled, not retried.
func Wait(reason, message string) error {
	return &Reasoned{Reason: reason, Message: message, Wait: true}
}

// Pending returns a Wait error for an object whose dependency is another
// object of this operator that has not been reconciled yet. Its first such
// wait for reason, while the object has no Ready condition, writes nothing
// (at most one quiet wait per reason: the server, then a database): no status
// that the dependency's Ready change (which wakes the object) would
// overwrite a moment later. A wait that lasts past the wait interval is
// reported like any Wait.
func Pending(reason, message string) error {
	return &Reasoned{Reason: reason, Message: message, Wait: true, Pending: true}
}

// Invalid returns a terminal InvalidSpec error.
func Invalid(message string) error {
	return &Reasoned{Reason: ReasonInvalidSpec, Message: message, Terminal: true}
}

// stalledReasons are the polled states that wait on a person rather than
// on time: another object's claim, an object to adopt, a namespace to admit.
var stalledReasons = map[string]bool{ReasonConflict: true, ReasonAlreadyExists: true, ReasonServerNotAllowed: true}

// stalled reports whether a failure classified as c needs a person.
func stalled(c Reasoned) bool { return c.Terminal || stalledReasons[c.Reason] }

// classify extracts reason, message and retry class from err. The class is
// carried by the error (Reasoned, backenderr.Error), never inferred from
// its reason.
func classify(err error) Reasoned {
	var r *Reasoned
	if errors.As(err, &r) {
		return *r
	}
	if be, ok := backenderr.As(err); ok {
		return Reasoned{Reason: be.Reason, Message: be.Message, Terminal: be.Terminal, Wait: be.Wait, Announce: be.Announce, Err: err}
	}
	return Reasoned{Reason: backenderr.ReasonBackendError, Message: "unexpected error; see the operator log", Err: err}
}
