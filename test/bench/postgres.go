package main

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/test/harness"
)

func workloads() []workload {
	return []workload{&pgWorkload{}, &mariaWorkload{}, &redisWorkload{}, &rabbitWorkload{}, newMigrationsWorkload(), &natsWorkload{}}
}

// pgWorkload: N Databases and N DatabaseUsers with ReadWrite on their database.
type pgWorkload struct {
	pg    *harness.Postgres
	admin *pgx.Conn
	// sampler is the connection counting sessions, used by one goroutine.
	sampler *pgx.Conn
	// readings counts calls of queries.
	readings int64
	// namespace holds the workload's objects; default bench-postgres.
	namespace string
}

const (
	pgMaxConns     = 5
	pgOperatorRole = "bench_operator"
)

func (w *pgWorkload) name() string        { return "postgres" }
func (w *pgWorkload) maxConnections() int { return pgMaxConns }

func (w *pgWorkload) setup(ctx context.Context, c client.Client) (string, error) {
	ns, err := w.provision(ctx, c)
	if err != nil {
		return "", err
	}
	return ns, waitServerReady(ctx, c, &sqlv1.DatabaseServer{}, client.ObjectKey{Namespace: ns, Name: "pg"})
}

// provision starts PostgreSQL and creates the namespace, the admin Secret and
// the DatabaseServer, without waiting for an operator.
func (w *pgWorkload) provision(ctx context.Context, c client.Client) (string, error) {
	var err error
	if w.pg, err = harness.StartPostgres(ctx); err != nil {
		return "", err
	}
	if w.admin, err = pgx.Connect(ctx, w.pg.URL("postgres")); err != nil {
		return "", err
	}
	if w.sampler, err = pgx.Connect(ctx, w.pg.URL("postgres")); err != nil {
		return "", err
	}
	// The operator logs in as its own superuser, so that pg_stat_statements
	// tells its statements from the bench's.
	opPassword := strconv.FormatInt(time.Now().UnixNano(), 36) + "-op"
	for _, s := range []string{
		`CREATE EXTENSION pg_stat_statements`,
		`CREATE ROLE ` + pgOperatorRole + ` SUPERUSER LOGIN PASSWORD '` + opPassword + `'`,
	} {
		if _, err := w.admin.Exec(ctx, s); err != nil {
			return "", fmt.Errorf("%s: %w", s, err)
		}
	}
	ns := cmp.Or(w.namespace, "bench-postgres")
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns},
			StringData: map[string]string{"username": pgOperatorRole, "password": opPassword}},
		&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: ns}, Spec: sqlv1.DatabaseServerSpec{
			Engine: sqlv1.EnginePostgres, Host: w.pg.Host, Port: int32(w.pg.Port), MaxConnections: pgMaxConns,
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	return ns, nil
}

// floor is what a careful hand-written script does for the same end state:
// one connection at a time, sequentially, the minimum statements.
func (w *pgWorkload) floor(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		db, role := "floor_db_"+strconv.Itoa(i), "floor_user_"+strconv.Itoa(i)
		for _, s := range []string{
			`CREATE DATABASE ` + db,
			`CREATE ROLE ` + role + ` LOGIN PASSWORD 'floor-password-` + strconv.Itoa(i) + `'`,
			`GRANT CONNECT, TEMPORARY ON DATABASE ` + db + ` TO ` + role,
		} {
			if _, err := w.admin.Exec(ctx, s); err != nil {
				return 0, fmt.Errorf("%s: %w", s, err)
			}
		}
		conn, err := pgx.Connect(ctx, w.pg.URL(db))
		if err != nil {
			return 0, err
		}
		for _, s := range []string{
			`GRANT USAGE ON SCHEMA public TO ` + role,
			`ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ` + role,
			`ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT SELECT, USAGE, UPDATE ON SEQUENCES TO ` + role,
			`ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT USAGE ON SCHEMAS TO ` + role,
		} {
			if _, err := conn.Exec(ctx, s); err != nil {
				conn.Close(ctx)
				return 0, fmt.Errorf("%s: %w", s, err)
			}
		}
		conn.Close(ctx)
	}
	elapsed := time.Since(start)
	// Leave the server as the floor found it, so that the operator works on
	// the same number of databases (autovacuum visits each of them).
	for i := range n {
		for _, s := range []string{`DROP DATABASE floor_db_` + strconv.Itoa(i), `DROP ROLE floor_user_` + strconv.Itoa(i)} {
			if _, err := w.admin.Exec(ctx, s); err != nil {
				return 0, fmt.Errorf("%s: %w", s, err)
			}
		}
	}
	return elapsed, nil
}

