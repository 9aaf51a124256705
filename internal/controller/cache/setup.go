// Package cache wires the cache.backend-operator.dev kinds into the manager:
// the server kinds on the shared server loop and a thin CacheUser connector
// on the shared managed loop.
package cache

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// Options configure the cache controllers.
type Options = managed.GroupOptions

// Setup registers the cache controllers and their indexes with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, clients *Clients, opts Options) error {
	if err := servers.Setup(ctx, mgr, serverKind("CacheServer", func() *cachev1.CacheServer { return &cachev1.CacheServer{} }, clients),
		clients, opts, &cachev1.CacheServerList{}); err != nil {
		return err
	}
	if err := servers.Setup(ctx, mgr, serverKind("ClusterCacheServer", func() *cachev1.ClusterCacheServer { return &cachev1.ClusterCacheServer{} }, clients),
		clients, opts, &cachev1.ClusterCacheServerList{}); err != nil {
		return err
	}
	secrets := managed.Secrets{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Scheme: mgr.GetScheme()}
	return managed.Setup(ctx, mgr, managed.Wiring[*cachev1.CacheUser, *cachev1.CacheUserList]{
		Kind: managed.Kind[*cachev1.CacheUser, *cachev1.CacheUserList]{Name: redis.KindCacheUser,
			NewObj:    func() *cachev1.CacheUser { return &cachev1.CacheUser{} },
			NewList:   func() *cachev1.CacheUserList { return &cachev1.CacheUserList{} },
			Connector: managed.ConnectorFunc[*cachev1.CacheUser](userConnector{secrets: secrets, clients: clients}.Connect)},
		OwnsSecrets: true,
		DependsOn: append(managed.OnServers(func(u *cachev1.CacheUser) string { return u.Spec.ServerRef.Key(u.Namespace) },
			[]client.Object{&cachev1.CacheServer{}, &cachev1.ClusterCacheServer{}}...),
			managed.OnPasswordSecret[*cachev1.CacheUser]()),
	}, opts)
}
