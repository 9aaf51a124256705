package messaging

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=messagingservers;clustermessagingservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=messagingservers/status;clustermessagingservers/status,verbs=get;update;patch

// Clients holds one connected broker client (one bounded transport) per server.
type Clients = servers.Registry[*rabbitmq.Client]

// NewClients returns an empty registry.
func NewClients() *Clients { return servers.NewRegistry[*rabbitmq.Client]() }

// serverObject is what MessagingServer and ClusterMessagingServer share.
type serverObject interface {
	servers.Object
	ServerSpec() *msgv1.MessagingServerSpec
	ServerStatus() *msgv1.MessagingServerStatus
}

// serverKind is the server loop's view of messaging server kind T.
func serverKind[T serverObject](name string, newObj func() T, clients *Clients) servers.Kind[T, *rabbitmq.Client] {
	return servers.Kind[T, *rabbitmq.Client]{Name: name, NewObj: newObj, Login: servers.UserPassword,
		Connect: func(ctx context.Context, obj T, login servers.Login) (string, error) {
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
	cl, err := clients.Ensure(obj.ServerKey(), fp, func() (*rabbitmq.Client, error) { return rabbitmq.New(cfg) })
	if err != nil {
		return "", err
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

// resolveServer follows ref from namespace ns to a connected broker.
func resolveServer(ctx context.Context, c client.Client, clients *Clients, ns string, ref msgv1.ServerReference) (*rabbitmq.Client, error) {
	var obj serverObject = &msgv1.MessagingServer{}
	if ref.Kind == msgv1.KindClusterMessagingServer {
		obj = &msgv1.ClusterMessagingServer{}
	}
	return servers.Resolve(ctx, c, clients, obj, ref.Name, ns)
}
