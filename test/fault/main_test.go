// Package fault runs the operator through faults: a backend killed mid-way,
// the operator stopped at random points and restarted, deletion while the
// backend is down, and leader election hand-over. Each test asserts the end
// state on the real server: no duplicate, no orphan, every Secret logs in.
package fault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

var (
	restCfg *rest.Config
	k8s     client.Client
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	kubetest.SetLogger("backend-operator-fault-*.log")
	env, err := kubetest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	restCfg, k8s = env.Config, env.Client
	return m.Run()
}

// writeCounter counts writes to the backend-operator API groups.
type writeCounter struct{ n atomic.Int64 }

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "backend-operator.dev") {
			w.n.Add(1)
		}
		return rt.RoundTrip(r)
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// operatorRun is one in-process operator; stop ends it like a crash would
// (in-flight reconciles and backend calls are cancelled).
type operatorRun struct {
	stop    context.CancelFunc
	done    chan error
	elected <-chan struct{}
	writes  *writeCounter
	once    sync.Once
	t       *testing.T
}

func startOperator(t *testing.T, cfg operator.Config) *operatorRun {
	t.Helper()
	cfg.Restartable = true
	if cfg.Controllers == (managed.GroupOptions{}) {
		// Short intervals, unless the test asked for the binary's own flags.
		cfg.Controllers = kubetest.Config("--poll-interval=2s", "--wait-interval=300ms", "--concurrency=4").Controllers
	}
	wc := &writeCounter{}
	c := rest.CopyConfig(restCfg)
	c.Wrap(wc.wrap)
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := operator.New(ctx, c, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &operatorRun{stop: cancel, done: make(chan error, 1), elected: mgr.Elected(), writes: wc, t: t}
	go func() { r.done <- mgr.Start(ctx) }()
	t.Cleanup(r.halt)
	return r
}

func (r *operatorRun) halt() {
	r.once.Do(func() {
		r.stop()
		select {
		case <-r.done: //nolint:errcheck // a stopped manager's error is irrelevant here
		case <-time.After(40 * time.Second):
			r.t.Error("the operator did not stop within 40s")
		}
	})
}

// env is one test's namespace and PostgreSQL.
type env struct {
	*kubetest.Fixture
	pg  *harness.Postgres
	ref sqlv1.ServerReference
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pg, err := harness.StartPostgres(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	e := &env{Fixture: kubetest.NewFixture(t, k8s, "fault-"), pg: pg, ref: sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "pg"}}
	e.G.SetDefaultEventuallyTimeout(90 * time.Second)
	e.G.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	e.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin"},
		StringData: map[string]string{"username": pg.AdminUser, "password": pg.AdminPassword}})
	e.Create(&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg"}, Spec: sqlv1.DatabaseServerSpec{
		Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port), MaxConnections: 3,
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}})
	return e
}

func (e *env) user(name string, grants ...sqlv1.Grant) *sqlv1.DatabaseUser {
	return &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(name, "_", "-"), Namespace: e.NS},
		Spec: sqlv1.DatabaseUserSpec{ServerRef: e.ref, Name: name, Grants: grants}}
}

// roles lists the login roles whose names start with prefix.
func (e *env) roles(prefix string) []string {
	e.T.Helper()
	c, err := pgx.Connect(e.Ctx, e.pg.URL("postgres"))
	e.G.Expect(err).NotTo(HaveOccurred())
	defer c.Close(e.Ctx)
	rows, err := c.Query(e.Ctx, `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1`, prefix)
	e.G.Expect(err).NotTo(HaveOccurred())
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	e.G.Expect(err).NotTo(HaveOccurred())
	return names
}

func (e *env) exec(db string, stmts ...string) {
	e.T.Helper()
	c, err := pgx.Connect(e.Ctx, e.pg.URL(db))
	e.G.Expect(err).NotTo(HaveOccurred())
	defer c.Close(e.Ctx)
	for _, s := range stmts {
		_, err := c.Exec(e.Ctx, s)
		e.G.Expect(err).NotTo(HaveOccurred(), s)
	}
}

// loginWithSecret logs in with a user's connection Secret, as an application would.
func (e *env) loginWithSecret(u *sqlv1.DatabaseUser) error {
	s := &corev1.Secret{}
	if err := k8s.Get(e.Ctx, client.ObjectKey{Namespace: e.NS, Name: u.ConnectionSecretName()}, s); err != nil {
		return err
	}
	c, err := pgx.Connect(e.Ctx, string(s.Data["uri"]))
	if err != nil {
		return errors.New("login failed: " + err.Error()) // the message only: the value holds the password
	}
	return c.Close(e.Ctx)
}

func countRows(e *env, url string, n *int) error {
	c, err := pgx.Connect(e.Ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(e.Ctx)
	return c.QueryRow(e.Ctx, `SELECT count(*) FROM t`).Scan(n)
}
