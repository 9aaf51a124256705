package postgres

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// Steady-state checks of many objects read the server once, and report what
// a live read reports.
func TestCachedObserveReadsOncePerServer(t *testing.T) {
	e := newEngine(t, 3)
	ctx := testCtx(t)
	const n = 8
	dbs := make([]sqlengine.DatabaseSpec, n)
	users := make([]sqlengine.UserSpec, n)
	for i := range n {
		dbs[i] = sqlengine.DatabaseSpec{Name: fmt.Sprintf("snap_db_%d", i)}
		users[i] = sqlengine.UserSpec{Name: fmt.Sprintf("snap_user_%d", i), Password: fmt.Sprintf("pw-%d", i),
			Grants: []sqlengine.Grant{{Database: dbs[i].Name, Access: "ReadWrite"}}}
		if err := dbClient(e).Apply(ctx, dbs[i]); err != nil {
			t.Fatal(err)
		}
		mustApplyUser(t, e, users[i])
	}
	t.Cleanup(func() {
		for i := range n {
			_ = roles(e).Delete(ctx, users[i])
			_ = dbClient(e).Delete(ctx, sqlengine.DatabaseSpec{Name: dbs[i].Name})
		}
	})
	// observeAll checks every object in mode and returns the observations.
	observeAll := func(mode snapshot.Mode) []port.Observation {
		t.Helper()
		var out []port.Observation
		for i := range n {
			d, err := dbClient(e).Observe(ctx, dbs[i], mode)
			if err != nil {
				t.Fatal(err)
			}
			u, err := roles(e).Observe(ctx, users[i], mode)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d, u)
		}
		return out
	}
	// The first steady pass needs no session in any database: each apply
	// remembered its verdict.
	first := e.sessions.Load()
	for i, o := range observeAll(snapshot.Cached) {
		if !o.UpToDate() {
			t.Fatalf("object %d not up to date in the first cached pass: %+v", i, o)
		}
	}
	if got := e.sessions.Load() - first; got != 1 {
		t.Errorf("the first steady pass used %d sessions, want 1 (the snapshot)", got)
	}

	// A steady pass: one snapshot load, no in-database reads.
	e.server.Invalidate()
	loads, sessions := e.server.Loads(), e.sessions.Load()
	for i, o := range observeAll(snapshot.Cached) {
		if !o.UpToDate() {
			t.Fatalf("object %d not up to date: %+v", i, o)
		}
	}
	if got := e.server.Loads() - loads; got != 1 {
		t.Errorf("a steady pass over %d objects loaded %d snapshots, want 1", 2*n, got)
	}
	if got := e.sessions.Load() - sessions; got != 1 {
		t.Errorf("a steady pass over %d objects used %d sessions, want 1 (the snapshot)", 2*n, got)
	}

	// Out-of-band changes seen through the shared catalogs.
	admin(t, "postgres",
		`REVOKE CONNECT, TEMPORARY ON DATABASE snap_db_0 FROM snap_user_0`,
		`ALTER ROLE snap_user_2 CONNECTION LIMIT 3 PASSWORD 'changed'`,
		`ALTER DATABASE snap_db_4 OWNER TO snap_user_4`)
	admin(t, "snap_db_1", `REVOKE USAGE ON SCHEMA public FROM snap_user_1`)
	admin(t, "snap_db_3", `DROP OWNED BY snap_user_3`)
	admin(t, "postgres", `DROP ROLE snap_user_3`)
	// A partial revoke leaves the role in the ACL: only a deep check sees it.
	admin(t, "snap_db_5", `ALTER DEFAULT PRIVILEGES FOR ROLE postgres REVOKE INSERT ON TABLES FROM snap_user_5`)

	e.server.Invalidate()
	live, cached := observeAll(snapshot.Live), observeAll(snapshot.Cached)
	for i := range live {
		if i == 11 { // snap_user_5
			continue
		}
		if !reflect.DeepEqual(live[i], cached[i]) {
			t.Errorf("object %d: cached %+v, live %+v", i, cached[i], live[i])
		}
	}
	for _, i := range []int{1, 3, 5, 7, 8} {
		if live[i].UpToDate() {
			t.Errorf("object %d: the out-of-band change was not seen: %+v", i, live[i])
		}
	}
	if !cached[11].UpToDate() || live[11].UpToDate() {
		t.Fatalf("partial revoke: cached %+v (want the remembered verdict), live %+v (want drift)", cached[11], live[11])
	}
	// Once the verdict is older than deepCheckAge it is checked again.
	e.mu.Lock()
	for k, v := range e.verdicts {
		v.at = v.at.Add(-deepCheckAge - time.Second)
		e.verdicts[k] = v
	}
	e.mu.Unlock()
	e.server.Invalidate()
	if got, _ := roles(e).Observe(ctx, users[5], snapshot.Cached); !reflect.DeepEqual(got, live[11]) {
		t.Fatalf("after deepCheckAge the cached check says %+v, want %+v", got, live[11])
	}

	// A write invalidates: the repaired user reads up to date at once.
	mustApplyUser(t, e, users[0])
	if o, err := roles(e).Observe(ctx, users[0], snapshot.Cached); err != nil || !o.UpToDate() {
		t.Fatalf("after ApplyUser the cached check says %+v, %v", o, err)
	}
}

