package cache

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheservers;clustercacheservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheservers/status;clustercacheservers/status,verbs=get;update;patch

// Clients holds one connected client (one bounded pool per node) per server.
type Clients = servers.Registry[*redis.Client]

// NewClients returns an empty registry.
func NewClients() *Clients { return servers.NewRegistry[*redis.Client]() }

// serverObject is what CacheServer and ClusterCacheServer share.
type serverObject interface {
	servers.Object
	ServerSpec() *cachev1.CacheServerSpec
	ServerStatus() *cachev1.CacheServerStatus
}

// redisLogin: without a username the password is the default user's.
var redisLogin = []servers.LoginKey{{Name: "username", Optional: true}, {Name: "password"}}

// serverKind is the server loop's view of cache server kind T. go-redis
// errors can quote the command sent, so unclassified ones are not shown.
func serverKind[T serverObject](name string, newObj func() T, clients *Clients) servers.Kind[T, *redis.Client] {
	return servers.Kind[T, *redis.Client]{Name: name, NewObj: newObj, Login: redisLogin, HideErrors: true,
		Connect: func(ctx context.Context, obj T, login servers.Login) (string, error) {
			return connect(ctx, clients, obj, login)
		}}
}

// connect opens or reuses the server's client and asks every node who it is.
func connect(ctx context.Context, clients *Clients, obj serverObject, login servers.Login) (string, error) {
	spec := obj.ServerSpec()
	cfg := redis.Config{Username: login.Username(), Password: login.Password(), MaxConnections: int(spec.MaxConnections),
		TLSMode: login.TLSMode, CAPEM: login.CAPEM, CertPEM: login.CertPEM, KeyPEM: login.KeyPEM}
	for _, n := range spec.Nodes {
		cfg.Nodes = append(cfg.Nodes, redis.Node{Host: n.Host, Port: n.EffectivePort()})
	}
	cl, err := clients.Ensure(obj.ServerKey(), fingerprint(cfg), func() (*redis.Client, error) { return redis.New(cfg) })
	if err != nil {
		return "", err
	}
	start := time.Now()
	nodes, err := cl.Info(ctx)
	metrics.ObserveOperation(redis.Engine, "connect", start, err)
	if err != nil {
		return "", err
	}
	st := obj.ServerStatus()
	st.Version, st.Flavor, st.Nodes = nodes[0].Version, nodes[0].Flavor, nil
	for _, n := range nodes {
		st.Nodes = append(st.Nodes, cachev1.NodeStatus{Address: n.Address, Version: n.Version, ACLFile: n.ACLFile})
	}
	return fmt.Sprintf("connected to %d node(s), %s %s", len(nodes), nodes[0].Flavor, nodes[0].Version), nil
}

// fingerprint identifies the configuration (see servers.Fingerprint).
func fingerprint(cfg redis.Config) string {
	return servers.Fingerprint(cfg.Username, cfg.Password, cfg.TLSMode, cfg.MaxConnections, fmt.Sprint(cfg.Nodes), cfg.CAPEM, cfg.CertPEM, cfg.KeyPEM)
}

// resolveServer follows ref from namespace ns to a connected server.
func resolveServer(ctx context.Context, c client.Client, clients *Clients, ns string, ref cachev1.ServerReference) (serverObject, *redis.Client, error) {
	var obj serverObject = &cachev1.CacheServer{}
	if ref.Kind == cachev1.KindClusterCacheServer {
		obj = &cachev1.ClusterCacheServer{}
	}
	cl, err := servers.Resolve(ctx, c, clients, obj, ref.Name, ns)
	return obj, cl, err
}
