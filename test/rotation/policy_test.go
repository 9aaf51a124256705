package rotation

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// TestRotationAdmission: rotation settings that cannot work are refused by
// the API server, with a message that says why.
func TestRotationAdmission(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "rot-admission-")
	minute := &metav1.Duration{Duration: 30 * time.Second}
	ref := &common.SecretKeyReference{SecretReference: common.SecretReference{Name: "pw"}}
	for _, c := range []struct {
		reason string
		mutate func(*sqlv1.DatabaseUser)
		want   string
	}{
		{"schedule under a minute", func(u *sqlv1.DatabaseUser) { u.Spec.Rotation = &common.Rotation{Every: minute} }, "at least 1m"},
		{"schedule with a referenced password", func(u *sqlv1.DatabaseUser) {
			u.Spec.Rotation, u.Spec.PasswordSecretRef = &common.Rotation{Every: &metav1.Duration{Duration: time.Hour}}, ref
		}, "cannot be used with passwordSecretRef"},
		{"unknown strategy", func(u *sqlv1.DatabaseUser) { u.Spec.Rotation = &common.Rotation{Strategy: "Twice"} }, "strategy"},
		{"rollout target by name and selector", func(u *sqlv1.DatabaseUser) {
			u.Spec.ConnectionSecret.Rollout = &common.Rollout{Targets: []common.RolloutTarget{{Kind: "Deployment", Name: "web",
				Selector: &metav1.LabelSelector{}}}}
		}, "exactly one of name or selector"},
		{"rollout of a Pod", func(u *sqlv1.DatabaseUser) {
			u.Spec.ConnectionSecret.Rollout = &common.Rollout{Targets: []common.RolloutTarget{{Kind: "Pod", Name: "web"}}}
		}, "kind"},
	} {
		u := sqlUser(f.NS, "bad", nil).(*sqlv1.DatabaseUser)
		c.mutate(u)
		err := k8s.Create(f.Ctx, u)
		if err == nil {
			t.Errorf("%s: accepted", c.reason)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.reason, err, c.want)
		}
	}
}

// TestRotationStrategies: an overlap the engine lacks is InvalidSpec and
// changes nothing; InPlace rotates with a warning condition; a schedule
// rotates by itself.
func TestRotationStrategies(t *testing.T) {
	all := engines()
	pgEngine, mariaEngine, redisEngine := all[0], all[1], all[2]

	t.Run("unavailable overlap", func(t *testing.T) {
		t.Parallel()
		f := kubetest.NewFixture(t, k8s, "rot-invalid-")
		for _, o := range pgEngine.server(f.NS) {
			f.Create(o)
		}
		u := pgEngine.user(f.NS, "app", &common.Rotation{Strategy: common.RotationDualPassword})
		f.Create(u)
		c := f.WaitReason(u, metav1.ConditionFalse, managed.ReasonInvalidSpec)
		f.G.Expect(c.Message).To(ContainSubstring("DualPassword is not available on this engine"))
		f.G.Expect(pgEngine.accepted(f.Ctx, u.BackendName())).To(BeZero(), "nothing was created")
		// The loop says it is stuck on this generation: kstatus reads Failed.
		f.G.Expect(meta.IsStatusConditionTrue(u.ManagedStatus().Conditions, managed.ConditionStalled)).To(BeTrue())
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(u)
		f.G.Expect(err).NotTo(HaveOccurred())
		res, err := kstatus.Compute(&unstructured.Unstructured{Object: raw})
		f.G.Expect(err).NotTo(HaveOccurred())
		f.G.Expect(res.Status).To(Equal(kstatus.FailedStatus))
	})

	t.Run("no room for the alternate user", func(t *testing.T) {
		t.Parallel()
		f := kubetest.NewFixture(t, k8s, "rot-long-")
		for _, o := range pgEngine.server(f.NS) {
			f.Create(o)
		}
		u := pgEngine.user(f.NS, "app", &common.Rotation{}).(*sqlv1.DatabaseUser)
		u.Spec.Name = strings.Repeat("u", 62)
		f.Create(u)
		c := f.WaitReason(u, metav1.ConditionFalse, managed.ReasonInvalidSpec)
		f.G.Expect(c.Message).To(ContainSubstring("AlternatingUsers needs a second user"))
		f.G.Expect(pgEngine.accepted(f.Ctx, u.BackendName())).To(BeZero(), "nothing was created")
		// Without rotation it is a valid login.
		f.G.Expect(kubetest.Update(f, u, func(u *sqlv1.DatabaseUser) { u.Spec.Rotation = nil })).To(Succeed())
		f.WaitReady(u)
	})

	t.Run("in place", func(t *testing.T) {
		t.Parallel()
		f, u := setUp(t, redisEngine, &common.Rotation{Strategy: common.RotationInPlace})
		c := meta.FindStatusCondition(u.ManagedStatus().Conditions, managed.ConditionRotationOverlap)
		f.G.Expect(c).NotTo(BeNil())
		f.G.Expect(c.Reason).To(Equal("InPlace"))
		before := secretData(f, u)
		rotate(f, u, "1")
		waitRotations(f, u, 1)
		f.G.Expect(redisEngine.use(f.Ctx, before)).To(MatchError(errLogin))
		f.G.Expect(redisEngine.use(f.Ctx, secretData(f, u))).To(Succeed())
		f.G.Expect(redisEngine.accepted(f.Ctx, u.BackendName())).To(Equal(1))
		f.G.Expect(u.(*cachev1.CacheUser).Status.Rotation.Strategy).To(Equal(common.RotationInPlace))
	})

	t.Run("schedule", func(t *testing.T) {
		t.Parallel()
		f, u := setUp(t, mariaEngine, &common.Rotation{Every: &metav1.Duration{Duration: time.Minute}, GracePeriod: &metav1.Duration{Duration: time.Second}})
		st := u.Login().Rotation
		f.G.Expect(st.NextRotationTime).NotTo(BeNil())
		f.G.Expect(st.NextRotationTime.Sub(st.LastRotationTime.Time)).To(Equal(time.Minute))
		before := secretData(f, u)
		f.G.Eventually(func() int64 {
			f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
			return u.Login().Rotation.Rotations
		}, 100*time.Second, time.Second).Should(Equal(int64(1)))
		f.G.Expect(mariaEngine.use(f.Ctx, before)).To(MatchError(errLogin))
		f.G.Expect(mariaEngine.use(f.Ctx, secretData(f, u))).To(Succeed())
	})
}

// TestObserveAnnotation: a new value of backend-operator.dev/observe makes
// the operator look again at once, not at its next poll (40 s by default):
// a connection limit changed out of band is put back within seconds.
func TestObserveAnnotation(t *testing.T) {
	e := engines()[0]
	f, u := setUp(t, e, nil)
	c, err := pgx.Connect(f.Ctx, pg.URL("postgres"))
	f.G.Expect(err).NotTo(HaveOccurred())
	defer c.Close(f.Ctx) //nolint:errcheck
	_, err = c.Exec(f.Ctx, "ALTER ROLE "+pgx.Identifier{u.BackendName()}.Sanitize()+" CONNECTION LIMIT 6")
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Expect(kubetest.Update(f, u, func(o user) {
		o.SetAnnotations(map[string]string{common.ObserveAnnotation: "1"})
	})).To(Succeed())
	f.G.Eventually(func() int {
		var limit int
		f.G.Expect(c.QueryRow(f.Ctx, "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", u.BackendName()).Scan(&limit)).To(Succeed())
		return limit
	}, 15*time.Second, 200*time.Millisecond).Should(Equal(-1))
}
