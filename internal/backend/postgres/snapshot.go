package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// Steady-state drift checks (snapshot.Cached) read the shared catalogs once
// per server and snapshot TTL: every role with its attributes, password
// verifier, memberships and the databases where it holds privileges, and
// every database with its owner and a fingerprint. What lives inside a
// database (schema, table and default privileges; schemas; extensions) can
// only be read by connecting to it, so those checks are remembered as
// verdicts and run again only when the database's fingerprint changes, or
// when the verdict is older than deepCheckAge, and then at most
// deepChecksPerSecond per server. Backend load in the steady state thus
// depends on the number of servers, not on the number of objects.
const (
	deepCheckAge        = 10 * time.Minute
	deepChecksPerSecond = 1
)

// serverState is one read of a server's shared catalogs.
type serverState struct {
	roles     map[string]*roleState
	databases map[string]databaseInfo
	// grants is the fingerprint of each role's entries in the ACLs of and
	// in each database (grantsSQL), by role and database.
	grants map[verdictKey]string
}

type databaseInfo struct {
	owner     string
	allowConn bool
	// fingerprint changes with the database's owner, and whenever an object
	// in it gains or loses an owner other than the bootstrap superuser
	// (pg_shdepend records those).
	fingerprint string
}

// fingerprintSQL is the fingerprint of pg_database row d (see databaseInfo).
// Grants are not in it: a role's privilege check is remembered at this
// fingerprint and the role's own grants fingerprint (grantsSQL), so that
// a grant to one role does not make every other role's check run again.
const fingerprintSQL = `md5(d.datdba::text || ':' || coalesce((
    SELECT string_agg(concat_ws('/', s.classid, s.objid, s.objsubid, s.refobjid), ','
                      ORDER BY s.classid, s.objid, s.objsubid, s.refobjid)
    FROM pg_shdepend s WHERE s.dbid = d.oid AND s.deptype = 'o'), ''))`

// grantsSQL lists (database, role OID, fingerprint) for each role named in
// an ACL of a database or of an object in one, where cond (on the database
// d and the pg_shdepend row s) holds. The fingerprint changes when the role
// gains or loses an entry in such an ACL: pg_shdepend records each (deptype
// 'a'; dbid is the database for an object in it, and 0 for the database
// itself, with the database as objid), and its index on the role makes one
// role's read cheap whatever the other grantees. A partial revoke leaves it
// alone: the deep check (deepCheckAge) finds that.
func grantsSQL(cond string) string {
	return `
SELECT d.datname, s.refobjid, md5(string_agg(concat_ws('/', s.classid, s.objid, s.objsubid), ',' ORDER BY s.classid, s.objid, s.objsubid))
FROM pg_shdepend s JOIN pg_database d ON d.oid = CASE WHEN s.dbid = 0 THEN s.objid ELSE s.dbid END
WHERE s.refclassid = 'pg_authid'::regclass AND s.deptype = 'a' AND (s.dbid <> 0 OR s.classid = 'pg_database'::regclass)` + cond + `
GROUP BY 1, 2`
}

// verdictKey names one in-database check: a role's privileges in db, or
// (role "") the database's own schemas and extensions.
type verdictKey struct{ role, db string }

type verdict struct {
	fingerprint string
	spec        string
	at          time.Time
	drift       []string
}

func newServerSnapshot(e *Engine) *snapshot.Cache[serverState] {
	return snapshot.New(snapshot.DefaultTTL, e.loadServer)
}

func newDeepLimiter() *rate.Limiter { return rate.NewLimiter(deepChecksPerSecond, 5) }

// loadServer reads the shared catalogs in one session.
func (e *Engine) loadServer(ctx context.Context) (serverState, error) {
	super, err := e.isSuperuser(ctx)
	if err != nil {
		return serverState{}, err
	}
	st := serverState{databases: map[string]databaseInfo{}, grants: map[verdictKey]string{}}
	err = e.with(ctx, e.cfg.AdminDatabase, func(c *pgx.Conn) error {
		if st.roles, err = readRoles(ctx, c, super); err != nil {
			return err
		}
		names := make(map[uint32]string, len(st.roles))
		for name, r := range st.roles {
			names[r.oid] = name
		}
		b := &pgx.Batch{}
		b.Queue(`SELECT d.datname, pg_get_userbyid(d.datdba), d.datallowconn, ` + fingerprintSQL + ` FROM pg_database d`).Query(func(rows pgx.Rows) error {
			var name string
			var info databaseInfo
			_, err := pgx.ForEachRow(rows, []any{&name, &info.owner, &info.allowConn, &info.fingerprint}, func() error {
				st.databases[name] = info
				return nil
			})
			return err
		})
		b.Queue(grantsSQL("")).Query(func(rows pgx.Rows) error {
			var db, fp string
			var role uint32
			_, err := pgx.ForEachRow(rows, []any{&db, &role, &fp}, func() error {
				if name, ok := names[role]; ok {
					st.grants[verdictKey{role: name, db: db}] = fp
				}
				return nil
			})
			return err
		})
		return c.SendBatch(ctx, b).Close()
	})
	return st, err
}

