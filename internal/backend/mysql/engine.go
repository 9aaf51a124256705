// Package mysql is the MySQL 8 and MariaDB 10.6+ adapter behind
// sqlengine.Engine: pure statement builders (privileges.go, statements.go)
// and a client that runs them over one bounded database/sql pool. Steady-state
// drift checks read a server-wide snapshot (state.go), so that their queries
// grow with the number of servers, not of objects.
package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// EngineName is the name this adapter registers under.
const EngineName = "mysql"

// Flavors reported in ServerInfo.
const (
	FlavorMariaDB = "MariaDB"
	FlavorMySQL   = "MySQL"
)

func init() {
	sqlengine.Register(EngineName, Open)
	port.Register(sqlengine.KindDatabase, EngineName, port.Adapt(func(e *Engine) sqlengine.Databases { return databases{e} }))
	port.Register(sqlengine.KindDatabaseUser, EngineName, port.Adapt(func(e *Engine) sqlengine.Users { return users{e} }))
}

// databases is the Database kind's client (sqlengine.Databases).
type databases struct{ *Engine }

// users is the DatabaseUser kind's client (sqlengine.Users). On MariaDB it
// rotates passwords with port.OverlapDualPassword.
type users struct{ *Engine }

var _ port.Rotator = users{}

// Engine is a connected MySQL or MariaDB server. MySQL connections are not
// bound to a database, so one database/sql pool bounded by MaxConnections
// serves every database.
type Engine struct {
	cfg sqlengine.Config
	db  *sql.DB
	// snap serves snapshot.Cached observations; every write invalidates it.
	snap *snapshot.Cache[*serverState]

	mu sync.Mutex
	// mariadb is learned at the first Info.
	mariadb *bool
}

var _ sqlengine.Engine = (*Engine)(nil)

// Open builds an Engine; it connects lazily.
func Open(cfg sqlengine.Config) (sqlengine.Engine, error) {
	if cfg.MaxConnections < 1 {
		cfg.MaxConnections = 1
	}
	if cfg.Port == 0 {
		cfg.Port = 3306
	}
	dc, err := driverConfig(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		// Never format dc or err's details: both can hold the password.
		return nil, backenderr.Invalid("server address or options are invalid")
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(cfg.MaxConnections)
	db.SetMaxIdleConns(cfg.MaxConnections)
	db.SetConnMaxIdleTime(5 * time.Minute)
	e := &Engine{cfg: cfg, db: db}
	e.snap = snapshot.New(snapshot.DefaultTTL, e.loadServer)
	return e, nil
}

// loadServer reads the snapshot in the server's flavor.
func (e *Engine) loadServer(ctx context.Context) (*serverState, error) {
	mariadb, err := e.isMariaDB(ctx)
	if err != nil {
		return nil, err
	}
	return loadServer(ctx, e.db, mariadb)
}

// driverConfig builds the go-sql-driver configuration. It holds the password:
// it is never formatted into an error or a log line.
func driverConfig(cfg sqlengine.Config) (*mysql.Config, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd = cfg.Username, cfg.Password
	c.Net, c.Addr = "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 10*time.Second, 60*time.Second, 60*time.Second
	// Real server-side prepared statements for every placeholder.
	c.InterpolateParams = false
	c.Params = map[string]string{"sql_mode": literal(sessionSQLMode)}
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.TLS = tlsCfg
	return c, nil
}

func tlsConfig(cfg sqlengine.Config) (*tls.Config, error) {
	return tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: cfg.Host, CAPEM: cfg.CAPEM, CertPEM: cfg.CertPEM, KeyPEM: cfg.KeyPEM})
}

// Close releases every connection.
func (e *Engine) Close() { _ = e.db.Close() }

// MySQL and MariaDB error numbers this adapter classifies.
const (
	erConCount          = 1040
	erDBAccessDenied    = 1044
	erAccessDenied      = 1045
	erBadDB             = 1049
	erServerShutdown    = 1053
	erUnknownCharset    = 1115
	erWrongDBName       = 1102 // ER_WRONG_DB_NAME
	erTableAccessDenied = 1142
	erNoSuchTable       = 1146
	erTooManyUserConns  = 1203
	erSpecificAccess    = 1227
	erCollationMismatch = 1253
	erUnknownCollation  = 1273
	erUserIsDefiner     = 4006
	erClientServerGone  = 2006
	erClientServerLost  = 2013
)

