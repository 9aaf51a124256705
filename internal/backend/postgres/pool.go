package postgres

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// maxIdleTime closes connections that sat unused this long.
	maxIdleTime = 5 * time.Minute
	// handOffWindow is how long the oldest waiter lets a released connection
	// go to a younger waiter for the same database instead of being closed
	// and redialled for it.
	handOffWindow = 500 * time.Millisecond
)

var errPoolClosed = errors.New("connection pool closed")

// pool keeps at most max connections open to one server across all of its
// databases. PostgreSQL binds a connection to one database, so a connection
// to another database is closed to make room rather than exceeding the
// bound. A new session costs the server a process and an authentication, so
// the pool reuses before it redials: a released connection goes to a waiter
// for the same database, and an idle connection to the admin database (hot,
// needed by most operations) is evicted last.
type pool struct {
	base *pgx.ConnConfig
	max  int
	hot  string

	mu      sync.Mutex
	open    int // connections open or being dialled
	idle    map[string][]idleConn
	waiters []*waiter // oldest first
	closed  bool

	dials atomic.Int64 // sessions opened, for tests and benchmarks
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

type waiter struct {
	db    string
	since time.Time
	// grants receives a connection to db, or a nil connection: a slot to
	// dial in, or err.
	grants chan grant
}

type grant struct {
	conn *pgx.Conn
	err  error
}

func newPool(base *pgx.ConnConfig, maxConns int, hot string) *pool {
	return &pool{base: base, max: maxConns, hot: hot, idle: map[string][]idleConn{}}
}

// with runs fn on a connection to database db.
func (p *pool) with(ctx context.Context, db string, fn func(*pgx.Conn) error) error {
	conn, err := p.acquire(ctx, db)
	if err != nil {
		return err
	}
	err = fn(conn)
	p.release(db, conn)
	return err
}

func (p *pool) acquire(ctx context.Context, db string) (*pgx.Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	if c, ok := p.popIdle(db); ok {
		p.mu.Unlock()
		return c, nil
	}
	if p.open < p.max {
		p.open++
		p.mu.Unlock()
		return p.dial(ctx, db)
	}
	if victim, ok := p.popVictim(); ok {
		p.mu.Unlock()
		closeAndWait(victim)
		return p.dial(ctx, db) // the victim's slot passes to the new connection
	}
	w := &waiter{db: db, since: time.Now(), grants: make(chan grant, 1)}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	select {
	case g := <-w.grants:
		return p.take(ctx, db, g)
	case <-ctx.Done():
		p.mu.Lock()
		i := slices.Index(p.waiters, w)
		if i >= 0 {
			p.waiters = slices.Delete(p.waiters, i, i+1)
		}
		p.mu.Unlock()
		if i < 0 { // granted meanwhile: pass it on
			if g := <-w.grants; g.conn != nil {
				p.release(db, g.conn)
			} else if g.err == nil {
				p.freeSlot()
			}
		}
		return nil, ctx.Err()
	}
}

// take turns a grant into a connection.
func (p *pool) take(ctx context.Context, db string, g grant) (*pgx.Conn, error) {
	switch {
	case g.err != nil:
		return nil, g.err
	case g.conn != nil:
		return g.conn, nil
	}
	return p.dial(ctx, db)
}

// dial opens a connection in a slot the caller holds, freeing it on failure.
func (p *pool) dial(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg := p.base.Copy()
	cfg.Database = db
	p.dials.Add(1)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		p.freeSlot()
		return nil, err
	}
	return conn, nil
}

// freeSlot gives a slot whose connection is gone to the oldest waiter, or
// returns it.
func (p *pool) freeSlot() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > 0 && !p.closed {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w.grants <- grant{}
		return
	}
	p.open--
}

