package managed

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// AdmitsNamespace reports whether a cluster-scoped server's allowedNamespaces
// admits namespace ns. No rule admits none.
func AdmitsNamespace(ctx context.Context, c client.Client, allowed *common.AllowedNamespaces, ns string) (bool, error) {
	if allowed == nil {
		return false, nil
	}
	if slices.Contains(allowed.Names, ns) {
		return true, nil
	}
	if allowed.Selector == nil {
		return false, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(allowed.Selector)
	if err != nil {
		return false, Invalid(fmt.Sprintf("the server's allowedNamespaces.selector is invalid: %v", err))
	}
	nsObj := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		return false, fmt.Errorf("get namespace %q: %w", ns, err)
	}
	return sel.Matches(labels.Set(nsObj.Labels)), nil
}

// ServerNotFound turns a failed server lookup into ServerNotFound.
func ServerNotFound(err error, msg string) error {
	if apierrors.IsNotFound(err) {
		return Wait(ReasonServerNotFound, msg)
	}
	return fmt.Errorf("get server: %w", err)
}

// SetReady sets the Ready condition in conds for generation.
func SetReady(conds *[]metav1.Condition, generation int64, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: ConditionReady, Status: status, Reason: reason, Message: message, ObservedGeneration: generation,
	})
}

// PatchStatusIfChanged patches obj's status when it differs from before.
func PatchStatusIfChanged(ctx context.Context, c client.Client, before, obj client.Object) error {
	patch := client.MergeFrom(before)
	data, err := patch.Data(obj)
	if err != nil {
		return fmt.Errorf("status patch: %w", err)
	}
	if string(data) == "{}" {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}

// MapByIndex enqueues the objects of each list type whose field index holds
// key(o): the dependents of o.
func MapByIndex(c client.Client, index string, key func(client.Object) string, lists ...client.ObjectList) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var reqs []reconcile.Request
		for _, proto := range lists {
			list := proto.DeepCopyObject().(client.ObjectList)
			if err := c.List(ctx, list, client.MatchingFields{index: key(o)}); err != nil {
				log.FromContext(ctx).Error(err, "list dependents", "index", index)
				continue
			}
			items, err := meta.ExtractList(list)
			if err != nil {
				continue
			}
			for _, item := range items {
				if obj, ok := item.(client.Object); ok {
					reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
				}
			}
		}
		return reqs
	}
}

// NamespacedKey is "<namespace>/<name>", the key secret indexes use.
func NamespacedKey(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }
