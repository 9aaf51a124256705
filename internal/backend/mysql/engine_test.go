package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/test/harness"
)

var (
	srv      *harness.MariaDB
	srvOnce  sync.Once
	srvStart error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if srv != nil {
		_ = srv.Close()
	}
	os.Exit(code)
}

// server starts the private MariaDB on first use, so that the pure tests and
// fuzz workers run without one. Its global sql_mode is hostile: the adapter
// must not depend on it.
func server(t *testing.T) *harness.MariaDB {
	t.Helper()
	srvOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		srv, srvStart = harness.StartMariaDB(ctx, "--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT")
	})
	if srvStart != nil {
		t.Fatalf("cannot start MariaDB for the adapter tests: %v", srvStart)
	}
	return srv
}

func newEngine(t *testing.T, maxConns int) *Engine {
	t.Helper()
	srv := server(t)
	e, err := Open(sqlengine.Config{Host: srv.Host, Port: srv.Port, Username: srv.AdminUser, Password: srv.AdminPassword, MaxConnections: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Info(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return e.(*Engine)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// admin runs statements as the admin, under the server's global sql_mode.
func admin(t *testing.T, stmts ...string) {
	t.Helper()
	db, err := srv.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck
	for _, s := range stmts {
		if _, err := db.ExecContext(testCtx(t), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// login opens a session as user from 127.0.0.1 in database db.
func login(t *testing.T, user, password, db string) (*sql.Conn, error) {
	t.Helper()
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = user, password, "tcp", net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)), db
	c.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, errors.New("connector: invalid configuration")
	}
	pool := sql.OpenDB(conn)
	t.Cleanup(func() { _ = pool.Close() })
	return pool.Conn(testCtx(t))
}

func reason(err error) string {
	if be, ok := backenderr.As(err); ok {
		return be.Reason
	}
	return ""
}

func TestInfo(t *testing.T) {
	e := newEngine(t, 1)
	info, err := e.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Flavor != FlavorMariaDB || !strings.HasPrefix(info.Version, "10.") && !strings.HasPrefix(info.Version, "11.") {
		t.Errorf("Info() = %+v, want MariaDB 10.x or 11.x", info)
	}
}

func TestLoginFailuresKeepThePasswordOut(t *testing.T) {
	ctx := testCtx(t)
	srv := server(t)
	secret := "s3cret-'\\-password"
	e, err := Open(sqlengine.Config{Host: srv.Host, Port: srv.Port, Username: srv.AdminUser, Password: secret, MaxConnections: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, err = e.Info(ctx)
	if reason(err) != backenderr.ReasonAuthFailed || strings.Contains(err.Error(), secret) {
		t.Errorf("wrong password: got reason %q, error %v", reason(err), err)
	}

	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	down, err := Open(sqlengine.Config{Host: srv.Host, Port: port, Username: "x", Password: secret, MaxConnections: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	_, err = down.Info(ctx)
	if reason(err) != backenderr.ReasonUnavailable || strings.Contains(err.Error(), secret) {
		t.Errorf("closed port: got reason %q, error %v", reason(err), err)
	}
}

func TestDatabaseLifecycle(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, 2)
	spec := sqlengine.DatabaseSpec{Name: "shop`; DROP DATABASE mysql; --", CharacterSet: "utf8mb4", Collation: "utf8mb4_bin"}
	if err := dbClient(e).Validate(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	obs, err := dbClient(e).Observe(ctx, spec, snapshot.Live)
	if err != nil || obs.Exists {
		t.Fatalf("before create: %+v, %v", obs, err)
	}
	if err := dbClient(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, err = dbClient(e).Observe(ctx, spec, snapshot.Live); err != nil || !obs.UpToDate() {
		t.Fatalf("after create: %+v, %v", obs, err)
	}

	// Changed out of band: reported, then repaired.
	admin(t, "ALTER DATABASE "+ident(spec.Name)+" CHARACTER SET latin1 COLLATE latin1_swedish_ci")
	obs, err = dbClient(e).Observe(ctx, spec, snapshot.Live)
	want := []string{`character set is "latin1", want "utf8mb4"`, `collation is "latin1_swedish_ci", want "utf8mb4_bin"`}
	if err != nil || !slices.Equal(obs.Drift, want) {
		t.Fatalf("drift: got %q, %v; want %q", obs.Drift, err, want)
	}
	if err := dbClient(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, err = dbClient(e).Observe(ctx, spec, snapshot.Live); err != nil || !obs.UpToDate() {
		t.Fatalf("after repair: %+v, %v", obs, err)
	}

	// An unknown collation is the spec's fault, and terminal.
	bad := sqlengine.DatabaseSpec{Name: "badcoll", Collation: "no_such_collation"}
	if err := dbClient(e).Apply(ctx, bad); reason(err) != backenderr.ReasonInvalidSpec {
		t.Errorf("unknown collation: reason %q (%v), want InvalidSpec", reason(err), err)
	}

	if err := dbClient(e).Delete(ctx, sqlengine.DatabaseSpec{Name: spec.Name}); err != nil {
		t.Fatal(err)
	}
	if err := dbClient(e).Delete(ctx, sqlengine.DatabaseSpec{Name: spec.Name}); err != nil {
		t.Fatalf("deleting a missing database: %v", err)
	}
	if obs, err = dbClient(e).Observe(ctx, spec, snapshot.Live); err != nil || obs.Exists {
		t.Fatalf("after delete: %+v, %v", obs, err)
	}
}

func TestValidate(t *testing.T) {
	e := newEngine(t, 1)
	long := strings.Repeat("u", 81)
	cases := []struct {
		reason string
		spec   sqlengine.UserSpec
	}{
		{"name over MariaDB's 80 characters", sqlengine.UserSpec{Name: long, ConnectionLimit: -1}},
		{"roles are not supported", sqlengine.UserSpec{Name: "u", ConnectionLimit: -1, MemberOf: []string{"r"}}},
		{"0 means unlimited on MySQL", sqlengine.UserSpec{Name: "u", ConnectionLimit: 0}},
		{"MySQL has no schemas", sqlengine.UserSpec{Name: "u", ConnectionLimit: -1, Grants: []sqlengine.Grant{{Database: "d", Schema: "s", Access: "ReadOnly"}}}},
		{"CONNECT is PostgreSQL's", sqlengine.UserSpec{Name: "u", ConnectionLimit: -1, Grants: []sqlengine.Grant{{Database: "d", Privileges: []string{"CONNECT"}}}}},
		{"EXECUTE does not apply to tables", sqlengine.UserSpec{Name: "u", ConnectionLimit: -1, Grants: []sqlengine.Grant{{Database: "d", Tables: []string{"t"}, Privileges: []string{"EXECUTE"}}}}},
		{"GRANT OPTION is never granted", sqlengine.UserSpec{Name: "u", ConnectionLimit: -1, Grants: []sqlengine.Grant{{Database: "d", Privileges: []string{"GRANT OPTION"}}}}},
		{"host with a NUL", sqlengine.UserSpec{Name: "u", Host: "a\x00b", ConnectionLimit: -1}},
		{"PostgreSQL role attributes", sqlengine.UserSpec{Name: "u", ConnectionLimit: -1, CreateDB: true}},
	}
	for _, c := range cases {
		if err := roles(e).Validate(context.Background(), c.spec); reason(err) != backenderr.ReasonInvalidSpec {
			t.Errorf("%s: got %v, want InvalidSpec", c.reason, err)
		}
	}
	okSpec := sqlengine.UserSpec{Name: strings.Repeat("u", 80), ConnectionLimit: -1,
		Grants: []sqlengine.Grant{{Database: "d", Privileges: []string{"DELETE HISTORY", "SELECT"}}}}
	if err := roles(e).Validate(context.Background(), okSpec); err != nil {
		t.Errorf("80 characters and DELETE HISTORY on MariaDB: %v", err)
	}
	dbCases := []struct {
		reason string
		spec   sqlengine.DatabaseSpec
	}{
		{"database name over 64 characters", sqlengine.DatabaseSpec{Name: strings.Repeat("d", 65)}},
		{"trailing space", sqlengine.DatabaseSpec{Name: "d "}},
		{"PostgreSQL settings", sqlengine.DatabaseSpec{Name: "d", Extensions: []string{"x"}}},
		{"charset with a quote", sqlengine.DatabaseSpec{Name: "d", CharacterSet: "utf8'"}},
	}
	for _, c := range dbCases {
		if err := dbClient(e).Validate(context.Background(), c.spec); reason(err) != backenderr.ReasonInvalidSpec {
			t.Errorf("%s: got %v, want InvalidSpec", c.reason, err)
		}
	}
}

// can reports whether the session may run stmt: nil, or the server's error.
func can(t *testing.T, c *sql.Conn, stmt string) error {
	t.Helper()
	_, err := c.ExecContext(testCtx(t), stmt)
	return err
}

func TestUserLifecycle(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, 2)
	dbName := "app_db`x" // _ is a grant wildcard; ` needs quoting
	lookalike := "appXdb`x"
	admin(t, "CREATE DATABASE "+ident(dbName), "CREATE DATABASE "+ident(lookalike),
		"CREATE TABLE "+ident(dbName)+".items (id int)", "CREATE TABLE "+ident(dbName)+".secrets (id int)",
		"CREATE TABLE "+ident(lookalike)+".items (id int)")
	t.Cleanup(func() { admin(t, "DROP DATABASE "+ident(dbName), "DROP DATABASE "+ident(lookalike)) })

	spec := sqlengine.UserSpec{Name: `o'neil"\`, Password: `pa'ss\"word` + "`", ConnectionLimit: 5,
		Grants: []sqlengine.Grant{{Database: dbName, Access: "ReadOnly"}}}
	if err := roles(e).Validate(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if obs, err := roles(e).Observe(ctx, spec, snapshot.Live); err != nil || obs.Exists {
		t.Fatalf("before create: %+v, %v", obs, err)
	}
	if err := roles(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, err := roles(e).Observe(ctx, spec, snapshot.Live); err != nil || !obs.UpToDate() {
		t.Fatalf("after create: %+v, %v", obs, err)
	}

	// The account logs in with the password and can do exactly what ReadOnly allows.
	c, err := login(t, spec.Name, spec.Password, dbName)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := can(t, c, "SELECT * FROM items"); err != nil {
		t.Errorf("ReadOnly cannot SELECT: %v", err)
	}
	for _, stmt := range []string{"INSERT INTO items VALUES (1)", "CREATE TABLE t2 (id int)", "SELECT * FROM " + ident(lookalike) + ".items"} {
		if err := can(t, c, stmt); err == nil {
			t.Errorf("ReadOnly may run %s", stmt)
		}
	}
	_ = c.Close()
	if _, err := login(t, spec.Name, "wrong", dbName); err == nil {
		t.Error("login with a wrong password succeeded")
	}

	// ReadWrite plus one table: the diff grants and revokes only what changed.
	spec.Grants = []sqlengine.Grant{{Database: dbName, Access: "ReadWrite"}, {Database: dbName, Tables: []string{"secrets"}, Privileges: []string{"ALTER"}}}
	obs, err := roles(e).Observe(ctx, spec, snapshot.Live)
	wantDrift := []string{
		"missing CREATE TEMPORARY TABLES, DELETE, EXECUTE, INSERT, LOCK TABLES, UPDATE on database " + dbName,
		"missing ALTER on table " + dbName + ".secrets",
	}
	if err != nil || !slices.Equal(obs.Drift, wantDrift) {
		t.Fatalf("drift: got %q, %v; want %q", obs.Drift, err, wantDrift)
	}
	if err := roles(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	c, err = login(t, spec.Name, spec.Password, dbName)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	for _, stmt := range []string{"INSERT INTO items VALUES (1)", "ALTER TABLE secrets ADD COLUMN x int"} {
		if err := can(t, c, stmt); err != nil {
			t.Errorf("ReadWrite + ALTER on secrets cannot run %s: %v", stmt, err)
		}
	}
	for _, stmt := range []string{"ALTER TABLE items ADD COLUMN x int", "DROP TABLE items"} {
		if err := can(t, c, stmt); err == nil {
			t.Errorf("ReadWrite may run %s", stmt)
		}
	}
	_ = c.Close()

	// Drift made out of band is reported and repaired: a revoke, an extra
	// grant, a global privilege, an ALTER USER of limit, TLS and password.
	admin(t,
		"REVOKE INSERT ON "+ident(grantPattern(dbName))+".* FROM "+account(spec.Name, "%"),
		"GRANT DROP ON "+ident(grantPattern(dbName))+".* TO "+account(spec.Name, "%"),
		"GRANT PROCESS ON *.* TO "+account(spec.Name, "%"),
		"ALTER USER "+account(spec.Name, "%")+" REQUIRE SSL WITH MAX_USER_CONNECTIONS 1",
		"ALTER USER "+account(spec.Name, "%")+" IDENTIFIED BY 'changed'")
	obs, err = roles(e).Observe(ctx, spec, snapshot.Live)
	wantDrift = []string{
		"MAX_USER_CONNECTIONS is 1, want 5",
		`TLS requirement is "ANY", want ""`,
		"password differs from the Secret",
		"extra PROCESS on *.*",
		"extra DROP on database " + dbName,
		"missing INSERT on database " + dbName,
	}
	if err != nil || !slices.Equal(obs.Drift, wantDrift) {
		t.Fatalf("drift: got %q, %v; want %q", obs.Drift, err, wantDrift)
	}
	if err := roles(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, err := roles(e).Observe(ctx, spec, snapshot.Live); err != nil || !obs.UpToDate() {
		t.Fatalf("after repair: %+v, %v", obs, err)
	}
	if _, err := login(t, spec.Name, spec.Password, dbName); err != nil {
		t.Fatalf("login after repair: %v", err)
	}

	// Dropped out of band: reported as missing and created again.
	admin(t, "DROP USER "+account(spec.Name, "%"))
	if obs, err := roles(e).Observe(ctx, spec, snapshot.Live); err != nil || obs.Exists {
		t.Fatalf("after DROP USER: %+v, %v", obs, err)
	}
	if err := roles(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, err := roles(e).Observe(ctx, spec, snapshot.Live); err != nil || !obs.UpToDate() {
		t.Fatalf("after re-create: %+v, %v", obs, err)
	}

	// No grants: everything is revoked, and the account stays.
	spec.Grants = nil
	if err := roles(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	c, err = login(t, spec.Name, spec.Password, "")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := can(t, c, "SELECT * FROM "+ident(dbName)+".items"); err == nil {
		t.Error("revoked account may still SELECT")
	}
	_ = c.Close()

	if err := roles(e).Delete(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := roles(e).Delete(ctx, spec); err != nil {
		t.Fatalf("deleting a missing account: %v", err)
	}
	if obs, err := roles(e).Observe(ctx, spec, snapshot.Live); err != nil || obs.Exists {
		t.Fatalf("after delete: %+v, %v", obs, err)
	}
}

func TestUserHostTLSAndMissingDependencies(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, 1)
	spec := sqlengine.UserSpec{Name: "hosted", Host: "127.0.0.1", Password: "pw", ConnectionLimit: -1, RequireTLS: true,
		Grants: []sqlengine.Grant{{Database: "not_yet", Access: "ReadOnly"}}}
	if err := roles(e).Apply(ctx, spec); reason(err) != backenderr.ReasonDependencyMissing {
		t.Fatalf("grant on a missing database: %v, want DependencyMissing", err)
	}
	spec.Grants = nil
	if err := roles(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = roles(e).Delete(context.Background(), spec) })
	var sslType string
	var maxConns int
	db, err := srv.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck
	if err := db.QueryRowContext(ctx, "SELECT ssl_type, max_user_connections FROM mysql.user WHERE User = 'hosted' AND Host = '127.0.0.1'").Scan(&sslType, &maxConns); err != nil {
		t.Fatal(err)
	}
	if sslType != "ANY" || maxConns != 0 {
		t.Errorf("account 'hosted'@'127.0.0.1': ssl_type %q, max_user_connections %d; want ANY, 0", sslType, maxConns)
	}
	// This server has no TLS: REQUIRE SSL makes a plain login fail.
	if _, err := login(t, "hosted", "pw", ""); err == nil {
		t.Error("REQUIRE SSL account logged in without TLS")
	}
	// The account 'hosted'@'%' is another account and does not exist.
	other := spec
	other.Host = ""
	if obs, err := roles(e).Observe(ctx, other, snapshot.Live); err != nil || obs.Exists {
		t.Errorf("'hosted'@'%%': %+v, %v; want absent", obs, err)
	}
}

func TestPoolIsBounded(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.exec(ctx, "DO SLEEP(0.2)")
		}()
	}
	db, err := srv.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	most := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		most = max(most, n)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if most == 0 || most > 2 {
		t.Errorf("saw %d statements at once with MaxConnections 2", most)
	}
}

func TestConnection(t *testing.T) {
	e := newEngine(t, 1)
	info := e.Connection("app", "p@ss:/word", "shop")
	if info.Type != "mysql" || info.Port != srv.Port || info.Database != "shop" {
		t.Errorf("Connection() = %+v", info)
	}
	wantURI := "mysql://app:p%40ss%3A%2Fword@" + net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)) + "/shop"
	if info.URI != wantURI {
		t.Errorf("URI = %q, want %q", info.URI, wantURI)
	}
	if want := "jdbc:mariadb://" + net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)) + "/shop"; info.JDBCURL != want {
		t.Errorf("JDBC URL = %q, want %q", info.JDBCURL, want)
	}
}

// TestQuotingOnTheServer sends every hostile payload through ident and
// literal to the server, whose global sql_mode has ANSI_QUOTES and
// NO_BACKSLASH_ESCAPES, and reads back exactly what was sent.
func TestQuotingOnTheServer(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, 1)
	for _, s := range hostile {
		if strings.ContainsRune(s, 0) || checkName("x", s, 64) != nil {
			continue
		}
		got, col, err := selectAs(ctx, e.db, "SELECT "+literal(s)+" AS "+ident(s))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got != s || col != s {
			t.Errorf("literal/ident %q came back as value %q, column %q", s, got, col)
		}
	}
}

// selectAs runs a one-row, one-column query and returns the value and the
// column's name.
func selectAs(ctx context.Context, db *sql.DB, q string) (value, column string, err error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return "", "", err
	}
	defer rows.Close() //nolint:errcheck
	cols, err := rows.Columns()
	if err != nil || len(cols) != 1 {
		return "", "", fmt.Errorf("columns %v: %w", cols, err)
	}
	if !rows.Next() {
		return "", "", fmt.Errorf("no row: %w", rows.Err())
	}
	if err := rows.Scan(&value); err != nil {
		return "", "", err
	}
	return value, cols[0], rows.Err()
}

func TestTLS(t *testing.T) {
	ctx := testCtx(t)
	files, err := harness.WriteTLSFiles("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = files.Close() })
	other, err := harness.WriteTLSFiles("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	tlsSrv, err := harness.StartMariaDB(ctx, files.MariaDBArgs()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tlsSrv.Close() })

	open := func(mode string, ca []byte) sqlengine.Engine {
		e, err := Open(sqlengine.Config{Host: tlsSrv.Host, Port: tlsSrv.Port, Username: tlsSrv.AdminUser, Password: tlsSrv.AdminPassword,
			MaxConnections: 1, TLSMode: mode, CAPEM: ca})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		t.Cleanup(e.Close)
		return e
	}
	cases := []struct {
		reason, mode string
		ca           []byte
		encrypted    bool
		wantReason   string
	}{
		{"disable talks in the clear", "disable", nil, false, ""},
		{"require encrypts without checking", "require", nil, true, ""},
		{"verify-ca checks the chain", "verify-ca", files.CAPEM, true, ""},
		{"verify-full checks the chain and the address", "verify-full", files.CAPEM, true, ""},
		{"verify-ca refuses another CA", "verify-ca", other.CAPEM, false, backenderr.ReasonUnavailable},
		{"verify-full refuses another CA", "verify-full", other.CAPEM, false, backenderr.ReasonUnavailable},
	}
	for _, c := range cases {
		e := open(c.mode, c.ca).(*Engine)
		_, err := e.Info(ctx)
		if c.wantReason != "" {
			if reason(err) != c.wantReason {
				t.Errorf("%s: got %v, want reason %s", c.reason, err, c.wantReason)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.reason, err)
			continue
		}
		var name, cipher string
		if err := e.db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
			t.Fatal(err)
		}
		if (cipher != "") != c.encrypted {
			t.Errorf("%s: Ssl_cipher is %q", c.reason, cipher)
		}
	}
	if _, err := Open(sqlengine.Config{Host: "h", TLSMode: "verify-ca", CAPEM: []byte("not PEM")}); reason(err) != backenderr.ReasonInvalidSpec {
		t.Errorf("a CA Secret without PEM: got %v, want InvalidSpec", err)
	}

	// An account with requireTLS logs in over TLS, and only over TLS.
	e := open("verify-full", files.CAPEM).(*Engine)
	spec := sqlengine.UserSpec{Name: "tls_only", Password: "pw", ConnectionLimit: -1, RequireTLS: true}
	if err := roles(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	user := sqlengine.Config{Host: tlsSrv.Host, Port: tlsSrv.Port, Username: spec.Name, Password: spec.Password, MaxConnections: 1}
	plain, err := Open(user)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Info(ctx); err == nil {
		t.Error("a requireTLS account logged in without TLS")
	}
	user.TLSMode = "require"
	encrypted, err := Open(user)
	if err != nil {
		t.Fatal(err)
	}
	defer encrypted.Close()
	if _, err := encrypted.Info(ctx); err != nil {
		t.Errorf("a requireTLS account cannot log in over TLS: %v", err)
	}
	// The connection Secret tells clients to verify.
	if info := e.Connection("tls_only", "pw", "d"); !strings.HasSuffix(info.URI, "?ssl-mode=VERIFY_IDENTITY") || !strings.HasSuffix(info.JDBCURL, "?sslMode=verify-full") {
		t.Errorf("Connection() = %s, %s", info.URI, info.JDBCURL)
	}
}
