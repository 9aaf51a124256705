package sql

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// Engines holds one connected engine (and so one bounded pool) per server.
// Server reconcilers open and replace them; object reconcilers look them up.
type Engines struct {
	mu sync.Mutex
	m  map[string]*engineEntry
}

type engineEntry struct {
	fingerprint string
	engine      sqlengine.Engine
}

// NewEngines returns an empty registry.
func NewEngines() *Engines { return &Engines{m: map[string]*engineEntry{}} }

// Ensure returns the engine for server key, opening a new one (and closing
// the old) when the configuration changed.
func (e *Engines) Ensure(key, engineName string, cfg sqlengine.Config) (sqlengine.Engine, error) {
	fp := fingerprint(engineName, cfg)
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.m[key]; ok {
		if old.fingerprint == fp {
			return old.engine, nil
		}
		old.engine.Close()
		delete(e.m, key)
	}
	eng, err := sqlengine.Open(engineName, cfg)
	if err != nil {
		return nil, err
	}
	e.m[key] = &engineEntry{fingerprint: fp, engine: eng}
	return eng, nil
}

// Get returns the engine for server key, if one is open.
func (e *Engines) Get(key string) (sqlengine.Engine, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ent, ok := e.m[key]
	if !ok {
		return nil, false
	}
	return ent.engine, true
}

// Drop closes and forgets the engine for server key.
func (e *Engines) Drop(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ent, ok := e.m[key]; ok {
		ent.engine.Close()
		delete(e.m, key)
	}
}

// fingerprint hashes the whole configuration, password included, so that a
// changed Secret opens a fresh pool. Only the hash is kept.
func fingerprint(engineName string, cfg sqlengine.Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q|%q|%d|%q|%q|%q|%d|%q|", engineName, cfg.Host, cfg.Port, cfg.Username, cfg.Password, cfg.TLSMode, cfg.MaxConnections, cfg.AdminDatabase)
	h.Write(cfg.CAPEM)
	return hex.EncodeToString(h.Sum(nil))
}
