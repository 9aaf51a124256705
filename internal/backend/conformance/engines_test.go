package conformance_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backend-operator/backend-operator/internal/backend/conformance"
	"github.com/backend-operator/backend-operator/internal/backend/mysql"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/postgres"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// Each constructor connects the engine as the operator does (open, then
// Info), finds the kind's client through port.For, which proves the engine
// registered it, and describes the kind to the suite through an independent
// admin connection: pgx, database/sql with go-sql-driver/mysql, go-redis.
// Identifiers in admin statements are quoted here, not by the adapters.

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openSQL connects a SQL engine as the server controller does.
func openSQL(t *testing.T, engine string, cfg sqlengine.Config) sqlengine.Engine {
	t.Helper()
	eng, err := sqlengine.Open(engine, cfg)
	if err != nil {
		t.Fatalf("sqlengine.Open(%q): %v", engine, err)
	}
	t.Cleanup(eng.Close)
	if _, err := eng.Info(testCtx(t)); err != nil {
		t.Fatalf("Info: %v", err)
	}
	return eng
}

func client[C any](t *testing.T, kind, engine string, srv port.Server) C {
	t.Helper()
	c, err := port.For[C](kind, engine, srv)
	if err != nil {
		t.Fatalf("port.For(%s, %s): %v", kind, engine, err)
	}
	return c
}

// ---- PostgreSQL

// pgIdent quotes an identifier with pgx's own quoting.
func pgIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// pgExec runs statements as the superuser in database db.
func pgExec(t *testing.T, db string, stmts ...string) {
	t.Helper()
	ctx := testCtx(t)
	c, err := pgx.Connect(ctx, pg.URL(db))
	if err != nil {
		t.Fatalf("admin connection to %q: %v", db, err)
	}
	defer c.Close(context.Background())
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("admin: %s: %v", s, err)
		}
	}
}

