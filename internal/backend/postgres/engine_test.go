package postgres

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/test/harness"
)

var srv *harness.Postgres

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	srv, err = harness.StartPostgres(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot start PostgreSQL for the adapter tests:", err)
		return 1
	}
	defer srv.Close()
	return m.Run()
}

func newEngine(t *testing.T, maxConns int) *Engine {
	t.Helper()
	e, err := Open(sqlengine.Config{Host: srv.Host, Port: srv.Port, Username: srv.AdminUser, Password: srv.AdminPassword, MaxConnections: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.(*Engine)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// admin runs statements as the superuser in database db.
func admin(t *testing.T, db string, stmts ...string) {
	t.Helper()
	c, err := pgx.Connect(testCtx(t), srv.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, s := range stmts {
		if _, err := c.Exec(testCtx(t), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// login connects as user to db; the caller closes the connection.
func login(t *testing.T, user, password, db string) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d sslmode=disable", srv.Host, srv.Port))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password, cfg.Database = user, password, db
	return pgx.ConnectConfig(testCtx(t), cfg)
}

func mustApplyUser(t *testing.T, e *Engine, spec sqlengine.UserSpec) {
	t.Helper()
	ctx := testCtx(t)
	if err := roles(e).Apply(ctx, spec); err != nil {
		t.Fatalf("ApplyUser: %v", err)
	}
	obs, err := roles(e).Observe(ctx, spec, snapshot.Live)
	if err != nil {
		t.Fatal(err)
	}
	if !obs.UpToDate() {
		t.Fatalf("after ApplyUser the user is not up to date: %+v", obs)
	}
}

func TestInfo(t *testing.T) {
	info, err := newEngine(t, 1).Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Flavor != "PostgreSQL" || info.Version == "" {
		t.Errorf("Info = %+v", info)
	}
}

func TestInfoWrongPassword(t *testing.T) {
	e, _ := Open(sqlengine.Config{Host: srv.Host, Port: srv.Port, Username: srv.AdminUser, Password: "wrong", MaxConnections: 1})
	defer e.Close()
	_, err := e.Info(testCtx(t))
	if be, ok := backenderr.As(err); !ok || be.Reason != backenderr.ReasonAuthFailed {
		t.Fatalf("wrong password gave %v, want reason %s", err, backenderr.ReasonAuthFailed)
	}
}

func TestDatabaseLifecycle(t *testing.T) {
	e := newEngine(t, 2)
	ctx := testCtx(t)
	admin(t, "postgres", `CREATE ROLE "db owner"`)
	spec := sqlengine.DatabaseSpec{Name: `shop "ü"`, Owner: "db owner", Encoding: "UTF8", Locale: "C.UTF-8",
		Schemas: []string{"billing", "audit"}, Extensions: []string{"pgcrypto"}}
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
	// Drift: another owner, a dropped schema and extension.
	admin(t, spec.Name, `DROP SCHEMA audit`, `DROP EXTENSION pgcrypto`)
	admin(t, "postgres", `ALTER DATABASE "shop ""ü""" OWNER TO postgres`)
	obs, _ = dbClient(e).Observe(ctx, spec, snapshot.Live)
	if len(obs.Drift) != 3 {
		t.Fatalf("drift = %q, want owner, schema and extension", obs.Drift)
	}
	if err := dbClient(e).Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, _ = dbClient(e).Observe(ctx, spec, snapshot.Live); !obs.UpToDate() {
		t.Fatalf("after repair: %+v", obs)
	}
	var owner, schemaOwner string
	c, err := pgx.Connect(ctx, srv.URL(spec.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, `SELECT pg_get_userbyid(datdba), (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname='audit') FROM pg_database WHERE datname=current_database()`).Scan(&owner, &schemaOwner); err != nil {
		t.Fatal(err)
	}
	if owner != "db owner" || schemaOwner != "db owner" {
		t.Errorf("owner %q, schema owner %q", owner, schemaOwner)
	}
	if _, err := c.Exec(ctx, `SELECT gen_random_uuid()`); err != nil {
		t.Errorf("pgcrypto not usable: %v", err)
	}
	c.Close(ctx)

	if err := dbClient(e).Delete(ctx, sqlengine.DatabaseSpec{Name: spec.Name}); err != nil {
		t.Fatal(err)
	}
	if obs, _ = dbClient(e).Observe(ctx, spec, snapshot.Live); obs.Exists {
		t.Fatal("database still exists after delete")
	}
	if err := dbClient(e).Delete(ctx, sqlengine.DatabaseSpec{Name: spec.Name}); err != nil {
		t.Fatalf("deleting a missing database: %v", err)
	}
}

func TestOverlongAndHostileNames(t *testing.T) {
	e := newEngine(t, 1)
	if err := dbClient(e).Validate(context.Background(), sqlengine.DatabaseSpec{Name: strings.Repeat("x", 64)}); err == nil {
		t.Error("a 64-byte name passed validation")
	}
	if err := roles(e).Validate(context.Background(), sqlengine.UserSpec{Name: ""}); err == nil {
		t.Error("an empty name passed validation")
	}
	// Every hostile name that passes validation round-trips through the server.
	ctx := testCtx(t)
	for _, name := range hostile {
		spec := sqlengine.UserSpec{Name: name, Password: `p'w\"` + name, ConnectionLimit: -1}
		if roles(e).Validate(context.Background(), spec) != nil {
			continue
		}
		mustApplyUser(t, e, spec)
		c, err := login(t, name, spec.Password, "postgres")
		if err != nil {
			t.Errorf("role %q cannot log in: %v", name, err)
			continue
		}
		var who string
		_ = c.QueryRow(ctx, "SELECT current_user").Scan(&who)
		c.Close(ctx)
		if who != name {
			t.Errorf("logged in as %q, want %q", who, name)
		}
		if err := roles(e).Delete(ctx, sqlengine.UserSpec{Name: name}); err != nil {
			t.Errorf("delete %q: %v", name, err)
		}
	}
	var n int
	c, _ := pgx.Connect(ctx, srv.URL("postgres"))
	defer c.Close(ctx)
	_ = c.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'`).Scan(&n)
	if n != 1 {
		t.Fatal("the postgres role is gone")
	}
}

func TestUserGrantsExactly(t *testing.T) {
	e := newEngine(t, 3)
	ctx := testCtx(t)
	admin(t, "postgres", `CREATE ROLE app_owner`, `CREATE DATABASE app OWNER app_owner`)
	admin(t, "app", `SET ROLE app_owner`, `CREATE TABLE items (id serial PRIMARY KEY, name text)`,
		`INSERT INTO items (name) VALUES ('a')`, `CREATE SCHEMA billing`, `CREATE TABLE billing.invoices (id int)`)

	spec := sqlengine.UserSpec{Name: "app_rw", Password: "pw-rw", ConnectionLimit: 5,
		Grants: []sqlengine.Grant{{Database: "app", Access: "ReadWrite", Schema: "public"}}}
	mustApplyUser(t, e, spec)

	c, err := login(t, "app_rw", "pw-rw", "app")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	defer c.Close(ctx)
	mustExec := func(sql string) {
		t.Helper()
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
	}
	mustFail := func(sql string) {
		t.Helper()
		if _, err := c.Exec(ctx, sql); err == nil {
			t.Errorf("%s succeeded; the grants should not allow it", sql)
		}
	}
	mustExec(`INSERT INTO items (name) VALUES ('b')`) // needs the sequence too
	mustExec(`UPDATE items SET name = 'c' WHERE id = 1`)
	mustExec(`DELETE FROM items WHERE id = 1`)
	mustFail(`SELECT * FROM billing.invoices`)
	mustFail(`CREATE TABLE t (x int)`)
	mustFail(`TRUNCATE items`)
	// A table the owner creates later is covered by default privileges.
	admin(t, "app", `SET ROLE app_owner`, `CREATE TABLE later (x int)`)
	mustExec(`INSERT INTO later VALUES (1)`)

	// Narrow to read-only: the extra privileges are revoked by diff.
	spec.Grants = []sqlengine.Grant{{Database: "app", Access: "ReadOnly", Schema: "public"}}
	mustApplyUser(t, e, spec)
	mustExec(`SELECT * FROM items`)
	mustFail(`INSERT INTO items (name) VALUES ('d')`)

	// Out-of-band drift is found and repaired.
	admin(t, "app", `REVOKE SELECT ON items FROM app_rw`, `GRANT DELETE ON later TO app_rw`)
	admin(t, "postgres", `ALTER ROLE app_rw CONNECTION LIMIT 99 PASSWORD 'changed'`)
	obs, err := roles(e).Observe(ctx, spec, snapshot.Live)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"connection limit is 99, want 5", "password differs from the Secret",
		"extra DELETE on table public.later in database app", "missing SELECT on table public.items in database app"}
	if strings.Join(obs.Drift, "|") != strings.Join(want, "|") {
		t.Errorf("drift:\n got %q\nwant %q", obs.Drift, want)
	}
	mustApplyUser(t, e, spec)
	c.Close(ctx)
	if c, err = login(t, "app_rw", "pw-rw", "app"); err != nil {
		t.Fatalf("password not repaired: %v", err)
	}
	mustExec(`SELECT * FROM items`)
	mustFail(`DELETE FROM later`)

	// Deleting a role that owns objects is refused and changes nothing.
	admin(t, "app", `CREATE TABLE owned_by_rw (x int)`, `ALTER TABLE owned_by_rw OWNER TO app_rw`)
	err = roles(e).Delete(ctx, sqlengine.UserSpec{Name: "app_rw"})
	if be, ok := backenderr.As(err); !ok || be.Reason != backenderr.ReasonDeletionBlocked || !strings.Contains(be.Message, "REASSIGN OWNED") {
		t.Fatalf("delete of an owner: %v", err)
	}
	mustExec(`SELECT * FROM items`)
	admin(t, "app", `DROP TABLE owned_by_rw`)
	if err := roles(e).Delete(ctx, sqlengine.UserSpec{Name: "app_rw"}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if obs, _ := roles(e).Observe(ctx, spec, snapshot.Live); obs.Exists {
		t.Fatal("role still exists")
	}
}

func TestMemberships(t *testing.T) {
	e := newEngine(t, 1)
	admin(t, "postgres", `CREATE ROLE readers`, `CREATE ROLE writers`)
	spec := sqlengine.UserSpec{Name: "member", Password: "x", ConnectionLimit: -1, MemberOf: []string{"readers"}}
	mustApplyUser(t, e, spec)
	admin(t, "postgres", `GRANT writers TO member`)
	obs, _ := roles(e).Observe(testCtx(t), spec, snapshot.Live)
	if len(obs.Drift) != 1 || !strings.Contains(obs.Drift[0], "writers") {
		t.Fatalf("drift = %q", obs.Drift)
	}
	mustApplyUser(t, e, spec)
	spec.MemberOf = []string{"ghost"}
	if err := roles(e).Apply(testCtx(t), spec); err == nil {
		t.Fatal("membership in a missing role: no error")
	}
}

func TestPoolBound(t *testing.T) {
	e := newEngine(t, 2)
	ctx := testCtx(t)
	admin(t, "postgres", `CREATE DATABASE pool_a`, `CREATE DATABASE pool_b`, `CREATE DATABASE pool_c`)
	errs := make(chan error, 30)
	for i := range 30 {
		go func() {
			db := []string{"pool_a", "pool_b", "pool_c"}[i%3]
			errs <- e.pool.with(ctx, db, func(c *pgx.Conn) error {
				_, err := c.Exec(ctx, `SELECT pg_sleep(0.01)`)
				return err
			})
		}()
	}
	peak := 0
	c, _ := pgx.Connect(ctx, srv.URL("postgres"))
	defer c.Close(ctx)
	for range 30 {
		var n int
		_ = c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'backend-operator'`).Scan(&n)
		peak = max(peak, n)
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if peak > 2 {
		t.Fatalf("peak connections %d above the bound 2", peak)
	}
	// Released connections go to waiters for the same database: far fewer
	// sessions than operations.
	if d := e.pool.dials.Load(); d > 12 {
		t.Errorf("30 operations on 3 databases opened %d sessions, want at most 12", d)
	}
}

func TestPoolWaiterGivesUp(t *testing.T) {
	e := newEngine(t, 1)
	ctx := testCtx(t)
	hold := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = e.pool.with(ctx, "postgres", func(*pgx.Conn) error { close(held); <-hold; return nil })
	}()
	<-held
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := e.pool.with(short, "postgres", func(*pgx.Conn) error { return nil }); err == nil {
		t.Fatal("a waiter past its deadline got a connection")
	}
	close(hold)
	// The slot is not lost: the next caller gets a connection.
	if err := e.pool.with(ctx, "postgres", func(c *pgx.Conn) error { return c.Ping(ctx) }); err != nil {
		t.Fatal(err)
	}
}

// TestBatchIsAtomic pins the property sendAtomic relies on: a failing
// statement undoes the ones before it in the same batch.
func TestBatchIsAtomic(t *testing.T) {
	ctx := testCtx(t)
	c, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	err = sendAtomic(ctx, c, []string{`CREATE ROLE atomic_probe`, `GRANT no_such_role TO atomic_probe`})
	if err == nil {
		t.Fatal("the batch succeeded")
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = 'atomic_probe'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the first statement survived the failed batch (count %d, %v)", n, err)
	}
}

// TestConcurrentGrantsOnSharedDatabase: many roles granted on one database
// at once (the bench's scale mode: thousands of users on a few shared
// databases) all apply on the first try. Two sessions rewriting the same
// ACL row fail with "tuple concurrently updated" instead of waiting, so the
// engine queues privilege changes per database.
func TestConcurrentGrantsOnSharedDatabase(t *testing.T) {
	e := newEngine(t, 5)
	ctx := testCtx(t)
	admin(t, "postgres", `CREATE DATABASE shared_grants`)
	const n = 24
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			spec := sqlengine.UserSpec{Name: fmt.Sprintf("shared_u%02d", i), Password: "pw", ConnectionLimit: -1,
				Grants: []sqlengine.Grant{{Database: "shared_grants", Access: "ReadWrite"}}}
			if err := roles(e).Apply(ctx, spec); err != nil {
				errs <- fmt.Errorf("%s: %w", spec.Name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range n {
		c, err := login(t, fmt.Sprintf("shared_u%02d", i), "pw", "shared_grants")
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		var usage bool
		if err := c.QueryRow(ctx, `SELECT has_schema_privilege('public', 'USAGE') AND has_database_privilege(current_database(), 'CONNECT')`).Scan(&usage); err != nil || !usage {
			t.Errorf("shared_u%02d: privileges %v, %v", i, usage, err)
		}
		_ = c.Close(ctx)
	}
}

// TestGrantOnUndeclaredDatabase: a privilege on a database the spec does not
// name (here only at the database level, with nothing inside it) is drift in
// the live read and in a fresh server snapshot alike, and Apply revokes it.
func TestGrantOnUndeclaredDatabase(t *testing.T) {
	e := newEngine(t, 2)
	ctx := testCtx(t)
	admin(t, "postgres", `CREATE DATABASE elsewhere`)
	spec := sqlengine.UserSpec{Name: "undeclared_db", Password: "pw", ConnectionLimit: -1}
	mustApplyUser(t, e, spec)
	admin(t, "postgres", `GRANT CREATE ON DATABASE elsewhere TO undeclared_db`)
	const want = "extra CREATE on database elsewhere"
	for _, mode := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		obs, err := roles(newEngine(t, 1)).Observe(ctx, spec, mode)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(obs.Drift, func(d string) bool { return strings.HasPrefix(d, want) }) {
			t.Errorf("mode %v: drift %q, want %q", mode, obs.Drift, want)
		}
	}
	mustApplyUser(t, e, spec)
	var has bool
	c, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, `SELECT has_database_privilege('undeclared_db', 'elsewhere', 'CREATE')`).Scan(&has); err != nil || has {
		t.Errorf("after Apply: CREATE on elsewhere %t (%v), want revoked", has, err)
	}
}
