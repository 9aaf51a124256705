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
type Cache[T any] struct {
	ttl  time.Duration
	load func(context.Context) (T, error)

	mu       sync.Mutex
	val      T
	at       time.Time
	valid    bool
	gen      uint64 // bumped by Invalidate
	inflight *call[T]

	loads atomic.Int64
}

type call[T any] struct {
	gen  uint64
	done chan struct{}
	val  T
	err  error
}

// New returns a cache that loads with load and serves a value for ttl
// (DefaultTTL when zero).
func New[T any](ttl time.Duration, load func(context.Context) (T, error)) *Cache[T] {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Cache[T]{ttl: ttl, load: load}
}

// Get returns a snapshot no older than the TTL and taken after the last
// Invalidate, loading one when needed.
func (c *Cache[T]) Get(ctx context.Context) (T, error) {
	c.mu.Lock()
	if c.valid && time.Since(c.at) < c.ttl {
		v := c.val
		c.mu.Unlock()
		return v, nil
	}
	cl := c.inflight
	if cl == nil || cl.gen != c.gen {
		cl = &call[T]{gen: c.gen, done: make(chan struct{})}
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
	start := time.Now()
	cl.val, cl.err = c.load(ctx)
	c.loads.Add(1)
	c.mu.Lock()
	if c.inflight == cl {
		c.inflight = nil
	}
	// A write since the load began may not be in it: keep it only if none.
	if cl.err == nil && cl.gen == c.gen {
		c.val, c.at, c.valid = cl.val, start, true
	}
	c.mu.Unlock()
	close(cl.done)
}

// Invalidate drops the snapshot; callers do it after every write.
func (c *Cache[T]) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.valid = false
	c.mu.Unlock()
}

// Loads is how many loads ran, for tests and benchmarks.
func (c *Cache[T]) Loads() int64 { return c.loads.Load() }
