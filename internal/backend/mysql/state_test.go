package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// snapshotQueries is how many statements one snapshot load sends.
const snapshotQueries = 5

func TestAccountRow(t *testing.T) {
	cases := []struct {
		reason     string
		cols, vals []string
		wantKey    accountKey
		want       accountState
	}{{
		reason:  "MariaDB row with a native hash, a limit and a global privilege",
		cols:    []string{"Host", "User", "Password", "Select_priv", "Process_priv", "ssl_type", "max_user_connections", "plugin", "authentication_string", "account_locked"},
		vals:    []string{"%", "app", "*OLD", "N", "Y", "ANY", "5", "mysql_native_password", "*NEW", "N"},
		wantKey: accountKey{"app", "%"},
		want: accountState{exists: true, maxConns: 5, sslType: "ANY", plugin: "mysql_native_password", authString: "*NEW",
			privs: privSet{{Level: onGlobal}: {"PROCESS": true}}},
	}, {
		reason:  "old MariaDB row keeps the hash in Password",
		cols:    []string{"Host", "User", "Password", "plugin", "authentication_string", "account_locked"},
		vals:    []string{"h", "old", "*OLD", "", "", "Y"},
		wantKey: accountKey{"old", "h"},
		want:    accountState{exists: true, authString: "*OLD", locked: true, privs: privSet{}},
	}}
	for _, c := range cases {
		k, st := accountRow(c.cols, c.vals)
		if k != c.wantKey {
			t.Errorf("%s: key %v, want %v", c.reason, k, c.wantKey)
		}
		if diff := cmp.Diff(c.want, st, cmp.AllowUnexported(accountState{})); diff != "" {
			t.Errorf("%s: state (-want +got):\n%s", c.reason, diff)
		}
	}
}

// withTTL replaces e's snapshot with one that keeps for ttl, so that only
// invalidation refreshes it within a test.
func withTTL(e *Engine, ttl time.Duration) {
	e.snap = snapshot.New(ttl, func(ctx context.Context) (*serverState, error) { return loadServer(ctx, e.db, e.knownMariaDB()) })
}

