package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheservers;clustercacheservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheservers/status;clustercacheservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

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

// serverGroup is how the shared server loop reaches cache servers of kind T.
type serverGroup[T serverObject] struct{ clients *Clients }

func (serverGroup[T]) Login(obj T) (common.AdminCredentials, *common.TLS) {
	return obj.ServerSpec().AdminCredentials, obj.ServerSpec().TLS
}

func (serverGroup[T]) Status(obj T) servers.Status {
	st := obj.ServerStatus()
	return servers.Status{Conditions: &st.Conditions, ObservedGeneration: &st.ObservedGeneration, CredentialsVersion: &st.CredentialsVersion}
}

func (serverGroup[T]) Cluster(obj T) (bool, *common.AllowedNamespaces) {
	if cs, ok := any(obj).(*cachev1.ClusterCacheServer); ok {
		return true, cs.Spec.AllowedNamespaces
	}
	return false, nil
}

// Connect opens or reuses the server's client and asks every node who it is.
// The username is optional: without it the password is the default user's.
func (g serverGroup[T]) Connect(ctx context.Context, obj T, login servers.Login) (string, error) {
	spec := obj.ServerSpec()
	cfg := redis.Config{Username: login.Username, Password: login.Password, MaxConnections: int(spec.MaxConnections),
		TLSMode: login.TLSMode, CAPEM: login.CAPEM}
	for _, n := range spec.Nodes {
		cfg.Nodes = append(cfg.Nodes, redis.Node{Host: n.Host, Port: n.EffectivePort()})
	}
	cl, err := g.clients.Ensure(obj.ServerKey(), fingerprint(cfg), func() (*redis.Client, error) { return redis.New(cfg) })
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

// fingerprint hashes the whole configuration, password included, so that a
// changed Secret opens fresh pools. Only the hash is kept.
func fingerprint(cfg redis.Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q|%q|%q|%d|", cfg.Username, cfg.Password, cfg.TLSMode, cfg.MaxConnections)
	for _, n := range cfg.Nodes {
		fmt.Fprintf(h, "%q|%d|", n.Host, n.Port)
	}
	h.Write(cfg.CAPEM)
	return hex.EncodeToString(h.Sum(nil))
}

// server is a resolved serverRef: the server's spec and its connected client.
type server struct {
	key    string
	spec   *cachev1.CacheServerSpec
	client *redis.Client
	// flavor is Redis or Valkey, as the server reconciler found it.
	flavor string
}

// resolveServer follows ref from namespace ns to a connected server.
func resolveServer(ctx context.Context, c client.Client, clients *Clients, ns string, ref cachev1.ServerReference) (server, error) {
	var obj serverObject = &cachev1.CacheServer{}
	if ref.Kind == cachev1.KindClusterCacheServer {
		obj = &cachev1.ClusterCacheServer{}
	}
	cl, err := servers.Resolve(ctx, c, serverGroup[serverObject]{clients}, clients, obj, string(ref.Kind), ref.Name, ns)
	if err != nil {
		return server{}, err
	}
	return server{key: obj.ServerKey(), spec: obj.ServerSpec(), client: cl, flavor: obj.ServerStatus().Flavor}, nil
}
