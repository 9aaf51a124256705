package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// authFailed reports whether err is the server refusing a login.
func authFailed(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000")
}

// mustBeCurrent checks that spec is up to date, in both modes, with every
// password matching.
func mustBeCurrent(t *testing.T, e *Engine, spec sqlengine.UserSpec) {
	t.Helper()
	e.server.Invalidate()
	for _, mode := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		obs, err := roles(e).Observe(testCtx(t), spec, mode)
		if err != nil {
			t.Fatal(err)
		}
		if !obs.UpToDate() || obs.Password != port.PasswordMatches {
			t.Fatalf("mode %v: not up to date: %+v", mode, obs)
		}
	}
}

// mustDrift checks that both modes report exactly want and password state pw.
func mustDrift(t *testing.T, e *Engine, spec sqlengine.UserSpec, pw port.PasswordState, want ...string) {
	t.Helper()
	e.server.Invalidate()
	for _, mode := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		obs, err := roles(e).Observe(testCtx(t), spec, mode)
		if err != nil {
			t.Fatal(err)
		}
		if !obs.Exists || strings.Join(obs.Drift, "|") != strings.Join(want, "|") || obs.Password != pw {
			t.Fatalf("mode %v:\n got %+v\nwant drift %q, password %v", mode, obs, want, pw)
		}
	}
}

