package sql_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/controller/sql"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/harness"
)

var (
	k8s     client.Client
	restCfg *rest.Config
	pg      *harness.Postgres
	maria   *harness.MariaDB
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run these tests with `make test`, which builds the envtest binaries")
		return 1
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logSink())))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	var err error
	if restCfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start envtest:", err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	if pg, err = harness.StartPostgres(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "start PostgreSQL:", err)
		return 1
	}
	defer pg.Close() //nolint:errcheck
	// The global sql_mode is hostile to naive quoting; the operator must not care.
	if maria, err = harness.StartMariaDB(ctx, "--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES"); err != nil {
		fmt.Fprintln(os.Stderr, "start MariaDB:", err)
		return 1
	}
	defer maria.Close() //nolint:errcheck

	mgr, err := operator.New(ctx, restCfg, operator.Config{SQL: sql.Options{
		Options: managed.Options{PollInterval: 2 * time.Second, WaitInterval: 500 * time.Millisecond}, Concurrency: 4}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "build manager:", err)
		return 1
	}
	k8s, err = client.New(restCfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return m.Run()
}

// logSink sends operator logs to a file, so that test output stays readable;
// TEST_LOG=1 sends them to stderr.
func logSink() *os.File {
	if os.Getenv("TEST_LOG") != "" {
		return os.Stderr
	}
	f, err := os.CreateTemp("", "backend-operator-test-*.log")
	if err != nil {
		return os.Stderr
	}
	return f
}

// fixture is one test's namespace with a DatabaseServer pointing at a backend.
type fixture struct {
	t      *testing.T
	g      Gomega
	ctx    context.Context
	ns     string
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
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &fixture{t: t, g: g, ctx: ctx}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	g.Expect(k8s.Create(ctx, ns)).To(Succeed())
	f.ns = ns.Name
	f.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: srv.secretName, Namespace: f.ns},
		StringData: map[string]string{"username": srv.user, "password": srv.password}})
	f.create(&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: srv.serverName, Namespace: f.ns}, Spec: sqlv1.DatabaseServerSpec{
		Engine: srv.engine, Host: srv.host, Port: int32(srv.port), MaxConnections: 3,
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: srv.secretName}},
	}})
	f.server = sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: srv.serverName}
	f.waitReady(&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: srv.serverName, Namespace: f.ns}})
	return f
}

func (f *fixture) create(obj client.Object) {
	f.t.Helper()
	if obj.GetNamespace() == "" && !isClusterScoped(obj) {
		obj.SetNamespace(f.ns)
	}
	f.g.Expect(k8s.Create(f.ctx, obj)).To(Succeed())
}

func isClusterScoped(obj client.Object) bool {
	switch obj.(type) {
	case *sqlv1.ClusterDatabaseServer, *corev1.Namespace:
		return true
	}
	return false
}

// conditionOf reads obj and returns its Ready condition.
func (f *fixture) ready(obj client.Object) *metav1.Condition {
	if err := k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil
	}
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *sqlv1.DatabaseServer:
		conds = o.Status.Conditions
	case *sqlv1.ClusterDatabaseServer:
		conds = o.Status.Conditions
	case managed.Object:
		if o.ManagedStatus().ObservedGeneration != o.GetGeneration() && meta.IsStatusConditionTrue(o.ManagedStatus().Conditions, "Ready") {
			return nil
		}
		conds = o.ManagedStatus().Conditions
	}
	return meta.FindStatusCondition(conds, managed.ConditionReady)
}

func (f *fixture) waitReady(obj client.Object) {
	f.t.Helper()
	f.waitReason(obj, metav1.ConditionTrue, "")
}

// waitReason waits until Ready has status and (if not empty) reason.
func (f *fixture) waitReason(obj client.Object, status metav1.ConditionStatus, reason string) *metav1.Condition {
	f.t.Helper()
	var last *metav1.Condition
	f.g.Eventually(func() bool {
		last = f.ready(obj)
		return last != nil && last.Status == status && (reason == "" || last.Reason == reason)
	}).Should(BeTrue(), func() string { return fmt.Sprintf("%T %s: Ready is %+v", obj, obj.GetName(), last) })
	return last
}

// stays asserts that Ready keeps reason for a while.
func (f *fixture) stays(obj client.Object, reason string) {
	f.t.Helper()
	f.g.Consistently(func() string {
		if c := f.ready(obj); c != nil {
			return c.Reason
		}
		return ""
	}, 3*time.Second, 200*time.Millisecond).Should(Equal(reason))
}

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
	if err := k8s.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, s); err != nil {
		return nil, nil, err
	}
	c, err := pgx.Connect(f.ctx, string(s.Data["uri"]))
	if err != nil {
		// Only the message: the error value holds the connection config, password included.
		return nil, s, errors.New("login with the Secret's uri: " + err.Error())
	}
	return c, s, nil
}

// update re-reads obj, applies mutate and writes it, retrying on conflicts
// with the operator's own writes.
func update[T client.Object](f *fixture, obj T, mutate func(T)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return k8s.Update(f.ctx, obj)
	})
}

func (f *fixture) delete(obj client.Object) {
	f.t.Helper()
	f.g.Expect(k8s.Delete(f.ctx, obj)).To(Succeed())
}

func (f *fixture) waitGone(obj client.Object) {
	f.t.Helper()
	f.g.Eventually(func() bool {
		return client.IgnoreNotFound(k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj)) == nil &&
			k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj) != nil
	}).Should(BeTrue(), "%T %s was not deleted", obj, obj.GetName())
}

// uniq makes backend names unique per test namespace.
func (f *fixture) uniq(name string) string { return name + "_" + f.ns[len("t-"):] }
