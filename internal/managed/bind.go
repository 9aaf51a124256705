package managed

import (
	"context"
	"time"

	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// Bound is the External of one object over its kind's typed backend client:
// the desired state Spec, sent to Client. A kind's Connector builds one and
// sets the hooks it needs; nil hooks do nothing.
type Bound[S any] struct {
	EngineName string
	Client     port.Client[S]
	Spec       S
	// Mode is how current observations must be (see ObserveMode).
	Mode snapshot.Mode
	// Check runs before the client's own validation: rules of the kind that
	// need the API (an engine-only block on another engine, a password to load).
	Check func(ctx context.Context) error
	// BeforeApply runs before each Apply (a generated password is stored first).
	BeforeApply func(ctx context.Context) error
	// Adjust amends an observation of an existing object.
	Adjust func(obs *Observation)
	// OnReady publishes once the backend object is up to date.
	OnReady func(ctx context.Context) error
	// Next, after OnReady, is how soon the object needs another reconcile
	// (a rotation step due); 0 leaves it to the poll.
	Next func() time.Duration
}

// NextCheck is Next, or 0.
func (b *Bound[S]) NextCheck() time.Duration {
	if b.Next == nil {
		return 0
	}
	return b.Next()
}

// ObserveLive makes the next Observe read the server itself.
func (b *Bound[S]) ObserveLive() { b.Mode = snapshot.Live }

// FromSnapshot reports whether Observe may answer from a server snapshot.
func (b *Bound[S]) FromSnapshot() bool { return b.Mode == snapshot.Cached }

// Engine names the backend for metrics.
func (b *Bound[S]) Engine() string { return b.EngineName }

// Validate runs Check, then the engine's validation.
func (b *Bound[S]) Validate(ctx context.Context) error {
	if b.Check != nil {
		if err := b.Check(ctx); err != nil {
			return err
		}
	}
	return b.Client.Validate(ctx, b.Spec)
}

// Observe asks the engine, then Adjust.
func (b *Bound[S]) Observe(ctx context.Context) (Observation, error) {
	obs, err := b.Client.Observe(ctx, b.Spec, b.Mode)
	if err == nil && obs.Exists && b.Adjust != nil {
		b.Adjust(&obs)
	}
	return obs, err
}

// Apply runs BeforeApply, then the engine's Apply.
func (b *Bound[S]) Apply(ctx context.Context) error {
	if b.BeforeApply != nil {
		if err := b.BeforeApply(ctx); err != nil {
			return err
		}
	}
	return b.Client.Apply(ctx, b.Spec)
}

// Delete asks the engine to delete.
func (b *Bound[S]) Delete(ctx context.Context) error { return b.Client.Delete(ctx, b.Spec) }

// Publish runs OnReady.
func (b *Bound[S]) Publish(ctx context.Context) error {
	if b.OnReady == nil {
		return nil
	}
	return b.OnReady(ctx)
}

// LoginObject is a kind that logs in with a password and publishes a
// connection Secret (DatabaseUser, CacheUser, MessagingUser).
type LoginObject interface {
	Object
	// Login is the status block of the Secret and password last published.
	Login() *common.LoginStatus
	// PasswordRef is spec.passwordSecretRef: nil for a generated password.
	PasswordRef() *common.SecretKeyReference
	// ConnectionSecretName is the connection Secret's name.
	ConnectionSecretName() string
	ConnectionSecretSpec() common.ConnectionSecret
	// RotationSpec is spec.rotation: nil when the password does not rotate.
	RotationSpec() *common.Rotation
}

// Secrets is what login kinds need to read and write Secrets: the cached
// client (connection Secrets are cached), the APIReader (referenced Secrets
// and rollout workloads are not), the scheme (owner references) and the
// recorder for rotation events (nil: none).
type Secrets struct {
	Client   client.Client
	Reader   client.Reader
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// written remembers the rotation stores' own writes (see versions).
	written *versions
}

// SecretsOf is the Secrets access of mgr's clients.
func SecretsOf(mgr interface {
	GetClient() client.Client
	GetAPIReader() client.Reader
	GetScheme() *runtime.Scheme
	GetEventRecorder(name string) recorder.EventRecorder
}) Secrets {
	return Secrets{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("backend-operator"), written: &versions{}}
}
