// Package messaging wires the messaging.backend-operator.dev kinds into the
// manager: the broker server kinds (RabbitMQ and NATS) on the shared server
// loop, and one thin connector per topology kind, per JetStream kind and
// for MessagingUser on the shared managed loop.
package messaging

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// deps is what the connectors need.
type deps struct {
	secrets managed.Secrets
	clients *Clients
}

// Setup registers the messaging controllers and their indexes with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, clients *Clients, opts managed.GroupOptions) error {
	if err := servers.SetupGroup(ctx, mgr, clients, opts,
		serverKind("MessagingServer", func() *msgv1.MessagingServer { return &msgv1.MessagingServer{} }, clients), &msgv1.MessagingServerList{},
		serverKind("ClusterMessagingServer", func() *msgv1.ClusterMessagingServer { return &msgv1.ClusterMessagingServer{} }, clients), &msgv1.ClusterMessagingServerList{},
	); err != nil {
		return err
	}
	d := deps{secrets: managed.SecretsOf(mgr), clients: clients}
	for _, setup := range []func() error{
		func() error {
			return managed.Setup(ctx, mgr, wiring(rabbitmq.KindVhost, func() *msgv1.Vhost { return &msgv1.Vhost{} }, func() *msgv1.VhostList { return &msgv1.VhostList{} },
				func(ctx context.Context, v *msgv1.Vhost) (managed.External, error) {
					return connect(ctx, d, v, rabbitmq.KindVhost, func() (rabbitmq.VhostSpec, error) { return vhostSpec(v) })
				}), opts)
		},
		func() error {
			w := wiring(rabbitmq.KindExchange, func() *msgv1.Exchange { return &msgv1.Exchange{} }, func() *msgv1.ExchangeList { return &msgv1.ExchangeList{} },
				func(ctx context.Context, e *msgv1.Exchange) (managed.External, error) {
					return connect(ctx, d, e, rabbitmq.KindExchange, func() (rabbitmq.ExchangeSpec, error) { return exchangeSpec(e) })
				})
			w.DependsOn = append(w.DependsOn, onVhost(func(e *msgv1.Exchange) string { return e.Spec.VhostName() }))
			return managed.Setup(ctx, mgr, w, opts)
		},
		func() error {
			w := wiring(rabbitmq.KindQueue, func() *msgv1.Queue { return &msgv1.Queue{} }, func() *msgv1.QueueList { return &msgv1.QueueList{} },
				func(ctx context.Context, q *msgv1.Queue) (managed.External, error) {
					return connect(ctx, d, q, rabbitmq.KindQueue, func() (rabbitmq.QueueSpec, error) { return queueSpec(q) })
				})
			w.DependsOn = append(w.DependsOn, onVhost(func(q *msgv1.Queue) string { return q.Spec.VhostName() }))
			return managed.Setup(ctx, mgr, w, opts)
		},
		func() error {
			w := wiring(rabbitmq.KindBinding, func() *msgv1.Binding { return &msgv1.Binding{} }, func() *msgv1.BindingList { return &msgv1.BindingList{} },
				func(ctx context.Context, b *msgv1.Binding) (managed.External, error) {
					return connect(ctx, d, b, rabbitmq.KindBinding, func() (rabbitmq.BindingSpec, error) { return bindingSpec(b) })
				})
			// A binding waiting for its exchange or queue proceeds when they appear.
			w.DependsOn = append(w.DependsOn, onEntity(&msgv1.Exchange{}), onEntity(&msgv1.Queue{}))
			return managed.Setup(ctx, mgr, w, opts)
		},
		func() error {
			w := wiring(rabbitmq.KindPolicy, func() *msgv1.Policy { return &msgv1.Policy{} }, func() *msgv1.PolicyList { return &msgv1.PolicyList{} },
				func(ctx context.Context, p *msgv1.Policy) (managed.External, error) {
					return connect(ctx, d, p, rabbitmq.KindPolicy, func() (rabbitmq.PolicySpec, error) { return policySpec(p) })
				})
			w.DependsOn = append(w.DependsOn, onVhost(func(p *msgv1.Policy) string { return p.Spec.VhostName() }))
			return managed.Setup(ctx, mgr, w, opts)
		},
		func() error {
			w := wiring(rabbitmq.KindMessagingUser, func() *msgv1.MessagingUser { return &msgv1.MessagingUser{} },
				func() *msgv1.MessagingUserList { return &msgv1.MessagingUserList{} },
				func(ctx context.Context, u *msgv1.MessagingUser) (managed.External, error) {
					return connectUser(ctx, d, u)
				})
			w.OwnsSecrets = true
			w.DependsOn = append(w.DependsOn, managed.OnPasswordSecret[*msgv1.MessagingUser]())
			return managed.Setup(ctx, mgr, w, opts)
		},
		func() error {
			return managed.Setup(ctx, mgr, wiring(nats.KindStream, func() *msgv1.Stream { return &msgv1.Stream{} }, func() *msgv1.StreamList { return &msgv1.StreamList{} },
				func(ctx context.Context, s *msgv1.Stream) (managed.External, error) {
					return connect(ctx, d, s, nats.KindStream, func() (nats.StreamSpec, error) { return streamSpec(s) })
				}), opts)
		},
		func() error {
			w := wiring(nats.KindConsumer, func() *msgv1.Consumer { return &msgv1.Consumer{} }, func() *msgv1.ConsumerList { return &msgv1.ConsumerList{} },
				func(ctx context.Context, c *msgv1.Consumer) (managed.External, error) {
					return connect(ctx, d, c, nats.KindConsumer, func() (nats.ConsumerSpec, error) { return consumerSpec(c) })
				})
			// A consumer waiting for its stream proceeds when the Stream object changes.
			w.DependsOn = append(w.DependsOn, onStream())
			return managed.Setup(ctx, mgr, w, opts)
		},
		func() error {
			return managed.Setup(ctx, mgr, wiring(nats.KindKeyValue, func() *msgv1.KeyValue { return &msgv1.KeyValue{} }, func() *msgv1.KeyValueList { return &msgv1.KeyValueList{} },
				func(ctx context.Context, k *msgv1.KeyValue) (managed.External, error) {
					return connect(ctx, d, k, nats.KindKeyValue, func() (nats.KeyValueSpec, error) { return keyValueSpec(k) })
				}), opts)
		},
		func() error {
			return managed.Setup(ctx, mgr, wiring(nats.KindObjectStore, func() *msgv1.ObjectStore { return &msgv1.ObjectStore{} }, func() *msgv1.ObjectStoreList { return &msgv1.ObjectStoreList{} },
				func(ctx context.Context, o *msgv1.ObjectStore) (managed.External, error) {
					return connect(ctx, d, o, nats.KindObjectStore, func() (nats.ObjectStoreSpec, error) { return objectStoreSpec(o) })
				}), opts)
		},
	} {
		if err := setup(); err != nil {
			return err
		}
	}
	return nil
}

