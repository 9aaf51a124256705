package fault

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/operator"
)

// A backend killed while objects are being created: stable reasons while it
// is down, and everything converges after the restart, each object exactly once.
func TestBackendKilledDuringCreate(t *testing.T) {
	e := newEnv(t)
	startOperator(t, operator.Config{})
	e.WaitReady(&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: e.NS}})

	var objs []client.Object
	for i := range 6 {
		db := fmt.Sprintf("killed_db_%d", i)
		objs = append(objs, &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("db-%d", i)}, Spec: sqlv1.DatabaseSpec{ServerRef: e.ref, Name: db}})
		for j := range 2 {
			objs = append(objs, e.user(fmt.Sprintf("killed_%d_%d", i, j), sqlv1.Grant{Database: db, Access: sqlv1.AccessReadWrite}))
		}
	}
	for i, obj := range objs {
		e.Create(obj)
		if i == len(objs)/2 {
			e.G.Expect(e.pg.Stop()).To(Succeed())
		}
	}
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: e.NS}}
	e.G.Eventually(func() string {
		if c := e.Ready(srv); c != nil {
			return c.Reason
		}
		return ""
	}).Should(Equal(backenderr.ReasonUnavailable))
	// Objects that could not finish say why, with a reason from a stable set.
	stable := []string{backenderr.ReasonUnavailable, managed.ReasonServerNotReady, backenderr.ReasonDependencyMissing}
	last := objs[len(objs)-1]
	e.G.Eventually(func() string {
		if c := e.Ready(last); c != nil {
			return c.Reason
		}
		return ""
	}).Should(BeElementOf(stable))

	e.G.Expect(e.pg.Start(e.Ctx)).To(Succeed())
	e.WaitReady(objs...)
	var users []string
	for _, obj := range objs {
		if u, ok := obj.(*sqlv1.DatabaseUser); ok {
			users = append(users, u.Spec.Name)
			e.G.Expect(e.loginWithSecret(u)).To(Succeed())
		}
	}
	slices.Sort(users)
	e.G.Expect(e.roles("killed_")).To(Equal(users), "each role exactly once, none missing")
}

// The operator stopped at random points during creates, grant changes and
// deletes, many times: the end state has no orphan role, no missing one, and
// every Secret's password logs in.
func TestOperatorStoppedAtRandomPoints(t *testing.T) {
	e := newEnv(t)
	db := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: sqlv1.DatabaseSpec{ServerRef: e.ref, Name: "chaos_db"}}
	e.Create(db)
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	live := map[string]*sqlv1.DatabaseUser{}
	const rounds = 12
	for i := range rounds {
		run := startOperator(t, operator.Config{})
		// Create one, change the grants of another, delete a third.
		u := e.user(fmt.Sprintf("chaos_%02d", i), sqlv1.Grant{Database: "chaos_db", Access: sqlv1.AccessReadOnly})
		e.Create(u)
		live[u.Spec.Name] = u
		for name, other := range live {
			if name == u.Spec.Name {
				continue
			}
			e.G.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
				if err := k8s.Get(e.Ctx, client.ObjectKeyFromObject(other), other); err != nil {
					return err
				}
				access := sqlv1.AccessReadWrite
				if other.Spec.Grants[0].Access == access {
					access = sqlv1.AccessReadOnly
				}
				other.Spec.Grants[0].Access = access
				return k8s.Update(e.Ctx, other)
			})).To(Succeed())
			break
		}
		if i%3 == 2 {
			for name, victim := range live {
				if name != u.Spec.Name {
					e.G.Expect(k8s.Delete(e.Ctx, victim)).To(Succeed())
					delete(live, name)
					break
				}
			}
		}
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond) // a random point in the work
		run.halt()
	}

	startOperator(t, operator.Config{})
	var want []string
	for name, u := range live {
		want = append(want, name)
		e.WaitReady(u)
	}
	slices.Sort(want)
	e.G.Eventually(func() []string { return e.roles("chaos_") }).Should(Equal(want), "no orphan, none missing")
	for _, u := range live {
		e.G.Expect(e.loginWithSecret(u)).To(Succeed(), "the Secret of %s logs in", u.Name)
	}
}

// Delete with policy Delete while the backend is down: the finalizer holds
// and the deletion completes once it is back. Retain needs no backend, and
// the rows are intact afterwards.
func TestDeleteWhileBackendDown(t *testing.T) {
	e := newEnv(t)
	startOperator(t, operator.Config{})
	db := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Spec: sqlv1.DatabaseSpec{ServerRef: e.ref, Name: "keep_db"}}
	u := e.user("doomed", sqlv1.Grant{Database: "keep_db", Access: sqlv1.AccessReadOnly})
	e.Create(db)
	e.Create(u)
	e.WaitReady(db, u)
	e.exec("keep_db", `CREATE TABLE t (x int)`, `INSERT INTO t VALUES (1), (2), (3)`)

	e.G.Expect(e.pg.Stop()).To(Succeed())
	e.G.Expect(k8s.Delete(e.Ctx, u)).To(Succeed())
	e.G.Expect(k8s.Delete(e.Ctx, db)).To(Succeed())
	e.G.Eventually(func() bool { return k8s.Get(e.Ctx, client.ObjectKeyFromObject(db), db) != nil }).Should(BeTrue(), "Retain needs no backend")
	e.G.Consistently(func() error { return k8s.Get(e.Ctx, client.ObjectKeyFromObject(u), u) }, 3*time.Second).Should(Succeed(), "the finalizer holds")
	c := e.Ready(u)
	e.G.Expect(c).NotTo(BeNil())
	e.G.Expect(c.Status).To(Equal(metav1.ConditionFalse))

	e.G.Expect(e.pg.Start(e.Ctx)).To(Succeed())
	e.G.Eventually(func() bool { return k8s.Get(e.Ctx, client.ObjectKeyFromObject(u), u) != nil }).Should(BeTrue(), "deleted after the backend returned")
	e.G.Expect(e.roles("doomed")).To(BeEmpty())
	var n int
	conn := e.pg.URL("keep_db")
	e.G.Expect(countRows(e, conn, &n)).To(Succeed())
	e.G.Expect(n).To(Equal(3))
}

// Two replicas with leader election: only the leader writes; stopping it
// (keeping the lease, as a crash does) hands over and work continues.
func TestLeaderElection(t *testing.T) {
	e := newEnv(t)
	cfg := operator.Config{LeaderElection: true, LeaderElectionNS: e.NS, KeepLeaseOnStop: true,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond}
	a := startOperator(t, cfg)
	<-a.elected
	b := startOperator(t, cfg)
	first := e.user("le_first")
	e.Create(first)
	e.WaitReady(first)
	e.G.Expect(b.writes.n.Load()).To(BeZero(), "the follower wrote")
	e.G.Expect(a.writes.n.Load()).NotTo(BeZero())

	a.halt()
	select {
	case <-b.elected:
	case <-time.After(30 * time.Second):
		t.Fatal("the follower did not take over")
	}
	second := e.user("le_second")
	e.Create(second)
	e.WaitReady(second)
	e.G.Expect(e.loginWithSecret(second)).To(Succeed())
	e.G.Expect(e.roles("le_")).To(Equal([]string{"le_first", "le_second"}))
}
