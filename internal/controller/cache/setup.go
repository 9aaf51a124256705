// Package cache wires the cache.backend-operator.dev kinds into the manager:
// a server reconciler per server kind and a thin CacheUser reconciler on top
// of the shared managed loop, with the indexes and watches that keep
// dependents moving.
package cache

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// Field indexes.
const (
	serverIndex = ".spec.serverKey"
	secretIndex = ".spec.secretKeys"
)

// Options configure the cache controllers.
type Options = managed.GroupOptions

// Setup registers the cache controllers and their indexes with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, clients *Clients, opts Options) error {
	if err := setupIndexes(ctx, mgr); err != nil {
		return err
	}
	c := mgr.GetClient()
	ctrlOpts := opts.Controller()
	recorder := mgr.GetEventRecorder("backend-operator")
	secretToServers := managed.MapByIndex(c, servers.SecretIndex, managed.NamespacedKey, &cachev1.CacheServerList{}, &cachev1.ClusterCacheServerList{})
	if err := (&servers.Reconciler[*cachev1.CacheServer, *redis.Client]{
		Client: c, Reader: mgr.GetAPIReader(), Recorder: recorder,
		Group: serverGroup[*cachev1.CacheServer]{clients}, Clients: clients, UsernameOptional: true, HideErrors: true,
		NewObj: func() *cachev1.CacheServer { return &cachev1.CacheServer{} }, Options: opts.Options,
	}).SetupWithManager(ctx, mgr, "cacheserver", secretToServers, ctrlOpts); err != nil {
		return err
	}
	if err := (&servers.Reconciler[*cachev1.ClusterCacheServer, *redis.Client]{
		Client: c, Reader: mgr.GetAPIReader(), Recorder: recorder,
		Group: serverGroup[*cachev1.ClusterCacheServer]{clients}, Clients: clients, UsernameOptional: true, HideErrors: true,
		NewObj: func() *cachev1.ClusterCacheServer { return &cachev1.ClusterCacheServer{} }, Options: opts.Options,
	}).SetupWithManager(ctx, mgr, "clustercacheserver", secretToServers, ctrlOpts); err != nil {
		return err
	}

	serverToUsers := managed.MapByIndex(c, serverIndex, func(o client.Object) string { return o.(servers.Object).ServerKey() }, &cachev1.CacheUserList{})
	return ctrl.NewControllerManagedBy(mgr).Named("cacheuser").
		For(&cachev1.CacheUser{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&corev1.Secret{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(managed.MapByIndex(c, secretIndex, managed.NamespacedKey, &cachev1.CacheUserList{}))).
		Watches(&cachev1.CacheServer{}, handler.EnqueueRequestsFromMapFunc(serverToUsers)).
		Watches(&cachev1.ClusterCacheServer{}, handler.EnqueueRequestsFromMapFunc(serverToUsers)).
		WithOptions(ctrlOpts).
		Complete(&managed.Reconciler[*cachev1.CacheUser, *cachev1.CacheUserList]{
			Client: c, Recorder: recorder, Kind: "CacheUser",
			Connector: &userConnector{client: c, reader: mgr.GetAPIReader(), scheme: mgr.GetScheme(), clients: clients},
			NewObj:    func() *cachev1.CacheUser { return &cachev1.CacheUser{} },
			NewList:   func() *cachev1.CacheUserList { return &cachev1.CacheUserList{} },
			Items: func(l *cachev1.CacheUserList) []*cachev1.CacheUser {
				out := make([]*cachev1.CacheUser, len(l.Items))
				for i := range l.Items {
					out[i] = &l.Items[i]
				}
				return out
			},
			Options: opts.Options,
		})
}

func setupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	for _, reg := range []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&cachev1.CacheUser{}, managed.ClaimIndex, func(o client.Object) []string { return []string{o.(*cachev1.CacheUser).ClaimKey()} }},
		{&cachev1.CacheUser{}, serverIndex, func(o client.Object) []string {
			u := o.(*cachev1.CacheUser)
			return []string{u.Spec.ServerRef.Key(u.Namespace)}
		}},
		{&cachev1.CacheUser{}, secretIndex, func(o client.Object) []string {
			u := o.(*cachev1.CacheUser)
			if u.Spec.PasswordSecretRef == nil {
				return nil
			}
			return []string{u.Namespace + "/" + u.Spec.PasswordSecretRef.Name}
		}},
	} {
		if err := idx.IndexField(ctx, reg.obj, reg.field, reg.fn); err != nil {
			return err
		}
	}
	return nil
}
