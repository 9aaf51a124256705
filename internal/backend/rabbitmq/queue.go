package rabbitmq

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// QueueSpec is the desired state of a queue. Type, Durable and Arguments
// are fixed at declaration; Settings change in place.
type QueueSpec struct {
	Vhost string
	Name  string
	// Type is classic, quorum or stream; "" takes the vhost's default and is
	// not checked afterwards.
	Type    string
	Durable bool
	// Arguments are declare-time x-arguments (not x-queue-type: use Type).
	Arguments map[string]any
	Settings  QueueSettings
	// DeleteIfNotEmpty lets Delete remove a queue that holds messages.
	DeleteIfNotEmpty bool
}

// QueueSettings are applied through policies owned by the adapter for this
// queue alone (named by QueuePolicy), so they change without redeclaring
// it. MessageTTL, MaxLength, MaxLengthBytes, DeliveryLimit and Expires go
// into an operator policy, which combines with user policies (where both
// set a limit, the lower wins). RabbitMQ refuses Overflow and dead
// lettering in operator policies, so those go into a user policy of
// priority QueuePolicyPriority: while one is set, it takes precedence over
// every other user policy matching the queue.
type QueueSettings struct {
	// MessageTTL is in milliseconds.
	MessageTTL *int64
	MaxLength  *int64
	// MaxLengthBytes is in bytes.
	MaxLengthBytes *int64
	// Overflow is drop-head, reject-publish or reject-publish-dlx.
	Overflow             string
	DeadLetterExchange   string
	DeadLetterRoutingKey string
	// DeliveryLimit applies to quorum queues.
	DeliveryLimit *int64
	// Expires is the idle time after which the queue is deleted, in
	// milliseconds.
	Expires *int64
}

// QueuePolicyPriority is the priority of the policies that carry queue
// settings: above any policy people write by hand.
const QueuePolicyPriority = 1_000_000

var overflowModes = []string{"drop-head", "reject-publish", "reject-publish-dlx"}

// definitions splits the settings into the operator policy's and the user
// policy's definitions; empty maps mean no policy.
func (q QueueSettings) definitions() (operator, user map[string]any) {
	operator, user = map[string]any{}, map[string]any{}
	for k, v := range map[string]*int64{"message-ttl": q.MessageTTL, "max-length": q.MaxLength,
		"max-length-bytes": q.MaxLengthBytes, "delivery-limit": q.DeliveryLimit, "expires": q.Expires} {
		if v != nil {
			operator[k] = *v
		}
	}
	for k, v := range map[string]string{"overflow": q.Overflow, "dead-letter-exchange": q.DeadLetterExchange,
		"dead-letter-routing-key": q.DeadLetterRoutingKey} {
		if v != "" {
			user[k] = v
		}
	}
	return operator, user
}

type queues struct{ *Client }

func (queues) Validate(_ context.Context, s QueueSpec) error {
	if err := checkName("vhost name", s.Vhost, 0); err != nil {
		return err
	}
	if err := checkEntityName("queue name", s.Name); err != nil {
		return err
	}
	if s.Type != "" && !slices.Contains(queueTypes, s.Type) {
		return backenderr.Invalid("queue type %q is not one of %s", s.Type, strings.Join(queueTypes, ", "))
	}
	if (s.Type == "quorum" || s.Type == "stream") && !s.Durable {
		return backenderr.Invalid("%s queues are always durable", s.Type)
	}
	if _, ok := s.Arguments["x-queue-type"]; ok {
		return backenderr.Invalid("set the queue type with type, not the x-queue-type argument")
	}
	if err := checkArguments("queue arguments", s.Arguments); err != nil {
		return err
	}
	st := s.Settings
	for name, v := range map[string]*int64{"messageTTL": st.MessageTTL, "maxLength": st.MaxLength,
		"maxLengthBytes": st.MaxLengthBytes, "deliveryLimit": st.DeliveryLimit} {
		if v != nil && *v < 0 {
			return backenderr.Invalid("%s is negative", name)
		}
	}
	if st.Expires != nil && *st.Expires < 1 {
		return backenderr.Invalid("expires must be at least 1 ms")
	}
	if st.Overflow != "" && !slices.Contains(overflowModes, st.Overflow) {
		return backenderr.Invalid("overflow %q is not one of %s", st.Overflow, strings.Join(overflowModes, ", "))
	}
	if st.DeliveryLimit != nil && (s.Type == "classic" || s.Type == "stream") {
		return backenderr.Invalid("deliveryLimit applies to quorum queues only")
	}
	if st.DeadLetterRoutingKey != "" && st.DeadLetterExchange == "" {
		return backenderr.Invalid("deadLetterRoutingKey needs deadLetterExchange")
	}
	return nil
}

