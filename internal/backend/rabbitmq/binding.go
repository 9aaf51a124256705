package rabbitmq

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// BindingSpec is a binding from exchange Source to a queue or exchange.
// A binding has no other state: it is identified by all its fields (the
// server names it by its properties key, routing key plus an arguments
// hash), so a changed spec is another binding.
type BindingSpec struct {
	Vhost       string
	Source      string
	Destination string
	// DestinationType is queue or exchange; "" means queue.
	DestinationType string
	RoutingKey      string
	Arguments       map[string]any
}

func (s BindingSpec) destType() string {
	if s.DestinationType == "" {
		return "queue"
	}
	return s.DestinationType
}

func (s BindingSpec) what() string {
	return fmt.Sprintf("binding from exchange %s to %s %s with routing key %s in vhost %s",
		quote(s.Source), s.destType(), quote(s.Destination), quote(s.RoutingKey), quote(s.Vhost))
}

type bindings struct{ *Client }

func (bindings) Validate(_ context.Context, s BindingSpec) error {
	if err := checkName("vhost name", s.Vhost, 0); err != nil {
		return err
	}
	if s.Source == "" {
		return backenderr.Invalid("the source exchange is empty (the default exchange takes no explicit bindings)")
	}
	if err := checkName("source exchange", s.Source, maxName); err != nil {
		return err
	}
	if err := checkName("destination", s.Destination, maxName); err != nil {
		return err
	}
	if t := s.destType(); t != "queue" && t != "exchange" {
		return backenderr.Invalid("destination type %q is not queue or exchange", s.DestinationType)
	}
	if len(s.RoutingKey) > maxName || strings.IndexFunc(s.RoutingKey, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return backenderr.Invalid("the routing key is longer than %d bytes or holds a control character", maxName)
	}
	// A binding is deleted by its properties key, which for a routing key
	// without arguments is the key itself: a dot segment in the URL.
	if dotSegment(s.RoutingKey) {
		return backenderr.Invalid("routing key %q cannot be used: the management API could not delete the binding", s.RoutingKey)
	}
	// RabbitMQ 3.10's management API fails (HTTP 500 on every binding
	// listing and the definitions export of the server) on a binding whose
	// routing key holds "~" and that has arguments.
	if strings.Contains(s.RoutingKey, "~") && len(s.Arguments) > 0 {
		return backenderr.Invalid("a routing key with \"~\" cannot be combined with binding arguments: the RabbitMQ management API cannot list such a binding")
	}
	return checkArguments("binding arguments", s.Arguments)
}

// matches reports whether b is the binding s describes.
func (s BindingSpec) matches(b bindingState) bool {
	return b.Source == s.Source && b.Destination == s.Destination && b.DestinationType == s.destType() &&
		b.RoutingKey == s.RoutingKey && sameJSON(b.Arguments, s.Arguments)
}

// find returns the binding s describes, or nil.
func (c *Client) findBinding(ctx context.Context, s BindingSpec, mode snapshot.Mode) (*bindingState, error) {
	var list []bindingState
	if mode == snapshot.Cached {
		st, err := c.snap.Get(ctx)
		if err != nil {
			return nil, err
		}
		list = st.bindings[s.Vhost]
	} else {
		var infos []rabbithole.BindingInfo
		err := c.call(ctx, "list bindings for "+s.what(), "", func(rh *rabbithole.Client) (*http.Response, error) {
			var err error
			if s.destType() == "queue" {
				infos, err = rh.ListQueueBindingsBetween(s.Vhost, s.Source, s.Destination)
			} else {
				infos, err = rh.ListExchangeBindingsBetween(s.Vhost, s.Source, s.Destination)
			}
			return nil, err
		})
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, b := range infos {
			list = append(list, jsonBinding{Source: b.Source, Destination: b.Destination, DestinationType: b.DestinationType,
				RoutingKey: b.RoutingKey, Arguments: b.Arguments, PropertiesKey: b.PropertiesKey}.state())
		}
	}
	for i := range list {
		if s.matches(list[i]) {
			return &list[i], nil
		}
	}
	return nil, nil
}

func (c bindings) Observe(ctx context.Context, s BindingSpec, mode snapshot.Mode) (port.Observation, error) {
	b, err := c.findBinding(ctx, s, mode)
	return port.Observation{Exists: b != nil}, err
}

// Apply declares the binding unless it exists. A missing source or
// destination is DependencyMissing.
func (c bindings) Apply(ctx context.Context, s BindingSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	b, err := c.findBinding(ctx, s, snapshot.Live)
	if err != nil || b != nil {
		return err
	}
	return c.write(ctx, "declare "+s.what(), "", func(rh *rabbithole.Client) (*http.Response, error) {
		return rh.DeclareBinding(s.Vhost, rabbithole.BindingInfo{Source: s.Source, Destination: s.Destination,
			DestinationType: s.destType(), RoutingKey: s.RoutingKey, Arguments: normMap(s.Arguments)})
	})
}

// Delete removes the binding by its properties key; already gone (or its
// source or destination gone) is success.
func (c bindings) Delete(ctx context.Context, s BindingSpec) error {
	if err := named(s.Vhost, s.Source, s.Destination); err != nil {
		return err
	}
	b, err := c.findBinding(ctx, s, snapshot.Live)
	if err != nil || b == nil {
		return err
	}
	return c.write(ctx, "delete "+s.what(), "", func(rh *rabbithole.Client) (*http.Response, error) {
		return rh.DeleteBinding(s.Vhost, rabbithole.BindingInfo{Source: s.Source, Destination: s.Destination,
			DestinationType: s.destType(), PropertiesKey: b.PropertiesKey})
	})
}
