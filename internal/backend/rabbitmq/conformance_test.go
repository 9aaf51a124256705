package rabbitmq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/backend-operator/backend-operator/internal/backend/conformance"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
)

// The shared conformance table, for the kinds whose every property can be
// repaired in place. Exchange and Binding do not join: an exchange has no
// mutable property (Apply refuses, RecreateRequired, where the table wants a
// repair; TestExchange covers the rest), and a binding is identified by all
// its fields, so a changed one is another binding (TestBinding).

// rabbitHostile are names the management API and AMQP must carry as they
// are (path segments, JSON, policy patterns, AMQP short strings).
var rabbitHostile = []string{
	"a/b", "a%2Fb", "%", "100%", "#hash", "a?b=c&d", "with space", " leading", "trailing ", "a+b",
	`it's`, `"quoted"`, `back\slash`, "semi;colon", "'; DROP USER admin; --", "<script>", "ünïcödé", "日本語", "emoji 🐇",
	"...", ". .", "a.*", "^$", "(a|b)[c]{2}", "x-" + conformance.Canary, "~tilde", "*",
}

// scratchVhost creates a vhost for one case and removes it after the test.
func scratchVhost(t *testing.T, c *rabbitmq.Client, name string) {
	t.Helper()
	vh := kind[rabbitmq.Vhosts](t, rabbitmq.KindVhost, c)
	spec := rabbitmq.VhostSpec{Name: name, DeleteIfNotEmpty: true}
	must(t, vh.Apply(context.Background(), spec))
	t.Cleanup(func() { _ = vh.Delete(context.Background(), spec) })
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

func TestConformanceVhost(t *testing.T) {
	c := connect(t)
	rh := admin(t)
	conformance.Run(t, conformance.Case[rabbitmq.VhostSpec]{
		Client: kind[rabbitmq.Vhosts](t, rabbitmq.KindVhost, c),
		New: func(name string) rabbitmq.VhostSpec {
			return rabbitmq.VhostSpec{Name: name, Description: "conformance", Tags: []string{"cf"}, MaxQueues: i64(100)}
		},
		Names: func(t *testing.T) []string {
			vs, err := rh.ListVhosts()
			must(t, err)
			var out []string
			for _, v := range vs {
				out = append(out, v.Name)
			}
			return out
		},
		Break: func(t *testing.T, name string) {
			mustResp(t)(rh.PutVhost(name, rabbithole.VhostSettings{Description: "broken"}))
			mustResp(t)(rh.PutVhostLimits(name, rabbithole.VhostLimitsValues{"max-connections": 1}))
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			mustResp(t)(rh.PutVhost(name, rabbithole.VhostSettings{Description: "by hand"}))
		},
		State: func(t *testing.T, name string) string {
			var v struct {
				Description string          `json:"description"`
				Tags        json.RawMessage `json:"tags"`
				Metadata    json.RawMessage `json:"metadata"`
			}
			adminGET(t, "vhosts/"+url.PathEscape(name), &v)
			l, err := rh.GetVhostLimits(name)
			must(t, err)
			return jsonOf(t, v) + jsonOf(t, l)
		},
		Hostile: rabbitHostile,
		Invalid: []conformance.Invalid[rabbitmq.VhostSpec]{
			{Why: "empty name", Spec: rabbitmq.VhostSpec{}},
			{Why: "dot segment .", Spec: rabbitmq.VhostSpec{Name: "."}},
			{Why: "dot segment ..", Spec: rabbitmq.VhostSpec{Name: ".."}},
			{Why: "newline", Spec: rabbitmq.VhostSpec{Name: "a\nb"}},
			{Why: "invalid UTF-8", Spec: rabbitmq.VhostSpec{Name: "a\xffb"}},
			{Why: "unknown default queue type", Spec: rabbitmq.VhostSpec{Name: "cf_lazy", DefaultQueueType: "lazy"}},
			{Why: "comma in a tag", Spec: rabbitmq.VhostSpec{Name: "cf_tags", Tags: []string{"a,b"}}},
		},
	})
}

func TestConformanceQueue(t *testing.T) {
	c := connect(t)
	rh := admin(t)
	const v = "cf-queues"
	scratchVhost(t, c, v)
	conformance.Run(t, conformance.Case[rabbitmq.QueueSpec]{
		Client: kind[rabbitmq.Queues](t, rabbitmq.KindQueue, c),
		New: func(name string) rabbitmq.QueueSpec {
			return rabbitmq.QueueSpec{Vhost: v, Name: name, Type: "classic", Durable: true,
				Settings: rabbitmq.QueueSettings{MaxLength: i64(10), DeadLetterExchange: "dlx"}}
		},
		Names: func(t *testing.T) []string {
			qs, err := rh.ListQueuesIn(v)
			must(t, err)
			var out []string
			for _, q := range qs {
				out = append(out, q.Name)
			}
			return out
		},
		Break: func(t *testing.T, name string) {
			policy, pattern := rabbitmq.QueuePolicy(name)
			mustResp(t)(rh.PutOperatorPolicy(v, policy, rabbithole.OperatorPolicy{Pattern: pattern, ApplyTo: "queues",
				Priority: rabbitmq.QueuePolicyPriority, Definition: rabbithole.PolicyDefinition{"max-length": 99}}))
			mustResp(t)(rh.DeletePolicy(v, policy))
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			mustResp(t)(rh.DeclareQueue(v, name, rabbithole.QueueSettings{Durable: true, Arguments: map[string]any{"x-queue-type": "classic"}}))
		},
		State: func(t *testing.T, name string) string {
			policy, _ := rabbitmq.QueuePolicy(name)
			var q struct {
				Type      string         `json:"type"`
				Durable   bool           `json:"durable"`
				Arguments map[string]any `json:"arguments"`
			}
			adminGET(t, "queues/"+url.PathEscape(v)+"/"+url.PathEscape(name), &q)
			var op, up any
			adminGET(t, "operator-policies/"+url.PathEscape(v)+"/"+url.PathEscape(policy), &op)
			adminGET(t, "policies/"+url.PathEscape(v)+"/"+url.PathEscape(policy), &up)
			return jsonOf(t, []any{q, op, up})
		},
		Hostile: append(rabbitHostile[:len(rabbitHostile):len(rabbitHostile)], strings.Repeat("q", 255), strings.Repeat("ü", 127)),
		Invalid: []conformance.Invalid[rabbitmq.QueueSpec]{
			{Why: "amq. prefix", Spec: rabbitmq.QueueSpec{Vhost: v, Name: "amq.cf", Durable: true}},
			{Why: "256-byte name", Spec: rabbitmq.QueueSpec{Vhost: v, Name: strings.Repeat("q", 256), Durable: true}},
			{Why: "control character", Spec: rabbitmq.QueueSpec{Vhost: v, Name: "a\x01b", Durable: true}},
			{Why: "empty name", Spec: rabbitmq.QueueSpec{Vhost: v, Durable: true}},
			{Why: "dot segment .", Spec: rabbitmq.QueueSpec{Vhost: v, Name: ".", Durable: true}},
			{Why: "dot segment ..", Spec: rabbitmq.QueueSpec{Vhost: v, Name: "..", Durable: true}},
			{Why: "vhost ..", Spec: rabbitmq.QueueSpec{Vhost: "..", Name: "q", Durable: true}},
			{Why: "transient quorum queue", Spec: rabbitmq.QueueSpec{Vhost: v, Name: "cf_transient_qq", Type: "quorum"}},
			{Why: "x-queue-type argument", Spec: rabbitmq.QueueSpec{Vhost: v, Name: "cf_xqt", Durable: true, Arguments: map[string]any{"x-queue-type": "quorum"}}},
			{Why: "unknown overflow", Spec: rabbitmq.QueueSpec{Vhost: v, Name: "cf_overflow", Durable: true, Settings: rabbitmq.QueueSettings{Overflow: "drop-tail"}}},
			{Why: "delivery limit on a classic queue", Spec: rabbitmq.QueueSpec{Vhost: v, Name: "cf_dl", Type: "classic", Durable: true,
				Settings: rabbitmq.QueueSettings{DeliveryLimit: i64(1)}}},
		},
	})
}

func TestConformancePolicy(t *testing.T) {
	for _, operator := range []bool{false, true} {
		t.Run(fmt.Sprintf("operator=%t", operator), func(t *testing.T) {
			c := connect(t)
			rh := admin(t)
			v := fmt.Sprintf("cf-policies-%t", operator)
			scratchVhost(t, c, v)
			put := func(t *testing.T, name, pattern string, max int) {
				if operator {
					mustResp(t)(rh.PutOperatorPolicy(v, name, rabbithole.OperatorPolicy{Pattern: pattern, ApplyTo: "queues",
						Definition: rabbithole.PolicyDefinition{"max-length": max}}))
					return
				}
				mustResp(t)(rh.PutPolicy(v, name, rabbithole.Policy{Pattern: pattern, ApplyTo: "queues",
					Definition: rabbithole.PolicyDefinition{"max-length": max}}))
			}
			conformance.Run(t, conformance.Case[rabbitmq.PolicySpec]{
				Client: kind[rabbitmq.Policies](t, rabbitmq.KindPolicy, c),
				New: func(name string) rabbitmq.PolicySpec {
					return rabbitmq.PolicySpec{Vhost: v, Name: name, Pattern: `^cf\.`, ApplyTo: "queues", Priority: 2,
						Definition: map[string]any{"max-length": 10}, Operator: operator}
				},
				Names: func(t *testing.T) []string {
					var out []string
					if operator {
						ps, err := rh.ListOperatorPoliciesIn(v)
						must(t, err)
						for _, p := range ps {
							out = append(out, p.Name)
						}
						return out
					}
					ps, err := rh.ListPoliciesIn(v)
					must(t, err)
					for _, p := range ps {
						out = append(out, p.Name)
					}
					return out
				},
				Break:           func(t *testing.T, name string) { put(t, name, `^cf\.`, 11) },
				CreateOutOfBand: func(t *testing.T, name string) { put(t, name, ".*", 1) },
				State: func(t *testing.T, name string) string {
					var p any
					path := "policies/"
					if operator {
						path = "operator-policies/"
					}
					adminGET(t, path+url.PathEscape(v)+"/"+url.PathEscape(name), &p)
					return jsonOf(t, p)
				},
				Hostile: rabbitHostile,
				Invalid: []conformance.Invalid[rabbitmq.PolicySpec]{
					{Why: "name reserved for queue settings", Spec: rabbitmq.PolicySpec{Vhost: v, Name: rabbitmq.QueuePolicyPrefix + "cf", Pattern: ".*",
						Definition: map[string]any{"max-length": 1}, Operator: operator}},
					{Why: "empty pattern", Spec: rabbitmq.PolicySpec{Vhost: v, Name: "cf_pattern", Definition: map[string]any{"max-length": 1}, Operator: operator}},
					{Why: "empty definition", Spec: rabbitmq.PolicySpec{Vhost: v, Name: "cf_definition", Pattern: ".*", Operator: operator}},
					{Why: "unknown apply-to", Spec: rabbitmq.PolicySpec{Vhost: v, Name: "cf_apply", Pattern: ".*", ApplyTo: "bindings",
						Definition: map[string]any{"max-length": 1}, Operator: operator}},
					{Why: "empty name", Spec: rabbitmq.PolicySpec{Vhost: v, Pattern: ".*", Definition: map[string]any{"max-length": 1}, Operator: operator}},
					{Why: "dot segment ..", Spec: rabbitmq.PolicySpec{Vhost: v, Name: "..", Pattern: ".*", Definition: map[string]any{"max-length": 1}, Operator: operator}},
				},
			})
		})
	}
}

func TestConformanceMessagingUser(t *testing.T) {
	c := connect(t)
	rh := admin(t)
	const v = "cf-users"
	scratchVhost(t, c, v)
	conformance.Run(t, conformance.Case[rabbitmq.UserSpec]{
		Client: kind[rabbitmq.Users](t, rabbitmq.KindMessagingUser, c),
		New: func(name string) rabbitmq.UserSpec {
			return rabbitmq.UserSpec{Name: name, Password: "pw-" + name, Tags: []string{"management"},
				Permissions:      []rabbitmq.Permission{{Vhost: v, Configure: "^cf\\.", Write: ".*", Read: ".*"}},
				TopicPermissions: []rabbitmq.TopicPermission{{Vhost: v, Exchange: "amq.topic", Write: "^cf\\.", Read: ".*"}}}
		},
		Names: func(t *testing.T) []string {
			us, err := rh.ListUsers()
			must(t, err)
			var out []string
			for _, u := range us {
				out = append(out, u.Name)
			}
			return out
		},
		Break: func(t *testing.T, name string) {
			mustResp(t)(rh.PutUser(name, rabbithole.UserSettings{Password: "changed", Tags: rabbithole.UserTags{"administrator"}}))
			mustResp(t)(rh.UpdatePermissionsIn(v, name, rabbithole.Permissions{Configure: ".*", Write: ".*", Read: ".*"}))
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			mustResp(t)(rh.PutUser(name, rabbithole.UserSettings{Password: "by hand"}))
		},
		State: func(t *testing.T, name string) string {
			var u, p, tp any
			adminGET(t, "users/"+url.PathEscape(name), &u)
			adminGET(t, "users/"+url.PathEscape(name)+"/permissions", &p)
			adminGET(t, "users/"+url.PathEscape(name)+"/topic-permissions", &tp)
			return jsonOf(t, []any{u, p, tp})
		},
		Password: true,
		Hostile:  rabbitHostile,
		Invalid: []conformance.Invalid[rabbitmq.UserSpec]{
			{Why: "empty password", Spec: rabbitmq.UserSpec{Name: "cf_no_password"}},
			{Why: "empty name", Spec: rabbitmq.UserSpec{Password: "pw"}},
			{Why: "dot segment .", Spec: rabbitmq.UserSpec{Name: ".", Password: "pw"}},
			{Why: "dot segment ..", Spec: rabbitmq.UserSpec{Name: "..", Password: "pw"}},
			{Why: "newline", Spec: rabbitmq.UserSpec{Name: "a\nb", Password: "pw"}},
			{Why: "comma in a tag", Spec: rabbitmq.UserSpec{Name: "cf_tags", Password: "pw", Tags: []string{"a,b"}}},
			{Why: "vhost listed twice", Spec: rabbitmq.UserSpec{Name: "cf_twice", Password: "pw",
				Permissions: []rabbitmq.Permission{{Vhost: v}, {Vhost: v}}}},
		},
	})
}
