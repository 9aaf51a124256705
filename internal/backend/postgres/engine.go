// Package postgres is the PostgreSQL adapter behind sqlengine.Engine: pure
// statement builders (privileges.go, statements.go) and a client that runs them
// over a bounded connection pool.
package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/time/rate"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// EngineName is the name this adapter registers under.
const EngineName = "postgres"

func init() {
	sqlengine.Register(EngineName, Open)
	port.Register(sqlengine.KindDatabase, EngineName, port.Adapt(func(e *Engine) sqlengine.Databases { return databases{e} }))
	port.Register(sqlengine.KindDatabaseUser, EngineName, port.Adapt(func(e *Engine) sqlengine.Users { return users{e} }))
}

// databases is the Database kind's client (sqlengine.Databases).
type databases struct{ *Engine }

// users is the DatabaseUser kind's client (sqlengine.Users). It rotates
// passwords with port.OverlapAlternatingUsers.
type users struct{ *Engine }

var _ port.Rotator = users{}

// Engine is a connected PostgreSQL server.
type Engine struct {
	cfg  sqlengine.Config
	pool *pool

	// server is the shared-catalog snapshot steady-state checks read.
	server *snapshot.Cache[serverState]
	// deep bounds the in-database checks that steady-state checks run.
	deep *rate.Limiter

	mu sync.Mutex
	// superuser is learned at the first Info; only a superuser can read
	// password verifiers, which password drift detection needs.
	superuser *bool
	verdicts  map[verdictKey]verdict
	// sessions counts connection uses, each one or a few round trips.
	sessions atomic.Int64
	// grantLocks holds one mutex per database: privilege changes in one
	// database run one at a time (see applyPrivileges).
	grantLocks sync.Map
}

var _ sqlengine.Engine = (*Engine)(nil)

// Open builds an Engine; it connects lazily.
func Open(cfg sqlengine.Config) (sqlengine.Engine, error) {
	base, err := connConfig(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.MaxConnections < 1 {
		cfg.MaxConnections = 1
	}
	if cfg.AdminDatabase == "" {
		cfg.AdminDatabase = "postgres"
	}
	e := &Engine{cfg: cfg, pool: newPool(base, cfg.MaxConnections, cfg.AdminDatabase), deep: newDeepLimiter(), verdicts: map[verdictKey]verdict{}}
	e.server = newServerSnapshot(e)
	return e, nil
}

func connConfig(cfg sqlengine.Config) (*pgx.ConnConfig, error) {
	port := cfg.Port
	if port == 0 {
		port = 5432
	}
	// Parse only fixed, validated values; user and password are set directly.
	base, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d sslmode=disable connect_timeout=10", dsnValue(cfg.Host), port))
	if err != nil {
		return nil, backenderr.Invalid("server address: %v", err)
	}
	base.User = cfg.Username
	base.Password = cfg.Password
	base.Fallbacks = nil
	base.RuntimeParams["application_name"] = "backend-operator"
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	base.TLSConfig = tlsCfg
	// Every statement is a simple utility statement or a catalog query; skip the
	// prepare round trip.
	base.DefaultQueryExecMode = pgx.QueryExecModeExec
	return base, nil
}

// dsnValue quotes a keyword/value connection string value.
func dsnValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func tlsConfig(cfg sqlengine.Config) (*tls.Config, error) {
	return tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: cfg.Host, CAPEM: cfg.CAPEM, CertPEM: cfg.CertPEM, KeyPEM: cfg.KeyPEM})
}

// Close releases idle connections.
func (e *Engine) Close() { e.pool.close() }

// classify turns driver errors into reasons the reconcile loop understands.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := backenderr.As(err); ok {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			return backenderr.New(backenderr.ReasonAuthFailed, "the server refused the admin login", err)
		case "57P01", "57P02", "57P03", "53300":
			return backenderr.Unavailable(err)
		case "42704", "3D000":
			return backenderr.Missing(pgErr.Message, err)
		case "42501":
			return backenderr.New(backenderr.ReasonBackendError, "the admin login lacks a privilege: "+pgErr.Message, err)
		case "42939": // reserved_name: retrying cannot help
			return &backenderr.Error{Reason: backenderr.ReasonInvalidSpec, Message: pgErr.Message, Terminal: true, Err: err}
		}
		return backenderr.New(backenderr.ReasonBackendError, pgErr.Message, err)
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.As(err, &netErr) || errors.As(err, &connErr) || errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) {
		return backenderr.Unavailable(err)
	}
	if strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "unexpected EOF") {
		return backenderr.Unavailable(err)
	}
	return err
}

func (e *Engine) with(ctx context.Context, db string, fn func(*pgx.Conn) error) error {
	e.sessions.Add(1)
	return classify(e.pool.with(ctx, db, fn))
}

