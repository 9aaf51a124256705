package mysql

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// mustObserve checks that both modes report exactly drift and password
// state pw.
func mustObserve(t *testing.T, e *Engine, spec sqlengine.UserSpec, pw port.PasswordState, drift ...string) {
	t.Helper()
	e.snap.Invalidate()
	for _, mode := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		obs, err := roles(e).Observe(testCtx(t), spec, mode)
		if err != nil {
			t.Fatal(err)
		}
		if !obs.Exists || strings.Join(obs.Drift, "|") != strings.Join(drift, "|") || obs.Password != pw {
			t.Fatalf("mode %v:\n got %+v\nwant drift %q, password %v", mode, obs, drift, pw)
		}
	}
}

func mustApply(t *testing.T, e *Engine, spec sqlengine.UserSpec) {
	t.Helper()
	if err := roles(e).Validate(testCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	if err := roles(e).Apply(testCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	mustObserve(t, e, spec, port.PasswordMatches)
}

// mustWork logs in as user and checks that exactly the granted statements run.
func mustWork(t *testing.T, user, password string) *sql.Conn {
	t.Helper()
	ctx := testCtx(t)
	c, err := login(t, user, password, "rotdb")
	if err != nil {
		t.Fatalf("%q cannot log in: %v", user, err)
	}
	for _, q := range []string{"INSERT INTO items VALUES (1)", "SELECT COUNT(*) FROM items"} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, q := range []string{"UPDATE items SET id = 2", "SELECT * FROM secret", "CREATE TABLE t2 (x int)"} {
		if _, err := c.ExecContext(ctx, q); err == nil {
			t.Fatalf("%s succeeded; it was not granted", q)
		}
	}
	return c
}

func mustBeRefused(t *testing.T, user, password string) {
	t.Helper()
	c, err := login(t, user, password, "rotdb")
	if err == nil {
		_ = c.Close()
		t.Fatalf("%q still logs in with the retired password", user)
	}
	var my *mysql.MySQLError
	if !errors.As(err, &my) || my.Number != erAccessDenied {
		t.Fatalf("%q: want access denied (1045), got %v", user, err)
	}
}

// TestRotationDualPassword walks an account through a DualPassword
// rotation: both passwords log in during the overlap with the same rights,
// only the new one afterwards; out-of-band changes to the rules are drift.
func TestRotationDualPassword(t *testing.T) {
	e := newEngine(t, 2)
	ctx := testCtx(t)
	admin(t, "CREATE DATABASE rotdb", "CREATE TABLE rotdb.items (id int)", "CREATE TABLE rotdb.secret (x int)")
	t.Cleanup(func() { admin(t, "DROP DATABASE rotdb") })
	if got := roles(e).Overlaps(); !slices.Equal(got, []port.Overlap{port.OverlapDualPassword}) {
		t.Fatalf("Overlaps = %v", got)
	}
	const oldPW, newPW = "old'pw\\1", "new'pw\\2"
	spec := sqlengine.UserSpec{Name: "rot_app", Password: oldPW, ConnectionLimit: -1,
		Grants: []sqlengine.Grant{{Database: "rotdb", Tables: []string{"items"}, Privileges: []string{"SELECT", "INSERT"}}}}
	mustApply(t, e, spec)

	// The overlap: the new password, and the old one still accepted.
	spec.Password, spec.OldPassword = newPW, oldPW
	mustApply(t, e, spec)
	cNew, cOld := mustWork(t, "rot_app", newPW), mustWork(t, "rot_app", oldPW)
	if n, err := roles(e).Sessions(ctx, "rot_app"); err != nil || n != 2 {
		t.Fatalf("Sessions = %d, %v; want 2", n, err)
	}
	_, _ = cNew.Close(), cOld.Close()

	// Out of band: only one password left, or another one.
	admin(t, "ALTER USER 'rot_app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('"+strings.ReplaceAll(newPW, "'", "''")+"')")
	mustObserve(t, e, spec, port.PasswordDiffers, "previous password is not accepted")
	admin(t, "ALTER USER 'rot_app'@'%' IDENTIFIED BY 'other'")
	mustObserve(t, e, spec, port.PasswordDiffers, "password differs from the Secret")
	mustApply(t, e, spec)
	mustWork(t, "rot_app", oldPW).Close() //nolint:errcheck

	// The rotation ends: only the new password.
	spec.OldPassword = ""
	mustApply(t, e, spec)
	mustBeRefused(t, "rot_app", oldPW)
	mustWork(t, "rot_app", newPW).Close() //nolint:errcheck
	admin(t, "ALTER USER 'rot_app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('"+strings.ReplaceAll(newPW, "'", "''")+
		"') OR mysql_native_password USING PASSWORD('"+strings.ReplaceAll(oldPW, "'", "''")+"')")
	mustObserve(t, e, spec, port.PasswordDiffers, "previous password still accepted")
	mustApply(t, e, spec)
	mustBeRefused(t, "rot_app", oldPW)

	// An account created in the middle of a rotation gets both at once.
	if err := roles(e).Delete(ctx, spec); err != nil {
		t.Fatal(err)
	}
	spec.OldPassword = oldPW
	mustApply(t, e, spec)
	mustWork(t, "rot_app", oldPW).Close() //nolint:errcheck
	mustWork(t, "rot_app", newPW).Close() //nolint:errcheck
	if err := roles(e).Delete(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, err := roles(e).Observe(ctx, spec, snapshot.Live); err != nil || obs.Exists {
		t.Fatalf("after Delete: %+v, %v", obs, err)
	}
	mustBeRefused(t, "rot_app", newPW)
}

func TestRotationValidate(t *testing.T) {
	e := newEngine(t, 1)
	for _, spec := range []sqlengine.UserSpec{
		{Name: "v", OldPassword: "old", ConnectionLimit: -1},
		{Name: "v", Password: "p", OldPassword: "o\x00", ConnectionLimit: -1},
		{Name: "v", Password: "p", ConnectionLimit: -1, Alternate: &port.Credential{Username: "v_b", Password: "q"}},
	} {
		if err := roles(e).Validate(context.Background(), spec); reason(err) != backenderr.ReasonInvalidSpec {
			t.Errorf("Validate: %v, want invalid", err)
		}
	}
}

func TestPasswordDrift(t *testing.T) {
	native := func(pw string) authRule { return authRule{"mysql_native_password", nativeHash(pw)} }
	two := sqlengine.UserSpec{Password: "new", OldPassword: "old"}
	one := sqlengine.UserSpec{Password: "new"}
	cases := []struct {
		reason string
		spec   sqlengine.UserSpec
		st     accountState
		want   []string
	}{
		{"one password", one, accountState{plugin: "mysql_native_password", authString: nativeHash("new")}, nil},
		{"both, in either order", two, accountState{authOr: []authRule{native("old"), native("new")}}, nil},
		{"overlap not applied yet", two, accountState{plugin: "mysql_native_password", authString: nativeHash("old")}, []string{"password differs from the Secret"}},
		{"old one missing", two, accountState{plugin: "mysql_native_password", authString: nativeHash("new")}, []string{"previous password is not accepted"}},
		{"old one kept after the rotation", one, accountState{authOr: []authRule{native("new"), native("old")}}, []string{"previous password still accepted"}},
		{"a third one", two, accountState{authOr: []authRule{native("new"), native("old"), native("x")}}, []string{"1 password(s) besides the new and the previous one are accepted"}},
		{"another plugin beside", one, accountState{authOr: []authRule{native("new"), {plugin: "unix_socket"}}}, []string{"previous password still accepted"}},
		{"MySQL 8 verifiers cannot be compared", one, accountState{plugin: "caching_sha2_password", authString: "$A$005$x"}, nil},
	}
	for _, c := range cases {
		got := passwordDrift(c.spec, c.st, c.st.plugin != "caching_sha2_password")
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: %q, want %q", c.reason, got, c.want)
		}
	}
	first := authRule{"mysql_native_password", "*A"}
	if got := parseAuthOr(`[{}, {"plugin": "mysql_native_password", "authentication_string": "*B"}]`, first); !slices.Equal(got, []authRule{first, {"mysql_native_password", "*B"}}) {
		t.Errorf("parseAuthOr = %v", got)
	}
	if got := parseAuthOr("", first); got != nil {
		t.Errorf("parseAuthOr of NULL = %v", got)
	}
	if got := parseAuthOr("not json", first); len(got) != 1 || got[0] == first {
		t.Errorf("parseAuthOr of garbage = %v", got)
	}
}
