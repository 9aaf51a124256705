package rabbitmq

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// The observed state of each kind, in one shape whether read live or from
// the snapshot, so that one diff function serves both.

type vhostState struct {
	Name        string
	Description string
	Tags        []string
	// DefaultQueueType is "" when the server reports none ("undefined").
	DefaultQueueType string
	// Limits holds max-connections and max-queues when set.
	Limits map[string]int64
	// Messages is the vhost's message count (statistics; live reads only).
	Messages int64
}

type exchangeState struct {
	Type                          string
	Durable, AutoDelete, Internal bool
	Arguments                     map[string]any
}

type queueState struct {
	// Type is classic, quorum or stream (x-queue-type; classic when absent).
	Type       string
	Durable    bool
	AutoDelete bool
	// Arguments are the declare-time arguments without x-queue-type.
	Arguments map[string]any
	// Messages is the message count from statistics (live reads only).
	Messages int64
}

type bindingState struct {
	Source, Destination, DestinationType, RoutingKey string
	Arguments                                        map[string]any
	PropertiesKey                                    string
}

type policyState struct {
	Pattern    string
	ApplyTo    string
	Priority   int
	Definition map[string]any
}

type userState struct {
	PasswordHash     string
	HashingAlgorithm string
	Tags             []string
	Permissions      []Permission
	TopicPermissions []TopicPermission
}

type vkey struct{ vhost, name string }

// state is the server-wide snapshot.
type state struct {
	vhosts     map[string]*vhostState
	exchanges  map[vkey]*exchangeState
	queues     map[vkey]*queueState
	bindings   map[string][]bindingState // by vhost
	policies   map[vkey]*policyState
	opPolicies map[vkey]*policyState
	users      map[string]*userState
}

// The JSON shapes of /api/definitions and /api/vhosts. rabbit-hole's
// ExportedDefinitions cannot be used: its parameters tag is misspelt and its
// permissions lack user and vhost.

type jsonVhost struct {
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	Tags             json.RawMessage `json:"tags"`
	DefaultQueueType string          `json:"default_queue_type"`
	Messages         int64           `json:"messages"`
	Metadata         struct {
		Description      string          `json:"description"`
		Tags             json.RawMessage `json:"tags"`
		DefaultQueueType string          `json:"default_queue_type"`
	} `json:"metadata"`
}

func (j jsonVhost) state(limits map[string]int64) *vhostState {
	v := &vhostState{Name: j.Name, Description: j.Description, Tags: stringList(j.Tags),
		DefaultQueueType: j.DefaultQueueType, Limits: limits, Messages: j.Messages}
	if v.Description == "" {
		v.Description = j.Metadata.Description
	}
	if len(v.Tags) == 0 {
		v.Tags = stringList(j.Metadata.Tags)
	}
	if v.DefaultQueueType == "" {
		v.DefaultQueueType = j.Metadata.DefaultQueueType
	}
	if v.DefaultQueueType == "undefined" {
		v.DefaultQueueType = ""
	}
	return v
}