// queueView is a queue with the two policies that carry its settings.
type queueView struct {
	queue          *queueState
	operator, user *policyState
}

// queueDrift lists how got differs from s: first the properties that need
// a new queue, then the settings.
func queueDrift(s QueueSpec, got queueView) (recreate, settings []string) {
	q := got.queue
	if s.Type != "" && q.Type != s.Type {
		recreate = append(recreate, fmt.Sprintf("type is %s, want %s", q.Type, s.Type))
	}
	if q.Durable != s.Durable {
		recreate = append(recreate, fmt.Sprintf("durable is %t, want %t", q.Durable, s.Durable))
	}
	if q.AutoDelete {
		recreate = append(recreate, "auto-delete is true, want false")
	}
	recreate = append(recreate, mapDiff("argument", s.Arguments, q.Arguments)...)
	for i := range recreate {
		recreate[i] += " (the queue must be recreated)"
	}
	op, user := s.Settings.definitions()
	policy, pattern := QueuePolicy(s.Name)
	settings = append(settings, policyDrift("operator policy "+quote(policy), op, pattern, got.operator)...)
	settings = append(settings, policyDrift("policy "+quote(policy), user, pattern, got.user)...)
	return recreate, settings
}

// policyDrift compares an owned queue policy with the definition it should
// carry (none when empty).
func policyDrift(what string, def map[string]any, pattern string, got *policyState) []string {
	switch {
	case len(def) == 0 && got == nil:
		return nil
	case len(def) == 0:
		return []string{what + " exists, want none"}
	case got == nil:
		return []string{what + " missing"}
	}
	var d []string
	if got.Pattern != pattern {
		d = append(d, fmt.Sprintf("%s pattern is %s, want %s", what, quote(got.Pattern), quote(pattern)))
	}
	if got.ApplyTo != "queues" {
		d = append(d, fmt.Sprintf("%s applies to %s, want queues", what, got.ApplyTo))
	}
	if got.Priority != QueuePolicyPriority {
		d = append(d, fmt.Sprintf("%s priority is %d, want %d", what, got.Priority, QueuePolicyPriority))
	}
	return append(d, mapDiff(what+" setting", def, got.Definition)...)
}

func (c queues) Observe(ctx context.Context, s QueueSpec, mode snapshot.Mode) (port.Observation, error) {
	got, err := c.queueView(ctx, s.Vhost, s.Name, mode)
	if err != nil || got.queue == nil {
		return port.Observation{}, err
	}
	recreate, settings := queueDrift(s, got)
	return port.Observation{Exists: true, Drift: append(recreate, settings...)}, nil
}

// queueView reads a queue and its owned policies; queue is nil when the
// queue (or its vhost) does not exist.
func (c *Client) queueView(ctx context.Context, vhost, name string, mode snapshot.Mode) (queueView, error) {
	policy, _ := QueuePolicy(name)
	if mode == snapshot.Cached {
		st, err := c.snap.Get(ctx)
		if err != nil {
			return queueView{}, err
		}
		k := vkey{vhost, name}
		pk := vkey{vhost, policy}
		return queueView{queue: st.queues[k], operator: st.opPolicies[pk], user: st.policies[pk]}, nil
	}
	var v queueView
	var err error
	if v.queue, err = c.queue(ctx, vhost, name); err != nil || v.queue == nil {
		return queueView{}, err
	}
	if v.operator, err = c.policy(ctx, vhost, policy, true); err != nil {
		return queueView{}, err
	}
	if v.user, err = c.policy(ctx, vhost, policy, false); err != nil {
		return queueView{}, err
	}
	return v, nil
}

// queue reads one queue now, with its message count; nil when missing.
func (c *Client) queue(ctx context.Context, vhost, name string) (*queueState, error) {
	var info *rabbithole.DetailedQueueInfo
	err := c.call(ctx, fmt.Sprintf("read queue %s in vhost %s", quote(name), quote(vhost)), "",
		func(rh *rabbithole.Client) (*http.Response, error) {
			var err error
			info, err = rh.GetQueueWithParameters(vhost, name,
				url.Values{"columns": {"name,type,durable,auto_delete,arguments,messages"}})
			return nil, err
		})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return jsonQueue{Name: info.Name, Type: info.Type, Durable: info.Durable, AutoDelete: bool(info.AutoDelete),
		Arguments: info.Arguments, Messages: int64(info.Messages)}.state(), nil
}

