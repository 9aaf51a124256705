package managed

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/credentials"
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
}

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
}

// Secrets is what login kinds need to read and write Secrets: the cached
// client (connection Secrets are cached), the APIReader (referenced Secrets
// are not) and the scheme (owner references).
type Secrets struct {
	Client client.Client
	Reader client.Reader
	Scheme *runtime.Scheme
}

// WithLogin makes b a login's External: Check loads the password (set into
// the spec with setPassword) and renders the connection Secret from values;
// the Secret is stored before every Apply, so that a generated password is
// never lost; an engine that cannot compare passwords (port.PasswordUnknown)
// has the password reset when its source changed; and OnReady writes the
// Secret and records it in status.
func WithLogin[S any](b *Bound[S], d Secrets, u LoginObject, setPassword func(spec *S, password string), values func(password string) credentials.Values) {
	var conn Connection
	check := b.Check
	b.Check = func(ctx context.Context) error {
		if check != nil {
			if err := check(ctx); err != nil {
				return err
			}
		}
		p, err := LoadPassword(ctx, d.Client, d.Reader, u, u.ConnectionSecretName(), u.PasswordRef())
		if err != nil {
			return err
		}
		conn.Password = p
		setPassword(&b.Spec, p.Value)
		return conn.Render(u, d.Scheme, u.ConnectionSecretName(), u.ConnectionSecretSpec(), values(p.Value))
	}
	b.BeforeApply = func(ctx context.Context) error { return conn.Write(ctx, d.Client) }
	b.Adjust = func(obs *Observation) {
		if obs.Password == port.PasswordUnknown && conn.Version != u.Login().PasswordVersion {
			obs.Drift = append(obs.Drift, "password changed in its Secret")
		}
	}
	b.OnReady = func(ctx context.Context) error {
		if err := conn.Write(ctx, d.Client); err != nil {
			return err
		}
		st := u.Login()
		st.Binding = &common.Binding{Name: conn.Secret.Name}
		st.PasswordVersion = conn.Version
		return nil
	}
}

// SecretsOf is the Secrets access of mgr's clients.
func SecretsOf(mgr interface {
	GetClient() client.Client
	GetAPIReader() client.Reader
	GetScheme() *runtime.Scheme
}) Secrets {
	return Secrets{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme()}
}