// classify turns driver errors into reasons the reconcile loop understands.
// Messages come from the server's error text, which never holds the password
// of statements this adapter sends (see execSecret).
func classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := backenderr.As(err); ok {
		return err
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		switch my.Number {
		case erAccessDenied:
			return backenderr.New(backenderr.ReasonAuthFailed, "the server refused the admin login", err)
		case erConCount, erServerShutdown, erTooManyUserConns, erClientServerGone, erClientServerLost:
			return backenderr.Unavailable(err)
		case erBadDB, erNoSuchTable:
			return backenderr.Missing(my.Message, err)
		case erUnknownCharset, erUnknownCollation, erCollationMismatch, erWrongDBName:
			return &backenderr.Error{Reason: backenderr.ReasonInvalidSpec, Message: my.Message, Terminal: true, Err: err}
		case erDBAccessDenied, erSpecificAccess, erTableAccessDenied:
			return backenderr.New(backenderr.ReasonBackendError, "the admin login lacks a privilege: "+my.Message, err)
		case erUserIsDefiner:
			return backenderr.Blocked(my.Message+"; change the DEFINER of those objects, or set deletionPolicy: Retain", err)
		}
		return backenderr.New(backenderr.ReasonBackendError, my.Message, err)
	}
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) {
		return backenderr.New(backenderr.ReasonUnavailable, "the server's TLS certificate was refused", err)
	}
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) {
		return backenderr.Unavailable(err)
	}
	if strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "unexpected EOF") ||
		strings.Contains(err.Error(), "broken pipe") {
		return backenderr.Unavailable(err)
	}
	return err
}

// Info reports the server product and version.
func (e *Engine) Info(ctx context.Context) (sqlengine.ServerInfo, error) {
	var version, comment string
	err := e.db.QueryRowContext(ctx, `SELECT VERSION(), @@version_comment`).Scan(&version, &comment)
	if err != nil {
		return sqlengine.ServerInfo{}, classify(err)
	}
	flavor, v := parseVersion(version, comment)
	mariadb := flavor == FlavorMariaDB
	e.mu.Lock()
	e.mariadb = &mariadb
	e.mu.Unlock()
	return sqlengine.ServerInfo{Flavor: flavor, Version: v}, nil
}

// parseVersion tells MariaDB from MySQL by VERSION() (10.11.6-MariaDB-0+deb12u1)
// or @@version_comment, and returns the version without the build suffix.
func parseVersion(version, comment string) (flavor, v string) {
	flavor = FlavorMySQL
	if strings.Contains(strings.ToLower(version+" "+comment), "mariadb") {
		flavor = FlavorMariaDB
	}
	v = version
	// MariaDB 10 behind a MySQL 5.5 replication prefix: "5.5.5-10.11.6-MariaDB".
	v = strings.TrimPrefix(v, "5.5.5-")
	if i := strings.IndexByte(v, '-'); i > 0 {
		v = v[:i]
	}
	return flavor, v
}

// isMariaDB reports the flavor, asking the server on first use.
func (e *Engine) isMariaDB(ctx context.Context) (bool, error) {
	e.mu.Lock()
	m := e.mariadb
	e.mu.Unlock()
	if m != nil {
		return *m, nil
	}
	if _, err := e.Info(ctx); err != nil {
		return false, err
	}
	return e.isMariaDB(ctx)
}

// knownMySQL reports whether the server is known to be MySQL.
func (e *Engine) knownMySQL() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mariadb != nil && !*e.mariadb
}

// knownMariaDB is the flavor when known; validation without a connection
// applies the stricter MySQL limits until then.
func (e *Engine) knownMariaDB() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mariadb != nil && *e.mariadb
}

// Connection describes how an application reaches database as user.
func (e *Engine) Connection(user, password, database string) sqlengine.ConnectionInfo {
	hostPort := net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port))
	q := url.Values{}
	switch e.cfg.TLSMode {
	case "require":
		q.Set("ssl-mode", "REQUIRED")
	case "verify-ca":
		q.Set("ssl-mode", "VERIFY_CA")
	case "verify-full":
		q.Set("ssl-mode", "VERIFY_IDENTITY")
	}
	u := url.URL{Scheme: "mysql", User: url.UserPassword(user, password), Host: hostPort, Path: "/" + database, RawQuery: q.Encode()}
	jdbc := "jdbc:mysql://"
	if e.knownMariaDB() {
		jdbc = "jdbc:mariadb://"
	}
	jdbc += hostPort + "/" + url.PathEscape(database)
	if e.cfg.TLSMode != "" && e.cfg.TLSMode != "disable" {
		jdbc += "?sslMode=" + map[string]string{"require": "trust", "verify-ca": "verify-ca", "verify-full": "verify-full"}[e.cfg.TLSMode]
		if !e.knownMariaDB() {
			jdbc = strings.Replace(jdbc, "?sslMode=trust", "?sslMode=REQUIRED", 1)
			jdbc = strings.Replace(jdbc, "?sslMode=verify-ca", "?sslMode=VERIFY_CA", 1)
			jdbc = strings.Replace(jdbc, "?sslMode=verify-full", "?sslMode=VERIFY_IDENTITY", 1)
		}
	}
	return sqlengine.ConnectionInfo{
		Type: "mysql", Provider: "backend-operator",
		Host: e.cfg.Host, Port: e.cfg.Port, Username: user, Password: password, Database: database,
		URI: u.String(), JDBCURL: jdbc,
	}
}

