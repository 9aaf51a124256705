// Package cache wires the cache.backend-operator.dev kinds into the manager:
// a server reconciler per server kind and a thin CacheUser reconciler on top
// of the shared managed loop, with the indexes and watches that keep
// dependents moving.
package cache

import (
	"cmp"
	"context"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// Field indexes.
const (
	serverIndex = ".spec.serverKey"
	secretIndex = ".spec.secretKeys"
)

// Options configure the cache controllers.
type Options struct {
	managed.Options
	// Concurrency is the number of objects of each kind reconciled at once.
	Concurrency int
}

// Setup registers the cache controllers and their indexes with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, clients *Clients, opts Options) error {
	if opts.Concurrency == 0 {
		opts.Concurrency = 8
	}
	if err := setupIndexes(ctx, mgr); err != nil {
		return err
	}
	c := mgr.GetClient()
	ctrlOpts := controller.Options{
		MaxConcurrentReconciles: opts.Concurrency,
		RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, time.Minute),
			&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(50), 300)},
		),
	}
	recorder := mgr.GetEventRecorder("backend-operator")
	secretToServers := managed.MapByIndex(c, secretIndex, managed.NamespacedKey, &cachev1.CacheServerList{}, &cachev1.ClusterCacheServerList{})

	if err := ctrl.NewControllerManagedBy(mgr).Named("cacheserver").
		For(&cachev1.CacheServer{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretToServers)).
		WithOptions(ctrlOpts).
		Complete(&ServerReconciler[*cachev1.CacheServer]{
			Client: c, Reader: mgr.GetAPIReader(), Recorder: recorder, Clients: clients,
			NewObj: func() *cachev1.CacheServer { return &cachev1.CacheServer{} },
			KeyFor: func(n types.NamespacedName) string {
				return cachev1.ServerReference{Kind: cachev1.KindCacheServer, Name: n.Name}.Key(n.Namespace)
			},
			Options: opts.Options,
		}); err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("clustercacheserver").
		For(&cachev1.ClusterCacheServer{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretToServers)).
		WithOptions(ctrlOpts).
		Complete(&ServerReconciler[*cachev1.ClusterCacheServer]{
			Client: c, Reader: mgr.GetAPIReader(), Recorder: recorder, Clients: clients,
			NewObj: func() *cachev1.ClusterCacheServer { return &cachev1.ClusterCacheServer{} },
			KeyFor: func(n types.NamespacedName) string {
				return cachev1.ServerReference{Kind: cachev1.KindClusterCacheServer, Name: n.Name}.Key("")
			},
			Options: opts.Options,
		}); err != nil {
		return err
	}

	serverToUsers := managed.MapByIndex(c, serverIndex, func(o client.Object) string { return o.(serverObject).ServerKey() }, &cachev1.CacheUserList{})
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
	adminSecret := func(s *cachev1.CacheServerSpec, ns string) []string {
		keys := []string{cmp.Or(ns, s.AdminCredentials.SecretRef.Namespace) + "/" + s.AdminCredentials.SecretRef.Name}
		if s.TLS != nil && s.TLS.CASecretRef != nil {
			keys = append(keys, cmp.Or(ns, s.TLS.CASecretRef.Namespace)+"/"+s.TLS.CASecretRef.Name)
		}
		return keys
	}
	for _, reg := range []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&cachev1.CacheServer{}, secretIndex, func(o client.Object) []string {
			s := o.(*cachev1.CacheServer)
			return adminSecret(&s.Spec, s.Namespace)
		}},
		{&cachev1.ClusterCacheServer{}, secretIndex, func(o client.Object) []string {
			return adminSecret(&o.(*cachev1.ClusterCacheServer).Spec.CacheServerSpec, "")
		}},
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