// A grant to one role on a shared database leaves the other roles' remembered
// checks there standing, and a write to one role reloads the snapshot for
// that role's check only.
func TestGrantToOneRoleKeepsOthersVerdicts(t *testing.T) {
	e := newEngine(t, 3)
	ctx := testCtx(t)
	db := sqlengine.DatabaseSpec{Name: "snap_shared"}
	if err := dbClient(e).Apply(ctx, db); err != nil {
		t.Fatal(err)
	}
	user := func(name string) sqlengine.UserSpec {
		return sqlengine.UserSpec{Name: name, Password: "pw-" + name, ConnectionLimit: -1,
			Grants: []sqlengine.Grant{{Database: db.Name, Access: "ReadWrite"}}}
	}
	a, b := user("snap_shared_a"), user("snap_shared_b")
	t.Cleanup(func() {
		_ = roles(e).Delete(ctx, a)
		_ = roles(e).Delete(ctx, b)
		_ = dbClient(e).Delete(ctx, db)
	})
	mustApplyUser(t, e, a)
	e.server.Invalidate()
	if o, err := roles(e).Observe(ctx, a, snapshot.Cached); err != nil || !o.UpToDate() {
		t.Fatalf("a: %+v, %v", o, err)
	}
	mustApplyUser(t, e, b)
	loads, sessions := e.server.Loads(), e.sessions.Load()
	if o, err := roles(e).Observe(ctx, a, snapshot.Cached); err != nil || !o.UpToDate() {
		t.Fatalf("a after b's grant: %+v, %v", o, err)
	}
	if got := e.sessions.Load() - sessions; got != 0 || e.server.Loads() != loads {
		t.Errorf("a's check after a write to b used %d sessions and %d loads, want none (its snapshot and verdict stand)", got, e.server.Loads()-loads)
	}
	e.server.Invalidate()
	sessions = e.sessions.Load()
	if o, err := roles(e).Observe(ctx, a, snapshot.Cached); err != nil || !o.UpToDate() {
		t.Fatalf("a from a new snapshot: %+v, %v", o, err)
	}
	if got := e.sessions.Load() - sessions; got != 1 {
		t.Errorf("a's check from a new snapshot after b's grant used %d sessions, want 1 (the snapshot; a's verdict stands)", got)
	}
	// b's own check loads a snapshot taken after b's write.
	loads = e.server.Loads()
	mustApplyUser(t, e, b)
	if o, err := roles(e).Observe(ctx, b, snapshot.Cached); err != nil || !o.UpToDate() {
		t.Fatalf("b: %+v, %v", o, err)
	}
	if got := e.server.Loads() - loads; got != 1 {
		t.Errorf("b's check after a write to b loaded %d snapshots, want 1", got)
	}
}
