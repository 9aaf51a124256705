package rabbitmq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// VhostSpec is the desired state of a virtual host.
type VhostSpec struct {
	Name        string
	Description string
	// DefaultQueueType is classic, quorum or stream; "" leaves the server's.
	// RabbitMQ 3.10 sets it only when the vhost is created.
	DefaultQueueType string
	// MaxConnections and MaxQueues are vhost limits; nil or negative means
	// no limit.
	MaxConnections, MaxQueues *int64
	Tags                      []string
	// DeleteIfNotEmpty lets Delete remove a vhost whose queues hold
	// messages; otherwise Delete is blocked.
	DeleteIfNotEmpty bool
}

// Vhost limit names in the management API.
const (
	limitMaxConnections = "max-connections"
	limitMaxQueues      = "max-queues"
)

var queueTypes = []string{"classic", "quorum", "stream"}

type vhosts struct{ *Client }

func (vhosts) Validate(_ context.Context, s VhostSpec) error {
	if err := checkName("vhost name", s.Name, 0); err != nil {
		return err
	}
	if s.DefaultQueueType != "" && !slices.Contains(queueTypes, s.DefaultQueueType) {
		return backenderr.Invalid("default queue type %q is not one of %s", s.DefaultQueueType, strings.Join(queueTypes, ", "))
	}
	for _, t := range s.Tags {
		if t == "" || strings.Contains(t, ",") {
			return backenderr.Invalid("vhost tag %q is empty or holds a comma", t)
		}
	}
	return nil
}

// wantLimits is the limits map the spec asks for.
func (s VhostSpec) wantLimits() map[string]int64 {
	out := map[string]int64{}
	if s.MaxConnections != nil && *s.MaxConnections >= 0 {
		out[limitMaxConnections] = *s.MaxConnections
	}
	if s.MaxQueues != nil && *s.MaxQueues >= 0 {
		out[limitMaxQueues] = *s.MaxQueues
	}
	return out
}

