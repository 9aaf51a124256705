package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/test/harness"
)

// mariaWorkload: N Databases and N DatabaseUsers with ReadWrite on their
// database, on MariaDB (engine mysql).
type mariaWorkload struct {
	maria *harness.MariaDB
	pool  *sql.DB
	// admin is the bench's one session for the floor, drift and counters.
	admin *sql.Conn
	// sampler is the session counting the operator's sessions, used by the
	// sampling goroutine only.
	sampler *sql.Conn
}

const (
	mariaMaxConns = 5
	// mariaOperatorUser is the account only the operator logs in with, so that
	// its sessions are the PROCESSLIST rows with this user.
	mariaOperatorUser = "bench_operator"
)

// mariaReadWrite is the privilege set the operator grants for ReadWrite on a
// database (internal/backend/mysql/privileges.go).
var mariaReadWrite = []string{"SELECT", "SHOW VIEW", "INSERT", "UPDATE", "DELETE", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE"}

func (w *mariaWorkload) name() string        { return "mariadb" }
func (w *mariaWorkload) maxConnections() int { return mariaMaxConns }

func (w *mariaWorkload) setup(ctx context.Context, c client.Client) (string, error) {
	// The operator's idle sessions see EOF when close stops the server: the
	// driver's own log lines about it are noise in the bench's output.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	var err error
	if w.maria, err = harness.StartMariaDB(ctx); err != nil {
		return "", err
	}
	if w.pool, err = w.maria.Open(""); err != nil {
		return "", err
	}
	if w.admin, err = w.pool.Conn(ctx); err != nil {
		return "", err
	}
	if w.sampler, err = w.pool.Conn(ctx); err != nil {
		return "", err
	}
	operatorPassword := "bench-operator-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, s := range []string{
		`CREATE USER '` + mariaOperatorUser + `'@'%' IDENTIFIED BY '` + operatorPassword + `'`,
		`GRANT ALL PRIVILEGES ON *.* TO '` + mariaOperatorUser + `'@'%' WITH GRANT OPTION`,
	} {
		if _, err := w.admin.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("operator account: %w", err)
		}
	}
	ns := "bench-mariadb"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns},
			StringData: map[string]string{"username": mariaOperatorUser, "password": operatorPassword}},
		&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "mariadb", Namespace: ns}, Spec: sqlv1.DatabaseServerSpec{
			Engine: sqlv1.EngineMySQL, Host: w.maria.Host, Port: int32(w.maria.Port), MaxConnections: mariaMaxConns,
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	return ns, waitServerReady(ctx, c, &sqlv1.DatabaseServer{}, client.ObjectKey{Namespace: ns, Name: "mariadb"})
}

