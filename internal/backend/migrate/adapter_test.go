package migrate_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/migrate"
	"github.com/backend-operator/backend-operator/internal/backend/mysql"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/postgres"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/test/harness"
)

var (
	pgSrv    *harness.Postgres
	mariaSrv *harness.MariaDB
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgSrv != nil {
		_ = pgSrv.Close()
	}
	if mariaSrv != nil {
		_ = mariaSrv.Close()
	}
	os.Exit(code)
}

func file(name, up, down string) migrate.File {
	return migrate.File{Name: name, Content: "-- +goose Up\n" + up + "\n-- +goose Down\n" + down + "\n"}
}

// reason fails unless err is a backenderr.Error with reason.
func reason(t *testing.T, err error, want string) *backenderr.Error {
	t.Helper()
	be, ok := backenderr.As(err)
	if !ok || be.Reason != want {
		t.Fatalf("err = %v, want reason %s", err, want)
	}
	return be
}

func ran(res migrate.Result) string {
	var out []string
	for _, s := range res.Ran {
		out = append(out, fmt.Sprintf("%s%d", s.Direction(), s.Version))
	}
	return strings.Join(out, " ")
}

func mustApply(t *testing.T, m migrate.Migrator, spec migrate.Spec, want string) migrate.Result {
	t.Helper()
	res, err := m.Apply(context.Background(), spec)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := ran(res); got != want {
		t.Fatalf("ran %q, want %q", got, want)
	}
	obs, err := m.Observe(context.Background(), spec)
	if err != nil {
		t.Fatalf("observe after apply: %v", err)
	}
	if !obs.Plan.Empty() || len(obs.Record) > 0 {
		t.Fatalf("after apply: plan %+v, record %+v", obs.Plan, obs.Record)
	}
	return res
}