// pgStrings runs a one-column query as the superuser in database db.
func pgStrings(t *testing.T, db, q string, args ...any) []string {
	t.Helper()
	ctx := testCtx(t)
	c, err := pgx.Connect(ctx, pg.URL(db))
	if err != nil {
		t.Fatalf("admin connection to %q: %v", db, err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		t.Fatalf("admin: %s: %v", q, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("admin: %s: %v", q, err)
	}
	return out
}

func openPostgres(t *testing.T) sqlengine.Engine {
	return openSQL(t, postgres.EngineName, sqlengine.Config{Host: pg.Host, Port: pg.Port,
		Username: pg.AdminUser, Password: pg.AdminPassword, MaxConnections: 5})
}

// pgOwner owns the Case's databases, so that an admin-owned database is drift.
const pgOwner = "conformance owner"

func postgresDatabases(t *testing.T) conformance.Case[sqlengine.DatabaseSpec] {
	pgExec(t, "postgres", `DO $$ BEGIN CREATE ROLE `+pgIdent(pgOwner)+`; EXCEPTION WHEN duplicate_object THEN NULL; END $$`)
	return conformance.Case[sqlengine.DatabaseSpec]{
		Client: client[sqlengine.Databases](t, sqlengine.KindDatabase, postgres.EngineName, openPostgres(t)),
		New: func(name string) sqlengine.DatabaseSpec {
			return sqlengine.DatabaseSpec{Name: name, Owner: pgOwner, Schemas: []string{"app"}}
		},
		Names: func(t *testing.T) []string { return pgStrings(t, "postgres", `SELECT datname FROM pg_database`) },
		Break: func(t *testing.T, name string) {
			pgExec(t, name, `DROP SCHEMA app`)
			pgExec(t, "postgres", `ALTER DATABASE `+pgIdent(name)+` OWNER TO `+pgIdent(pg.AdminUser))
		},
		CreateOutOfBand: func(t *testing.T, name string) { pgExec(t, "postgres", `CREATE DATABASE `+pgIdent(name)) },
		State: func(t *testing.T, name string) string {
			// xmin changes with every write of the row, even one that sets the
			// same values.
			db := pgStrings(t, "postgres", `SELECT xmin::text || ' ' || row_to_json(d)::text FROM pg_database d WHERE datname = $1`, name)
			schema := pgStrings(t, name, `SELECT xmin::text || ' ' || row_to_json(n)::text FROM pg_namespace n WHERE nspname = 'app'`)
			return fmt.Sprint(db, schema)
		},
		Hostile: slices.Concat(pgHostile, []string{`"; DROP DATABASE ` + conformance.Canary + `; --`, `'; DROP DATABASE postgres; --`}),
		Invalid: []conformance.Invalid[sqlengine.DatabaseSpec]{
			{Why: "64-byte name PostgreSQL would truncate", Spec: sqlengine.DatabaseSpec{Name: strings.Repeat("x", 64)}},
			{Why: "32 characters but 64 bytes", Spec: sqlengine.DatabaseSpec{Name: strings.Repeat("é", 32)}},
			{Why: "empty name", Spec: sqlengine.DatabaseSpec{Name: ""}},
			{Why: "NUL byte", Spec: sqlengine.DatabaseSpec{Name: "nul\x00byte"}},
			{Why: "not UTF-8", Spec: sqlengine.DatabaseSpec{Name: "bad \xff\xfe utf8"}},
			{Why: "64-byte owner", Spec: sqlengine.DatabaseSpec{Name: "cf_bad_owner", Owner: strings.Repeat("o", 64)}},
			{Why: "64-byte schema", Spec: sqlengine.DatabaseSpec{Name: "cf_bad_schema", Owner: pgOwner, Schemas: []string{strings.Repeat("s", 64)}}},
		},
	}
}

func postgresUsers(t *testing.T) conformance.Case[sqlengine.UserSpec] {
	return conformance.Case[sqlengine.UserSpec]{
		Client: client[sqlengine.Users](t, sqlengine.KindDatabaseUser, postgres.EngineName, openPostgres(t)),
		New: func(name string) sqlengine.UserSpec {
			return sqlengine.UserSpec{Name: name, Password: `p'w"\ ` + name, ConnectionLimit: 5}
		},
		Names: func(t *testing.T) []string { return pgStrings(t, "postgres", `SELECT rolname FROM pg_roles`) },
		Break: func(t *testing.T, name string) {
			pgExec(t, "postgres", `ALTER ROLE `+pgIdent(name)+` CONNECTION LIMIT 3 PASSWORD 'broken'`)
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			pgExec(t, "postgres", `CREATE ROLE `+pgIdent(name)+` LOGIN PASSWORD 'out-of-band'`)
		},
		State: func(t *testing.T, name string) string {
			return fmt.Sprint(pgStrings(t, "postgres", `SELECT xmin::text || ' ' || row_to_json(a)::text FROM pg_authid a WHERE rolname = $1`, name))
		},
		// The harness's admin is a superuser: it reads SCRAM verifiers.
		Password: true,
		Hostile:  slices.Concat(pgHostile, []string{`"; DROP ROLE ` + conformance.Canary + `; --`, `'; DROP ROLE postgres; --`}),
		Invalid: []conformance.Invalid[sqlengine.UserSpec]{
			{Why: "64-byte name PostgreSQL would truncate", Spec: sqlengine.UserSpec{Name: strings.Repeat("x", 64), Password: "pw"}},
			{Why: "32 characters but 64 bytes", Spec: sqlengine.UserSpec{Name: strings.Repeat("é", 32), Password: "pw"}},
			{Why: "empty name", Spec: sqlengine.UserSpec{Name: "", Password: "pw"}},
			{Why: "NUL byte", Spec: sqlengine.UserSpec{Name: "nul\x00byte", Password: "pw"}},
			{Why: "not UTF-8", Spec: sqlengine.UserSpec{Name: "bad \xff\xfe utf8", Password: "pw"}},
			{Why: "NUL byte in the password", Spec: sqlengine.UserSpec{Name: "cf_nul_password", Password: "p\x00w"}},
			{Why: "member of itself", Spec: sqlengine.UserSpec{Name: "cf_self", Password: "pw", MemberOf: []string{"cf_self"}}},
			// CREATE ROLE refuses these (SQLSTATE 42939, reserved_name).
			{Why: "reserved pg_ prefix", Spec: sqlengine.UserSpec{Name: "pg_conformance", Password: "pw"}},
			{Why: "reserved name public", Spec: sqlengine.UserSpec{Name: "public", Password: "pw"}},
			{Why: "reserved name none", Spec: sqlengine.UserSpec{Name: "none", Password: "pw"}},
		},
	}
}

// pgHostile are names PostgreSQL stores as they are (at most 63 bytes).
var pgHostile = []string{
	`a"b`, `""`, `a'b`, `back\slash`, `\'`, `\\'`, `semi;colon`, `/* comment */`, `-- dash`,
	`$$dollar$$`, `$tag$x$tag$`, `E'x'`, `with space`, ` leading and trailing `, `MixedCase`, `UPPER`,
	"ünïcödé", "日本語", "emoji🙂", "tab\there", "new\nline",
	strings.Repeat("x", 63), strings.Repeat("é", 31) + "x", // 63 bytes
}

// ---- MariaDB

// myIdent backquotes an identifier, doubling embedded backquotes.
func myIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func mariaAdmin(t *testing.T) *sql.DB {
	t.Helper()
	db, err := maria.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func myExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(testCtx(t), s); err != nil {
			t.Fatalf("admin: %s: %v", s, err)
		}
	}
}

func myStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(testCtx(t), q, args...)
	if err != nil {
		t.Fatalf("admin: %s: %v", q, err)
	}
	defer rows.Close() //nolint:errcheck
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("admin: %s: %v", q, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("admin: %s: %v", q, err)
	}
	return out
}