// privilegeFingerprint is the fingerprint a role's privilege check in a
// database is remembered at: the database's and the role's grants there.
func privilegeFingerprint(database, grants string) string { return database + ":" + grants }

// readDatabaseFingerprint reads the fingerprint of the database c is
// connected to (fingerprintSQL).
func readDatabaseFingerprint(ctx context.Context, c *pgx.Conn) (string, error) {
	var fp string
	err := c.QueryRow(ctx, `SELECT `+fingerprintSQL+` FROM pg_database d WHERE d.datname = current_database()`).Scan(&fp)
	return fp, err
}

// readGrantsFingerprint reads role's grants fingerprint (grantsSQL) in the
// database c is connected to: "" when the role holds none there.
func readGrantsFingerprint(ctx context.Context, c *pgx.Conn, role string) (string, error) {
	rows, err := c.Query(ctx, grantsSQL(` AND d.datname = current_database() AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)`), role)
	if err != nil {
		return "", err
	}
	var name, fp string
	var oid uint32
	_, err = pgx.ForEachRow(rows, []any{&name, &oid, &fp}, func() error { return nil })
	return fp, err
}

// remembered returns the drift check's verdict when it still holds, and runs
// check otherwise.
func (e *Engine) remembered(key verdictKey, fingerprint, spec string, check func() ([]string, error)) ([]string, error) {
	e.mu.Lock()
	v, ok := e.verdicts[key]
	e.mu.Unlock()
	if ok && v.fingerprint == fingerprint && v.spec == spec && (time.Since(v.at) < deepCheckAge || !e.deep.Allow()) {
		return v.drift, nil
	}
	drift, err := check()
	if err != nil {
		return nil, err
	}
	e.remember(key, fingerprint, spec, drift)
	return drift, nil
}

func (e *Engine) remember(key verdictKey, fingerprint, spec string, drift []string) {
	e.mu.Lock()
	e.verdicts[key] = verdict{fingerprint: fingerprint, spec: spec, at: time.Now(), drift: drift}
	e.mu.Unlock()
}

// wrote drops what a deletion or a database write may have changed: the
// server snapshot, for every check (a dropped role also leaves the roles
// that were its members), and the verdicts of role or of db. A role's
// Apply changes that role alone and calls e.server.Wrote instead.
func (e *Engine) wrote(role, db string) {
	e.server.Invalidate()
	e.forget(role, db)
}

// forget drops the verdicts of role or of db.
func (e *Engine) forget(role, db string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.verdicts {
		if (role != "" && k.role == role) || (db != "" && k.db == db) {
			delete(e.verdicts, k)
		}
	}
}

// observeUserCached is ObserveUser from the server snapshot.
func (e *Engine) observeUserCached(ctx context.Context, spec sqlengine.UserSpec) (port.Observation, error) {
	srv, err := e.server.GetFor(ctx, spec.Name)
	if err != nil {
		return port.Observation{}, err
	}
	st := srv.roles[spec.Name]
	if st == nil {
		return port.Observation{}, nil
	}
	drift := roleDrift(spec, *st)
	grants := fmt.Sprint(spec.Grants)
	for _, db := range grantDatabases(spec, *st) {
		info, ok := srv.databases[db]
		if !ok {
			drift = append(drift, fmt.Sprintf("database %q does not exist", db))
			continue
		}
		key := verdictKey{role: spec.Name, db: db}
		d, err := e.remembered(key, privilegeFingerprint(info.fingerprint, srv.grants[key]), grants, func() ([]string, error) {
			return e.privilegeDrift(ctx, db, spec)
		})
		if err != nil {
			return port.Observation{}, err
		}
		drift = append(drift, d...)
	}
	alt := srv.roles[port.AlternateName(spec.Name)]
	drift = append(drift, alternateDrift(spec, alt)...)
	return port.Observation{Exists: true, Drift: drift, Password: loginPassword(spec, *st, alt)}, nil
}

// observeDatabaseCached is ObserveDatabase from the server snapshot.
func (e *Engine) observeDatabaseCached(ctx context.Context, spec sqlengine.DatabaseSpec) (port.Observation, error) {
	srv, err := e.server.Get(ctx)
	if err != nil {
		return port.Observation{}, err
	}
	info, ok := srv.databases[spec.Name]
	if !ok {
		return port.Observation{}, nil
	}
	owner := e.owner(spec)
	drift := ownerDrift(owner, info.owner)
	if !info.allowConn || len(spec.Schemas)+len(spec.Extensions) == 0 {
		return port.Observation{Exists: true, Drift: drift}, nil
	}
	d, err := e.remembered(verdictKey{db: spec.Name}, info.fingerprint, fmt.Sprint(owner, spec.Schemas, spec.Extensions), func() ([]string, error) {
		st, err := e.readDatabase(ctx, spec)
		if err != nil {
			return nil, err
		}
		if !st.exists {
			return nil, backenderr.New(backenderr.ReasonBackendError, fmt.Sprintf("database %q vanished while being read", spec.Name), nil)
		}
		return contentDrift(spec, owner, st), nil
	})
	if err != nil {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: append(drift, d...)}, nil
}
