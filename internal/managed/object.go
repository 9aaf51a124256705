// Package managed is the reconcile loop every managed kind shares: finalizer,
// conflict and adoption checks, validation, observe then create/repair/delete
// through a small External port, conditions, events, metrics and requeueing.
// Kinds plug in a Connector and are wired by Setup; the loop never imports a
// backend driver.
package managed

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
)

// Object is what a managed kind exposes to the loop.
type Object interface {
	client.Object
	// ManagedStatus returns the status block the loop maintains.
	ManagedStatus() *common.ManagedStatus
	// BackendName is the name of the backend object (spec.name or metadata.name).
	BackendName() string
	DeletionPolicy() common.DeletionPolicy
	ManagementPolicy() common.ManagementPolicy
	AdoptExisting() bool
	// ClaimKey identifies the backend object among all objects of the kind:
	// two objects with the same key claim the same backend object.
	ClaimKey() string
}

// Observation is what External.Observe found.
type Observation = port.Observation

// External is one object's view of its backend, valid for one reconcile.
// The loop calls Validate before Observe, Apply and Publish, and never
// before Delete, so a spec that cannot be applied never blocks a deletion.
type External interface {
	// Engine names the backend for metrics, such as postgres.
	Engine() string
	// Validate checks the spec against the engine and loads what Apply needs
	// (a password, a rendered Secret) before anything is written.
	Validate(ctx context.Context) error
	Observe(ctx context.Context) (Observation, error)
	// Apply creates the backend object or repairs every difference.
	Apply(ctx context.Context) error
	// Delete removes the backend object; already gone is success.
	Delete(ctx context.Context) error
	// Publish runs once the backend object is up to date, for example to write
	// a connection Secret. It must be idempotent and cheap when nothing changed.
	Publish(ctx context.Context) error
}

// Connector resolves an object's server into an External. Its errors are
// reported with their reason (see Reasoned).
type Connector[T Object] interface {
	Connect(ctx context.Context, obj T) (External, error)
}

// ConnectorFunc is a Connector made of a function.
type ConnectorFunc[T Object] func(ctx context.Context, obj T) (External, error)

// Connect calls f.
func (f ConnectorFunc[T]) Connect(ctx context.Context, obj T) (External, error) { return f(ctx, obj) }