// ---- databases

// Validate checks the name and options against MySQL's rules.
func (e databases) Validate(_ context.Context, spec sqlengine.DatabaseSpec) error {
	if err := checkName("database name", spec.Name, maxDatabaseChars); err != nil {
		return backenderr.Invalid("%v", err)
	}
	// #mysql50# marks names of the 5.0 file-name encoding; the server
	// refuses it in new names (error 1102, "Incorrect database name").
	if strings.HasPrefix(strings.ToLower(spec.Name), "#mysql50#") {
		return backenderr.Invalid("database name %q: the #mysql50# prefix is reserved by MySQL", spec.Name)
	}
	for what, v := range map[string]string{"characterSet": spec.CharacterSet, "collation": spec.Collation} {
		if v != "" && !isWord(v) {
			return backenderr.Invalid("spec.mysql.%s %q: only letters, digits and _ are allowed", what, v)
		}
	}
	if spec.Owner != "" || spec.Encoding != "" || spec.Locale != "" || spec.Template != "" || len(spec.Schemas) > 0 || len(spec.Extensions) > 0 {
		return backenderr.Invalid("owner, encoding, locale, template, schemas and extensions are PostgreSQL settings; MySQL cannot apply them")
	}
	return nil
}

func isWord(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return s != ""
}

// databaseDrift lists how st differs from spec; unset options are not compared.
func databaseDrift(spec sqlengine.DatabaseSpec, st dbState) []string {
	var d []string
	if spec.CharacterSet != "" && !strings.EqualFold(st.charset, spec.CharacterSet) {
		d = append(d, fmt.Sprintf("character set is %q, want %q", st.charset, spec.CharacterSet))
	}
	if spec.Collation != "" && !strings.EqualFold(st.collation, spec.Collation) {
		d = append(d, fmt.Sprintf("collation is %q, want %q", st.collation, spec.Collation))
	}
	return d
}

// view reads the server now (snapshot.Live) or answers from the snapshot.
func (e *Engine) view(ctx context.Context, mode snapshot.Mode) (view, error) {
	if mode != snapshot.Cached {
		return live{db: e.db, mariadb: e.knownMariaDB()}, nil
	}
	s, err := e.snap.Get(ctx)
	if err != nil {
		return nil, classify(err)
	}
	return s, nil
}

// Observe reports whether the database exists and how it differs.
func (e databases) Observe(ctx context.Context, spec sqlengine.DatabaseSpec, mode snapshot.Mode) (port.Observation, error) {
	v, err := e.view(ctx, mode)
	if err != nil {
		return port.Observation{}, err
	}
	st, err := v.database(ctx, spec.Name)
	if err != nil || !st.exists {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: databaseDrift(spec, st)}, nil
}

// Apply creates the database if needed and restores its defaults.
func (e databases) Apply(ctx context.Context, spec sqlengine.DatabaseSpec) error {
	st, err := live{db: e.db}.database(ctx, spec.Name)
	if err != nil {
		return err
	}
	if !st.exists {
		return e.exec(ctx, createDatabaseSQL(spec))
	}
	if len(databaseDrift(spec, st)) > 0 {
		return e.exec(ctx, alterDatabaseSQL(spec))
	}
	return nil
}

// Delete drops the database; a missing one is not an error.
func (e databases) Delete(ctx context.Context, spec sqlengine.DatabaseSpec) error {
	name := spec.Name
	if err := checkName("database name", name, maxDatabaseChars); err != nil {
		return backenderr.Invalid("%v", err)
	}
	return e.exec(ctx, "DROP DATABASE IF EXISTS "+ident(name))
}

