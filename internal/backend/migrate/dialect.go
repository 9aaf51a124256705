package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// dialect is what differs between PostgreSQL and MySQL/MariaDB.
type dialect struct {
	goose database.Dialect
	store database.Store
	// transactionalDDL: a failed file in a transaction leaves nothing behind.
	transactionalDDL bool
	// dollar: placeholders are $1, $2 rather than ?.
	dollar      bool
	createTable string
	tableExists string
	// epochMs selects applied_at as Unix milliseconds.
	epochMs string
	now     string
}

func dialectOf(d database.Dialect) dialect {
	store, err := database.NewStore(d, gooseTable)
	if err != nil {
		panic(fmt.Sprintf("migrate: goose has no store for dialect %q: %v", d, err))
	}
	if d == database.DialectPostgres {
		return dialect{goose: d, store: store, transactionalDDL: true, dollar: true,
			createTable: `CREATE TABLE IF NOT EXISTS ` + Table + ` (
	version bigint PRIMARY KEY,
	checksum text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	duration_ms bigint NOT NULL DEFAULT 0,
	state text NOT NULL DEFAULT 'applied',
	message text NOT NULL DEFAULT '')`,
			tableExists: `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?)`,
			epochMs:     `(extract(epoch FROM applied_at) * 1000)::bigint`,
			now:         `now()`,
		}
	}
	return dialect{goose: d, store: store,
		createTable: `CREATE TABLE IF NOT EXISTS ` + Table + ` (
	version BIGINT NOT NULL PRIMARY KEY,
	checksum VARCHAR(64) NOT NULL,
	applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	duration_ms BIGINT NOT NULL DEFAULT 0,
	state VARCHAR(16) NOT NULL DEFAULT 'applied',
	message TEXT NOT NULL)`,
		tableExists: `SELECT COUNT(*) > 0 FROM information_schema.tables WHERE table_schema = database() AND table_name = ?`,
		epochMs:     `CAST(UNIX_TIMESTAMP(applied_at) * 1000 AS SIGNED)`,
		now:         `CURRENT_TIMESTAMP(6)`,
	}
}

// q rewrites ? placeholders for the dialect.
func (d dialect) q(query string) string {
	if !d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d dialect) exists(ctx context.Context, db *sql.DB, table string) (bool, error) {
	var ok bool
	if err := db.QueryRowContext(ctx, d.q(d.tableExists), table).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up table %s: %w", table, err)
	}
	return ok, nil
}

// ensureTables creates goose's version table (with its version 0) and the
// bookkeeping table when missing.
func (d dialect) ensureTables(ctx context.Context, db *sql.DB) error {
	ok, err := d.exists(ctx, db, gooseTable)
	if err != nil {
		return err
	}
	if !ok {
		if err := d.store.CreateVersionTable(ctx, db); err != nil {
			return err
		}
		if err := d.store.Insert(ctx, db, database.InsertRequest{Version: 0}); err != nil {
			return err
		}
	}
	_, err = db.ExecContext(ctx, d.createTable)
	return err
}

// readState reads goose's applied versions and the bookkeeping rows.
func (d dialect) readState(ctx context.Context, db *sql.DB) (State, error) {
	var st State
	ok, err := d.exists(ctx, db, gooseTable)
	if err != nil || !ok {
		return st, err
	}
	st.VersionTable = true
	list, err := d.store.ListMigrations(ctx, db)
	if err != nil {
		return st, fmt.Errorf("list applied migrations: %w", err)
	}
	// Newest row first: the first row of a version decides.
	seen := map[int64]bool{}
	applied := map[int64]*Applied{}
	for _, m := range list {
		if seen[m.Version] {
			continue
		}
		seen[m.Version] = true
		if m.IsApplied && m.Version > 0 {
			applied[m.Version] = &Applied{Version: m.Version}
		}
	}
	ok, err = d.exists(ctx, db, Table)
	if err != nil {
		return st, err
	}
	if ok {
		rows, err := db.QueryContext(ctx, `SELECT version, checksum, `+d.epochMs+`, duration_ms, state, message FROM `+Table+` ORDER BY version`) //nolint:gosec // the dialect's own expression and table name, no input
		if err != nil {
			return st, fmt.Errorf("read %s: %w", Table, err)
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var v, ms, dur int64
			var sum, state, msg string
			if err := rows.Scan(&v, &sum, &ms, &dur, &state, &msg); err != nil {
				return st, fmt.Errorf("read %s: %w", Table, err)
			}
			if state == "blocked" {
				st.Blocked = &Blocked{Version: v, Checksum: sum, Message: msg}
				continue
			}
			if a := applied[v]; a != nil {
				a.Checksum, a.AppliedAt, a.DurationMs = sum, time.UnixMilli(ms).UTC(), dur
			}
		}
		if err := rows.Err(); err != nil {
			return st, fmt.Errorf("read %s: %w", Table, err)
		}
	}
	for _, a := range applied {
		st.Applied = append(st.Applied, *a)
	}
	sort.Slice(st.Applied, func(i, j int) bool { return st.Applied[i].Version < st.Applied[j].Version })
	return st, nil
}