func openMariaDB(t *testing.T) sqlengine.Engine {
	return openSQL(t, mysql.EngineName, sqlengine.Config{Host: maria.Host, Port: maria.Port,
		Username: maria.AdminUser, Password: maria.AdminPassword, MaxConnections: 5})
}

func mariaDBDatabases(t *testing.T) conformance.Case[sqlengine.DatabaseSpec] {
	admin := mariaAdmin(t)
	return conformance.Case[sqlengine.DatabaseSpec]{
		Client: client[sqlengine.Databases](t, sqlengine.KindDatabase, mysql.EngineName, openMariaDB(t)),
		New: func(name string) sqlengine.DatabaseSpec {
			return sqlengine.DatabaseSpec{Name: name, CharacterSet: "utf8mb4", Collation: "utf8mb4_unicode_ci"}
		},
		Names: func(t *testing.T) []string {
			return myStrings(t, admin, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA`)
		},
		Break: func(t *testing.T, name string) {
			myExec(t, admin, `ALTER DATABASE `+myIdent(name)+` CHARACTER SET latin1 COLLATE latin1_swedish_ci`)
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			myExec(t, admin, `CREATE DATABASE `+myIdent(name)+` CHARACTER SET latin1`)
		},
		State: func(t *testing.T, name string) string {
			return fmt.Sprint(myStrings(t, admin, `SELECT CONCAT_WS(' ', DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME)
FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, name))
		},
		Hostile: slices.Concat(myHostile, []string{"`; DROP DATABASE " + conformance.Canary + "; --", "'; DROP DATABASE mysql; --",
			strings.Repeat("x", 64), strings.Repeat("é", 64)}),
		Invalid: []conformance.Invalid[sqlengine.DatabaseSpec]{
			{Why: "65-character name", Spec: sqlengine.DatabaseSpec{Name: strings.Repeat("x", 65)}},
			{Why: "trailing space", Spec: sqlengine.DatabaseSpec{Name: "trailing "}},
			{Why: "character outside the BMP", Spec: sqlengine.DatabaseSpec{Name: "emoji🙂"}},
			{Why: "empty name", Spec: sqlengine.DatabaseSpec{Name: ""}},
			{Why: "NUL byte", Spec: sqlengine.DatabaseSpec{Name: "nul\x00byte"}},
			{Why: "not UTF-8", Spec: sqlengine.DatabaseSpec{Name: "bad \xff\xfe utf8"}},
			// The prefix names a raw file name: CREATE DATABASE refuses it (error 1102).
			{Why: "reserved #mysql50# prefix", Spec: sqlengine.DatabaseSpec{Name: "#mysql50#cf"}},
			{Why: "PostgreSQL owner", Spec: sqlengine.DatabaseSpec{Name: "cf_pg_only", Owner: "someone"}},
			{Why: "statement in the character set", Spec: sqlengine.DatabaseSpec{Name: "cf_bad_charset", CharacterSet: "utf8mb4; DROP DATABASE mysql"}},
			{Why: "quote in the collation", Spec: sqlengine.DatabaseSpec{Name: "cf_bad_collation", Collation: "x` COLLATE `y"}},
		},
	}
}