// ---- users

// Validate checks names, host, limits and grants for the server's flavor
// (MySQL's stricter limits until the flavor is known).
func (e users) Validate(ctx context.Context, spec sqlengine.UserSpec) error {
	// The flavor decides the rules here and the overlap a rotation may use
	// (Overlaps): learn it first, once per connected server.
	mariadb, err := e.isMariaDB(ctx)
	if err != nil {
		return err
	}
	maxUser := maxUserCharsMySQL
	if mariadb {
		maxUser = maxUserCharsMariaDB
	}
	if err := checkName("user name", spec.Name, maxUser); err != nil {
		return backenderr.Invalid("%v", err)
	}
	if err := checkName("spec.mysql.host", hostOf(spec), maxHostChars); err != nil {
		return backenderr.Invalid("%v", err)
	}
	for _, pw := range []string{spec.Password, spec.OldPassword} {
		if strings.ContainsRune(pw, 0) || !utf8.ValidString(pw) {
			return backenderr.Invalid("the password must be valid UTF-8 without NUL bytes")
		}
	}
	if spec.OldPassword != "" && (spec.Password == "" || e.knownMySQL()) {
		return backenderr.Invalid("a previous password (DualPassword rotation) needs a password, and is supported on MariaDB only")
	}
	if spec.Alternate != nil {
		return backenderr.Invalid("an alternate login (AlternatingUsers rotation) is not supported on MySQL or MariaDB; use DualPassword")
	}
	if spec.ConnectionLimit == 0 {
		return backenderr.Invalid("connectionLimit 0 cannot be expressed on MySQL, where MAX_USER_CONNECTIONS 0 means unlimited; use -1 for no limit or a positive number")
	}
	if len(spec.MemberOf) > 0 {
		return backenderr.Invalid("memberOf (roles) is not supported on MySQL or MariaDB by this operator; grant privileges directly")
	}
	if spec.CreateDB || spec.CreateRole {
		return backenderr.Invalid("createDB and createRole are PostgreSQL role attributes")
	}
	for _, g := range spec.Grants {
		if err := validateGrant(g, mariadb); err != nil {
			return backenderr.Invalid("%v", err)
		}
	}
	return nil
}

// accountDrift lists attribute differences (not privileges).
func accountDrift(spec sqlengine.UserSpec, st accountState, mariadb bool) []string {
	var d []string
	if want := maxUserConnections(spec.ConnectionLimit); st.maxConns != want {
		d = append(d, fmt.Sprintf("MAX_USER_CONNECTIONS is %d, want %d", st.maxConns, want))
	}
	if want := wantSSLType(spec); st.sslType != want {
		d = append(d, fmt.Sprintf("TLS requirement is %q, want %q", st.sslType, want))
	}
	if st.locked {
		d = append(d, "account is locked")
	}
	return append(d, passwordDrift(spec, st, mariadb)...)
}

// missingDependencies lists declared grant targets that do not exist: a
// database, or a table in it.
func missingDependencies(ctx context.Context, v view, grants []sqlengine.Grant) ([]string, error) {
	var missing []string
	seen := map[string]bool{}
	for _, g := range grants {
		if !seen[g.Database] {
			seen[g.Database] = true
			st, err := v.database(ctx, g.Database)
			if err != nil {
				return nil, err
			}
			if !st.exists {
				missing = append(missing, fmt.Sprintf("database %q does not exist yet", g.Database))
				continue
			}
		}
		for _, t := range g.Tables {
			ok, err := v.tableExists(ctx, g.Database, t)
			if err != nil {
				return nil, err
			}
			if !ok {
				missing = append(missing, fmt.Sprintf("table %q.%q does not exist", g.Database, t))
			}
		}
	}
	return missing, nil
}

// Observe reports whether the account exists and every difference.
func (e users) Observe(ctx context.Context, spec sqlengine.UserSpec, mode snapshot.Mode) (port.Observation, error) {
	mariadb, err := e.isMariaDB(ctx)
	if err != nil {
		return port.Observation{}, err
	}
	v, err := e.view(ctx, mode)
	if err != nil {
		return port.Observation{}, err
	}
	st, err := v.account(ctx, spec.Name, hostOf(spec))
	if err != nil || !st.exists {
		return port.Observation{}, err
	}
	drift := accountDrift(spec, st, mariadb)
	missing, err := missingDependencies(ctx, v, spec.Grants)
	if err != nil {
		return port.Observation{}, err
	}
	drift = append(drift, missing...)
	drift = append(drift, describeDiff(diffPrivileges(st.privs, desiredPrivileges(spec.Grants)))...)
	pw := port.PasswordDiffers
	if passwordsMatch(spec, st, mariadb) {
		pw = port.PasswordMatches
	}
	return port.Observation{Exists: true, Drift: drift, Password: pw}, nil
}

