package messaging

import (
	"context"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=messagingusers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=messagingusers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=messagingusers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete

// connectUser turns a MessagingUser into a broker user with permissions and
// a connection Secret. The broker only ever gets a salted hash.
func connectUser(ctx context.Context, d deps, u *msgv1.MessagingUser) (managed.External, error) {
	cl, err := resolveServer(ctx, d.secrets.Client, d.clients, u.Namespace, u.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	users, err := port.For[rabbitmq.Users](rabbitmq.KindMessagingUser, rabbitmq.EngineName, cl)
	if err != nil {
		return nil, err
	}
	b := &managed.Bound[rabbitmq.UserSpec]{EngineName: rabbitmq.EngineName, Client: users, Mode: managed.ObserveMode(u),
		Spec: rabbitmq.UserSpec{Name: u.BackendName(), Tags: u.Spec.Tags}}
	for _, p := range u.Spec.Permissions {
		b.Spec.Permissions = append(b.Spec.Permissions, rabbitmq.Permission{Vhost: p.Vhost, Configure: p.Configure, Write: p.Write, Read: p.Read})
	}
	for _, p := range u.Spec.TopicPermissions {
		b.Spec.TopicPermissions = append(b.Spec.TopicPermissions, rabbitmq.TopicPermission{Vhost: p.Vhost, Exchange: p.Exchange, Write: p.Write, Read: p.Read})
	}
	vhost := "/"
	if len(u.Spec.Permissions) > 0 {
		vhost = u.Spec.Permissions[0].Vhost
	}
	rot, _ := users.(port.Rotator)
	managed.WithLogin(b, d.secrets, u, managed.Login[rabbitmq.UserSpec]{Kind: rabbitmq.KindMessagingUser, Name: u.BackendName(),
		Set: rabbitmq.SetCredentials, Rotator: rot,
		Values: func(cr port.Credential) credentials.Values {
			c := cl.Connection(cr.Username, cr.Password, vhost)
			return credentials.Values{Type: c.Type, Provider: c.Provider, Host: c.Host, Port: c.Port,
				Username: c.Username, Password: c.Password, Vhost: c.Vhost, URI: c.URI}
		}})
	return b, nil
}
