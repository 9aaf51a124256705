package cache

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// server is a resolved serverRef: the server's spec and its connected client.
type server struct {
	key    string
	spec   *cachev1.CacheServerSpec
	client *redis.Client
	// flavor is Redis or Valkey, as the server reconciler found it.
	flavor string
}

// resolveServer follows ref from namespace ns: the server must exist, admit the
// namespace (cluster-scoped servers) and be connected.
func resolveServer(ctx context.Context, c client.Client, clients *Clients, ns string, ref cachev1.ServerReference) (server, error) {
	var obj serverObject
	if ref.Kind == cachev1.KindClusterCacheServer {
		cs := &cachev1.ClusterCacheServer{}
		if err := c.Get(ctx, client.ObjectKey{Name: ref.Name}, cs); err != nil {
			return server{}, managed.ServerNotFound(err, fmt.Sprintf("ClusterCacheServer %q not found", ref.Name))
		}
		ok, err := managed.AdmitsNamespace(ctx, c, cs.Spec.AllowedNamespaces, ns)
		if err != nil {
			return server{}, err
		}
		if !ok {
			return server{}, managed.Wait(managed.ReasonServerNotAllowed, fmt.Sprintf(
				"ClusterCacheServer %q does not admit namespace %q (see its spec.allowedNamespaces)", ref.Name, ns))
		}
		obj = cs
	} else {
		ds := &cachev1.CacheServer{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, ds); err != nil {
			return server{}, managed.ServerNotFound(err, fmt.Sprintf("CacheServer %q not found in namespace %q", ref.Name, ns))
		}
		obj = ds
	}
	ready := meta.FindStatusCondition(obj.ServerStatus().Conditions, managed.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		msg := fmt.Sprintf("%s %q is not ready", ref.Kind, ref.Name)
		if ready != nil {
			msg += ": " + ready.Reason + ": " + ready.Message
		}
		return server{}, managed.Wait(managed.ReasonServerNotReady, msg)
	}
	eng, ok := clients.Get(obj.ServerKey())
	if !ok {
		return server{}, managed.Wait(managed.ReasonServerNotReady, fmt.Sprintf("%s %q is connecting", ref.Kind, ref.Name))
	}
	return server{key: obj.ServerKey(), spec: obj.ServerSpec(), client: eng, flavor: obj.ServerStatus().Flavor}, nil
}
