package sql_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

var (
	k8s   client.Client
	pg    *harness.Postgres
	maria *harness.MariaDB
)

func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, "backend-operator-test-*.log", func(ctx context.Context, env *kubetest.Env) ([]func() error, error) {
		k8s = env.Client
		var err error
		if pg, err = harness.StartPostgres(ctx); err != nil {
			return nil, fmt.Errorf("start PostgreSQL: %w", err)
		}
		// The global sql_mode is hostile to naive quoting; the operator must not care.
		if maria, err = harness.StartMariaDB(ctx, "--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES"); err != nil {
			return []func() error{pg.Close}, fmt.Errorf("start MariaDB: %w", err)
		}
		return []func() error{pg.Close, maria.Close}, nil
	}, "--poll-interval=2s", "--wait-interval=500ms", "--concurrency=4"))
}

// fixture is one test's namespace with a DatabaseServer pointing at a backend.
type fixture struct {
	*kubetest.Fixture
	server sqlv1.ServerReference
}

// backend is a server a fixture's DatabaseServer points at: its engine, the
// names of the DatabaseServer and its admin Secret, and the admin login.
type backend struct {
	engine                 sqlv1.Engine
	serverName, secretName string
	host                   string
	port                   int
	user, password         string
}

func pgBackend(p *harness.Postgres) backend {
	return backend{engine: sqlv1.EnginePostgres, serverName: "pg", secretName: "pg-admin",
		host: p.Host, port: p.Port, user: p.AdminUser, password: p.AdminPassword}
}

func mariaBackend(m *harness.MariaDB) backend {
	return backend{engine: sqlv1.EngineMySQL, serverName: "mariadb", secretName: "mariadb-admin",
		host: m.Host, port: m.Port, user: m.AdminUser, password: m.AdminPassword}
}

func newFixture(t *testing.T) *fixture {
	return newFixtureOn(t, pgBackend(pg))
}

func newFixtureOn(t *testing.T, srv backend) *fixture {
	t.Helper()
	f := &fixture{Fixture: kubetest.NewFixture(t, k8s, "t-")}
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: srv.secretName},
		StringData: map[string]string{"username": srv.user, "password": srv.password}})
	f.Create(&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: srv.serverName}, Spec: sqlv1.DatabaseServerSpec{
		Engine: srv.engine, Host: srv.host, Port: int32(srv.port), MaxConnections: 3,
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: srv.secretName}},
	}})
	f.server = sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: srv.serverName}
	f.WaitReady(&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: srv.serverName, Namespace: f.NS}})
	return f
}

// uniq makes backend names unique per test namespace.
func (f *fixture) uniq(name string) string { return name + "_" + f.NS[len("t-"):] }

// sqlAdmin runs statements as the superuser in db.
func sqlAdmin(t *testing.T, srv *harness.Postgres, db string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, srv.URL(db))
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

// queryAdmin returns the first column of the first row.
func queryAdmin[T any](t *testing.T, srv *harness.Postgres, db, q string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, srv.URL(db))
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

func roleExists(t *testing.T, name string) bool {
	return queryAdmin[bool](t, pg, "postgres", `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name)
}

func databaseExists(t *testing.T, name string) bool {
	return queryAdmin[bool](t, pg, "postgres", `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name)
}

// secretLogin connects with the credentials of a connection Secret, using
// its uri key as an application would.
func (f *fixture) secretLogin(name string) (*pgx.Conn, *corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: name}, s); err != nil {
		return nil, nil, err
	}
	c, err := pgx.Connect(f.Ctx, string(s.Data["uri"]))
	if err != nil {
		// Only the message: the error value holds the connection config, password included.
		return nil, s, errors.New("login with the Secret's uri: " + err.Error())
	}
	return c, s, nil
}
