package rotation

import (
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// deploymentController stands in for kube-controller-manager, which envtest
// does not run: while running, it reports each new generation of the
// Deployment rolled out.
func deploymentController(f *kubetest.Fixture, name string, running *atomic.Bool) {
	go func() {
		for f.Ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			if !running.Load() {
				continue
			}
			d := &appsv1.Deployment{}
			if k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: name}, d) != nil || d.Status.ObservedGeneration == d.Generation {
				continue
			}
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
			_ = k8s.Status().Update(f.Ctx, d)
		}
	}()
}

// TestRolloutOncePerRealChange: a Deployment using a CacheUser's Secret is
// restarted once per rotation, through its pod template, and not for a
// reconcile that changes nothing or an identical Secret written again; the
// previous credential stays until the restart has rolled out.
func TestRolloutOncePerRealChange(t *testing.T) {
	e := engines()[2] // redis
	if e.name != "redis" {
		t.Fatalf("engines()[2] is %s", e.name)
	}
	f := kubetest.NewFixture(t, k8s, "rollout-")
	f.G.SetDefaultEventuallyTimeout(60 * time.Second)
	objs := e.server(f.NS)
	for _, o := range objs {
		f.Create(o)
	}
	f.WaitReady(objs[len(objs)-1])

	one := int32(1)
	labels := map[string]string{"app": "web"}
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: f.NS, Labels: labels}, Spec: appsv1.DeploymentSpec{
		Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}}}}
	f.Create(web)
	var running atomic.Bool
	running.Store(true)
	deploymentController(f, "web", &running)

	u := e.user(f.NS, "app", &common.Rotation{GracePeriod: &metav1.Duration{Duration: time.Second}}).(*cachev1.CacheUser)
	u.Spec.ConnectionSecret.Rollout = &common.Rollout{Targets: []common.RolloutTarget{{Kind: "Deployment",
		Selector: &metav1.LabelSelector{MatchLabels: labels}}, {Kind: "Deployment", Name: "absent"}}}
	f.Create(u)
	f.WaitReady(u)

	generation := func() int64 {
		d := &appsv1.Deployment{}
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(web), d)).To(Succeed())
		return d.Generation
	}
	templateHash := func() string {
		d := &appsv1.Deployment{}
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(web), d)).To(Succeed())
		return d.Spec.Template.Annotations[managed.TemplateHashPrefix+u.ConnectionSecretName()]
	}
	f.G.Consistently(generation, 2*time.Second, 200*time.Millisecond).Should(Equal(int64(1)), "the first Secret restarts nothing")

	// A rotation restarts the Deployment once, with the new data's hash.
	rotate(f, u, "1")
	waitRotations(f, u, 1)
	f.G.Expect(generation()).To(Equal(int64(2)))
	f.G.Expect(templateHash()).To(Equal(managed.SecretHash(connSecret(f, u))))
	f.G.Expect(u.Status.Rollout.Missing).To(Equal([]string{"Deployment/absent"}))
	// The hash is keyed: the data alone does not give it.
	f.G.Expect(templateHash()).NotTo(Equal(managed.DataHash(nil, secretData(f, u))))
	// The rotation's steps are events of their own, not drift repaired.
	var events eventsv1.EventList
	f.G.Expect(k8s.List(f.Ctx, &events, client.InNamespace(f.NS))).To(Succeed())
	reasons := map[string]bool{}
	for _, e := range events.Items {
		if e.Regarding.Name == u.Name {
			reasons[e.Reason] = true
		}
	}
	f.G.Expect(reasons).To(HaveKey("RotationStarted"))
	f.G.Expect(reasons).To(HaveKey("CredentialRetired"))
	f.G.Expect(reasons).To(HaveKey("RolloutTargetMissing"))
	f.G.Expect(reasons).NotTo(HaveKey("Updated"))

	// A reconcile that changes nothing, and the same Secret written again.
	f.G.Expect(kubetest.Update(f, u, func(u *cachev1.CacheUser) { u.Spec.Rotation.GracePeriod.Duration = 2 * time.Second })).To(Succeed())
	f.WaitReady(u)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.ConnectionSecretName(), Namespace: f.NS}}
	f.G.Expect(kubetest.Update(f, s, func(s *corev1.Secret) { s.Labels["touched"] = "yes" })).To(Succeed())
	f.G.Consistently(generation, 3*time.Second, 200*time.Millisecond).Should(Equal(int64(2)), "no restart without a change of the data")

	// While the restart has not rolled out, the previous credential stays.
	running.Store(false)
	before := secretData(f, u)
	rotate(f, u, "2")
	f.G.Eventually(func() common.RotationPhase {
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
		return u.Status.Rotation.Phase
	}).Should(Equal(common.RotationRollingOut))
	f.G.Consistently(func() common.RotationPhase {
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(u), u)).To(Succeed())
		return u.Status.Rotation.Phase
	}, 3*time.Second, 200*time.Millisecond).Should(Equal(common.RotationRollingOut))
	f.G.Expect(e.use(f.Ctx, before)).To(Succeed(), "the previous credential works until the rollout completed")
	f.G.Expect(generation()).To(Equal(int64(3)))
	running.Store(true)
	waitRotations(f, u, 2)
	f.G.Expect(e.use(f.Ctx, before)).To(MatchError(errLogin))
	f.G.Expect(generation()).To(Equal(int64(3)))
	f.G.Expect(u.Status.Rollout.DataHash).To(Equal(managed.SecretHash(connSecret(f, u))))
}
