package servers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// Resolve follows a serverRef from namespace ns: it reads the server called
// name into obj, a new object of the referenced kind, and returns the
// server's client from clients. The server must exist, admit ns when it is
// cluster-scoped, and be Ready with an open client; otherwise the error says
// which (ServerNotFound, ServerNotAllowed, ServerNotReady), to be polled; a
// server not reconciled yet is managed.Pending.
func Resolve[T Object, C port.Server](ctx context.Context, c client.Client, clients *Registry[C], obj T, name, ns string) (C, error) {
	var none C
	kind := fmt.Sprintf("%T", obj)
	if gvk, err := c.GroupVersionKindFor(obj); err == nil {
		kind = gvk.Kind
	}
	if obj.Access().Cluster {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
			return none, managed.ServerNotFound(err, fmt.Sprintf("%s %q not found", kind, name))
		}
		ok, err := managed.AdmitsNamespace(ctx, c, obj.Access().AllowedNamespaces, ns)
		if err != nil {
			return none, err
		}
		if !ok {
			return none, managed.Wait(managed.ReasonServerNotAllowed, fmt.Sprintf(
				"%s %q does not admit namespace %q (see its spec.allowedNamespaces)", kind, name, ns))
		}
	} else if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return none, managed.ServerNotFound(err, fmt.Sprintf("%s %q not found in namespace %q", kind, name, ns))
	}
	ready := meta.FindStatusCondition(obj.CommonStatus().Conditions, managed.ConditionReady)
	if ready == nil {
		// Not reconciled yet (an install, the operator's first start): its
		// Ready change wakes the object, which need not say so first.
		return none, managed.Pending(managed.ReasonServerNotReady, fmt.Sprintf("%s %q is not connected yet", kind, name))
	}
	if ready.Status != metav1.ConditionTrue {
		return none, managed.Wait(managed.ReasonServerNotReady, fmt.Sprintf("%s %q is not ready: %s: %s", kind, name, ready.Reason, ready.Message))
	}
	// Ready by its status but not connected in this process yet (the
	// operator just started, or failed over): the server reconciler is
	// opening it, so wait for that rather than report a Ready object as
	// not Ready for a retry interval.
	cl, ok := clients.WaitFor(ctx, obj.ServerKey(), ConnectWait)
	if !ok {
		return none, managed.Wait(managed.ReasonServerNotReady, fmt.Sprintf("%s %q is connecting", kind, name))
	}
	return cl, nil
}

// ConnectWait is how long Resolve waits for a Ready server's client to be
// opened in this process before reporting it as connecting.
var ConnectWait = 10 * time.Second
