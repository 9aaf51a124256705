package servers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/internal/managed"
)

// Resolve follows a serverRef from namespace ns: it reads the server of the
// given kind and name into obj, a new object of that kind, and returns the
// server's client from clients. The server must exist, admit ns when it is
// cluster-scoped, and be Ready with an open client.
func Resolve[T Object, C interface{ Close() }](ctx context.Context, c client.Client, g Group[T], clients *Registry[C], obj T, kind, name, ns string) (C, error) {
	var none C
	if cluster, _ := g.Cluster(obj); cluster {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
			return none, managed.ServerNotFound(err, fmt.Sprintf("%s %q not found", kind, name))
		}
		_, allowed := g.Cluster(obj)
		ok, err := managed.AdmitsNamespace(ctx, c, allowed, ns)
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
	ready := meta.FindStatusCondition(*g.Status(obj).Conditions, managed.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		msg := fmt.Sprintf("%s %q is not ready", kind, name)
		if ready != nil {
			msg += ": " + ready.Reason + ": " + ready.Message
		}
		return none, managed.Wait(managed.ReasonServerNotReady, msg)
	}
	cl, ok := clients.Get(obj.ServerKey())
	if !ok {
		return none, managed.Wait(managed.ReasonServerNotReady, fmt.Sprintf("%s %q is connecting", kind, name))
	}
	return cl, nil
}