// Apply creates or repairs the account and brings its privileges to the
// declared set by diff. MySQL commits each account statement on its own, so a
// failure part way leaves a state the next reconcile completes.
func (e users) Apply(ctx context.Context, spec sqlengine.UserSpec) error {
	mariadb, err := e.isMariaDB(ctx)
	if err != nil {
		return err
	}
	if spec.OldPassword != "" && !mariadb {
		return backenderr.Invalid("a previous password (DualPassword rotation) is supported on MariaDB only")
	}
	lv := live{db: e.db, mariadb: mariadb}
	missing, err := missingDependencies(ctx, lv, spec.Grants)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return backenderr.Missing(strings.Join(missing, "; "), nil)
	}
	host := hostOf(spec)
	st, err := lv.account(ctx, spec.Name, host)
	if err != nil {
		return err
	}
	if !st.exists {
		if err := e.execSecret(ctx, createUserSQL(spec, mariadb)); err != nil {
			return err
		}
		if st, err = lv.account(ctx, spec.Name, host); err != nil {
			return err
		}
	} else {
		plain, secret := alterUserSQL(spec, st, mariadb)
		if err := e.exec(ctx, plain...); err != nil {
			return err
		}
		if secret != "" {
			if err := e.execSecret(ctx, secret); err != nil {
				return err
			}
		}
	}
	// ALTER USER leaves privileges alone: st.privs is still what is held.
	return e.applyPrivileges(ctx, account(spec.Name, host), st.privs, desiredPrivileges(spec.Grants))
}

func (e *Engine) applyPrivileges(ctx context.Context, acct string, have, want privSet) error {
	changes := diffPrivileges(have, want)
	stmts := make([]string, len(changes))
	for i, c := range changes {
		stmts[i] = privilegeStatement(acct, c)
	}
	return e.exec(ctx, stmts...)
}

// Delete drops the account, which revokes everything it holds; a missing
// account is not an error.
func (e users) Delete(ctx context.Context, spec sqlengine.UserSpec) error {
	if err := checkName("user name", spec.Name, maxUserCharsMariaDB); err != nil {
		return backenderr.Invalid("%v", err)
	}
	return e.exec(ctx, "DROP USER IF EXISTS "+account(spec.Name, hostOf(spec)))
}

// Overlaps: MariaDB accounts accept several passwords (IDENTIFIED VIA ... OR
// ...). MySQL 8's RETAIN CURRENT PASSWORD is not used: its verifiers cannot
// be compared here, so a repeated Apply could retain the new password in
// place of the old one. The flavor is known once Info has run; until then,
// and on MySQL, the list is empty (InPlace only).
func (e users) Overlaps() []port.Overlap {
	if e.knownMariaDB() {
		return []port.Overlap{port.OverlapDualPassword}
	}
	return nil
}

// Sessions counts the server's connections logged in as username, whatever
// their host; the admin sees other users' connections with the PROCESS
// privilege.
func (e users) Sessions(ctx context.Context, username string) (int, error) {
	var n int
	err := e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?`, username).Scan(&n)
	return n, classify(err)
}

// exec runs statements one by one on one connection. Like execSecret, it
// invalidates the snapshot once done, whether or not the statements succeeded.
func (e *Engine) exec(ctx context.Context, stmts ...string) error {
	if len(stmts) == 0 {
		return nil
	}
	defer e.snap.Invalidate()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return classify(err)
	}
	defer conn.Close() //nolint:errcheck
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return classify(err)
		}
	}
	return nil
}

// execSecret runs a statement that holds a password or its hash. A syntax
// error quotes the statement near the fault, so the server's message is
// withheld: only the error number is kept.
func (e *Engine) execSecret(ctx context.Context, stmt string) error {
	defer e.snap.Invalidate()
	_, err := e.db.ExecContext(ctx, stmt)
	if err == nil {
		return nil
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		c := classify(&mysql.MySQLError{Number: my.Number, SQLState: my.SQLState, Message: fmt.Sprintf("error %d setting the account's password (message withheld: it may quote the password)", my.Number)})
		if be, ok := backenderr.As(c); ok {
			be.Err = nil
		}
		return c
	}
	return classify(err)
}