func mustLogin(t *testing.T, user, password, db string) *pgx.Conn {
	t.Helper()
	c, err := login(t, user, password, db)
	if err != nil {
		t.Fatalf("%q cannot log in: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func mustNotLogin(t *testing.T, user, password, db string) {
	t.Helper()
	c, err := login(t, user, password, db)
	if err == nil {
		_ = c.Close(context.Background())
		t.Fatalf("%q still logs in with the retired password", user)
	}
	if !authFailed(err) {
		t.Fatalf("%q: want an authentication error, got %v", user, err)
	}
}

// TestRotationAlternatingUsers walks a login through two rotations: the
// alternate login is added, the login's own name retired, given a new
// password and the alternate retired again. At each step both credentials in
// use log in with exactly the login's rights, and out-of-band changes are
// drift.
func TestRotationAlternatingUsers(t *testing.T) {
	e := newEngine(t, 2)
	ctx := testCtx(t)
	admin(t, "postgres", `CREATE ROLE rot_owner`, `CREATE DATABASE rotdb OWNER rot_owner`)
	admin(t, "rotdb", `SET ROLE rot_owner`, `CREATE TABLE items (id int, name text)`, `CREATE TABLE secret (x int)`)
	const (
		name = "rot_app"
		alt  = "rot_app_b"
		pw1  = "first-pw"
		pw2  = "second-pw"
		pw3  = "third-pw"
	)
	spec := sqlengine.UserSpec{Name: name, Password: pw1, ConnectionLimit: 7, Grants: []sqlengine.Grant{
		{Database: "rotdb", Schema: "public", Privileges: []string{"USAGE", "CREATE"}},
		{Database: "rotdb", Tables: []string{"items"}, Privileges: []string{"SELECT", "INSERT"}},
	}}
	if ov := roles(e).Overlaps(); !slices.Equal(ov, []port.Overlap{port.OverlapAlternatingUsers}) {
		t.Fatalf("Overlaps = %v", ov)
	}
	mustApplyUser(t, e, spec)
	mustBeCurrent(t, e, spec)

	// Overlap: the alternate login joins with the next password.
	spec.Alternate = &port.Credential{Username: alt, Password: pw2}
	if err := roles(e).Validate(ctx, spec); err != nil {
		t.Fatal(err)
	}
	mustApplyUser(t, e, spec)
	mustBeCurrent(t, e, spec)
	mustLogin(t, name, pw1, "rotdb")
	c := mustLogin(t, alt, pw2, "rotdb")
	var current, session string
	if err := c.QueryRow(ctx, `SELECT current_user, session_user`).Scan(&current, &session); err != nil {
		t.Fatal(err)
	}
	if current != name || session != alt {
		t.Fatalf("the alternate login's session runs as %q (session user %q), want %q (%q)", current, session, name, alt)
	}
	for _, sql := range []string{`INSERT INTO items VALUES (1, 'a')`, `SELECT * FROM items`, `CREATE TABLE made_by_alt (x int)`} {
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("as the alternate login: %s: %v", sql, err)
		}
	}
	for _, sql := range []string{`UPDATE items SET name = 'b'`, `SELECT * FROM secret`, `DELETE FROM items`} {
		if _, err := c.Exec(ctx, sql); err == nil {
			t.Fatalf("as the alternate login: %s succeeded; it was not granted", sql)
		}
	}
	var owner string
	if err := c.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_alt'`).Scan(&owner); err != nil || owner != name {
		t.Fatalf("a table the alternate login created is owned by %q (%v), want %q", owner, err, name)
	}
	if n, err := roles(e).Sessions(ctx, alt); err != nil || n != 1 {
		t.Fatalf("Sessions(%q) = %d, %v; want 1", alt, n, err)
	}
	_ = c.Close(ctx)
	mustBeCurrent(t, e, spec) // the table made in the overlap is the login's own

	// Out-of-band changes to the alternate login are drift, and repaired.
	admin(t, "postgres", `ALTER ROLE rot_app_b PASSWORD 'changed'`)
	mustDrift(t, e, spec, port.PasswordDiffers, `alternate login "rot_app_b": password differs from the Secret`)
	mustApplyUser(t, e, spec)
	admin(t, "postgres", `ALTER ROLE rot_app_b NOLOGIN CONNECTION LIMIT 1 CREATEDB`, `ALTER ROLE rot_app_b RESET role`,
		`CREATE ROLE rot_other`, `GRANT rot_other TO rot_app_b`)
	admin(t, "rotdb", `GRANT SELECT ON secret TO rot_app_b`)
	mustDrift(t, e, spec, port.PasswordMatches,
		`alternate login "rot_app_b": login is disabled`,
		`alternate login "rot_app_b": connection limit is 1, want 7`,
		`alternate login "rot_app_b": CREATEDB is true, want false`,
		`alternate login "rot_app_b": extra membership in "rot_other"`,
		`alternate login "rot_app_b": sessions do not run as "rot_app" (no role setting)`,
		`alternate login "rot_app_b": holds privileges of its own in database "rotdb"`)
	mustApplyUser(t, e, spec)
	mustBeCurrent(t, e, spec)
	c = mustLogin(t, alt, pw2, "rotdb")
	if _, err := c.Exec(ctx, `SELECT * FROM secret`); err == nil {
		t.Fatal("the alternate login kept a privilege of its own")
	}
	_ = c.Close(ctx)

	// The login's own name is retired: it keeps the grants, cannot log in.
	spec.Password = ""
	mustApplyUser(t, e, spec)
	mustBeCurrent(t, e, spec)
	mustNotLogin(t, name, pw1, "rotdb")
	c = mustLogin(t, alt, pw2, "rotdb")
	if _, err := c.Exec(ctx, `INSERT INTO made_by_alt VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	admin(t, "postgres", `ALTER ROLE rot_app LOGIN PASSWORD 'back-door'`)
	mustDrift(t, e, spec, port.PasswordMatches,
		`login is enabled, want NOLOGIN while the alternate login "rot_app_b" is in use`,
		`a password is set, want none while the alternate login is in use`)
	mustApplyUser(t, e, spec)
	mustBeCurrent(t, e, spec)

	// The next rotation gives the login's own name a new password...
	spec.Password = pw3
	mustApplyUser(t, e, spec)
	mustBeCurrent(t, e, spec)
	mustLogin(t, name, pw3, "rotdb")
	mustLogin(t, alt, pw2, "rotdb")

	// ...and retires the alternate login, which stays without a login.
	spec.Alternate = nil
	mustApplyUser(t, e, spec)
	mustBeCurrent(t, e, spec)
	mustNotLogin(t, alt, pw2, "rotdb")
	c = mustLogin(t, name, pw3, "rotdb")
	if _, err := c.Exec(ctx, `INSERT INTO made_by_alt VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	admin(t, "postgres", `ALTER ROLE rot_app_b LOGIN PASSWORD 'back-door'`)
	mustDrift(t, e, spec, port.PasswordMatches,
		`alternate login "rot_app_b": login is enabled, want NOLOGIN outside a rotation`,
		`alternate login "rot_app_b": a password is set, want none outside a rotation`)
	mustApplyUser(t, e, spec)
	mustBeCurrent(t, e, spec)

	// Delete drops both roles once the login owns nothing.
	err := roles(e).Delete(ctx, spec)
	if be, ok := backenderr.As(err); !ok || be.Reason != backenderr.ReasonDeletionBlocked {
		t.Fatalf("delete of an owner: %v", err)
	}
	admin(t, "rotdb", `DROP TABLE made_by_alt`)
	if err := roles(e).Delete(ctx, spec); err != nil {
		t.Fatal(err)
	}
	var n int
	admc := mustLogin(t, srv.AdminUser, srv.AdminPassword, "postgres")
	if err := admc.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname IN ('rot_app', 'rot_app_b')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d of the two roles left after Delete (%v)", n, err)
	}
	if err := roles(e).Delete(ctx, spec); err != nil {
		t.Fatalf("deleting a missing login: %v", err)
	}
}

