package rabbitmq

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// PolicySpec is the desired state of a policy, or of an operator policy
// (/api/operator-policies) when Operator is set.
type PolicySpec struct {
	Vhost   string
	Name    string
	Pattern string
	// ApplyTo is queues, exchanges or all ("" means all); RabbitMQ 3.12 and
	// later also take classic_queues, quorum_queues and streams, which 3.10
	// refuses with a BackendError.
	ApplyTo    string
	Priority   int
	Definition map[string]any
	Operator   bool
}

var applyTo = []string{"queues", "exchanges", "all", "classic_queues", "quorum_queues", "streams"}

type policies struct{ *Client }

func (policies) Validate(_ context.Context, s PolicySpec) error {
	if err := checkName("vhost name", s.Vhost, 0); err != nil {
		return err
	}
	if err := checkName("policy name", s.Name, 0); err != nil {
		return err
	}
	if strings.HasPrefix(s.Name, QueuePolicyPrefix) {
		return backenderr.Invalid("policy names starting with %s are reserved for queue settings", QueuePolicyPrefix)
	}
	if s.Pattern == "" {
		return backenderr.Invalid("the policy pattern is empty")
	}
	if s.ApplyTo != "" && !slices.Contains(applyTo, s.ApplyTo) {
		return backenderr.Invalid("applyTo %q is not one of %s", s.ApplyTo, strings.Join(applyTo, ", "))
	}
	if len(s.Definition) == 0 {
		return backenderr.Invalid("the policy definition is empty")
	}
	return checkArguments("policy definition", s.Definition)
}

func (s PolicySpec) state() policyState {
	p := policyState{Pattern: s.Pattern, ApplyTo: s.ApplyTo, Priority: s.Priority, Definition: normMap(s.Definition)}
	if p.ApplyTo == "" {
		p.ApplyTo = "all"
	}
	return p
}

// policySpecDrift lists how got differs from s.
func policySpecDrift(s PolicySpec, got *policyState) []string {
	want := s.state()
	var d []string
	if got.Pattern != want.Pattern {
		d = append(d, fmt.Sprintf("pattern is %s, want %s", quote(got.Pattern), quote(want.Pattern)))
	}
	if got.ApplyTo != want.ApplyTo {
		d = append(d, fmt.Sprintf("applies to %s, want %s", got.ApplyTo, want.ApplyTo))
	}
	if got.Priority != want.Priority {
		d = append(d, fmt.Sprintf("priority is %d, want %d", got.Priority, want.Priority))
	}
	return append(d, mapDiff("definition", want.Definition, got.Definition)...)
}

func (c policies) Observe(ctx context.Context, s PolicySpec, mode snapshot.Mode) (port.Observation, error) {
	var got *policyState
	if mode == snapshot.Cached {
		st, err := c.snap.Get(ctx)
		if err != nil {
			return port.Observation{}, err
		}
		if s.Operator {
			got = st.opPolicies[vkey{s.Vhost, s.Name}]
		} else {
			got = st.policies[vkey{s.Vhost, s.Name}]
		}
	} else {
		var err error
		if got, err = c.policy(ctx, s.Vhost, s.Name, s.Operator); err != nil {
			return port.Observation{}, err
		}
	}
	if got == nil {
		return port.Observation{}, nil
	}
	return port.Observation{Exists: true, Drift: policySpecDrift(s, got)}, nil
}

func (c policies) Apply(ctx context.Context, s PolicySpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	got, err := c.policy(ctx, s.Vhost, s.Name, s.Operator)
	if err != nil {
		return err
	}
	if got != nil && len(policySpecDrift(s, got)) == 0 {
		return nil
	}
	return c.putPolicy(ctx, s.Vhost, s.Name, s.state(), s.Operator)
}

func (c policies) Delete(ctx context.Context, s PolicySpec) error {
	if err := named(s.Vhost, s.Name); err != nil {
		return err
	}
	return c.deletePolicy(ctx, s.Vhost, s.Name, s.Operator)
}

func policyWhat(vhost, name string, operator bool) string {
	kind := "policy"
	if operator {
		kind = "operator policy"
	}
	return fmt.Sprintf("%s %s in vhost %s", kind, quote(name), quote(vhost))
}

// policy reads one policy now; nil when it (or its vhost) does not exist.
func (c *Client) policy(ctx context.Context, vhost, name string, operator bool) (*policyState, error) {
	var jp jsonPolicy
	err := c.call(ctx, "read "+policyWhat(vhost, name, operator), "", func(rh *rabbithole.Client) (*http.Response, error) {
		if operator {
			p, err := rh.GetOperatorPolicy(vhost, name)
			if p != nil {
				jp = jsonPolicy{Pattern: p.Pattern, ApplyTo: p.ApplyTo, Priority: p.Priority, Definition: p.Definition}
			}
			return nil, err
		}
		p, err := rh.GetPolicy(vhost, name)
		if p != nil {
			jp = jsonPolicy{Pattern: p.Pattern, ApplyTo: p.ApplyTo, Priority: p.Priority, Definition: p.Definition}
		}
		return nil, err
	})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return jp.state(), nil
}

func (c *Client) putPolicy(ctx context.Context, vhost, name string, p policyState, operator bool) error {
	def := normMap(p.Definition)
	return c.write(ctx, "put "+policyWhat(vhost, name, operator), "", func(rh *rabbithole.Client) (*http.Response, error) {
		if operator {
			return rh.PutOperatorPolicy(vhost, name, rabbithole.OperatorPolicy{Pattern: p.Pattern, ApplyTo: p.ApplyTo,
				Priority: p.Priority, Definition: def})
		}
		return rh.PutPolicy(vhost, name, rabbithole.Policy{Pattern: p.Pattern, ApplyTo: p.ApplyTo, Priority: p.Priority,
			Definition: def})
	})
}

// deletePolicy removes a policy; already gone is success.
func (c *Client) deletePolicy(ctx context.Context, vhost, name string, operator bool) error {
	return c.write(ctx, "delete "+policyWhat(vhost, name, operator), "", func(rh *rabbithole.Client) (*http.Response, error) {
		if operator {
			return rh.DeleteOperatorPolicy(vhost, name)
		}
		return rh.DeletePolicy(vhost, name)
	})
}
