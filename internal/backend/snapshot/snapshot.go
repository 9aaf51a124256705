// Package snapshot keeps one server-wide read of a backend for a short time,
// so that the steady-state drift checks of many objects cost one round trip
// per server instead of one per object.
package snapshot

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTTL is how long a snapshot serves drift checks. With the default
// poll (40 s plus up to 20 % jitter) a change is seen within a minute.
const DefaultTTL = 5 * time.Second

// Mode says how current an observation must be.
type Mode int

const (
	// Live reads the server now. First observations, observations after a
	// spec change or a failure, and every read that a write is computed from
	// are live, so a stale snapshot never decides a create or an adoption.
	Live Mode = iota
	// Cached accepts a snapshot up to its TTL old: steady-state drift checks
	// of objects that were Ready at their current generation.
	Cached
)

// Cache holds the last snapshot loaded by load. It is safe for concurrent
// use: callers that miss at the same time share one load.
//
// A write is recorded one of two ways. Invalidate drops the snapshot for
// every caller. Wrote(key) only makes GetFor(key) wait for a snapshot whose
// load began after the write, while every other key keeps the current one
// for its TTL: with writes to new objects arriving all the time (a bulk
// create), a snapshot of thousands of objects is not loaded again for the
// check of each object that did not change.
type Cache[T any] struct {
	ttl  time.Duration
	load func(context.Context) (T, error)

	mu       sync.Mutex
	val      T
	at       time.Time // when the load of val began
	valid    bool
	gen      uint64 // bumped by Invalidate
	inflight *call[T]
	// wrote holds the time of the last write per key, pruned of writes
	// older than the TTL (no snapshot served can predate those).
	wrote     map[string]time.Time
	pruneSize int

	loads atomic.Int64
}

type call[T any] struct {
	gen   uint64
	start time.Time
	done  chan struct{}
	val   T
	err   error
}

// New returns a cache that loads with load and serves a value for ttl
// (DefaultTTL when zero).
func New[T any](ttl time.Duration, load func(context.Context) (T, error)) *Cache[T] {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Cache[T]{ttl: ttl, load: load, wrote: map[string]time.Time{}, pruneSize: 64}
}

// Get returns a snapshot no older than the TTL and taken after the last
// Invalidate, loading one when needed.
func (c *Cache[T]) Get(ctx context.Context) (T, error) {
	return c.get(ctx, time.Time{})
}

// GetFor is Get for a check of the object key: the snapshot's load also
// began after the last Wrote(key).
func (c *Cache[T]) GetFor(ctx context.Context, key string) (T, error) {
	c.mu.Lock()
	after := c.wrote[key]
	c.mu.Unlock()
	return c.get(ctx, after)
}

// get returns a snapshot whose load began after the time after.
func (c *Cache[T]) get(ctx context.Context, after time.Time) (T, error) {
	c.mu.Lock()
	if c.valid && time.Since(c.at) < c.ttl && c.at.After(after) {
		v := c.val
		c.mu.Unlock()
		return v, nil
	}
	cl := c.inflight
	if cl == nil || cl.gen != c.gen || !cl.start.After(after) {
		cl = &call[T]{gen: c.gen, start: time.Now(), done: make(chan struct{})}
		c.inflight = cl
		go c.run(cl)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.val, cl.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run loads on behalf of every caller waiting on cl. It is detached from the
// callers' contexts so that one caller giving up does not fail the others;
// the load bounds itself.
func (c *Cache[T]) run(cl *call[T]) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl.val, cl.err = c.load(ctx)
	c.loads.Add(1)
	c.mu.Lock()
	if c.inflight == cl {
		c.inflight = nil
	}
	// An Invalidate since the load began may not be in it: keep it only if
	// none, and only if no later load was kept already.
	if cl.err == nil && cl.gen == c.gen && (!c.valid || cl.start.After(c.at)) {
		c.val, c.at, c.valid = cl.val, cl.start, true
	}
	c.mu.Unlock()
	close(cl.done)
}

// Invalidate drops the snapshot for every caller: after a write that may
// change what any object's check sees.
func (c *Cache[T]) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.valid = false
	c.mu.Unlock()
}

// Wrote records a write to the object key, after it returned: GetFor(key)
// serves no snapshot whose load began before now.
func (c *Cache[T]) Wrote(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.wrote[key] = now
	if len(c.wrote) < c.pruneSize {
		return
	}
	for k, t := range c.wrote {
		if now.Sub(t) >= c.ttl {
			delete(c.wrote, k)
		}
	}
	c.pruneSize = max(64, 2*len(c.wrote))
}

// Loads is how many loads ran, for tests and benchmarks.
func (c *Cache[T]) Loads() int64 { return c.loads.Load() }