func mariaDBUsers(t *testing.T) conformance.Case[sqlengine.UserSpec] {
	admin := mariaAdmin(t)
	account := func(name string) string { return myIdent(name) + "@`%`" }
	return conformance.Case[sqlengine.UserSpec]{
		Client: client[sqlengine.Users](t, sqlengine.KindDatabaseUser, mysql.EngineName, openMariaDB(t)),
		New: func(name string) sqlengine.UserSpec {
			return sqlengine.UserSpec{Name: name, Password: `p'w"\ ` + name, ConnectionLimit: 5}
		},
		// Accounts on other hosts count too: an injected 'x'@'localhost' or a
		// dropped root@localhost shows up.
		Names: func(t *testing.T) []string {
			return myStrings(t, admin, `SELECT IF(Host = '%', User, CONCAT(User, '@', Host)) FROM mysql.user`)
		},
		Break: func(t *testing.T, name string) {
			myExec(t, admin, `ALTER USER `+account(name)+` WITH MAX_USER_CONNECTIONS 3`,
				`ALTER USER `+account(name)+` IDENTIFIED BY 'broken'`)
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			myExec(t, admin, `CREATE USER `+account(name)+` IDENTIFIED BY 'out-of-band'`)
		},
		State: func(t *testing.T, name string) string {
			// global_priv's JSON holds every attribute and password_last_changed.
			return fmt.Sprint(myStrings(t, admin, `SELECT Priv FROM mysql.global_priv WHERE User = ? AND Host = '%'`, name))
		},
		// The harness's MariaDB stores mysql_native_password hashes, which the
		// adapter compares.
		Password: true,
		Hostile: slices.Concat(myHostile, []string{"`; DROP USER " + conformance.Canary + "; --", "'; DROP USER root@localhost; --",
			"x'@'localhost", "x`@`localhost", "root", "#mysql50#cf", strings.Repeat("x", 80), strings.Repeat("é", 80)}),
		Invalid: []conformance.Invalid[sqlengine.UserSpec]{
			{Why: "81-character name", Spec: sqlengine.UserSpec{Name: strings.Repeat("x", 81), Password: "pw", ConnectionLimit: -1}},
			{Why: "trailing space", Spec: sqlengine.UserSpec{Name: "trailing ", Password: "pw", ConnectionLimit: -1}},
			{Why: "character outside the BMP", Spec: sqlengine.UserSpec{Name: "emoji🙂", Password: "pw", ConnectionLimit: -1}},
			{Why: "empty name", Spec: sqlengine.UserSpec{Name: "", Password: "pw", ConnectionLimit: -1}},
			{Why: "NUL byte", Spec: sqlengine.UserSpec{Name: "nul\x00byte", Password: "pw", ConnectionLimit: -1}},
			{Why: "NUL byte in the password", Spec: sqlengine.UserSpec{Name: "cf_nul_password", Password: "p\x00w", ConnectionLimit: -1}},
			{Why: "connection limit 0 means unlimited on MySQL", Spec: sqlengine.UserSpec{Name: "cf_zero_limit", Password: "pw", ConnectionLimit: 0}},
			{Why: "roles", Spec: sqlengine.UserSpec{Name: "cf_roles", Password: "pw", ConnectionLimit: -1, MemberOf: []string{"r"}}},
			{Why: "PostgreSQL CREATEDB", Spec: sqlengine.UserSpec{Name: "cf_createdb", Password: "pw", ConnectionLimit: -1, CreateDB: true}},
			{Why: "61-character host", Spec: sqlengine.UserSpec{Name: "cf_long_host", Password: "pw", ConnectionLimit: -1, Host: strings.Repeat("h", 61)}},
		},
	}
}

