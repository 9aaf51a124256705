package health

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// TestNewObjectReadsInProgress: an object no operator has seen yet reads
// InProgress, not Current: the CRDs default status.observedGeneration to 0,
// which kstatus compares with metadata.generation.
func TestNewObjectReadsInProgress(t *testing.T) {
	env, err := kubetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop() //nolint:errcheck
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "health-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{
		&sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: ns.Name},
			Spec: sqlv1.DatabaseSpec{ServerRef: sqlv1.ServerReference{Name: "pg"}}},
		&cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns.Name},
			Spec: cachev1.CacheUserSpec{ServerRef: cachev1.ServerReference{Name: "cache"}}},
	} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
		gvk, err := env.Client.GroupVersionKindFor(obj)
		if err != nil {
			t.Fatal(err)
		}
		u.SetGroupVersionKind(gvk)
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), u); err != nil {
			t.Fatal(err)
		}
		res, err := status.Compute(u)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != status.InProgressStatus {
			t.Errorf("%s as created reads %s (%s), want InProgress; status is %v", gvk.Kind, res.Status, res.Message, u.Object["status"])
		}
	}
}