// waitServerReady polls until the server object key has Ready=True.
func waitServerReady(ctx context.Context, c client.Client, obj client.Object, key client.ObjectKey) error {
	deadline := time.Now().Add(time.Minute)
	for {
		if err := c.Get(ctx, key, obj); err != nil {
			return err
		}
		var conds []metav1.Condition
		if s, ok := obj.(interface{ CommonStatus() *common.ServerStatus }); ok {
			conds = s.CommonStatus().Conditions
		}
		if meta.IsStatusConditionTrue(conds, "Ready") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server %s not Ready after a minute: %+v", key, conds)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mariaPattern escapes _ and % as the operator does for a database-level
// grant, so that the grant names exactly one database.
func mariaPattern(db string) string {
	return strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`).Replace(db)
}

// floor is what a careful hand-written script does for the same end state:
// one session, sequentially, three statements per pair.
func (w *mariaWorkload) floor(ctx context.Context, n int) (time.Duration, error) {
	privs := strings.Join(mariaReadWrite, ", ")
	start := time.Now()
	for i := range n {
		db, user := "floor_db_"+strconv.Itoa(i), "floor_user_"+strconv.Itoa(i)
		for _, s := range []string{
			"CREATE DATABASE `" + db + "`",
			"CREATE USER '" + user + "'@'%' IDENTIFIED BY 'floor-password-" + strconv.Itoa(i) + "'",
			"GRANT " + privs + " ON `" + mariaPattern(db) + "`.* TO '" + user + "'@'%'",
		} {
			if _, err := w.admin.ExecContext(ctx, s); err != nil {
				return 0, fmt.Errorf("%s: %w", s, err)
			}
		}
	}
	elapsed := time.Since(start)
	// Leave the server as the floor found it.
	for i := range n {
		for _, s := range []string{"DROP DATABASE `floor_db_" + strconv.Itoa(i) + "`", "DROP USER 'floor_user_" + strconv.Itoa(i) + "'@'%'"} {
			if _, err := w.admin.ExecContext(ctx, s); err != nil {
				return 0, fmt.Errorf("%s: %w", s, err)
			}
		}
	}
	return elapsed, nil
}

func (w *mariaWorkload) objects(ns string, n int) []client.Object {
	ref := sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "mariadb"}
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

// connections counts the sessions logged in as the operator's account (the
// bench never uses it), from the sampler's own session.
func (w *mariaWorkload) connections(ctx context.Context) (int, error) {
	var n int
	err := w.sampler.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.PROCESSLIST
WHERE USER = ? AND ID <> CONNECTION_ID()`, mariaOperatorUser).Scan(&n)
	return n, err
}

// queries reads the global Questions counter: the commands clients sent to
// the server, from every session, except COM_PING, COM_STATISTICS and the
// prepared-statement housekeeping COM_STMT_PREPARE/CLOSE/RESET, so that one
// prepared statement counts once, at its COM_STMT_EXECUTE; statements run
// inside stored programs are not counted. The server bumps it before running
// a command, so the SHOW STATUS reading it counts itself, which measure
// subtracts.
func (w *mariaWorkload) queries(ctx context.Context) (int64, error) {
	var name string
	var n int64
	err := w.admin.QueryRowContext(ctx, `SHOW GLOBAL STATUS LIKE 'Questions'`).Scan(&name, &n)
	return n, err
}

func (w *mariaWorkload) drift(ctx context.Context, n int) (map[string]func() bool, error) {
	last := strconv.Itoa(n - 1)
	revoked, dropped := "bench_user_0", "bench_user_"+last
	for _, s := range []string{
		"REVOKE SELECT, INSERT ON `" + mariaPattern("bench_db_0") + "`.* FROM '" + revoked + "'@'%'",
		"DROP USER '" + dropped + "'@'%'",
	} {
		if _, err := w.admin.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	// Every ReadWrite privilege held by the account itself on exactly that
	// database (the escaped pattern, as the operator grants it).
	holdsReadWrite := func(user, db string) func() bool {
		args := []any{"'" + user + "'@'%'", mariaPattern(db)}
		marks := make([]string, len(mariaReadWrite))
		for i, p := range mariaReadWrite {
			marks[i] = "?"
			args = append(args, p)
		}
		q := `SELECT COUNT(DISTINCT PRIVILEGE_TYPE) FROM information_schema.SCHEMA_PRIVILEGES
WHERE GRANTEE = ? AND TABLE_SCHEMA = ? AND PRIVILEGE_TYPE IN (` + strings.Join(marks, ", ") + `)`
		return func() bool {
			var got int
			err := w.admin.QueryRowContext(ctx, q, args...).Scan(&got)
			return err == nil && got == len(mariaReadWrite)
		}
	}
	if holdsReadWrite(revoked, "bench_db_0")() {
		return nil, fmt.Errorf("the REVOKE on %s did not take", revoked)
	}
	return map[string]func() bool{
		"REVOKE SELECT, INSERT": holdsReadWrite(revoked, "bench_db_0"),
		"DROP USER":             holdsReadWrite(dropped, "bench_db_"+last),
	}, nil
}

func (w *mariaWorkload) close() {
	for _, c := range []*sql.Conn{w.admin, w.sampler} {
		if c != nil {
			_ = c.Close()
		}
	}
	if w.pool != nil {
		_ = w.pool.Close()
	}
	if w.maria != nil {
		_ = w.maria.Close()
	}
}