// Info reports the server version and whether the admin login is a superuser.
func (e *Engine) Info(ctx context.Context) (sqlengine.ServerInfo, error) {
	var version string
	var super bool
	err := e.with(ctx, e.cfg.AdminDatabase, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT current_setting('server_version'), rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&version, &super)
	})
	if err != nil {
		return sqlengine.ServerInfo{}, err
	}
	e.mu.Lock()
	e.superuser = &super
	e.mu.Unlock()
	return sqlengine.ServerInfo{Flavor: "PostgreSQL", Version: version}, nil
}

func (e *Engine) isSuperuser(ctx context.Context) (bool, error) {
	e.mu.Lock()
	s := e.superuser
	e.mu.Unlock()
	if s != nil {
		return *s, nil
	}
	if _, err := e.Info(ctx); err != nil {
		return false, err
	}
	return e.isSuperuser(ctx)
}

// Connection describes how an application reaches database as user.
func (e *Engine) Connection(user, password, database string) sqlengine.ConnectionInfo {
	port := e.cfg.Port
	if port == 0 {
		port = 5432
	}
	sslmode := e.cfg.TLSMode
	if sslmode == "" {
		sslmode = "disable"
	}
	if database == "" {
		database = e.cfg.AdminDatabase
	}
	hostPort := net.JoinHostPort(e.cfg.Host, strconv.Itoa(port))
	q := url.Values{"sslmode": {sslmode}}.Encode()
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(user, password), Host: hostPort, Path: "/" + database, RawQuery: q}
	return sqlengine.ConnectionInfo{
		Type: "postgresql", Provider: "backend-operator",
		Host: e.cfg.Host, Port: port, Username: user, Password: password, Database: database,
		URI:     u.String(),
		JDBCURL: "jdbc:postgresql://" + hostPort + "/" + url.PathEscape(database) + "?" + q,
	}
}

// ---- databases

// Validate checks names against PostgreSQL's limits.
func (e databases) Validate(_ context.Context, spec sqlengine.DatabaseSpec) error {
	checks := [][2]string{{"database name", spec.Name}}
	if spec.Owner != "" {
		checks = append(checks, [2]string{"owner", spec.Owner})
	}
	if spec.Template != "" {
		checks = append(checks, [2]string{"template", spec.Template})
	}
	for _, s := range spec.Schemas {
		checks = append(checks, [2]string{"schema", s})
	}
	for _, x := range spec.Extensions {
		checks = append(checks, [2]string{"extension", x})
	}
	for _, c := range checks {
		if err := checkIdent(c[0], c[1]); err != nil {
			return backenderr.Invalid("%v", err)
		}
	}
	return nil
}

type dbState struct {
	exists     bool
	owner      string
	schemas    map[string]string // name -> owner
	extensions map[string]bool
}

func (e *Engine) readDatabase(ctx context.Context, spec sqlengine.DatabaseSpec) (dbState, error) {
	st := dbState{schemas: map[string]string{}, extensions: map[string]bool{}}
	var allowConn bool
	err := e.with(ctx, e.cfg.AdminDatabase, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT pg_get_userbyid(datdba), datallowconn FROM pg_database WHERE datname = $1`, spec.Name).Scan(&st.owner, &allowConn)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		st.exists = err == nil
		return err
	})
	if err != nil || !st.exists || !allowConn || len(spec.Schemas)+len(spec.Extensions) == 0 {
		return st, err
	}
	err = e.with(ctx, spec.Name, func(c *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = ANY($1)`, spec.Schemas).Query(func(rows pgx.Rows) error {
			var name, owner string
			_, err := pgx.ForEachRow(rows, []any{&name, &owner}, func() error { st.schemas[name] = owner; return nil })
			return err
		})
		b.Queue(`SELECT extname FROM pg_extension WHERE extname = ANY($1)`, spec.Extensions).Query(func(rows pgx.Rows) error {
			var name string
			_, err := pgx.ForEachRow(rows, []any{&name}, func() error { st.extensions[name] = true; return nil })
			return err
		})
		return c.SendBatch(ctx, b).Close()
	})
	return st, err
}

// databaseDrift lists how st differs from spec; owner is the effective owner.
func databaseDrift(spec sqlengine.DatabaseSpec, owner string, st dbState) []string {
	return append(ownerDrift(owner, st.owner), contentDrift(spec, owner, st)...)
}

func ownerDrift(want, have string) []string {
	if have != want {
		return []string{fmt.Sprintf("owner is %q, want %q", have, want)}
	}
	return nil
}

// contentDrift lists missing or misowned schemas and missing extensions.
func contentDrift(spec sqlengine.DatabaseSpec, owner string, st dbState) []string {
	var drift []string
	for _, s := range spec.Schemas {
		o, ok := st.schemas[s]
		switch {
		case !ok:
			drift = append(drift, fmt.Sprintf("schema %q is missing", s))
		case o != owner:
			drift = append(drift, fmt.Sprintf("schema %q is owned by %q, want %q", s, o, owner))
		}
	}
	for _, x := range spec.Extensions {
		if !st.extensions[x] {
			drift = append(drift, fmt.Sprintf("extension %q is missing", x))
		}
	}
	return drift
}

