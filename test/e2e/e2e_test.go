//go:build e2e

// Package e2e runs the operator as users deploy it: on a kind cluster, from
// the image `make test-e2e` builds and loads, against a PostgreSQL running in
// the cluster. It needs Docker and kind; `make test` covers the same behaviour
// with envtest and local backends.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/operator"
)

const ns = "e2e"

func TestDeployedOperator(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(5 * time.Minute)
	g.SetDefaultEventuallyPollingInterval(2 * time.Second)
	ctx := context.Background()

	run(t, "make", "-C", "../..", "deploy", "IMG="+os.Getenv("IMG"))
	c, err := client.New(ctrl.GetConfigOrDie(), client.Options{Scheme: operator.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())

	g.Eventually(func() bool {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "backend-operator-system", Name: "backend-operator-controller-manager"}, d); err != nil {
			return false
		}
		return d.Status.AvailableReplicas > 0
	}).Should(BeTrue(), "the manager is available")

	labels := map[string]string{"app": "postgres"}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pg-admin", Namespace: ns},
			StringData: map[string]string{"username": "postgres", "password": "e2e-admin-password"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "postgres", Namespace: ns}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "postgres", Image: "postgres:16",
				Env:   []corev1.EnvVar{{Name: "POSTGRES_PASSWORD", Value: "e2e-admin-password"}},
				Ports: []corev1.ContainerPort{{ContainerPort: 5432}},
			}}}},
		}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "postgres", Namespace: ns}, Spec: corev1.ServiceSpec{
			Selector: labels, Ports: []corev1.ServicePort{{Port: 5432, TargetPort: intstr.FromInt32(5432)}}}},
		&sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "postgres", Namespace: ns}, Spec: sqlv1.DatabaseServerSpec{
			Engine: sqlv1.EnginePostgres, Host: "postgres." + ns + ".svc", Port: 5432,
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "pg-admin"}}}},
		&sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns}, Spec: sqlv1.DatabaseSpec{
			ServerRef: sqlv1.ServerReference{Name: "postgres"}}},
		&sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: "orders-app", Namespace: ns}, Spec: sqlv1.DatabaseUserSpec{
			ServerRef: sqlv1.ServerReference{Name: "postgres"}, Name: "orders_app",
			Grants: []sqlv1.Grant{{Database: "orders", Access: sqlv1.AccessReadWrite}}}},
	} {
		g.Expect(c.Create(ctx, obj)).To(Succeed())
	}
	for _, obj := range []client.Object{
		&sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns}},
		&sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: "orders-app", Namespace: ns}},
	} {
		g.Eventually(func() bool {
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return false
			}
			var conds []metav1.Condition
			switch o := obj.(type) {
			case *sqlv1.Database:
				conds = o.Status.Conditions
			case *sqlv1.DatabaseUser:
				conds = o.Status.Conditions
			}
			return meta.IsStatusConditionTrue(conds, "Ready")
		}).Should(BeTrue(), "%s Ready", obj.GetName())
	}

	// An application pod logs in with the connection Secret.
	g.Expect(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "psql", Image: "postgres:16", Command: []string{"sh", "-c", `psql "$uri" -c 'SELECT 1'`},
			EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "orders-app-connection"}}}}}},
	}})).To(Succeed())
	g.Eventually(func() corev1.PodPhase {
		p := &corev1.Pod{}
		_ = c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, p)
		return p.Status.Phase
	}).Should(Equal(corev1.PodSucceeded), "the application logged in with its Secret")
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
}