// vhostDrift lists how got differs from s.
func vhostDrift(s VhostSpec, got *vhostState) []string {
	var d []string
	if got.Description != s.Description {
		d = append(d, fmt.Sprintf("description is %q, want %q", got.Description, s.Description))
	}
	if w, g := sortedSet(s.Tags), sortedSet(got.Tags); !slices.Equal(w, g) {
		d = append(d, fmt.Sprintf("tags are %s, want %s", show(nonNilStrings(g)), show(nonNilStrings(w))))
	}
	if s.DefaultQueueType != "" && got.DefaultQueueType != s.DefaultQueueType {
		d = append(d, fmt.Sprintf("default queue type is %s, want %s", orNone(got.DefaultQueueType), s.DefaultQueueType))
	}
	want := s.wantLimits()
	for _, name := range []string{limitMaxConnections, limitMaxQueues} {
		w, win := want[name]
		g, gin := got.Limits[name]
		switch {
		case win && !gin:
			d = append(d, fmt.Sprintf("%s: no limit, want %d", name, w))
		case !win && gin && g >= 0:
			d = append(d, fmt.Sprintf("%s: %d, want no limit", name, g))
		case win && gin && w != g:
			d = append(d, fmt.Sprintf("%s: %d, want %d", name, g, w))
		}
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (c vhosts) Observe(ctx context.Context, s VhostSpec, mode snapshot.Mode) (port.Observation, error) {
	got, err := c.vhost(ctx, s.Name, mode)
	if err != nil || got == nil {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: vhostDrift(s, got)}, nil
}

// vhost reads one vhost with its limits; nil when it does not exist.
func (c *Client) vhost(ctx context.Context, name string, mode snapshot.Mode) (*vhostState, error) {
	if mode == snapshot.Cached {
		st, err := c.snap.Get(ctx)
		if err != nil {
			return nil, err
		}
		return st.vhosts[name], nil
	}
	var jv jsonVhost
	err := c.raw(ctx, "read vhost "+quote(name), http.MethodGet, "vhosts/"+seg(name), nil, &jv)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var limits []rabbithole.VhostLimitsInfo
	err = c.call(ctx, "read limits of vhost "+quote(name), "", func(rh *rabbithole.Client) (*http.Response, error) {
		var err error
		limits, err = rh.GetVhostLimits(name)
		return nil, err
	})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l := map[string]int64{}
	for _, li := range limits {
		for k, v := range li.Value {
			l[k] = int64(v)
		}
	}
	return jv.state(l), nil
}

func (c vhosts) Apply(ctx context.Context, s VhostSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	got, err := c.vhost(ctx, s.Name, snapshot.Live)
	if err != nil {
		return err
	}
	what := "vhost " + quote(s.Name)
	tags := sortedSet(s.Tags)
	if got == nil || got.Description != s.Description || !slices.Equal(tags, sortedSet(got.Tags)) ||
		(s.DefaultQueueType != "" && got.DefaultQueueType != s.DefaultQueueType) {
		body := map[string]any{"description": s.Description, "tags": strings.Join(tags, ","), "tracing": false}
		if s.DefaultQueueType != "" {
			// 3.10 reads defaultqueuetype, later versions default_queue_type.
			body["default_queue_type"] = s.DefaultQueueType
			body["defaultqueuetype"] = s.DefaultQueueType
		}
		if err := c.rawWrite(ctx, "put "+what, http.MethodPut, "vhosts/"+seg(s.Name), body); err != nil {
			return err
		}
	}
	want := s.wantLimits()
	var have map[string]int64
	if got != nil {
		have = got.Limits
	}
	for _, name := range []string{limitMaxConnections, limitMaxQueues} {
		w, win := want[name]
		g, gin := have[name]
		switch {
		case win && (!gin || g != w):
			err = c.write(ctx, "set "+name+" of "+what, "", func(rh *rabbithole.Client) (*http.Response, error) {
				return rh.PutVhostLimits(s.Name, rabbithole.VhostLimitsValues{name: int(w)})
			})
		case !win && gin:
			err = c.write(ctx, "remove "+name+" of "+what, "", func(rh *rabbithole.Client) (*http.Response, error) {
				return rh.DeleteVhostLimits(s.Name, rabbithole.VhostLimits{name})
			})
		}
		if err != nil {
			return err
		}
	}
	if s.DefaultQueueType == "" || got == nil || got.DefaultQueueType == s.DefaultQueueType {
		return nil
	}
	// Some versions (3.10) keep the default queue type a vhost was created
	// with: say so rather than report success.
	after, err := c.vhost(ctx, s.Name, snapshot.Live)
	if err != nil {
		return err
	}
	if after != nil && after.DefaultQueueType != s.DefaultQueueType {
		return &backenderr.Error{Reason: ReasonRecreateRequired, Terminal: true, Message: fmt.Sprintf(
			"%s has default queue type %s and this RabbitMQ version cannot change it in place; want %s",
			what, orNone(after.DefaultQueueType), s.DefaultQueueType)}
	}
	return nil
}

// Delete removes the vhost with everything in it. It is blocked while its
// queues hold messages (by the management statistics, which lag by the
// server's collect_statistics_interval, 5 s by default), unless
// DeleteIfNotEmpty.
func (c vhosts) Delete(ctx context.Context, s VhostSpec) error {
	if err := named(s.Name); err != nil {
		return err
	}
	got, err := c.vhost(ctx, s.Name, snapshot.Live)
	if err != nil || got == nil {
		return err
	}
	if !s.DeleteIfNotEmpty {
		// A vhost with no queue has nothing to lose; otherwise its count
		// comes from the lagging statistics and must be confirmed.
		var queues []json.RawMessage
		if err := c.raw(ctx, "list the queues of vhost "+quote(s.Name), http.MethodGet,
			"queues/"+seg(s.Name)+"?columns=name", nil, &queues); err != nil {
			return err
		}
		if len(queues) > 0 {
			if err := c.confirmEmpty("vhost/"+s.Name, "vhost "+quote(s.Name), got.Messages); err != nil {
				return err
			}
		}
	}
	return c.write(ctx, "delete vhost "+quote(s.Name), "", func(rh *rabbithole.Client) (*http.Response, error) {
		return rh.DeleteVhost(s.Name)
	})
}

// quote renders a name in messages.
func quote(s string) string { return fmt.Sprintf("%q", s) }