// myHostile are names MariaDB stores as they are, for databases and users.
var myHostile = []string{
	"a`b", "``", `a'b`, `a"b`, `back\slash`, `\'`, `\\'`, `\`, "semi;colon", "/* comment */", "-- dash", "#hash",
	"_%", `\_\%`, "0x41", "x'41'", "@@version", "with space", " leading", "MixedCase", "ünïcödé", "日本語",
	"a.b", "a/b", "lost+found", "PUBLIC", "none", "tab\there",
}

// ---- Redis

func redisUsers(t *testing.T) conformance.Case[redis.UserSpec] {
	cl, err := redis.New(redis.Config{Nodes: []redis.Node{{Host: rdb.Host, Port: rdb.Port}},
		Username: rdb.AdminUser, Password: rdb.AdminPassword, MaxConnections: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := cl.Info(testCtx(t)); err != nil {
		t.Fatalf("Info: %v", err)
	}
	admin := rdb.Admin()
	t.Cleanup(func() { _ = admin.Close() })
	do := func(t *testing.T, args ...any) any {
		t.Helper()
		v, err := admin.Do(testCtx(t), args...).Result()
		if err != nil {
			t.Fatalf("admin: %v: %v", args[:2], err)
		}
		return v
	}
	return conformance.Case[redis.UserSpec]{
		Client: client[redis.Users](t, redis.KindCacheUser, redis.Engine, cl),
		New: func(name string) redis.UserSpec {
			return redis.UserSpec{Name: name, Enabled: true, Passwords: []string{"pw-" + name},
				Keys:     []redis.KeyPattern{{Pattern: name + ":*"}, {Pattern: "shared:*", Access: redis.ReadOnly}},
				Channels: []string{name + ".*"}, AllowCategories: []string{"read", "write"}, DenyCategories: []string{"dangerous"},
				AllowCommands: []string{"ping"}}
		},
		Names: func(t *testing.T) []string {
			v, _ := do(t, "ACL", "USERS").([]any)
			out := make([]string, len(v))
			for i, n := range v {
				out[i], _ = n.(string)
			}
			return out
		},
		Break: func(t *testing.T, name string) {
			do(t, "ACL", "SETUSER", name, "nopass", "~other:*", "+flushall")
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			do(t, "ACL", "SETUSER", name, "on", ">out-of-band", "~*", "+@all")
		},
		State:    func(t *testing.T, name string) string { return fmt.Sprint(do(t, "ACL", "GETUSER", name)) },
		Password: true,
		// User names are letters, digits and -._:@; rule keywords are legal
		// names and must stay names.
		Hostile: []string{
			"on", "off", "nopass", "reset", "resetpass", "resetkeys", "allkeys", "allcommands", "nocommands",
			"0", "a-b", "a.b", "a:b", "a@b", "user@example.com", "1.2.3.4:6379", "a--b", "a..b", "a::b", "a@@b",
			"x-" + conformance.Canary, strings.Repeat("x", 128),
		},
		Invalid: []conformance.Invalid[redis.UserSpec]{
			{Why: "space: a second token", Spec: redis.UserSpec{Name: "a b", Enabled: true}},
			{Why: "rules smuggled in the name", Spec: redis.UserSpec{Name: "x on nopass ~* +@all", Enabled: true}},
			{Why: "password rule sigil", Spec: redis.UserSpec{Name: ">pw", Enabled: true}},
			{Why: "hash rule sigil", Spec: redis.UserSpec{Name: "#" + redis.HashPassword("x"), Enabled: true}},
			{Why: "key rule sigil", Spec: redis.UserSpec{Name: "~*", Enabled: true}},
			{Why: "command rule sigil", Spec: redis.UserSpec{Name: "+@all", Enabled: true}},
			{Why: "empty name", Spec: redis.UserSpec{Name: "", Enabled: true}},
			{Why: "129-character name", Spec: redis.UserSpec{Name: strings.Repeat("x", 129), Enabled: true}},
			{Why: "non-ASCII name", Spec: redis.UserSpec{Name: "ünïcödé", Enabled: true}},
			{Why: "newline", Spec: redis.UserSpec{Name: "a\nb", Enabled: true}},
			{Why: "rules smuggled in a key pattern", Spec: redis.UserSpec{Name: "cf_key_rule", Enabled: true, Keys: []redis.KeyPattern{{Pattern: "a +@all"}}}},
			{Why: "rules smuggled in a channel", Spec: redis.UserSpec{Name: "cf_channel_rule", Enabled: true, Channels: []string{"a ~*"}}},
			{Why: "rule as a command name", Spec: redis.UserSpec{Name: "cf_command_rule", Enabled: true, AllowCommands: []string{"+@all"}}},
			// Checked against the server's command table.
			{Why: "command the server does not know", Spec: redis.UserSpec{Name: "cf_unknown_command", Enabled: true, AllowCommands: []string{"frobnicate"}}},
			{Why: "empty password", Spec: redis.UserSpec{Name: "cf_empty_password", Enabled: true, Passwords: []string{""}}},
		},
	}
}