// sharedObject is a messaging kind: a managed object with the shared spec block.
type sharedObject interface {
	managed.Object
	Shared() *msgv1.Common
}

// wiring is the Wiring every messaging kind starts from: woken by its servers.
func wiring[T sharedObject, L client.ObjectList](kind string, newObj func() T, newList func() L,
	connect func(context.Context, T) (managed.External, error)) managed.Wiring[T, L] {
	return managed.Wiring[T, L]{
		Kind: managed.Kind[T, L]{Name: kind, NewObj: newObj, NewList: newList, Connector: managed.ConnectorFunc[T](connect)},
		DependsOn: managed.OnServers(func(o T) string { return o.Shared().ServerRef.Key(o.GetNamespace()) },
			&msgv1.MessagingServer{}, &msgv1.ClusterMessagingServer{}),
	}
}

// onVhost wakes objects of a vhost when its Vhost object changes (is
// created, say).
func onVhost[T sharedObject](vhost func(T) string) managed.Dependency[T] {
	return managed.Dependency[T]{Watch: &msgv1.Vhost{}, Index: ".spec.vhostKey",
		Keys: func(o T) []string { return []string{o.Shared().ServerRef.Key(o.GetNamespace()) + "/" + vhost(o)} },
		Key: func(o client.Object) string {
			v := o.(*msgv1.Vhost)
			return v.Spec.ServerRef.Key(v.Namespace) + "/" + v.BackendName()
		},
		Changed: managed.ReadyChanged}
}

// onEntity wakes bindings when the exchange or queue they name changes.
func onEntity(watch client.Object) managed.Dependency[*msgv1.Binding] {
	return managed.Dependency[*msgv1.Binding]{Watch: watch, Index: ".spec.entityKeys",
		Keys: func(b *msgv1.Binding) []string {
			prefix := b.Spec.ServerRef.Key(b.Namespace) + "/" + b.Spec.VhostName() + "/"
			return []string{prefix + "exchange/" + b.Spec.Source, prefix + orDefault(b.Spec.DestinationType, "queue") + "/" + b.Spec.Destination}
		},
		Key: func(o client.Object) string {
			switch e := o.(type) {
			case *msgv1.Exchange:
				return e.Spec.ServerRef.Key(e.Namespace) + "/" + e.Spec.VhostName() + "/exchange/" + e.BackendName()
			case *msgv1.Queue:
				return e.Spec.ServerRef.Key(e.Namespace) + "/" + e.Spec.VhostName() + "/queue/" + e.BackendName()
			}
			return ""
		},
		Changed: managed.ReadyChanged}
}

// onStream wakes consumers when the Stream object of their stream changes
// (is created, say).
func onStream() managed.Dependency[*msgv1.Consumer] {
	return managed.Dependency[*msgv1.Consumer]{Watch: &msgv1.Stream{}, Index: ".spec.streamKey",
		Keys: func(c *msgv1.Consumer) []string {
			return []string{c.Spec.ServerRef.Key(c.Namespace) + "/" + c.Spec.StreamName}
		},
		Key: func(o client.Object) string {
			s := o.(*msgv1.Stream)
			return s.Spec.ServerRef.Key(s.Namespace) + "/" + s.BackendName()
		},
		Changed: managed.ReadyChanged}
}
