package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
)

// ErrSessionLost: the handle's one session broke; a migration run never
// continues on a new session, which would not hold the run's lock.
var ErrSessionLost = errors.New("the migration session was lost")

// OneSession returns a handle that opens at most one session through c and
// keeps it for its lifetime: everything a run does (the lock, goose's work,
// the bookkeeping) happens on that session, so the session lock covers all
// of it. Once that session breaks, every later use fails with ErrSessionLost.
func OneSession(c driver.Connector) *sql.DB {
	db := sql.OpenDB(&onceConnector{Connector: c})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db
}

type onceConnector struct {
	driver.Connector
	used atomic.Bool
}

func (o *onceConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if o.used.Swap(true) {
		return nil, ErrSessionLost
	}
	return o.Connector.Connect(ctx)
}

// statementCapture records the statement goose executes, from its verbose
// structured log, so that a failure can name it.
type statementCapture struct {
	mu   sync.Mutex
	stmt string
}

func (c *statementCapture) logger() *slog.Logger { return slog.New(captureHandler{c}) }

func (c *statementCapture) reset() {
	c.mu.Lock()
	c.stmt = ""
	c.mu.Unlock()
}

func (c *statementCapture) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmt
}

type captureHandler struct{ c *statementCapture }

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "statement" {
			h.c.mu.Lock()
			h.c.stmt = a.Value.String()
			h.c.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}

func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }
