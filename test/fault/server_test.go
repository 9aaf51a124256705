package fault

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// These run the operator with the binary's own flags and defaults
// (kubetest.Config parses them as cmd/main does), changing only what each
// test names.

// TestServerAppliedBeforeBackend: a DatabaseServer applied while its
// PostgreSQL is not up yet (a GitOps sync that lands before the database VM
// boots) connects, and its Database is created, within 60 s of the backend
// answering.
func TestServerAppliedBeforeBackend(t *testing.T) {
	startOperator(t, kubetest.Config())
	e := newEnv(t)
	e.G.Expect(e.pg.Stop()).To(Succeed())
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: e.NS}}
	e.WaitReason(srv, metav1.ConditionFalse, backenderr.ReasonUnavailable)
	db := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: e.NS}, Spec: sqlv1.DatabaseSpec{ServerRef: e.ref}}
	e.Create(db)
	e.WaitReason(db, metav1.ConditionFalse, "ServerNotReady")

	e.G.Expect(e.pg.Start(context.Background())).To(Succeed())
	up := time.Now()
	e.G.Eventually(func() bool { return isReady(e.Fixture, db) }, 60*time.Second, 200*time.Millisecond).Should(BeTrue(),
		"the Database was not Ready within 60 s of PostgreSQL answering")
	t.Logf("Ready %.1fs after PostgreSQL answered", time.Since(up).Seconds())
}