type jsonExchange struct {
	Name       string         `json:"name"`
	Vhost      string         `json:"vhost"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete any            `json:"auto_delete"`
	Internal   bool           `json:"internal"`
	Arguments  map[string]any `json:"arguments"`
}

func (j jsonExchange) state() *exchangeState {
	return &exchangeState{Type: j.Type, Durable: j.Durable, AutoDelete: j.AutoDelete == true, Internal: j.Internal,
		Arguments: nonNil(j.Arguments)}
}

type jsonQueue struct {
	Name       string         `json:"name"`
	Vhost      string         `json:"vhost"`
	Type       string         `json:"type"`
	Durable    bool           `json:"durable"`
	AutoDelete any            `json:"auto_delete"`
	Arguments  map[string]any `json:"arguments"`
	Messages   int64          `json:"messages"`
}

func (j jsonQueue) state() *queueState {
	q := &queueState{Type: j.Type, Durable: j.Durable, AutoDelete: j.AutoDelete == true, Messages: j.Messages,
		Arguments: map[string]any{}}
	for k, v := range j.Arguments {
		if k == "x-queue-type" {
			if s, ok := v.(string); ok {
				q.Type = s
			}
			continue
		}
		q.Arguments[k] = v
	}
	if q.Type == "" {
		q.Type = "classic"
	}
	return q
}

type jsonBinding struct {
	Source          string         `json:"source"`
	Vhost           string         `json:"vhost"`
	Destination     string         `json:"destination"`
	DestinationType string         `json:"destination_type"`
	RoutingKey      string         `json:"routing_key"`
	Arguments       map[string]any `json:"arguments"`
	PropertiesKey   string         `json:"properties_key"`
}

func (j jsonBinding) state() bindingState {
	return bindingState{Source: j.Source, Destination: j.Destination, DestinationType: j.DestinationType,
		RoutingKey: j.RoutingKey, Arguments: nonNil(j.Arguments), PropertiesKey: j.PropertiesKey}
}

type jsonPolicy struct {
	Vhost      string         `json:"vhost"`
	Name       string         `json:"name"`
	Pattern    string         `json:"pattern"`
	ApplyTo    string         `json:"apply-to"`
	Priority   int            `json:"priority"`
	Definition map[string]any `json:"definition"`
}

func (j jsonPolicy) state() *policyState {
	p := &policyState{Pattern: j.Pattern, ApplyTo: j.ApplyTo, Priority: j.Priority, Definition: nonNil(j.Definition)}
	if p.ApplyTo == "" {
		p.ApplyTo = "all"
	}
	return p
}

type jsonUser struct {
	Name             string          `json:"name"`
	PasswordHash     string          `json:"password_hash"`
	HashingAlgorithm string          `json:"hashing_algorithm"`
	Tags             json.RawMessage `json:"tags"`
}

type jsonPermission struct {
	User      string `json:"user"`
	Vhost     string `json:"vhost"`
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

type jsonTopicPermission struct {
	User     string `json:"user"`
	Vhost    string `json:"vhost"`
	Exchange string `json:"exchange"`
	Write    string `json:"write"`
	Read     string `json:"read"`
}

type jsonParameter struct {
	Vhost     string          `json:"vhost"`
	Component string          `json:"component"`
	Name      string          `json:"name"`
	Value     json.RawMessage `json:"value"`
}

type jsonDefinitions struct {
	Users            []jsonUser            `json:"users"`
	Permissions      []jsonPermission      `json:"permissions"`
	TopicPermissions []jsonTopicPermission `json:"topic_permissions"`
	Parameters       []jsonParameter       `json:"parameters"`
	Policies         []jsonPolicy          `json:"policies"`
	Queues           []jsonQueue           `json:"queues"`
	Exchanges        []jsonExchange        `json:"exchanges"`
	Bindings         []jsonBinding         `json:"bindings"`
}

// loadState reads the snapshot: the definitions export (users with hashes,
// permissions, limits, operator and user policies, queues, exchanges,
// bindings) and the vhost list, which alone carries vhost metadata.
func (c *Client) loadState(ctx context.Context) (*state, error) {
	var defs jsonDefinitions
	if err := c.raw(ctx, "export definitions", http.MethodGet, "definitions", nil, &defs); err != nil {
		return nil, err
	}
	var vhosts []jsonVhost
	if err := c.raw(ctx, "list vhosts", http.MethodGet, "vhosts?columns=name,description,tags,default_queue_type,metadata", nil, &vhosts); err != nil {
		return nil, err
	}
	s := &state{vhosts: map[string]*vhostState{}, exchanges: map[vkey]*exchangeState{}, queues: map[vkey]*queueState{},
		bindings: map[string][]bindingState{}, policies: map[vkey]*policyState{}, opPolicies: map[vkey]*policyState{},
		users: map[string]*userState{}}
	limits := map[string]map[string]int64{}
	for _, p := range defs.Parameters {
		switch p.Component {
		case "vhost-limits":
			var l map[string]int64
			if json.Unmarshal(p.Value, &l) == nil {
				limits[p.Vhost] = l
			}
		case "operator_policy":
			var jp jsonPolicy
			if json.Unmarshal(p.Value, &jp) == nil {
				s.opPolicies[vkey{p.Vhost, p.Name}] = jp.state()
			}
		}
	}
	for _, v := range vhosts {
		s.vhosts[v.Name] = v.state(limits[v.Name])
	}
	for _, e := range defs.Exchanges {
		s.exchanges[vkey{e.Vhost, e.Name}] = e.state()
	}
	for _, q := range defs.Queues {
		s.queues[vkey{q.Vhost, q.Name}] = q.state()
	}
	for _, b := range defs.Bindings {
		s.bindings[b.Vhost] = append(s.bindings[b.Vhost], b.state())
	}
	for _, p := range defs.Policies {
		s.policies[vkey{p.Vhost, p.Name}] = p.state()
	}
	for _, u := range defs.Users {
		s.users[u.Name] = &userState{PasswordHash: u.PasswordHash, HashingAlgorithm: u.HashingAlgorithm, Tags: stringList(u.Tags)}
	}
	for _, p := range defs.Permissions {
		if u := s.users[p.User]; u != nil {
			u.Permissions = append(u.Permissions, Permission{Vhost: p.Vhost, Configure: p.Configure, Write: p.Write, Read: p.Read})
		}
	}
	for _, p := range defs.TopicPermissions {
		if u := s.users[p.User]; u != nil {
			u.TopicPermissions = append(u.TopicPermissions, TopicPermission{Vhost: p.Vhost, Exchange: p.Exchange, Write: p.Write, Read: p.Read})
		}
	}
	return s, nil
}

// stringList reads tags sent as a JSON array or a comma-separated string
// (RabbitMQ before 3.9), dropping empty entries, sorted.
func stringList(raw json.RawMessage) []string {
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		out = strings.Split(s, ",")
	}
	kept := out[:0]
	for _, t := range out {
		if t = strings.TrimSpace(t); t != "" {
			kept = append(kept, t)
		}
	}
	sort.Strings(kept)
	if len(kept) == 0 {
		return nil
	}
	return kept
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