func (e *Engine) owner(spec sqlengine.DatabaseSpec) string {
	if spec.Owner != "" {
		return spec.Owner
	}
	return e.cfg.Username
}

// Observe reports whether the database exists and how it differs.
func (e databases) Observe(ctx context.Context, spec sqlengine.DatabaseSpec, mode snapshot.Mode) (port.Observation, error) {
	if mode == snapshot.Cached {
		return e.observeDatabaseCached(ctx, spec)
	}
	st, err := e.readDatabase(ctx, spec)
	if err != nil || !st.exists {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: databaseDrift(spec, e.owner(spec), st)}, nil
}

// Apply creates the database if needed and repairs owner, schemas and extensions.
func (e databases) Apply(ctx context.Context, spec sqlengine.DatabaseSpec) error {
	defer e.wrote("", spec.Name)
	owner := e.owner(spec)
	if spec.Owner != "" {
		if err := e.require(ctx, []string{spec.Owner}, nil); err != nil {
			return err
		}
	}
	st, err := e.readDatabase(ctx, spec)
	if err != nil {
		return err
	}
	if !st.exists {
		if err := e.exec(ctx, e.cfg.AdminDatabase, createDatabaseSQL(spec)); err != nil {
			return err
		}
		// A new database has the declared owner; its schemas and extensions
		// are created idempotently below.
		st = dbState{exists: true, owner: owner, schemas: map[string]string{}, extensions: map[string]bool{}}
	}
	var admin, inDB []string
	if st.owner != owner {
		admin = append(admin, "ALTER DATABASE "+ident(spec.Name)+" OWNER TO "+ident(owner))
	}
	for _, s := range spec.Schemas {
		o, ok := st.schemas[s]
		if !ok {
			inDB = append(inDB, "CREATE SCHEMA IF NOT EXISTS "+ident(s)+" AUTHORIZATION "+ident(owner))
		} else if o != owner {
			inDB = append(inDB, "ALTER SCHEMA "+ident(s)+" OWNER TO "+ident(owner))
		}
	}
	for _, x := range spec.Extensions {
		if !st.extensions[x] {
			inDB = append(inDB, "CREATE EXTENSION IF NOT EXISTS "+ident(x))
		}
	}
	if err := e.exec(ctx, e.cfg.AdminDatabase, admin...); err != nil {
		return err
	}
	return e.execTx(ctx, spec.Name, inDB)
}

// Delete drops the database, ending sessions connected to it.
func (e databases) Delete(ctx context.Context, spec sqlengine.DatabaseSpec) error {
	name := spec.Name
	defer e.wrote("", name)
	if err := checkIdent("database name", name); err != nil {
		return backenderr.Invalid("%v", err)
	}
	e.pool.closeIdle(name)
	return e.exec(ctx, e.cfg.AdminDatabase, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)")
}

// ---- users

// Validate checks names, grants and privilege names for PostgreSQL.
func (e users) Validate(_ context.Context, spec sqlengine.UserSpec) error {
	if err := checkIdent("user name", spec.Name); err != nil {
		return backenderr.Invalid("%v", err)
	}
	// PostgreSQL reserves these role names (CREATE ROLE, "Notes": pg_ is
	// reserved for system roles; public and none are keywords of GRANT).
	if strings.HasPrefix(spec.Name, "pg_") || spec.Name == "public" || spec.Name == "none" {
		return backenderr.Invalid("role name %q is reserved by PostgreSQL (pg_ prefix, public, none)", spec.Name)
	}
	if strings.ContainsRune(spec.Password, 0) {
		return backenderr.Invalid("password contains a NUL byte")
	}
	alt := port.AlternateName(spec.Name)
	if a := spec.Alternate; a != nil {
		if err := checkIdent("alternate user name", alt); err != nil {
			return backenderr.Invalid("%v", err)
		}
		if a.Username != alt {
			return backenderr.Invalid("the alternate login of %q is %q, not %q", spec.Name, alt, a.Username)
		}
		if a.Password == "" || strings.ContainsRune(a.Password, 0) {
			return backenderr.Invalid("the alternate login's password is empty or contains a NUL byte")
		}
	}
	for _, m := range spec.MemberOf {
		if err := checkIdent("memberOf role", m); err != nil {
			return backenderr.Invalid("%v", err)
		}
		if m == spec.Name {
			return backenderr.Invalid("a role cannot be a member of itself")
		}
		if m == alt {
			return backenderr.Invalid("a role cannot be a member of its alternate login %q", alt)
		}
	}
	for _, g := range spec.Grants {
		if err := validateGrant(g); err != nil {
			return backenderr.Invalid("%v", err)
		}
	}
	return nil
}

