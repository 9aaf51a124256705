package servers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/backend-operator/backend-operator/internal/backend/port"
)

// Registry holds one open client (and so one bounded pool) per server, by
// server key. Server reconcilers open and replace them; the reconcilers of
// dependent objects look them up.
type Registry[C port.Server] struct {
	mu sync.Mutex
	m  map[string]entry[C]
	// opened is closed (and replaced) whenever a client is opened, waking
	// WaitFor.
	opened chan struct{}
}

type entry[C any] struct {
	fingerprint string
	client      C
}

// NewRegistry returns an empty registry.
func NewRegistry[C port.Server]() *Registry[C] {
	return &Registry[C]{m: map[string]entry[C]{}}
}

// Ensure returns the client for server key, opening a new one with open (and
// closing the old) when the configuration's fingerprint changed. The
// fingerprint is a hash of the whole configuration, password included, so
// that a changed Secret opens a fresh pool.
func (r *Registry[C]) Ensure(key, fingerprint string, open func() (C, error)) (C, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.m[key]; ok {
		if old.fingerprint == fingerprint {
			return old.client, nil
		}
		old.client.Close()
		delete(r.m, key)
	}
	c, err := open()
	if err != nil {
		return c, err
	}
	r.m[key] = entry[C]{fingerprint: fingerprint, client: c}
	if r.opened != nil {
		close(r.opened)
		r.opened = nil
	}
	return c, nil
}

// Get returns the client for server key, if one is open.
func (r *Registry[C]) Get(key string) (C, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[key]
	return e.client, ok
}

// WaitFor returns the client for server key, waiting up to max (or until
// ctx ends) for a server reconciler to open it. It reports false when none
// was opened in time.
func (r *Registry[C]) WaitFor(ctx context.Context, key string, max time.Duration) (C, bool) {
	timer := time.NewTimer(max)
	defer timer.Stop()
	for {
		r.mu.Lock()
		e, ok := r.m[key]
		if ok {
			r.mu.Unlock()
			return e.client, true
		}
		if r.opened == nil {
			r.opened = make(chan struct{})
		}
		opened := r.opened
		r.mu.Unlock()
		select {
		case <-opened:
		case <-ctx.Done():
			return e.client, false
		case <-timer.C:
			return e.client, false
		}
	}
}

// Drop closes and forgets the client for server key.
func (r *Registry[C]) Drop(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[key]; ok {
		e.client.Close()
		delete(r.m, key)
	}
}

// Fingerprint hashes a server's whole configuration, secrets included, so
// that a changed Secret opens a fresh pool (Registry.Ensure); only the hash
// is kept. Each field is written length-prefixed, so no two configurations
// share a fingerprint by concatenation.
func Fingerprint(fields ...any) string {
	h := sha256.New()
	for _, f := range fields {
		var b []byte
		switch v := f.(type) {
		case []byte:
			b = v
		default:
			b = fmt.Appendf(nil, "%v", v)
		}
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