// questions reads the server's Questions counter on c; the read itself counts
// as one.
func questions(t *testing.T, c *sql.Conn) int64 {
	t.Helper()
	var name, v string
	if err := c.QueryRowContext(testCtx(t), "SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&name, &v); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fleet is n databases, each with a table, and n users with ReadWrite on
// their database and ALTER on its table.
type fleet struct {
	dbs   []sqlengine.DatabaseSpec
	users []sqlengine.UserSpec
}

func newFleet(t *testing.T, e *Engine, prefix string, n int) *fleet {
	t.Helper()
	ctx := testCtx(t)
	f := &fleet{}
	for i := range n {
		db := sqlengine.DatabaseSpec{Name: fmt.Sprintf("%s_db%d", prefix, i), CharacterSet: "utf8mb4", Collation: "utf8mb4_bin"}
		user := sqlengine.UserSpec{Name: fmt.Sprintf("%s_user%d", prefix, i), Password: "pw-" + strconv.Itoa(i), ConnectionLimit: -1,
			Grants: []sqlengine.Grant{{Database: db.Name, Access: "ReadWrite"}, {Database: db.Name, Tables: []string{"t"}, Privileges: []string{"ALTER"}}}}
		if err := dbClient(e).Apply(ctx, db); err != nil {
			t.Fatal(err)
		}
		admin(t, "CREATE TABLE "+ident(db.Name)+".t (id int)")
		if err := roles(e).Apply(ctx, user); err != nil {
			t.Fatal(err)
		}
		f.dbs, f.users = append(f.dbs, db), append(f.users, user)
	}
	t.Cleanup(func() {
		for i := range f.users {
			_ = roles(e).Delete(context.Background(), f.users[i])
			_ = dbClient(e).Delete(context.Background(), sqlengine.DatabaseSpec{Name: f.dbs[i].Name})
		}
	})
	return f
}

// observeAll observes every object in mode, databases first.
func (f *fleet) observeAll(t *testing.T, e *Engine, mode snapshot.Mode) []port.Observation {
	t.Helper()
	ctx := testCtx(t)
	var out []port.Observation
	for _, db := range f.dbs {
		obs, err := dbClient(e).Observe(ctx, db, mode)
		if err != nil {
			t.Fatalf("database %s: %v", db.Name, err)
		}
		out = append(out, obs)
	}
	for _, u := range f.users {
		obs, err := roles(e).Observe(ctx, u, mode)
		if err != nil {
			t.Fatalf("user %s: %v", u.Name, err)
		}
		out = append(out, obs)
	}
	return out
}

// sameAsLive checks that Cached observations equal Live ones and returns them.
func (f *fleet) sameAsLive(t *testing.T, e *Engine) []port.Observation {
	t.Helper()
	cached := f.observeAll(t, e, snapshot.Cached)
	if diff := cmp.Diff(f.observeAll(t, e, snapshot.Live), cached); diff != "" {
		t.Fatalf("Cached observations differ from Live (-live +cached):\n%s", diff)
	}
	return cached
}

func TestCachedObserveCostsOneSnapshot(t *testing.T) {
	e := newEngine(t, 2)
	withTTL(e, time.Hour)
	f := newFleet(t, e, "snapcost", 20)

	adminDB, err := srv.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer adminDB.Close() //nolint:errcheck
	c, err := adminDB.Conn(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() //nolint:errcheck

	loads, before := e.snap.Loads(), questions(t, c)
	for i, obs := range f.observeAll(t, e, snapshot.Cached) {
		if !obs.UpToDate() {
			t.Errorf("object %d: Cached observation %+v, want up to date", i, obs)
		}
	}
	// Less the second SHOW STATUS; a margin for a new pool session's SET.
	spent := questions(t, c) - before - 1
	if got := e.snap.Loads() - loads; got != 1 {
		t.Errorf("40 Cached observations ran %d snapshot loads, want 1", got)
	}
	if spent > snapshotQueries+2 {
		t.Errorf("40 Cached observations sent %d statements, want at most %d", spent, snapshotQueries+2)
	}
	t.Logf("40 Cached observations: %d statements", spent)
}

func TestCachedMatchesLiveAfterOutOfBandChanges(t *testing.T) {
	e := newEngine(t, 2)
	withTTL(e, time.Hour)
	f := newFleet(t, e, "snapdrift", 4)
	for i, obs := range f.sameAsLive(t, e) {
		if !obs.UpToDate() {
			t.Fatalf("object %d: %+v, want up to date", i, obs)
		}
	}

	u0, u1, u2, u3 := f.users[0], f.users[1], f.users[2], f.users[3]
	admin(t,
		"REVOKE INSERT ON "+ident(grantPattern(u0.Grants[0].Database))+".* FROM "+account(u0.Name, "%"),
		"DROP USER "+account(u1.Name, "%"),
		"ALTER DATABASE "+ident(f.dbs[2].Name)+" CHARACTER SET latin1 COLLATE latin1_swedish_ci",
		"ALTER USER "+account(u2.Name, "%")+" IDENTIFIED BY 'changed' WITH MAX_USER_CONNECTIONS 3",
		"DROP TABLE "+ident(f.dbs[3].Name)+".t")
	e.snap.Invalidate()
	got := f.sameAsLive(t, e)
	n := len(f.dbs)
	want := map[int][]string{
		2:     {`character set is "latin1", want "utf8mb4"`, `collation is "latin1_swedish_ci", want "utf8mb4_bin"`},
		n + 0: {"missing INSERT on database " + u0.Grants[0].Database},
		n + 2: {"MAX_USER_CONNECTIONS is 3, want 0", "password differs from the Secret"},
		n + 3: {`table "` + f.dbs[3].Name + `"."t" does not exist`},
	}
	for i, obs := range got {
		if i == n+1 {
			if obs.Exists {
				t.Errorf("dropped user: %+v, want absent", obs)
			}
			continue
		}
		if !obs.Exists || !slices.Equal(obs.Drift, want[i]) {
			t.Errorf("object %d: %+v, want drift %q", i, obs, want[i])
		}
	}

	// A short TTL: the next change is seen without Invalidate.
	withTTL(e, 50*time.Millisecond)
	admin(t, "GRANT DELETE HISTORY ON "+ident(grantPattern(u3.Grants[0].Database))+".* TO "+account(u3.Name, "%"))
	extra := "extra DELETE HISTORY on database " + u3.Grants[0].Database
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(f.observeAll(t, e, snapshot.Cached)[n+3].Drift, extra) {
		if time.Now().After(deadline) {
			t.Fatalf("after TTL expiry the cached observation never showed %q", extra)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := f.sameAsLive(t, e); !slices.Contains(got[n+3].Drift, extra) {
		t.Errorf("after TTL expiry: %+v, want the extra grant", got[n+3])
	}
}

func TestWritesInvalidateTheSnapshot(t *testing.T) {
	ctx := testCtx(t)
	e := newEngine(t, 2)
	withTTL(e, time.Hour)
	f := newFleet(t, e, "snapwrite", 1)
	user, db := f.users[0], f.dbs[0]
	cached := func(what string, u sqlengine.UserSpec) port.Observation {
		t.Helper()
		obs, err := roles(e).Observe(ctx, u, snapshot.Cached)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return obs
	}
	if obs := cached("before", user); !obs.UpToDate() {
		t.Fatalf("before: %+v", obs)
	}

	more := user
	more.Grants = append(slices.Clone(user.Grants), sqlengine.Grant{Database: db.Name, Tables: []string{"t"}, Privileges: []string{"INDEX"}})
	more.ConnectionLimit = 7
	if obs := cached("new spec", more); obs.UpToDate() {
		t.Fatalf("new spec before ApplyUser: %+v, want drift", obs)
	}
	if err := roles(e).Apply(ctx, more); err != nil {
		t.Fatal(err)
	}
	if obs := cached("after ApplyUser", more); !obs.UpToDate() {
		t.Errorf("after ApplyUser: %+v, want up to date", obs)
	}

	// A failed write invalidates too: CREATE fails on an unknown collation.
	loads := e.snap.Loads()
	if err := dbClient(e).Apply(ctx, sqlengine.DatabaseSpec{Name: "snapwrite_bad", Collation: "no_such_collation"}); err == nil {
		t.Fatal("ApplyDatabase with an unknown collation succeeded")
	}
	cached("after a failed write", more)
	if e.snap.Loads() != loads+1 {
		t.Errorf("a failed write did not invalidate the snapshot")
	}

	latin := db
	latin.CharacterSet, latin.Collation = "latin1", "latin1_bin"
	if err := dbClient(e).Apply(ctx, latin); err != nil {
		t.Fatal(err)
	}
	if obs, err := dbClient(e).Observe(ctx, latin, snapshot.Cached); err != nil || !obs.UpToDate() {
		t.Errorf("after ApplyDatabase: %+v, %v", obs, err)
	}

	if err := roles(e).Delete(ctx, more); err != nil {
		t.Fatal(err)
	}
	if obs := cached("after DeleteUser", more); obs.Exists {
		t.Errorf("after DeleteUser: %+v, want absent", obs)
	}
	if err := dbClient(e).Delete(ctx, sqlengine.DatabaseSpec{Name: db.Name}); err != nil {
		t.Fatal(err)
	}
	if obs, err := dbClient(e).Observe(ctx, db, snapshot.Cached); err != nil || obs.Exists {
		t.Errorf("after DeleteDatabase: %+v, %v", obs, err)
	}
}
