package messaging

import (
	"context"
	"encoding/json"
	"fmt"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=vhosts;exchanges;queues;bindings;policies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=vhosts/status;exchanges/status;queues/status;bindings/status;policies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=vhosts/finalizers;exchanges/finalizers;queues/finalizers;bindings/finalizers;policies/finalizers,verbs=update

// topology is what the topology kinds (Vhost, Exchange, Queue, Binding,
// Policy) share: their server reference and the common spec block.
type topology interface {
	managed.Object
	Shared() *msgv1.Common
}

// connect resolves obj's broker and its client for kind on the broker's
// engine (a kind the engine lacks is Unsupported), and binds spec.
func connect[S any, T topology](ctx context.Context, d deps, obj T, kind string, spec func() (S, error)) (managed.External, error) {
	srv, engine, err := resolveEngine(ctx, d.secrets.Client, d.clients, obj.GetNamespace(), obj.Shared().ServerRef)
	if err != nil {
		return nil, err
	}
	c, err := port.For[port.Client[S]](kind, engine, srv)
	if err != nil {
		return nil, err
	}
	b := &managed.Bound[S]{EngineName: engine, Client: c, Mode: managed.ObserveMode(obj)}
	s, serr := spec()
	b.Spec = s
	// A spec that cannot be mapped (bad arguments) is reported by Validate,
	// and so never blocks a deletion.
	b.Check = func(context.Context) error { return serr }
	return b, nil
}

func vhostSpec(v *msgv1.Vhost) (rabbitmq.VhostSpec, error) {
	return rabbitmq.VhostSpec{Name: v.BackendName(), Description: v.Spec.Description, DefaultQueueType: v.Spec.DefaultQueueType,
		MaxConnections: v.Spec.Limits.MaxConnections, MaxQueues: v.Spec.Limits.MaxQueues, DeleteIfNotEmpty: v.Spec.DeleteIfNotEmpty}, nil
}

func exchangeSpec(e *msgv1.Exchange) (rabbitmq.ExchangeSpec, error) {
	args, err := arguments("spec.arguments", e.Spec.Arguments)
	return rabbitmq.ExchangeSpec{Vhost: e.Spec.VhostName(), Name: e.BackendName(), Type: orDefault(e.Spec.Type, "direct"),
		Durable: e.Spec.Durable == nil || *e.Spec.Durable, AutoDelete: e.Spec.AutoDelete, Internal: e.Spec.Internal, Arguments: args}, err
}

func queueSpec(q *msgv1.Queue) (rabbitmq.QueueSpec, error) {
	args, err := arguments("spec.arguments", q.Spec.Arguments)
	st := q.Spec.Settings
	return rabbitmq.QueueSpec{Vhost: q.Spec.VhostName(), Name: q.BackendName(), Type: orDefault(q.Spec.Type, "classic"),
		Durable: q.Spec.Durable == nil || *q.Spec.Durable, Arguments: args, DeleteIfNotEmpty: q.Spec.DeleteIfNotEmpty,
		Settings: rabbitmq.QueueSettings{MessageTTL: st.MessageTTL, MaxLength: st.MaxLength, MaxLengthBytes: st.MaxLengthBytes,
			Overflow: st.Overflow, DeadLetterExchange: st.DeadLetterExchange, DeadLetterRoutingKey: st.DeadLetterRoutingKey,
			DeliveryLimit: st.DeliveryLimit, Expires: st.Expires}}, err
}

func bindingSpec(b *msgv1.Binding) (rabbitmq.BindingSpec, error) {
	args, err := arguments("spec.arguments", b.Spec.Arguments)
	return rabbitmq.BindingSpec{Vhost: b.Spec.VhostName(), Source: b.Spec.Source, Destination: b.Spec.Destination,
		DestinationType: orDefault(b.Spec.DestinationType, "queue"), RoutingKey: b.Spec.RoutingKey, Arguments: args}, err
}

func policySpec(p *msgv1.Policy) (rabbitmq.PolicySpec, error) {
	def, err := arguments("spec.definition", p.Spec.Definition)
	return rabbitmq.PolicySpec{Vhost: p.Spec.VhostName(), Name: p.BackendName(), Pattern: p.Spec.Pattern,
		ApplyTo: orDefault(p.Spec.ApplyTo, "all"), Priority: int(p.Spec.Priority), Definition: def, Operator: p.Spec.Operator}, err
}

// arguments decodes x-arguments (or a policy definition) into the values the
// management API takes.
func arguments(field string, in msgv1.Arguments) (map[string]any, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		var val any
		if err := json.Unmarshal(v.Raw, &val); err != nil {
			return nil, managed.Invalid(fmt.Sprintf("%s[%q] is not a JSON value", field, k))
		}
		out[k] = val
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