// record stores version's checksum as applied, replacing any row.
func (d dialect) record(ctx context.Context, db *sql.DB, version int64, checksum string, durationMs int64) error {
	return d.put(ctx, db, version, checksum, durationMs, "applied", "")
}

// block stores version as blocked with message.
func (d dialect) block(ctx context.Context, db *sql.DB, version int64, checksum, message string) error {
	return d.put(ctx, db, version, checksum, 0, "blocked", message)
}

func (d dialect) put(ctx context.Context, db *sql.DB, version int64, checksum string, durationMs int64, state, message string) error {
	if err := d.forget(ctx, db, version); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, d.q(`INSERT INTO `+Table+` (version, checksum, applied_at, duration_ms, state, message) VALUES (?, ?, `+d.now+`, ?, ?, ?)`),
		version, checksum, durationMs, state, message)
	if err != nil {
		return fmt.Errorf("record version %d: %w", version, err)
	}
	return nil
}

// forget deletes version's bookkeeping row.
func (d dialect) forget(ctx context.Context, db *sql.DB, version int64) error {
	if _, err := db.ExecContext(ctx, d.q(`DELETE FROM `+Table+` WHERE version = ?`), version); err != nil {
		return fmt.Errorf("forget version %d: %w", version, err)
	}
	return nil
}

// lock takes the database's migration lock on db's session for up to wait
// and returns its release. PostgreSQL uses goose's session locker (an
// advisory lock with goose's lock id, so a goose run by hand with its
// session locker waits too); MySQL and MariaDB use GET_LOCK on a name
// derived from the database. Both are session locks: a session that dies
// releases them.
func (d dialect) lock(ctx context.Context, db *sql.DB, dbName string, wait time.Duration) (func(), error) {
	var l lock.SessionLocker
	if d.goose == database.DialectPostgres {
		secs := uint64(wait / time.Second)
		if secs < 1 {
			secs = 1
		}
		var err error
		if l, err = lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, secs), lock.WithUnlockTimeout(1, 5)); err != nil {
			return nil, err
		}
	} else {
		l = mysqlLocker{name: mysqlLockName(dbName), wait: wait}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	err = l.SessionLock(ctx, conn)
	// Back to the handle's single session, which keeps the lock.
	_ = conn.Close()
	if err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if conn, err := db.Conn(ctx); err == nil {
			_ = l.SessionUnlock(ctx, conn)
			_ = conn.Close()
		}
	}, nil
}

// mysqlLockName is the GET_LOCK name of a database's migrations: lock names
// are server-wide and at most 64 characters.
func mysqlLockName(db string) string {
	name := "backend-operator/migrate/" + db
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(db))
	return "backend-operator/migrate/" + hex.EncodeToString(sum[:16])
}

// errLockBusy: another session holds the lock.
var errLockBusy = errors.New("the migration lock is held by another session")

// mysqlLocker is a session lock with GET_LOCK.
type mysqlLocker struct {
	name string
	wait time.Duration
}

func (l mysqlLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	secs := int64(l.wait / time.Second)
	if secs < 1 {
		secs = 1
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, ?)`, l.name, secs).Scan(&got); err != nil {
		return fmt.Errorf("GET_LOCK: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return errLockBusy
	}
	return nil
}

func (l mysqlLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `SELECT RELEASE_LOCK(?)`, l.name)
	return err
}