func startPostgres(t *testing.T) (migrate.Migrator, func(db string, stmts ...string)) {
	t.Helper()
	ctx := context.Background()
	if pgSrv == nil {
		var err error
		if pgSrv, err = harness.StartPostgres(ctx); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := postgres.Open(sqlengine.Config{Host: pgSrv.Host, Port: pgSrv.Port, Username: pgSrv.AdminUser, Password: pgSrv.AdminPassword, MaxConnections: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	b, err := port.For[migrate.Backend](migrate.Kind, postgres.EngineName, eng)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(db string, stmts ...string) {
		t.Helper()
		c, err := pgx.Connect(ctx, pgSrv.URL(db))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		for _, s := range stmts {
			if _, err := c.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	return migrate.Migrator{Backend: b, LockWait: 2 * time.Second}, exec
}

func pgQuery[T any](t *testing.T, db, q string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pgSrv.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var v T
	if err := c.QueryRow(ctx, q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func TestPostgresMigrations(t *testing.T) {
	m, exec := startPostgres(t)
	exec("postgres", `CREATE ROLE mig_owner`, `CREATE DATABASE mig OWNER mig_owner`)
	files := []migrate.File{
		file("00001_create_orders.sql", "CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);", "DROP TABLE orders;"),
		file("00002_seed.sql", "INSERT INTO orders (total) VALUES (1), (2);", "DELETE FROM orders;"),
	}
	spec := migrate.Spec{Database: "mig", Role: "mig_owner", Files: files}

	t.Run("ApplyFromZero", func(t *testing.T) {
		obs, err := m.Observe(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(obs.Plan.Pending(), ","); got != "version 1 pending,version 2 pending" || obs.State.VersionTable {
			t.Fatalf("plan %q, version table %v", got, obs.State.VersionTable)
		}
		res := mustApply(t, m, spec, "up1 up2")
		if res.State.Current() != 2 || res.State.Applied[0].Checksum != files[0].Checksum() || res.State.Applied[0].AppliedAt.IsZero() {
			t.Fatalf("state %+v", res.State)
		}
		if owner := pgQuery[string](t, "mig", `SELECT tableowner FROM pg_tables WHERE tablename = 'orders'`); owner != "mig_owner" {
			t.Errorf("orders is owned by %s, want the database owner", owner)
		}
	})

	t.Run("AddFileAppliesOnlyIt", func(t *testing.T) {
		spec.Files = append(spec.Files, file("00003_add_note.sql", "ALTER TABLE orders ADD COLUMN note text;", "ALTER TABLE orders DROP COLUMN note;"))
		mustApply(t, m, spec, "up3")
		if n := pgQuery[int](t, "mig", `SELECT count(*) FROM orders`); n != 2 {
			t.Errorf("%d rows: the seed ran again", n)
		}
	})

	t.Run("ChecksumMismatch", func(t *testing.T) {
		changed := spec
		changed.Files = append([]migrate.File{file("00001_create_orders.sql", "CREATE TABLE orders (id bigserial PRIMARY KEY);", "DROP TABLE orders;")}, spec.Files[1:]...)
		_, err := m.Observe(context.Background(), changed)
		be := reason(t, err, migrate.ReasonChecksumMismatch)
		if !strings.Contains(be.Message, "00001_create_orders.sql") || !be.Terminal {
			t.Errorf("message %q", be.Message)
		}
		_, err = m.Apply(context.Background(), changed)
		_ = reason(t, err, migrate.ReasonChecksumMismatch)
		changed.AcceptChecksums = []int64{1}
		obs, err := m.Observe(context.Background(), changed)
		if err != nil || len(obs.Record) != 1 {
			t.Fatalf("accepted: %v, record %+v", err, obs.Record)
		}
		mustApply(t, m, changed, "")
		// The accepted checksum is now the recorded one: the old file mismatches.
		_, err = m.Observe(context.Background(), spec)
		_ = reason(t, err, migrate.ReasonChecksumMismatch)
		spec = changed
		spec.AcceptChecksums = nil
	})

	t.Run("FailingFileRollsBackAndRetries", func(t *testing.T) {
		bad := spec
		bad.Files = append(bad.Files, file("00004_items.sql", "CREATE TABLE items (id int);\nINSERT INTO items VALUES ('not a number');", "DROP TABLE items;"))
		_, err := m.Apply(context.Background(), bad)
		be := reason(t, err, migrate.ReasonMigrationFailed)
		if be.Terminal || be.Wait || !strings.Contains(be.Message, "00004_items.sql") || !strings.Contains(be.Message, "not a number") || !strings.Contains(be.Message, "invalid input syntax") {
			t.Fatalf("error %+v", be)
		}
		if pgQuery[bool](t, "mig", `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'items')`) {
			t.Fatal("the failed file was not rolled back")
		}
		spec.Files = append(spec.Files, file("00004_items.sql", "CREATE TABLE items (id int);\nINSERT INTO items VALUES (1);", "DROP TABLE items;"))
		mustApply(t, m, spec, "up4")
	})

	t.Run("NoTransactionFileBlocks", func(t *testing.T) {
		bad := spec
		bad.Files = append(bad.Files, migrate.File{Name: "00005_idx.sql", Content: "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY items_id ON items (id);\nSELECT missing_function();\n-- +goose Down\nDROP INDEX items_id;\n"})
		_, err := m.Apply(context.Background(), bad)
		be := reason(t, err, migrate.ReasonBlocked)
		if !be.Terminal || !strings.Contains(be.Message, "missing_function") {
			t.Fatalf("error %+v", be)
		}
		_, err = m.Observe(context.Background(), bad)
		_ = reason(t, err, migrate.ReasonBlocked)
		bad.Resolve = &migrate.Resolve{Version: 5, Action: migrate.MarkApplied}
		mustApply(t, m, bad, "")
		if v := pgQuery[int64](t, "mig", `SELECT max(version_id) FROM goose_db_version`); v != 5 {
			t.Errorf("goose version %d, want 5", v)
		}
		spec = bad
		spec.Resolve = nil
	})

	t.Run("RacingRunsOneRuns", func(t *testing.T) {
		racing := spec
		racing.Files = append(racing.Files, file("00006_slow.sql", "SELECT pg_sleep(1);\nINSERT INTO items VALUES (6);", "DELETE FROM items WHERE id = 6;"))
		// A goose run by hand (goose's session lock id) holding the lock.
		ctx := context.Background()
		holder, err := pgx.Connect(ctx, pgSrv.URL("mig"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock(4097083626)`); err != nil {
			t.Fatal(err)
		}
		_, err = m.Apply(ctx, racing)
		be := reason(t, err, migrate.ReasonLocked)
		if !be.Wait {
			t.Errorf("a held lock is not a Wait error: %+v", be)
		}
		holder.Close(ctx) // a dead session's lock is gone
		var wg sync.WaitGroup
		results := make([]migrate.Result, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = m.Apply(ctx, racing)
			}()
		}
		wg.Wait()
		total := 0
		for i := range 2 {
			if errs[i] != nil {
				_ = reason(t, errs[i], migrate.ReasonLocked)
			}
			total += len(results[i].Ran)
		}
		if total != 1 {
			t.Fatalf("the file ran %d times (%v, %v)", total, errs, [2]string{ran(results[0]), ran(results[1])})
		}
		if n := pgQuery[int](t, "mig", `SELECT count(*) FROM items WHERE id = 6`); n != 1 {
			t.Fatalf("%d rows from the slow file", n)
		}
		spec = racing
	})

	t.Run("Down", func(t *testing.T) {
		down := spec
		down.Target = new(int64)
		*down.Target = 4
		_, err := m.Apply(context.Background(), down)
		_ = reason(t, err, migrate.ReasonDownNotAllowed)
		down.AllowDown = true
		mustApply(t, m, down, "down6 down5")
		if pgQuery[bool](t, "mig", `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'items_id')`) {
			t.Error("items_id still exists after going down")
		}
		// Version 5 is no longer applied: its file may change, and runs again.
		spec.Files[4] = migrate.File{Name: "00005_idx.sql", Content: "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY items_id ON items (id);\n-- +goose Down\nDROP INDEX items_id;\n"}
		mustApply(t, m, spec, "up5 up6")
	})

	t.Run("Baseline", func(t *testing.T) {
		exec("postgres", `CREATE DATABASE mig_base OWNER mig_owner`)
		exec("mig_base", `SET ROLE mig_owner`, `CREATE TABLE orders (id bigserial PRIMARY KEY)`)
		base := migrate.Spec{Database: "mig_base", Role: "mig_owner", Files: spec.Files[:3]}
		base.Baseline = 2
		obs, err := m.Observe(context.Background(), base)
		if err != nil || obs.Plan.Baseline != 2 || len(obs.Plan.Steps) != 1 {
			t.Fatalf("plan %+v, %v", obs.Plan, err)
		}
		res := mustApply(t, m, base, "up3")
		if res.State.Current() != 3 || len(res.State.Applied) != 3 || res.State.Applied[0].Checksum == "" {
			t.Fatalf("state %+v", res.State)
		}
		if n := pgQuery[int](t, "mig_base", `SELECT count(*) FROM orders`); n != 0 {
			t.Errorf("the seed below the baseline ran")
		}
	})
}

func startMariaDB(t *testing.T) (migrate.Migrator, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	if mariaSrv == nil {
		var err error
		if mariaSrv, err = harness.StartMariaDB(ctx, "--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES"); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := mysql.Open(sqlengine.Config{Host: mariaSrv.Host, Port: mariaSrv.Port, Username: mariaSrv.AdminUser, Password: mariaSrv.AdminPassword, MaxConnections: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	b, err := port.For[migrate.Backend](migrate.Kind, mysql.EngineName, eng)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := mariaSrv.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	return migrate.Migrator{Backend: b, LockWait: 2 * time.Second}, admin
}

func TestMariaDBMigrations(t *testing.T) {
	m, admin := startMariaDB(t)
	ctx := context.Background()
	if _, err := admin.Exec(`CREATE DATABASE mig`); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := admin.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	spec := migrate.Spec{Database: "mig", Files: []migrate.File{
		file("00001_create_orders.sql", "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, total INT NOT NULL);", "DROP TABLE orders;"),
		file("00002_seed.sql", "INSERT INTO orders (total) VALUES (1), (2);", "DELETE FROM orders;"),
	}}

	t.Run("ApplyFromZeroThenOneMore", func(t *testing.T) {
		mustApply(t, m, spec, "up1 up2")
		spec.Files = append(spec.Files, file("00003_note.sql", "ALTER TABLE orders ADD COLUMN note TEXT;", "ALTER TABLE orders DROP COLUMN note;"))
		mustApply(t, m, spec, "up3")
		if n := count(`SELECT COUNT(*) FROM mig.orders`); n != 2 {
			t.Errorf("%d rows", n)
		}
	})

	t.Run("RoleRefused", func(t *testing.T) {
		withRole := spec
		withRole.Role = "owner"
		_, err := m.Observe(ctx, withRole)
		_ = reason(t, err, backenderr.ReasonInvalidSpec)
	})

	t.Run("BlockedThenRetry", func(t *testing.T) {
		bad := spec
		bad.Files = append(bad.Files, file("00004_items.sql", "CREATE TABLE items (id INT);\nINSERT INTO no_such_table VALUES (1);", "DROP TABLE items;"))
		_, err := m.Apply(ctx, bad)
		be := reason(t, err, migrate.ReasonBlocked)
		if !be.Terminal || !strings.Contains(be.Message, "00004_items.sql") || !strings.Contains(be.Message, "no_such_table") || !strings.Contains(be.Message, "INSERT INTO") {
			t.Fatalf("error %+v", be)
		}
		// DDL committed: the table is there, and nothing more runs.
		if n := count(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'mig' AND table_name = 'items'`); n != 1 {
			t.Fatalf("items: %d", n)
		}
		_, err = m.Observe(ctx, bad)
		_ = reason(t, err, migrate.ReasonBlocked)
		_, err = m.Apply(ctx, bad)
		_ = reason(t, err, migrate.ReasonBlocked)
		// Fixed by hand, then retried with a file that copes.
		if _, err := admin.Exec(`DROP TABLE mig.items`); err != nil {
			t.Fatal(err)
		}
		fixed := spec
		fixed.Files = append(fixed.Files, file("00004_items.sql", "CREATE TABLE items (id INT);\nINSERT INTO items VALUES (1);", "DROP TABLE items;"))
		fixed.Resolve = &migrate.Resolve{Version: 4, Action: migrate.Retry}
		obs, err := m.Observe(ctx, fixed)
		if err != nil || !strings.Contains(strings.Join(obs.Drift(fixed), ";"), "version 4 blocked: Retry pending") {
			t.Fatalf("observe with resolve: %v, %v", err, obs.Drift(fixed))
		}
		fixed.AcceptChecksums = nil
		mustApply(t, m, fixed, "up4")
		spec = fixed
	})

	t.Run("BlockedThenMarkApplied", func(t *testing.T) {
		bad := spec
		bad.Files = append(bad.Files, file("00005_more.sql", "ALTER TABLE items ADD COLUMN x INT;\nALTER TABLE nope ADD COLUMN y INT;", "ALTER TABLE items DROP COLUMN x;"))
		_, err := m.Apply(ctx, bad)
		_ = reason(t, err, migrate.ReasonBlocked)
		bad.Resolve = &migrate.Resolve{Version: 5, Action: migrate.MarkApplied}
		res := mustApply(t, m, bad, "")
		if res.State.Current() != 5 {
			t.Fatalf("current %d", res.State.Current())
		}
		spec = bad
	})

	t.Run("LockHeldElsewhere", func(t *testing.T) {
		holder, err := mariaSrv.Open("")
		if err != nil {
			t.Fatal(err)
		}
		holder.SetMaxOpenConns(1)
		var got int
		if err := holder.QueryRowContext(ctx, `SELECT GET_LOCK('backend-operator/migrate/mig', 1)`).Scan(&got); err != nil || got != 1 {
			t.Fatalf("GET_LOCK: %d %v", got, err)
		}
		more := spec
		more.Files = append(more.Files, file("00006_x.sql", "CREATE TABLE x6 (id INT);", "DROP TABLE x6;"))
		_, err = m.Apply(ctx, more)
		_ = reason(t, err, migrate.ReasonLocked)
		// The holder's session dies: its lock goes with it.
		_ = holder.Close()
		mustApply(t, m, more, "up6")
		spec = more
	})

	t.Run("Down", func(t *testing.T) {
		down := spec
		down.Target = new(int64)
		*down.Target = 4
		_, err := m.Apply(ctx, down)
		_ = reason(t, err, migrate.ReasonDownNotAllowed)
		down.AllowDown = true
		mustApply(t, m, down, "down6 down5")
		if n := count(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'mig' AND table_name = 'x6'`); n != 0 {
			t.Error("x6 still exists")
		}
	})
}
