package nats

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

// ReasonJetStreamDisabled: the server answered, but JetStream is not
// enabled for the account (or not in the configured domain).
const ReasonJetStreamDisabled = "JetStreamDisabled"

// ReasonRefused: the server refused a change (a setting it cannot change in
// place, a limit, a bad combination). Terminal until the spec changes; the
// message carries the server's description and JetStream error code.
const ReasonRefused = "Refused"

// apiError returns the JetStream API error in err's chain, if any.
func apiError(err error) (*jetstream.APIError, bool) {
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae != nil {
		return ae, true
	}
	return nil, false
}

// hasCode reports whether err is a JetStream API error with one of codes.
func hasCode(err error, codes ...jetstream.ErrorCode) bool {
	ae, ok := apiError(err)
	if !ok {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode == c {
			return true
		}
	}
	return false
}

// isStreamNotFound and isConsumerNotFound recognise the 404s of reads and
// deletes.
func isStreamNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || hasCode(err, jetstream.JSErrCodeStreamNotFound)
}

func isConsumerNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || hasCode(err, jetstream.JSErrCodeConsumerNotFound)
}

// classify turns a failed request into a backenderr with a stable reason:
// no answer in time, no connection or no responders are BackendUnavailable;
// a refused login AuthenticationFailed; JetStream off for the account
// JetStreamDisabled (polled); a 503 (no quorum, no resources yet) a
// retryable BackendError; any other JetStream API error, whatever its
// status (the server answers some refused updates with 500), a terminal
// Refused with the server's description and error code. Messages never quote credentials: nats.go's errors hold none.
func classify(what string, err error) error {
	if _, ok := backenderr.As(err); ok {
		return err
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		hasCode(err, jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount):
		return &backenderr.Error{Reason: ReasonJetStreamDisabled, Wait: true, Err: err,
			Message: what + ": JetStream is not enabled for this account (or does not answer in the configured domain)"}
	case errors.Is(err, natsgo.ErrAuthorization), errors.Is(err, natsgo.ErrAuthExpired), errors.Is(err, natsgo.ErrAuthRevoked),
		errors.Is(err, natsgo.ErrAccountAuthExpired):
		return backenderr.New(backenderr.ReasonAuthFailed, what+": the server refused the admin login", err)
	case errors.Is(err, natsgo.ErrPermissionViolation):
		return backenderr.New(backenderr.ReasonAuthFailed, what+": the admin login is not permitted to use the JetStream API", err)
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return backenderr.New(backenderr.ReasonUnavailable, what+": the server's TLS certificate was refused", err)
	}
	if ae, ok := apiError(err); ok {
		desc := strings.Join(strings.Fields(ae.Description), " ")
		if ae.Code == 503 {
			return backenderr.New(backenderr.ReasonBackendError,
				fmt.Sprintf("%s: %s (JetStream error %d)", what, desc, ae.ErrorCode), err)
		}
		return &backenderr.Error{Reason: ReasonRefused, Terminal: true, Err: err,
			Message: fmt.Sprintf("%s: the server refused: %s (JetStream error %d)", what, desc, ae.ErrorCode)}
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, natsgo.ErrTimeout) ||
		errors.Is(err, natsgo.ErrNoServers) || errors.Is(err, natsgo.ErrConnectionClosed) || errors.Is(err, natsgo.ErrDisconnected) ||
		errors.Is(err, natsgo.ErrConnectionReconnecting) || errors.Is(err, natsgo.ErrReconnectBufExceeded) ||
		errors.Is(err, natsgo.ErrNoResponders) || errors.As(err, &netErr) {
		return &backenderr.Error{Reason: backenderr.ReasonUnavailable, Message: what + ": the NATS server did not answer", Err: err}
	}
	return backenderr.New(backenderr.ReasonBackendError, what+": "+err.Error(), err)
}
