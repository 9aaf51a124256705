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

// Setup registers the cache controllers and their indexes with mgr: the
// CacheUser loop, then the two server kinds sharing clients.
func Setup(ctx context.Context, mgr ctrl.Manager, clients *Clients, opts managed.GroupOptions) error {
	users := managed.Wiring[*cachev1.CacheUser, *cachev1.CacheUserList]{
		Kind: managed.Kind[*cachev1.CacheUser, *cachev1.CacheUserList]{Name: redis.KindCacheUser,
			NewObj:    func() *cachev1.CacheUser { return &cachev1.CacheUser{} },
			NewList:   func() *cachev1.CacheUserList { return &cachev1.CacheUserList{} },
			Connector: managed.ConnectorFunc[*cachev1.CacheUser](userConnector{secrets: managed.SecretsOf(mgr), clients: clients}.Connect)},
		OwnsSecrets: true,
		DependsOn: append(managed.OnServers(func(u *cachev1.CacheUser) string { return u.Spec.ServerRef.Key(u.Namespace) },
			[]client.Object{&cachev1.CacheServer{}, &cachev1.ClusterCacheServer{}}...),
			managed.OnPasswordSecret[*cachev1.CacheUser]()),
	}
	if err := managed.Setup(ctx, mgr, users, opts); err != nil {
		return err
	}
	return servers.SetupGroup(ctx, mgr, clients, opts,
		serverKind("CacheServer", func() *cachev1.CacheServer { return &cachev1.CacheServer{} }, clients), &cachev1.CacheServerList{},
		serverKind("ClusterCacheServer", func() *cachev1.ClusterCacheServer { return &cachev1.ClusterCacheServer{} }, clients), &cachev1.ClusterCacheServerList{})
}