func (c queues) Apply(ctx context.Context, s QueueSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	got, err := c.queueView(ctx, s.Vhost, s.Name, snapshot.Live)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("queue %s in vhost %s", quote(s.Name), quote(s.Vhost))
	if got.queue != nil {
		if recreate, _ := queueDrift(s, got); len(recreate) > 0 {
			return &backenderr.Error{Reason: ReasonRecreateRequired, Terminal: true, Message: fmt.Sprintf(
				"%s exists with other properties, which RabbitMQ cannot change in place: %s; delete it to have it recreated",
				what, strings.Join(recreate, "; "))}
		}
	}
	// Policies first, so that a new queue starts with its settings.
	op, user := s.Settings.definitions()
	policy, pattern := QueuePolicy(s.Name)
	if err := c.syncQueuePolicy(ctx, s.Vhost, policy, pattern, op, got.operator, true); err != nil {
		return err
	}
	if err := c.syncQueuePolicy(ctx, s.Vhost, policy, pattern, user, got.user, false); err != nil {
		return err
	}
	if got.queue != nil {
		return nil
	}
	args := normMap(s.Arguments)
	if s.Type != "" {
		args["x-queue-type"] = s.Type
	}
	return c.write(ctx, "declare "+what, "", func(rh *rabbithole.Client) (*http.Response, error) {
		return rh.DeclareQueue(s.Vhost, s.Name, rabbithole.QueueSettings{Type: s.Type, Durable: s.Durable, Arguments: args})
	})
}

// syncQueuePolicy makes an owned policy carry def, or removes it when def
// is empty. got is its current state (nil: missing or not read yet).
func (c *Client) syncQueuePolicy(ctx context.Context, vhost, name, pattern string, def map[string]any, got *policyState, operator bool) error {
	if len(policyDrift("", def, pattern, got)) == 0 {
		return nil
	}
	if len(def) == 0 {
		return c.deletePolicy(ctx, vhost, name, operator)
	}
	return c.putPolicy(ctx, vhost, name, policyState{Pattern: pattern, ApplyTo: "queues", Priority: QueuePolicyPriority, Definition: def}, operator)
}

// Delete removes the queue and its owned policies. A queue that holds
// messages blocks it unless DeleteIfNotEmpty. Classic queues are deleted
// with if-empty, so the server has the last word; quorum queues and
// streams refuse if-empty, and their count comes from the management
// statistics, which lag by the server's collect_statistics_interval (5 s by
// default).
func (c queues) Delete(ctx context.Context, s QueueSpec) error {
	if err := named(s.Vhost, s.Name); err != nil {
		return err
	}
	what := fmt.Sprintf("queue %s in vhost %s", quote(s.Name), quote(s.Vhost))
	q, err := c.queue(ctx, s.Vhost, s.Name)
	if err != nil {
		return err
	}
	if q != nil {
		if q.Messages > 0 && !s.DeleteIfNotEmpty {
			return backenderr.Blocked(fmt.Sprintf(
				"%s holds %s; set deleteIfNotEmpty to delete it with them", what, plural(q.Messages, "message")), nil)
		}
		// Classic queues are deleted with if-empty: the server decides. The
		// others refuse if-empty and rest on the lagging statistics.
		if q.Type != "classic" && !s.DeleteIfNotEmpty {
			if err := c.confirmEmpty("queue/"+s.Vhost+"/"+s.Name, what, q.Messages); err != nil {
				return err
			}
		}
		opts := rabbithole.QueueDeleteOptions{IfEmpty: q.Type == "classic" && !s.DeleteIfNotEmpty}
		err := c.write(ctx, "delete "+what, "", func(rh *rabbithole.Client) (*http.Response, error) {
			return rh.DeleteQueue(s.Vhost, s.Name, opts)
		})
		if be, ok := backenderr.As(err); ok && opts.IfEmpty && strings.Contains(be.Message, "not empty") {
			// The server refused; its statistics (which lag by up to the
			// collection interval) do not count them yet. The next retry will.
			return backenderr.Blocked(fmt.Sprintf(
				"%s holds messages (not counted in the statistics yet); set deleteIfNotEmpty to delete it with them", what), be.Err)
		}
		if err != nil {
			return err
		}
	}
	policy, _ := QueuePolicy(s.Name)
	if err := c.deletePolicy(ctx, s.Vhost, policy, true); err != nil && !isNotFound(err) {
		return err
	}
	if err := c.deletePolicy(ctx, s.Vhost, policy, false); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// plural is "1 message" or "n messages".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