type roleState struct {
	exists     bool
	oid        uint32
	login      bool
	inherit    bool
	connLimit  int
	createDB   bool
	createRole bool
	// verifier is the stored password verifier; nil when there is none or
	// it is unreadable.
	verifier *string
	// verifierKnown: verifier was read (the admin is a superuser), so nil
	// means no password.
	verifierKnown bool
	// config is the role's own settings (rolconfig), "name=value" items.
	config    []string
	memberOf  []string
	databases []string // databases where the role holds privileges
}

// readLogin reads the role name and its alternate login; either is nil when
// it does not exist.
func (e *Engine) readLogin(ctx context.Context, name string) (st, alt *roleState, err error) {
	super, err := e.isSuperuser(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := []string{name}
	if alt := port.AlternateName(name); len(alt) <= maxIdentBytes {
		// A longer name would be truncated to another role's.
		names = append(names, alt)
	}
	var roles map[string]*roleState
	err = e.with(ctx, e.cfg.AdminDatabase, func(c *pgx.Conn) error {
		roles, err = readRoles(ctx, c, super, names...)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return roles[name], roles[port.AlternateName(name)], nil
}

// readRoles reads attributes, settings, memberships and the databases where
// it holds privileges of each role called only, or of every role when only
// is empty, in one round trip.
func readRoles(ctx context.Context, c *pgx.Conn, super bool, only ...string) (map[string]*roleState, error) {
	q := `SELECT rolname, oid, rolcanlogin, rolinherit, rolconnlimit, rolcreatedb, rolcreaterole, NULL::text, rolconfig FROM pg_roles`
	if super {
		q = `SELECT rolname, oid, rolcanlogin, rolinherit, rolconnlimit, rolcreatedb, rolcreaterole, rolpassword,
  (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = pg_authid.oid AND s.setdatabase = 0) FROM pg_authid`
	}
	// Roles by name (index lookups), or every role but the predefined ones.
	which, args := ` WHERE rolname !~ '^pg_'`, []any{}
	if len(only) > 0 {
		which, args = ` WHERE rolname = ANY($1)`, []any{only}
	}
	roles := map[string]*roleState{}
	byOID := map[uint32]*roleState{}
	b := &pgx.Batch{}
	b.Queue(q+which, args...).Query(func(rows pgx.Rows) error {
		var name string
		st := &roleState{exists: true, verifierKnown: super}
		_, err := pgx.ForEachRow(rows, []any{&name, &st.oid, &st.login, &st.inherit, &st.connLimit, &st.createDB, &st.createRole, &st.verifier, &st.config}, func() error {
			cp := *st
			if st.verifier != nil {
				v := *st.verifier
				cp.verifier = &v
			}
			cp.config = slices.Clone(st.config)
			roles[name], byOID[st.oid] = &cp, &cp
			return nil
		})
		return err
	})
	b.Queue(`SELECT m.member, r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
WHERE m.member IN (SELECT oid FROM pg_roles`+which+`) ORDER BY 2`, args...).Query(func(rows pgx.Rows) error {
		var member uint32
		var role string
		_, err := pgx.ForEachRow(rows, []any{&member, &role}, func() error {
			if st := byOID[member]; st != nil {
				st.memberOf = append(st.memberOf, role)
			}
			return nil
		})
		return err
	})
	// pg_shdepend records every role named in an ACL (deptype 'a'): for an
	// object inside a database with that database's OID as dbid, and for a
	// database itself (a shared object) with dbid 0 and the database as
	// objid. Read this way, the rows grow with the roles' own grants, not
	// with every grantee of a shared database's ACL (as exploding
	// pg_database.datacl would). The filter on named roles sits in each
	// branch, so that one role's read uses pg_shdepend's index on the role;
	// a read of every role has none, so that catalog statistics gone stale
	// in a bulk create cannot make the planner rescan the roles per row.
	ofRoles := ""
	if len(only) > 0 {
		ofRoles = ` AND s.refobjid IN (SELECT oid FROM pg_roles WHERE rolname = ANY($1))`
	}
	b.Queue(`
SELECT s.refobjid, d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
WHERE s.refclassid = 'pg_authid'::regclass AND s.deptype = 'a' AND d.datallowconn`+ofRoles+`
UNION
SELECT s.refobjid, d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.objid
WHERE s.dbid = 0 AND s.classid = 'pg_database'::regclass AND s.refclassid = 'pg_authid'::regclass
  AND s.deptype = 'a' AND d.datallowconn`+ofRoles+`
ORDER BY 2`, args...).Query(func(rows pgx.Rows) error {
		var grantee uint32
		var db string
		_, err := pgx.ForEachRow(rows, []any{&grantee, &db}, func() error {
			if st := byOID[grantee]; st != nil {
				st.databases = append(st.databases, db)
			}
			return nil
		})
		return err
	})
	if err := c.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return roles, nil
}

// roleDrift lists attribute and membership differences of the role
// spec.Name (not privileges).
func roleDrift(spec sqlengine.UserSpec, st roleState) []string {
	var d []string
	switch {
	case retired(spec) && st.login:
		d = append(d, fmt.Sprintf("login is enabled, want NOLOGIN while the alternate login %q is in use", port.AlternateName(spec.Name)))
	case !retired(spec) && !st.login:
		d = append(d, "login is disabled")
	}
	if st.connLimit != spec.ConnectionLimit {
		d = append(d, fmt.Sprintf("connection limit is %d, want %d", st.connLimit, spec.ConnectionLimit))
	}
	if st.createDB != spec.CreateDB {
		d = append(d, fmt.Sprintf("CREATEDB is %t, want %t", st.createDB, spec.CreateDB))
	}
	if st.createRole != spec.CreateRole {
		d = append(d, fmt.Sprintf("CREATEROLE is %t, want %t", st.createRole, spec.CreateRole))
	}
	switch {
	case retired(spec) && st.verifier != nil:
		d = append(d, "a password is set, want none while the alternate login is in use")
	case !retired(spec) && rolePassword(spec.Password, st) == port.PasswordDiffers:
		d = append(d, "password differs from the Secret")
	}
	for _, m := range spec.MemberOf {
		if !slices.Contains(st.memberOf, m) {
			d = append(d, fmt.Sprintf("not a member of %q", m))
		}
	}
	for _, m := range st.memberOf {
		if !slices.Contains(spec.MemberOf, m) {
			d = append(d, fmt.Sprintf("extra membership in %q", m))
		}
	}
	return d
}

// alternateDrift lists how the alternate login alt (nil: missing) differs
// from spec: with spec.Alternate set, a LOGIN, INHERIT role with the
// password, the connection limit, membership in spec.Name only, sessions
// that run as spec.Name, and no privileges of its own; without, a role that
// cannot log in, if it exists.
func alternateDrift(spec sqlengine.UserSpec, alt *roleState) []string {
	name := port.AlternateName(spec.Name)
	var d []string
	add := func(format string, args ...any) {
		d = append(d, fmt.Sprintf("alternate login %q: ", name)+fmt.Sprintf(format, args...))
	}
	if spec.Alternate == nil {
		if alt == nil {
			return nil
		}
		if alt.login {
			add("login is enabled, want NOLOGIN outside a rotation")
		}
		if alt.verifier != nil {
			add("a password is set, want none outside a rotation")
		}
		return d
	}
	if alt == nil {
		add("does not exist")
		return d
	}
	if !alt.login {
		add("login is disabled")
	}
	if !alt.inherit {
		add("NOINHERIT, want INHERIT")
	}
	if alt.connLimit != spec.ConnectionLimit {
		add("connection limit is %d, want %d", alt.connLimit, spec.ConnectionLimit)
	}
	if alt.createDB {
		add("CREATEDB is true, want false")
	}
	if alt.createRole {
		add("CREATEROLE is true, want false")
	}
	if rolePassword(spec.Alternate.Password, *alt) == port.PasswordDiffers {
		add("password differs from the Secret")
	}
	if !slices.Contains(alt.memberOf, spec.Name) {
		add("not a member of %q", spec.Name)
	}
	for _, m := range alt.memberOf {
		if m != spec.Name {
			add("extra membership in %q", m)
		}
	}
	if r, ok := roleSetting(alt.config); !ok {
		add("sessions do not run as %q (no role setting)", spec.Name)
	} else if r != spec.Name {
		add("sessions run as %q, want %q", r, spec.Name)
	}
	for _, db := range alt.databases {
		add("holds privileges of its own in database %q", db)
	}
	return d
}

// rolePassword compares the stored SCRAM verifier with password; it is
// unknown when the admin cannot read verifiers (not a superuser).
func rolePassword(password string, st roleState) port.PasswordState {
	switch {
	case !st.verifierKnown:
		return port.PasswordUnknown
	case st.verifier != nil && scramMatches(*st.verifier, password):
		return port.PasswordMatches
	}
	return port.PasswordDiffers
}

// loginPassword is the state of every password spec expects: spec.Name's
// unless it is retired, and the alternate login's when set. It matches only
// when each does.
func loginPassword(spec sqlengine.UserSpec, st roleState, alt *roleState) port.PasswordState {
	var states []port.PasswordState
	if !retired(spec) {
		states = append(states, rolePassword(spec.Password, st))
	}
	if spec.Alternate != nil {
		if alt == nil {
			return port.PasswordDiffers
		}
		states = append(states, rolePassword(spec.Alternate.Password, *alt))
	}
	switch {
	case slices.Contains(states, port.PasswordDiffers):
		return port.PasswordDiffers
	case slices.Contains(states, port.PasswordUnknown):
		return port.PasswordUnknown
	}
	return port.PasswordMatches
}

// grantDatabases is every database whose privileges must be compared: the
// declared ones and those where the role holds anything now.
func grantDatabases(spec sqlengine.UserSpec, st roleState) []string {
	dbs := slices.Clone(st.databases)
	for _, g := range spec.Grants {
		dbs = append(dbs, g.Database)
	}
	sort.Strings(dbs)
	return slices.Compact(dbs)
}

// privilegePlan reads one database's catalog and the role's privileges in it,
// in one round trip on c (connected to that database), and returns the
// changes needed. A role created by this very Apply (created) holds no
// privilege anywhere yet, so its privileges are not read.
func privilegePlan(ctx context.Context, c *pgx.Conn, role string, grants []sqlengine.Grant, created bool) ([]privChange, error) {
	db := c.Config().Database
	cat := catalog{Database: db}
	have := privSet{}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&cat.Owner)
	})
	b.Queue(`SELECT n.nspname FROM pg_namespace n WHERE ` + systemSchemas + ` ORDER BY 1`).Query(func(rows pgx.Rows) error {
		var err error
		cat.Schemas, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	b.Queue(`
SELECT n.nspname, c.relname, c.relkind = 'S'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ` + systemSchemas + ` ORDER BY 1, 2`).Query(func(rows pgx.Rows) error {
		var r relation
		_, err := pgx.ForEachRow(rows, []any{&r.Schema, &r.Name, &r.Sequence}, func() error {
			cat.Relations = append(cat.Relations, r)
			return nil
		})
		return err
	})
	if !created {
		b.Queue(privilegesQuery, role).Query(func(rows pgx.Rows) error {
			var kind, schema, name, defType, priv string
			_, err := pgx.ForEachRow(rows, []any{&kind, &schema, &name, &defType, &priv}, func() error {
				have.add(privKey{Kind: objKind(kind), Schema: schema, Name: name, DefType: defType}, priv)
				return nil
			})
			return err
		})
	}
	if err := c.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	want, err := desiredPrivileges(role, grants, cat)
	if err != nil {
		return nil, err
	}
	return diffPrivileges(have, want), nil
}

const systemSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`

// privilegesQuery lists the role's privileges in the connected database.
// Privileges on objects the role owns are left out.
//
// Each ACL is unnested first and each item exploded alone. aclexplode on a
// whole ACL fetches the array again for every row it returns, so its cost
// grows with the square of the grantees: on a database shared by 1,700
// roles this query took 400 ms exploding whole ACLs and takes 20-30 ms
// this way (PostgreSQL 15).
const privilegesQuery = `
WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)
SELECT 'database', '', d.datname, '', a.privilege_type
  FROM r, pg_database d, unnest(d.datacl) i, aclexplode(ARRAY[i]) a
  WHERE d.datname = current_database() AND a.grantee = r.oid AND d.datdba <> r.oid
UNION ALL
SELECT 'schema', n.nspname, '', '', a.privilege_type
  FROM r, pg_namespace n, unnest(n.nspacl) i, aclexplode(ARRAY[i]) a
  WHERE a.grantee = r.oid AND n.nspowner <> r.oid
UNION ALL
SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname, '', a.privilege_type
  FROM r, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(c.relacl) i, aclexplode(ARRAY[i]) a
  WHERE a.grantee = r.oid AND c.relowner <> r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
UNION ALL
SELECT 'defaults', coalesce(n.nspname, ''), pg_get_userbyid(d.defaclrole), d.defaclobjtype::text, a.privilege_type
  FROM r, pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, unnest(d.defaclacl) i, aclexplode(ARRAY[i]) a
  WHERE a.grantee = r.oid AND d.defaclrole <> r.oid AND d.defaclobjtype IN ('r', 'S', 'n')`

// planIn connects to db and returns the changes needed there.
func (e *Engine) planIn(ctx context.Context, db, role string, grants []sqlengine.Grant) ([]privChange, error) {
	var changes []privChange
	err := e.with(ctx, db, func(c *pgx.Conn) error {
		var err error
		changes, err = privilegePlan(ctx, c, role, grants, false)
		return err
	})
	return changes, err
}

// Observe reports whether the role exists and every difference from spec.
func (e users) Observe(ctx context.Context, spec sqlengine.UserSpec, mode snapshot.Mode) (port.Observation, error) {
	if mode == snapshot.Cached {
		return e.observeUserCached(ctx, spec)
	}
	st, alt, err := e.readLogin(ctx, spec.Name)
	if err != nil || st == nil {
		return port.Observation{}, err
	}
	drift := roleDrift(spec, *st)
	for _, db := range grantDatabases(spec, *st) {
		d, err := e.privilegeDrift(ctx, db, spec)
		if err != nil {
			return port.Observation{}, err
		}
		drift = append(drift, d...)
	}
	drift = append(drift, alternateDrift(spec, alt)...)
	return port.Observation{Exists: true, Drift: drift, Password: loginPassword(spec, *st, alt)}, nil
}

// privilegeDrift lists how the role's privileges in db differ from spec. A
// missing database or schema is drift, not an error.
func (e *Engine) privilegeDrift(ctx context.Context, db string, spec sqlengine.UserSpec) ([]string, error) {
	changes, err := e.planIn(ctx, db, spec.Name, spec.Grants)
	if err != nil {
		if be, ok := backenderr.As(err); ok && be.Reason == backenderr.ReasonDependencyMissing {
			return []string{be.Message}, nil
		}
		return nil, err
	}
	return describeDiff(db, changes), nil
}

// Apply creates or repairs the role, its memberships and its privileges,
// and its alternate login (see alternateSQL). The roles change in one
// transaction, so a rotation's step never leaves both logins unusable.
func (e users) Apply(ctx context.Context, spec sqlengine.UserSpec) error {
	// Verdicts are dropped first: applyPrivileges records fresh ones.
	e.forget(spec.Name, "")
	defer e.server.Wrote(spec.Name)
	var dbs []string
	for _, g := range spec.Grants {
		dbs = append(dbs, g.Database)
	}
	if err := e.require(ctx, spec.MemberOf, dbs); err != nil {
		return err
	}
	found, alt, err := e.readLogin(ctx, spec.Name)
	if err != nil {
		return err
	}
	var st roleState
	if found != nil {
		st = *found
	}
	var stmts []string
	if !st.exists {
		v, err := scramVerifier(spec.Password)
		if err != nil {
			return err
		}
		stmts = append(stmts, createRoleSQL(spec, v))
		for _, m := range spec.MemberOf {
			stmts = append(stmts, "GRANT "+ident(m)+" TO "+ident(spec.Name))
		}
	} else {
		alter, err := alterRoleSQL(spec, st)
		if err != nil {
			return err
		}
		stmts = append(stmts, alter...)
		for _, m := range spec.MemberOf {
			if !slices.Contains(st.memberOf, m) {
				stmts = append(stmts, "GRANT "+ident(m)+" TO "+ident(spec.Name))
			}
		}
		for _, m := range st.memberOf {
			if !slices.Contains(spec.MemberOf, m) {
				stmts = append(stmts, "REVOKE "+ident(m)+" FROM "+ident(spec.Name))
			}
		}
	}
	altStmts, err := alternateSQL(spec, alt)
	if err != nil {
		return err
	}
	if err := e.execTx(ctx, e.cfg.AdminDatabase, append(stmts, altStmts...)); err != nil {
		return err
	}
	if err := e.applyPrivileges(ctx, spec.Name, spec.Grants, grantDatabases(spec, st), !st.exists); err != nil {
		return err
	}
	if spec.Alternate != nil && alt != nil && len(alt.databases) > 0 {
		// The alternate login has only what it inherits.
		return e.applyPrivileges(ctx, port.AlternateName(spec.Name), nil, alt.databases, false)
	}
	return nil
}

// applyPrivileges brings the role's privileges in each database to the
// declared set by diff: it reads and compares, then writes in one
// transaction. created says the role was created by this Apply (see
// privilegePlan).
func (e *Engine) applyPrivileges(ctx context.Context, role string, grants []sqlengine.Grant, dbs []string, created bool) error {
	spec := fmt.Sprint(grants)
	for _, db := range dbs {
		var changes []privChange
		var dbFingerprint string
		err := e.with(ctx, db, func(c *pgx.Conn) error {
			// The database's fingerprint before the catalog the plan reads:
			// an object created in between makes the verdict stale, not
			// wrongly current.
			var err error
			if dbFingerprint, err = readDatabaseFingerprint(ctx, c); err != nil {
				return err
			}
			changes, err = privilegePlan(ctx, c, role, grants, created)
			return err
		})
		if err != nil {
			return err
		}
		// GRANT and REVOKE rewrite the database's and schema's ACL rows:
		// two sessions changing them at once fail with "tuple concurrently
		// updated" rather than wait, so roles granted on a shared database
		// queue here, before taking a connection, for their writes only
		// (the read above is of this role's own privileges, which only this
		// object's reconcile changes).
		mu, _ := e.grantLocks.LoadOrStore(db, &sync.Mutex{})
		if len(changes) > 0 {
			mu.(*sync.Mutex).Lock()
		}
		var fingerprint string
		err = e.with(ctx, db, func(c *pgx.Conn) error {
			stmts := make([]string, len(changes))
			for i, ch := range changes {
				stmts[i] = privilegeStatement(role, ch)
			}
			if err := sendAtomic(ctx, c, stmts); err != nil {
				return err
			}
			// The database now matches: remember that, at its fingerprint, so
			// the first steady-state check needs no session here.
			own, err := readGrantsFingerprint(ctx, c, role)
			fingerprint = privilegeFingerprint(dbFingerprint, own)
			return err
		})
		if len(changes) > 0 {
			mu.(*sync.Mutex).Unlock()
		}
		if err != nil {
			return err
		}
		e.remember(verdictKey{role: role, db: db}, fingerprint, spec, nil)
	}
	return nil
}

// Delete drops the alternate login, then the role, each after revoking
// every privilege it holds, unless it owns objects: then that role is not
// changed and the error says how to resolve it.
func (e users) Delete(ctx context.Context, spec sqlengine.UserSpec) error {
	alt := port.AlternateName(spec.Name)
	defer e.wrote(spec.Name, "")
	defer e.forget(alt, "")
	if err := checkIdent("user name", spec.Name); err != nil {
		return backenderr.Invalid("%v", err)
	}
	st, altSt, err := e.readLogin(ctx, spec.Name)
	if err != nil {
		return err
	}
	if altSt != nil {
		if err := e.dropRole(ctx, alt, *altSt); err != nil {
			return err
		}
	}
	if st == nil {
		return nil
	}
	return e.dropRole(ctx, spec.Name, *st)
}

// dropRole revokes every privilege role (state st) holds and drops it,
// unless it owns objects.
func (e users) dropRole(ctx context.Context, name string, st roleState) error {
	var owned []string
	err := e.with(ctx, e.cfg.AdminDatabase, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `
SELECT coalesce(d.datname, 'the cluster') || ': ' || count(*) FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1 AND s.deptype = 'o'
GROUP BY d.datname ORDER BY 1`, st.oid)
		if err != nil {
			return err
		}
		owned, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return err
	}
	if len(owned) > 0 {
		return backenderr.Blocked(fmt.Sprintf(
			"role %q still owns objects (%s); reassign them (REASSIGN OWNED BY %s TO <role> in each database) or drop them, and the deletion completes; or set deletionPolicy: Retain",
			name, strings.Join(owned, ", "), ident(name)), nil)
	}
	if err := e.applyPrivileges(ctx, name, nil, st.databases, false); err != nil {
		return err
	}
	return e.exec(ctx, e.cfg.AdminDatabase, "DROP ROLE IF EXISTS "+ident(name))
}

// Overlaps: PostgreSQL keeps one password per role, so a rotation
// alternates between two login roles.
func (users) Overlaps() []port.Overlap {
	return []port.Overlap{port.OverlapAlternatingUsers}
}

// Sessions counts the server's sessions logged in as username.
func (e users) Sessions(ctx context.Context, username string) (int, error) {
	var n int
	err := e.with(ctx, e.cfg.AdminDatabase, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, username).Scan(&n)
	})
	return n, err
}

// require fails with DependencyMissing when a named role or database does not
// exist, so that nothing is written and no session is opened to a database
// that is not there yet.
func (e *Engine) require(ctx context.Context, roles, databases []string) error {
	if len(roles)+len(databases) == 0 {
		return nil
	}
	var missing []string
	err := e.with(ctx, e.cfg.AdminDatabase, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `
SELECT format('role %I', r) FROM unnest($1::text[]) r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)
UNION ALL
SELECT format('database %I', d) FROM unnest($2::text[]) d WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d)
ORDER BY 1`, roles, databases)
		if err != nil {
			return err
		}
		missing, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		verb := " does not exist"
		if len(missing) > 1 {
			verb = " do not exist"
		}
		return backenderr.Missing(strings.Join(missing, ", ")+verb, nil)
	}
	return nil
}

// exec runs statements one by one in database db (for those that cannot run in
// a transaction block, such as CREATE DATABASE).
func (e *Engine) exec(ctx context.Context, db string, stmts ...string) error {
	if len(stmts) == 0 {
		return nil
	}
	return e.with(ctx, db, func(c *pgx.Conn) error {
		for _, s := range stmts {
			if _, err := c.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// execTx runs statements in one transaction in database db.
func (e *Engine) execTx(ctx context.Context, db string, stmts []string) error {
	if len(stmts) == 0 {
		return nil
	}
	return e.with(ctx, db, func(c *pgx.Conn) error { return sendAtomic(ctx, c, stmts) })
}

// sendAtomic sends statements as one pipelined batch. The extended protocol
// runs everything up to the batch's single Sync as one implicit transaction:
// all statements apply or none, in one round trip.
func sendAtomic(ctx context.Context, c *pgx.Conn, stmts []string) error {
	if len(stmts) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, s := range stmts {
		b.Queue(s)
	}
	return c.SendBatch(ctx, b).Close()
}
