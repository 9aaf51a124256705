package messaging

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=messagingservers;clustermessagingservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=messagingservers/status;clustermessagingservers/status,verbs=get;update;patch

// Clients holds one connected broker client (one bounded transport or
// connection) per server, of the server's engine: *rabbitmq.Client or
// *nats.Client.
type Clients = servers.Registry[port.Server]

// NewClients returns an empty registry.
func NewClients() *Clients { return servers.NewRegistry[port.Server]() }

// serverObject is what MessagingServer and ClusterMessagingServer share.
type serverObject interface {
	servers.Object
	ServerSpec() *msgv1.MessagingServerSpec
	ServerStatus() *msgv1.MessagingServerStatus
}

// serverKind is the server loop's view of messaging server kind T: each
// engine reads its own login keys and connects its own way.
func serverKind[T serverObject](name string, newObj func() T, clients *Clients) servers.Kind[T, port.Server] {
	return servers.Kind[T, port.Server]{Name: name, NewObj: newObj, Login: servers.UserPassword,
		Logins: map[string][]servers.LoginKey{string(msgv1.EngineNATS): natsLogin},
		Connect: func(ctx context.Context, obj T, login servers.Login) (string, error) {
			if obj.ServerSpec().Engine == msgv1.EngineNATS {
				return connectNATS(ctx, clients, obj, login)
			}
			return connectRabbitMQ(ctx, clients, obj, login)
		}}
}

// connectRabbitMQ opens or reuses the broker's client and asks it who it is.
func connectRabbitMQ(ctx context.Context, clients *Clients, obj serverObject, login servers.Login) (string, error) {
	spec := obj.ServerSpec()
	r := spec.RabbitMQ
	if r == nil {
		r = &msgv1.RabbitMQServerSpec{}
	}
	cfg := rabbitmq.Config{URL: r.ManagementURL, Username: login.Username(), Password: login.Password(),
		TLSMode: login.TLSMode, CAPEM: login.CAPEM, ClientCertPEM: login.CertPEM, ClientKeyPEM: login.KeyPEM,
		MaxConnections: int(spec.MaxConnections), AMQPHost: r.AMQP.Host, AMQPPort: int(r.AMQP.Port), AMQPTLS: r.AMQP.TLS}
	fp := servers.Fingerprint(cfg.URL, cfg.Username, cfg.Password, cfg.TLSMode, cfg.MaxConnections, cfg.AMQPHost, cfg.AMQPPort, cfg.AMQPTLS,
		cfg.CAPEM, cfg.ClientCertPEM, cfg.ClientKeyPEM)
	srv, err := clients.Ensure(obj.ServerKey(), fp, func() (port.Server, error) {
		c, err := rabbitmq.New(cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return "", err
	}
	cl, ok := srv.(*rabbitmq.Client)
	if !ok {
		return "", fmt.Errorf("server %s: client is %T, want a RabbitMQ client", obj.ServerKey(), srv)
	}
	start := time.Now()
	info, err := cl.Info(ctx)
	metrics.ObserveOperation(rabbitmq.EngineName, "connect", start, err)
	if err != nil {
		return "", err
	}
	st := obj.ServerStatus()
	st.Product, st.Version, st.ErlangVersion, st.ClusterName = info.Product, info.Version, info.ErlangVersion, info.ClusterName
	return fmt.Sprintf("connected to %s %s on Erlang %s", info.Product, info.Version, info.ErlangVersion), nil
}

// resolveServer follows ref from namespace ns to a connected RabbitMQ
// broker (the kinds only RabbitMQ has: MessagingUser); a server of another
// engine is a terminal Unsupported.
func resolveServer(ctx context.Context, c client.Client, clients *Clients, ns string, ref msgv1.ServerReference) (*rabbitmq.Client, error) {
	srv, engine, err := resolveEngine(ctx, c, clients, ns, ref)
	if err != nil {
		return nil, err
	}
	cl, ok := srv.(*rabbitmq.Client)
	if !ok {
		return nil, &backenderr.Error{Reason: port.ReasonUnsupported, Terminal: true, Message: fmt.Sprintf(
			"%s is not supported on engine %q (supported on: %v)", rabbitmq.KindMessagingUser, engine, port.Engines(rabbitmq.KindMessagingUser))}
	}
	return cl, nil
}

// resolveEngine follows ref from namespace ns to a connected broker and
// returns its client and engine name.
func resolveEngine(ctx context.Context, c client.Client, clients *Clients, ns string, ref msgv1.ServerReference) (port.Server, string, error) {
	var obj serverObject = &msgv1.MessagingServer{}
	if ref.Kind == msgv1.KindClusterMessagingServer {
		obj = &msgv1.ClusterMessagingServer{}
	}
	srv, err := servers.Resolve(ctx, c, clients, obj, ref.Name, ns)
	if err != nil {
		return nil, "", err
	}
	return srv, string(obj.ServerSpec().Engine), nil
}