// TestMariaDBDownWhileDeleting: a user deleted while MariaDB is down is
// dropped once it is back, and a Database applied afterwards is created,
// each within 60 s of the backend answering.
func TestMariaDBDownWhileDeleting(t *testing.T) {
	startOperator(t, kubetest.Config("--poll-interval=5s")) // notice the outage sooner; the retry is the default
	m, err := harness.StartMariaDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	f := kubetest.NewFixture(t, k8s, "fault-")
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin"},
		StringData: map[string]string{"username": m.AdminUser, "password": m.AdminPassword}})
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "maria"}, Spec: sqlv1.DatabaseServerSpec{
		Engine: sqlv1.EngineMySQL, Host: m.Host, Port: int32(m.Port), MaxConnections: 3,
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}
	f.Create(srv)
	ref := sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "maria"}
	db := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: sqlv1.DatabaseSpec{ServerRef: ref}}
	u := &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: sqlv1.DatabaseUserSpec{ServerRef: ref,
		Grants: []sqlv1.Grant{{Database: "shop", Access: sqlv1.AccessReadWrite}}}}
	f.Create(db)
	f.Create(u)
	f.G.SetDefaultEventuallyTimeout(90 * time.Second)
	f.WaitReady(srv, db, u)

	f.G.Expect(m.Stop()).To(Succeed())
	f.WaitReason(srv, metav1.ConditionFalse, backenderr.ReasonUnavailable)
	f.Delete(u)
	f.G.Expect(m.Start(context.Background())).To(Succeed())
	up := time.Now()
	late := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: f.NS}, Spec: sqlv1.DatabaseSpec{ServerRef: ref}}
	f.Create(late)
	f.G.Eventually(func() bool {
		err := k8s.Get(f.Ctx, client.ObjectKeyFromObject(u), &sqlv1.DatabaseUser{})
		return err != nil && strings.Contains(err.Error(), "not found")
	}, 60*time.Second, 200*time.Millisecond).Should(BeTrue(), "the deleted user was still Terminating 60 s after MariaDB answered")
	f.G.Eventually(func() bool { return isReady(f, late) }, 60*time.Second, 200*time.Millisecond).Should(BeTrue(),
		"a Database applied after the outage was not created within 60 s")
	t.Logf("converged %.1fs after MariaDB answered", time.Since(up).Seconds())

	conn, err := m.Open("")
	f.G.Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	var accounts int
	f.G.Expect(conn.QueryRow(`SELECT count(*) FROM mysql.user WHERE User = 'app'`).Scan(&accounts)).To(Succeed())
	f.G.Expect(accounts).To(BeZero(), "the account of the deleted user was not dropped")
	var dbs int
	f.G.Expect(conn.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'late'`).Scan(&dbs)).To(Succeed())
	f.G.Expect(dbs).To(Equal(1), "the late database does not exist on the server")
}

// TestCacheGroupGetsTheFlags: --poll-interval and --concurrency reach the
// cache group, and a Ready CacheServer is polled again (it notices its
// Redis going away and coming back).
func TestCacheGroupGetsTheFlags(t *testing.T) {
	startOperator(t, kubetest.Config("--poll-interval=3s", "--concurrency=3"))
	g := NewWithT(t)
	// controller-runtime sets the gauge as each controller starts.
	for _, name := range []string{"cacheuser", "cacheserver", "clustercacheserver", "databaseuser"} {
		g.Eventually(func() float64 { return maxConcurrent(t, name) }, 20*time.Second, 100*time.Millisecond).Should(Equal(3.0),
			"controller %s does not run the --concurrency of 3 reconciles at once", name)
	}
	r, err := harness.StartRedis(context.Background(), harness.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	f := kubetest.NewFixture(t, k8s, "fault-")
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin"}, StringData: map[string]string{"password": r.AdminPassword}})
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis"}, Spec: cachev1.CacheServerSpec{
		Engine: cachev1.EngineRedis, Nodes: []cachev1.Node{{Host: r.Host, Port: int32(r.Port)}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}}
	f.Create(srv)
	f.WaitReady(srv)
	f.G.Expect(r.Stop()).To(Succeed())
	f.G.Eventually(func() string { return reason(f, srv) }, 15*time.Second, 100*time.Millisecond).Should(Equal(backenderr.ReasonUnavailable),
		"a Ready CacheServer whose Redis stopped was not polled again")
	f.G.Expect(r.Start(context.Background())).To(Succeed())
	f.G.Eventually(func() string { return reason(f, srv) }, 30*time.Second, 100*time.Millisecond).Should(Equal("Connected"))
}

// TestHungBackendWritesStatus: with PostgreSQL frozen (connections open,
// nothing answers), the Database's status still says why it is not Ready,
// once the backend deadline passes.
func TestHungBackendWritesStatus(t *testing.T) {
	startOperator(t, kubetest.Config("--backend-timeout=5s"))
	e := newEnv(t)
	e.WaitReady(&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: e.NS}})
	warm := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "warm", Namespace: e.NS}, Spec: sqlv1.DatabaseSpec{ServerRef: e.ref}}
	e.Create(warm)
	e.WaitReady(warm) // the pool holds open connections
	e.G.Expect(e.pg.Pause()).To(Succeed())
	t.Cleanup(func() { _ = e.pg.Resume() })
	db := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "hung", Namespace: e.NS}, Spec: sqlv1.DatabaseSpec{ServerRef: e.ref}}
	e.Create(db)
	c := e.WaitReason(db, metav1.ConditionFalse, backenderr.ReasonUnavailable)
	e.G.Expect(c.Message).To(ContainSubstring("did not answer within 5s"))
	e.G.Expect(e.pg.Resume()).To(Succeed())
	e.G.Eventually(func() bool { return isReady(e.Fixture, db) }, 60*time.Second, 200*time.Millisecond).Should(BeTrue())
}

func isReady(f *kubetest.Fixture, obj client.Object) bool {
	c := f.Ready(obj)
	return c != nil && c.Status == metav1.ConditionTrue
}

func reason(f *kubetest.Fixture, obj client.Object) string {
	if c := f.Ready(obj); c != nil {
		return c.Reason
	}
	return ""
}

// maxConcurrent reads controller-runtime's gauge of the reconciles a
// controller runs at once.
func maxConcurrent(t *testing.T, controller string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != "controller_runtime_max_concurrent_reconciles" {
			continue
		}
		for _, m := range fam.GetMetric() {
			if labelIs(m, "controller", controller) {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
