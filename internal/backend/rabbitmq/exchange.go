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

// ExchangeSpec is the desired state of an exchange. Every property is fixed
// at declaration: RabbitMQ cannot change one in place.
type ExchangeSpec struct {
	Vhost string
	Name  string
	// Type is direct, fanout, topic, headers or a plugin's x-... type.
	Type                          string
	Durable, AutoDelete, Internal bool
	Arguments                     map[string]any
}

var exchangeTypes = []string{"direct", "fanout", "topic", "headers"}

type exchanges struct{ *Client }

func (exchanges) Validate(_ context.Context, s ExchangeSpec) error {
	if err := checkName("vhost name", s.Vhost, 0); err != nil {
		return err
	}
	if err := checkEntityName("exchange name", s.Name); err != nil {
		return err
	}
	if !slices.Contains(exchangeTypes, s.Type) && (!strings.HasPrefix(s.Type, "x-") || len(s.Type) <= 2) {
		return backenderr.Invalid("exchange type %q is not direct, fanout, topic, headers or x-<plugin type>", s.Type)
	}
	return checkArguments("exchange arguments", s.Arguments)
}

// exchangeDrift lists how got differs from s; every line means the
// exchange must be recreated.
func exchangeDrift(s ExchangeSpec, got *exchangeState) []string {
	var d []string
	if got.Type != s.Type {
		d = append(d, fmt.Sprintf("type is %s, want %s", got.Type, s.Type))
	}
	if got.Durable != s.Durable {
		d = append(d, fmt.Sprintf("durable is %t, want %t", got.Durable, s.Durable))
	}
	if got.AutoDelete != s.AutoDelete {
		d = append(d, fmt.Sprintf("auto-delete is %t, want %t", got.AutoDelete, s.AutoDelete))
	}
	if got.Internal != s.Internal {
		d = append(d, fmt.Sprintf("internal is %t, want %t", got.Internal, s.Internal))
	}
	d = append(d, mapDiff("argument", s.Arguments, got.Arguments)...)
	for i := range d {
		d[i] += " (the exchange must be recreated)"
	}
	return d
}

func (c exchanges) Observe(ctx context.Context, s ExchangeSpec, mode snapshot.Mode) (port.Observation, error) {
	got, err := c.exchange(ctx, s.Vhost, s.Name, mode)
	if err != nil || got == nil {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: exchangeDrift(s, got)}, nil
}

// exchange reads one exchange; nil when it (or its vhost) does not exist.
func (c *Client) exchange(ctx context.Context, vhost, name string, mode snapshot.Mode) (*exchangeState, error) {
	if mode == snapshot.Cached {
		st, err := c.snap.Get(ctx)
		if err != nil {
			return nil, err
		}
		return st.exchanges[vkey{vhost, name}], nil
	}
	var je jsonExchange
	err := c.raw(ctx, fmt.Sprintf("read exchange %s in vhost %s", quote(name), quote(vhost)), http.MethodGet,
		"exchanges/"+seg(vhost)+"/"+seg(name), nil, &je)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return je.state(), nil
}

func (c exchanges) Apply(ctx context.Context, s ExchangeSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	got, err := c.exchange(ctx, s.Vhost, s.Name, snapshot.Live)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("exchange %s in vhost %s", quote(s.Name), quote(s.Vhost))
	if got != nil {
		if d := exchangeDrift(s, got); len(d) > 0 {
			return &backenderr.Error{Reason: ReasonRecreateRequired, Terminal: true, Message: fmt.Sprintf(
				"%s exists with other properties, which RabbitMQ cannot change in place: %s; delete it to have it recreated",
				what, strings.Join(d, "; "))}
		}
		return nil
	}
	// rabbit-hole's ExchangeSettings has no internal flag: send it directly.
	body := map[string]any{"type": s.Type, "durable": s.Durable, "auto_delete": s.AutoDelete, "internal": s.Internal,
		"arguments": normMap(s.Arguments)}
	return c.rawWrite(ctx, "declare "+what, http.MethodPut, "exchanges/"+seg(s.Vhost)+"/"+seg(s.Name), body)
}

func (c exchanges) Delete(ctx context.Context, s ExchangeSpec) error {
	if err := named(s.Vhost, s.Name); err != nil {
		return err
	}
	return c.write(ctx, fmt.Sprintf("delete exchange %s in vhost %s", quote(s.Name), quote(s.Vhost)), "",
		func(rh *rabbithole.Client) (*http.Response, error) { return rh.DeleteExchange(s.Vhost, s.Name) })
}
