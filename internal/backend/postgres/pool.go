package postgres

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// maxIdleTime closes connections that sat unused this long.
const maxIdleTime = 5 * time.Minute

// pool keeps at most max connections open to one server across all of its
// databases. PostgreSQL binds a connection to one database, so an idle
// connection to another database is closed to make room rather than exceeding
// the bound.
type pool struct {
	base *pgx.ConnConfig
	max  int
	// slots holds one token per open connection (idle or in use).
	slots chan struct{}

	mu      sync.Mutex
	idle    map[string][]idleConn
	waiting int
	closed  bool
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

func newPool(base *pgx.ConnConfig, maxConns int) *pool {
	return &pool{base: base, max: maxConns, slots: make(chan struct{}, maxConns), idle: map[string][]idleConn{}}
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
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("connection pool closed")
		}
		if c, ok := p.popIdle(db); ok {
			p.mu.Unlock()
			return c, nil
		}
		select {
		case p.slots <- struct{}{}:
			p.mu.Unlock()
			return p.dial(ctx, db)
		default:
		}
		if victim, ok := p.popAnyIdle(); ok {
			p.mu.Unlock()
			closeAndWait(victim)
			return p.dial(ctx, db) // the victim's slot passes to the new connection
		}
		p.waiting++
		p.mu.Unlock()
		select {
		case p.slots <- struct{}{}:
			p.mu.Lock()
			p.waiting--
			p.mu.Unlock()
			return p.dial(ctx, db)
		case <-ctx.Done():
			p.mu.Lock()
			p.waiting--
			p.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

// dial opens a connection in a slot the caller holds, freeing it on failure.
func (p *pool) dial(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg := p.base.Copy()
	cfg.Database = db
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return conn, nil
}

// release keeps a healthy connection idle unless someone waits for a slot.
func (p *pool) release(db string, conn *pgx.Conn) {
	p.mu.Lock()
	keep := !p.closed && p.waiting == 0 && !conn.IsClosed() && conn.PgConn().TxStatus() == 'I'
	if keep {
		p.idle[db] = append(p.idle[db], idleConn{conn: conn, since: time.Now()})
	}
	p.mu.Unlock()
	if !keep {
		closeAndWait(conn)
		<-p.slots
	}
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
		<-p.slots
	}
	return nil, false
}

// popAnyIdle takes the oldest idle connection of any database. Caller holds mu.
func (p *pool) popAnyIdle() (*pgx.Conn, bool) {
	var oldestDB string
	var oldest time.Time
	for db, conns := range p.idle {
		if len(conns) > 0 && (oldestDB == "" || conns[0].since.Before(oldest)) {
			oldestDB, oldest = db, conns[0].since
		}
	}
	if oldestDB == "" {
		return nil, false
	}
	ic := p.idle[oldestDB][0]
	p.idle[oldestDB] = p.idle[oldestDB][1:]
	return ic.conn, true
}

// close closes idle connections; connections in use close on release.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = map[string][]idleConn{}
	p.mu.Unlock()
	for _, conns := range idle {
		for _, ic := range conns {
			closeAndWait(ic.conn)
			<-p.slots
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
		<-p.slots
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