func (w *pgWorkload) objects(ns string, n int) []client.Object {
	ref := sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "pg"}
	var objs []client.Object
	for i := range n {
		db := "bench_db_" + strconv.Itoa(i)
		objs = append(objs,
			&sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "db-" + strconv.Itoa(i), Namespace: ns},
				Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: db, DeletionPolicy: common.DeletionDelete}},
			&sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: "user-" + strconv.Itoa(i), Namespace: ns},
				Spec: sqlv1.DatabaseUserSpec{ServerRef: ref, Name: "bench_user_" + strconv.Itoa(i),
					Grants: []sqlv1.Grant{{Database: db, Access: sqlv1.AccessReadWrite}}}})
	}
	return objs
}

func (w *pgWorkload) connections(ctx context.Context) (int, error) {
	var n int
	err := w.sampler.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'backend-operator'`).Scan(&n)
	return n, err
}

// queries counts the statements the operator's role ran (pg_stat_statements
// counts each statement of a pipelined batch). The reading itself runs as
// another role; it is added once per reading, as the other servers count
// theirs, because measure subtracts one.
func (w *pgWorkload) queries(ctx context.Context) (int64, error) {
	var n int64
	err := w.admin.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE userid = $1::regrole`, pgOperatorRole).Scan(&n)
	w.readings++
	return n + w.readings, err
}

// sessionsOpened counts the sessions the server has accepted, from anyone.
func (w *pgWorkload) sessionsOpened(ctx context.Context) (int64, error) {
	var n int64
	_, _ = w.admin.Exec(ctx, `SELECT pg_stat_clear_snapshot()`)
	err := w.admin.QueryRow(ctx, `SELECT sum(sessions)::bigint FROM pg_stat_database`).Scan(&n)
	return n, err
}

func (w *pgWorkload) drift(ctx context.Context, n int) (map[string]func() bool, error) {
	last := strconv.Itoa(n - 1)
	revoked, dropped := "bench_user_0", "bench_user_"+last
	stmts := []string{
		`REVOKE CONNECT, TEMPORARY ON DATABASE bench_db_0 FROM ` + revoked,
		`REVOKE CONNECT, TEMPORARY ON DATABASE bench_db_` + last + ` FROM ` + dropped,
	}
	for _, s := range stmts {
		if _, err := w.admin.Exec(ctx, s); err != nil {
			return nil, err
		}
	}
	conn, err := pgx.Connect(ctx, w.pg.URL("bench_db_"+last))
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP OWNED BY `+dropped); err != nil {
		return nil, err
	}
	if _, err := w.admin.Exec(ctx, `DROP ROLE `+dropped); err != nil {
		return nil, err
	}
	// CONNECT granted to the role itself (PUBLIC holds it too by default).
	canConnect := func(role, db string) func() bool {
		return func() bool {
			var ok bool
			err := w.admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
WHERE d.datname = $2 AND a.privilege_type = 'CONNECT' AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1))`, role, db).Scan(&ok)
			return err == nil && ok
		}
	}
	return map[string]func() bool{
		"REVOKE CONNECT": canConnect(revoked, "bench_db_0"),
		"DROP ROLE":      canConnect(dropped, "bench_db_"+last),
	}, nil
}

func (w *pgWorkload) close() {
	for _, c := range []*pgx.Conn{w.admin, w.sampler} {
		if c != nil {
			c.Close(context.Background())
		}
	}
	if w.pg != nil {
		_ = w.pg.Close()
	}
}
