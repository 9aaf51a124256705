package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/backend-operator/backend-operator/internal/backend/redis"
)

// Clients holds one connected client (one bounded pool per node) per server.
// Server reconcilers open and replace them; user reconcilers look them up.
type Clients struct {
	mu sync.Mutex
	m  map[string]*clientEntry
}

type clientEntry struct {
	fingerprint string
	client      *redis.Client
}

// NewClients returns an empty registry.
func NewClients() *Clients { return &Clients{m: map[string]*clientEntry{}} }

// Ensure returns the client for server key, opening a new one (and closing the
// old) when the configuration changed.
func (c *Clients) Ensure(key string, cfg redis.Config) (*redis.Client, error) {
	fp := fingerprint(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		if old.fingerprint == fp {
			return old.client, nil
		}
		old.client.Close()
		delete(c.m, key)
	}
	cl, err := redis.New(cfg)
	if err != nil {
		return nil, err
	}
	c.m[key] = &clientEntry{fingerprint: fp, client: cl}
	return cl, nil
}

// Get returns the client for server key, if one is open.
func (c *Clients) Get(key string) (*redis.Client, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	return e.client, true
}

// Drop closes and forgets the client for server key.
func (c *Clients) Drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		e.client.Close()
		delete(c.m, key)
	}
}

// fingerprint hashes the whole configuration, password included, so that a
// changed Secret opens fresh pools. Only the hash is kept.
func fingerprint(cfg redis.Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q|%q|%q|%d|", cfg.Username, cfg.Password, cfg.TLSMode, cfg.MaxConnections)
	for _, n := range cfg.Nodes {
		fmt.Fprintf(h, "%q|%d|", n.Host, n.Port)
	}
	h.Write(cfg.CAPEM)
	return hex.EncodeToString(h.Sum(nil))
}