// A login deleted in the middle of a rotation takes its alternate with it.
func TestRotationDeleteDuringOverlap(t *testing.T) {
	e := newEngine(t, 1)
	ctx := testCtx(t)
	spec := sqlengine.UserSpec{Name: "rot_del", ConnectionLimit: -1, Alternate: &port.Credential{Username: "rot_del_b", Password: "pw-b"}}
	mustApplyUser(t, e, spec)
	mustNotLogin(t, "rot_del", "", "postgres")
	mustLogin(t, "rot_del_b", "pw-b", "postgres")
	if err := roles(e).Delete(ctx, sqlengine.UserSpec{Name: "rot_del"}); err != nil {
		t.Fatal(err)
	}
	if obs, err := roles(e).Observe(ctx, spec, snapshot.Live); err != nil || obs.Exists {
		t.Fatalf("after Delete: %+v, %v", obs, err)
	}
	mustNotLogin(t, "rot_del_b", "pw-b", "postgres")
}

func TestRotationValidate(t *testing.T) {
	e := newEngine(t, 1)
	long := strings.Repeat("x", 62)
	for _, spec := range []sqlengine.UserSpec{
		{Name: "v", Password: "p", Alternate: &port.Credential{Username: "other", Password: "q"}},
		{Name: "v", Password: "p", Alternate: &port.Credential{Username: "v_b"}},
		{Name: long, Password: "p", Alternate: &port.Credential{Username: long + "_b", Password: "q"}},
		{Name: "v", Password: "p", MemberOf: []string{"v_b"}},
	} {
		err := roles(e).Validate(context.Background(), spec)
		if be, ok := backenderr.As(err); !ok || be.Reason != backenderr.ReasonInvalidSpec {
			t.Errorf("Validate(%q, alternate %+v): %v, want invalid", spec.Name, spec.Alternate != nil, err)
		}
	}
}

// Hostile names round-trip as the alternate login and its role setting.
func TestRotationHostileNames(t *testing.T) {
	e := newEngine(t, 1)
	ctx := testCtx(t)
	for _, name := range hostile {
		spec := sqlengine.UserSpec{Name: name, ConnectionLimit: -1,
			Alternate: &port.Credential{Username: port.AlternateName(name), Password: `p'w\"` + name}}
		if roles(e).Validate(ctx, spec) != nil {
			continue
		}
		mustApplyUser(t, e, spec)
		mustBeCurrent(t, e, spec)
		c, err := login(t, spec.Alternate.Username, spec.Alternate.Password, "postgres")
		if err != nil {
			t.Errorf("alternate of %q cannot log in: %v", name, err)
		} else {
			var who string
			_ = c.QueryRow(ctx, "SELECT current_user").Scan(&who)
			_ = c.Close(ctx)
			if who != name {
				t.Errorf("alternate login runs as %q, want %q", who, name)
			}
		}
		if err := roles(e).Delete(ctx, spec); err != nil {
			t.Errorf("delete %q: %v", name, err)
		}
	}
}