// release hands a healthy connection to a waiter for its database, or keeps
// it idle; when others wait for other databases it is closed to make room.
func (p *pool) release(db string, conn *pgx.Conn) {
	healthy := !conn.IsClosed() && conn.PgConn().TxStatus() == 'I'
	p.mu.Lock()
	if p.closed || !healthy {
		p.mu.Unlock()
		closeAndWait(conn)
		p.freeSlot()
		return
	}
	w := p.nextWaiter(db)
	switch {
	case w == nil:
		p.idle[db] = append(p.idle[db], idleConn{conn: conn, since: time.Now()})
		p.mu.Unlock()
	case w.db == db:
		p.mu.Unlock()
		w.grants <- grant{conn: conn}
	default:
		p.mu.Unlock()
		closeAndWait(conn)
		w.grants <- grant{}
	}
}

// nextWaiter removes and returns the waiter a released connection to db
// serves: the oldest waiter for db, unless the oldest waiter of all has
// waited longer than handOffWindow. Caller holds mu.
func (p *pool) nextWaiter(db string) *waiter {
	if len(p.waiters) == 0 {
		return nil
	}
	i := 0
	if time.Since(p.waiters[0].since) < handOffWindow {
		if j := slices.IndexFunc(p.waiters, func(w *waiter) bool { return w.db == db }); j >= 0 {
			i = j
		}
	}
	w := p.waiters[i]
	p.waiters = slices.Delete(p.waiters, i, i+1)
	return w
}

// popIdle returns a fresh idle connection to db, closing stale ones. Caller holds mu.
func (p *pool) popIdle(db string) (*pgx.Conn, bool) {
	for len(p.idle[db]) > 0 {
		n := len(p.idle[db]) - 1
		ic := p.idle[db][n]
		p.idle[db] = p.idle[db][:n]
		if time.Since(ic.since) < maxIdleTime && !ic.conn.IsClosed() {
			return ic.conn, true
		}
		closeAndWait(ic.conn)
		p.open--
	}
	return nil, false
}

// popVictim takes the idle connection to close for room: the oldest one to
// a database other than the hot one, else the oldest. Caller holds mu.
func (p *pool) popVictim() (*pgx.Conn, bool) {
	var victim string
	var oldest time.Time
	for db, conns := range p.idle {
		if len(conns) == 0 {
			continue
		}
		better := victim == "" || (victim == p.hot && db != p.hot) ||
			((victim == p.hot) == (db == p.hot) && conns[0].since.Before(oldest))
		if better {
			victim, oldest = db, conns[0].since
		}
	}
	if victim == "" {
		return nil, false
	}
	ic := p.idle[victim][0]
	p.idle[victim] = p.idle[victim][1:]
	return ic.conn, true
}

// close closes idle connections and fails waiters; connections in use close
// on release.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle, waiters := p.idle, p.waiters
	p.idle, p.waiters = map[string][]idleConn{}, nil
	for _, conns := range idle {
		p.open -= len(conns)
	}
	p.mu.Unlock()
	for _, w := range waiters {
		w.grants <- grant{err: errPoolClosed}
	}
	for _, conns := range idle {
		for _, ic := range conns {
			closeAndWait(ic.conn)
		}
	}
}

// closeIdle closes idle connections to db, so that it can be dropped.
func (p *pool) closeIdle(db string) {
	p.mu.Lock()
	conns := p.idle[db]
	delete(p.idle, db)
	p.mu.Unlock()
	for _, ic := range conns {
		closeAndWait(ic.conn)
		p.freeSlot()
	}
}

// closeAndWait ends the session and waits until the server closes the socket,
// that is until the backend process has exited. Only then is its slot free:
// the server never sees more than max sessions from this pool, not even for
// the moment a closing backend lingers.
func closeAndWait(conn *pgx.Conn) {
	if conn.IsClosed() {
		return
	}
	h, err := conn.PgConn().Hijack()
	if err != nil {
		_ = conn.Close(context.Background())
		return
	}
	nc := h.Conn
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write([]byte{'X', 0, 0, 0, 4}); err != nil { // Terminate
		return
	}
	_, _ = io.Copy(io.Discard, nc)
}
