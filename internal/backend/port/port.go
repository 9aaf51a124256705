// Package port is the contract between the shared reconcile loop and the
// engine adapters. A kind's adapter is a Client over the kind's own spec
// type; an engine registers one per kind it supports (Register), and the
// loop finds it by kind and engine name (For). An engine implements only the
// kinds it supports: asking for another gives an Unsupported error. No
// Kubernetes or driver imports.
package port

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// PasswordState says whether a login's stored credential matches the spec's
// password, where the engine can tell.
type PasswordState int

const (
	// PasswordUnknown: the engine cannot read the stored credential (a
	// PostgreSQL admin without superuser, an engine that keeps no hash), or
	// the kind has no password.
	PasswordUnknown PasswordState = iota
	// PasswordMatches: the stored credential is the spec's password.
	PasswordMatches
	// PasswordDiffers: the stored credential is another password.
	PasswordDiffers
)

// Observation is what an adapter found for one object. Decisions are taken
// on the typed fields; Drift is for status and events.
type Observation struct {
	// Exists is true when the backend object exists.
	Exists bool
	// Drift lists differences from the spec in the engine's own terms; empty
	// when up to date.
	Drift []string
	// Password is the state of the login's credential (user kinds).
	Password PasswordState
	// Planned: the differences are a step the object itself started (a
	// credential rotation), not drift made outside; no drift is counted.
	Planned bool
}

// UpToDate reports whether the object exists and matches the spec.
func (o Observation) UpToDate() bool { return o.Exists && len(o.Drift) == 0 }

// Client is one kind's operations on one connected server, for desired
// state S. Implementations are safe for concurrent use.
type Client[S any] interface {
	// Validate checks engine rules before anything is written; errors are
	// backenderr.Invalid. Most engines check the spec alone; some read the
	// server's own tables (Redis's command table).
	Validate(ctx context.Context, spec S) error
	// Observe reports the backend object's state. With snapshot.Cached it may
	// answer from a server-wide snapshot (see package snapshot).
	Observe(ctx context.Context, spec S, mode snapshot.Mode) (Observation, error)
	// Apply creates the backend object if missing and repairs every difference.
	Apply(ctx context.Context, spec S) error
	// Delete removes the backend object; one already gone is success.
	Delete(ctx context.Context, spec S) error
}

// Server is a connected server: one bounded pool, shared by every object on it.
type Server interface {
	// Close releases every connection.
	Close()
}

// ReasonUnsupported: the server's engine does not implement the kind.
const ReasonUnsupported = "Unsupported"

type key struct{ kind, engine string }

var (
	mu      sync.RWMutex
	clients = map[key]func(Server) (any, error){}
)

// Register makes kind (the API kind, such as Database) available on engine
// (such as postgres): open turns a connected server of that engine into the
// kind's client C. Adapters call it from init.
func Register[C any](kind, engine string, open func(Server) (C, error)) {
	mu.Lock()
	defer mu.Unlock()
	clients[key{kind, engine}] = func(s Server) (any, error) { return open(s) }
}

// For returns kind's client C on srv, a server of engine. A kind the engine
// does not implement is a terminal Unsupported error that names the engines
// that do.
func For[C any](kind, engine string, srv Server) (C, error) {
	var none C
	mu.RLock()
	open, ok := clients[key{kind, engine}]
	mu.RUnlock()
	if !ok {
		return none, &backenderr.Error{Reason: ReasonUnsupported, Terminal: true,
			Message: fmt.Sprintf("%s is not supported on engine %q (supported on: %v)", kind, engine, Engines(kind))}
	}
	c, err := open(srv)
	if err != nil {
		return none, err
	}
	typed, ok := c.(C)
	if !ok {
		return none, fmt.Errorf("port: %s on %s registered as %T, asked for %T", kind, engine, c, none)
	}
	return typed, nil
}

// Engines lists the engines that implement kind, sorted.
func Engines(kind string) []string {
	mu.RLock()
	defer mu.RUnlock()
	var out []string
	for k := range clients {
		if k.kind == kind {
			out = append(out, k.engine)
		}
	}
	sort.Strings(out)
	return out
}

// Adapt turns f, which builds a kind's client from an engine's own server
// type S, into the open function Register takes.
func Adapt[S Server, C any](f func(S) C) func(Server) (C, error) {
	return func(srv Server) (C, error) {
		s, ok := srv.(S)
		if !ok {
			var none C
			return none, fmt.Errorf("port: server is %T, want %T", srv, *new(S))
		}
		return f(s), nil
	}
}
