package sql

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// ReasonEngineUnsupported: no engine of that name is registered.
const ReasonEngineUnsupported = "EngineUnsupported"

// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databaseservers;clusterdatabaseservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databaseservers/status;clusterdatabaseservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Engines holds one connected engine (and so one bounded pool) per server.
type Engines = servers.Registry[sqlengine.Engine]

// NewEngines returns an empty registry.
func NewEngines() *Engines { return servers.NewRegistry[sqlengine.Engine]() }

// serverObject is what DatabaseServer and ClusterDatabaseServer share.
type serverObject interface {
	servers.Object
	ServerSpec() *sqlv1.DatabaseServerSpec
	ServerStatus() *sqlv1.DatabaseServerStatus
}

// serverKind is the server loop's view of SQL server kind T.
func serverKind[T serverObject](name string, newObj func() T, engines *Engines) servers.Kind[T, sqlengine.Engine] {
	return servers.Kind[T, sqlengine.Engine]{Name: name, NewObj: newObj, Login: servers.UserPassword,
		Connect: func(ctx context.Context, obj T, login servers.Login) (string, error) {
			return connect(ctx, engines, obj, login)
		}}
}

// connect opens or reuses the server's engine and asks it who it is.
func connect(ctx context.Context, engines *Engines, obj serverObject, login servers.Login) (string, error) {
	spec := obj.ServerSpec()
	cfg := sqlengine.Config{Host: spec.Host, Port: spec.EffectivePort(), Username: login.Username(), Password: login.Password(),
		MaxConnections: int(spec.MaxConnections), TLSMode: login.TLSMode, CAPEM: login.CAPEM, CertPEM: login.CertPEM, KeyPEM: login.KeyPEM}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = 5
	}
	if spec.Postgres != nil {
		cfg.AdminDatabase = spec.Postgres.AdminDatabase
	}
	eng, err := engines.Ensure(obj.ServerKey(), fingerprint(string(spec.Engine), cfg), func() (sqlengine.Engine, error) {
		return sqlengine.Open(string(spec.Engine), cfg)
	})
	if err != nil {
		if _, ok := backenderr.As(err); ok {
			return "", err
		}
		return "", managed.Fail(ReasonEngineUnsupported, err.Error(), nil)
	}
	start := time.Now()
	info, err := eng.Info(ctx)
	metrics.ObserveOperation(string(spec.Engine), "connect", start, err)
	if err != nil {
		return "", err
	}
	st := obj.ServerStatus()
	st.Version, st.Flavor = info.Version, info.Flavor
	return fmt.Sprintf("connected to %s %s", info.Flavor, info.Version), nil
}

// fingerprint identifies the configuration (see servers.Fingerprint).
func fingerprint(engineName string, cfg sqlengine.Config) string {
	return servers.Fingerprint(engineName, cfg.Host, cfg.Port, cfg.Username, cfg.Password, cfg.TLSMode, cfg.MaxConnections, cfg.AdminDatabase,
		cfg.CAPEM, cfg.CertPEM, cfg.KeyPEM)
}

// server is a resolved serverRef: the server's spec and its connected engine.
type server struct {
	spec   *sqlv1.DatabaseServerSpec
	engine sqlengine.Engine
}

// resolveServer follows ref from namespace ns to a connected server.
func resolveServer(ctx context.Context, c client.Client, engines *Engines, ns string, ref sqlv1.ServerReference) (server, error) {
	var obj serverObject = &sqlv1.DatabaseServer{}
	if ref.Kind == sqlv1.KindClusterDatabaseServer {
		obj = &sqlv1.ClusterDatabaseServer{}
	}
	eng, err := servers.Resolve(ctx, c, engines, obj, ref.Name, ns)
	if err != nil {
		return server{}, err
	}
	return server{spec: obj.ServerSpec(), engine: eng}, nil
}
