package nats

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// ConsumerSpec is the desired configuration of a durable consumer on
// Stream. A pull consumer has no DeliverSubject; a push consumer delivers
// to DeliverSubject (to one member of DeliverGroup, when set). Zero values
// take the server's defaults and, for AckWait, MaxAckPending, MaxWaiting,
// InactiveThreshold and Replicas (whose defaults come from the stream and
// the account), are then not checked. AckPolicy, DeliverPolicy and its
// start cannot change in place: the server refuses (Refused, with its
// error code).
type ConsumerSpec struct {
	Stream      string
	Durable     string
	Description string
	// AckPolicy is none, all or explicit (default).
	AckPolicy string
	AckWait   time.Duration
	// DeliverPolicy is all (default), last, new, byStartSequence (from
	// OptStartSeq), byStartTime (from OptStartTime) or lastPerSubject.
	DeliverPolicy string
	OptStartSeq   uint64
	OptStartTime  *time.Time
	// FilterSubjects select the stream's messages; none is all.
	FilterSubjects []string
	// MaxDeliver bounds deliveries of one message; 0 or -1 unlimited.
	MaxDeliver int
	// BackOff are the redelivery delays (overrides AckWait).
	BackOff           []time.Duration
	MaxAckPending     int
	MaxWaiting        int
	InactiveThreshold time.Duration
	Replicas          int
	// ReplayPolicy is instant (default) or original.
	ReplayPolicy string
	// DeliverSubject makes a push consumer; DeliverGroup is its queue group.
	DeliverSubject, DeliverGroup string
	FlowControl                  bool
	HeartbeatInterval            time.Duration
	HeadersOnly, MemStorage      bool
	// RateLimitBps bounds push delivery, bits per second; 0 unlimited.
	RateLimitBps uint64
	Metadata     map[string]string
}

var (
	ackPolicies     = map[string]jetstream.AckPolicy{"": jetstream.AckExplicitPolicy, "explicit": jetstream.AckExplicitPolicy, "none": jetstream.AckNonePolicy, "all": jetstream.AckAllPolicy}
	deliverPolicies = map[string]jetstream.DeliverPolicy{"": jetstream.DeliverAllPolicy, "all": jetstream.DeliverAllPolicy,
		"last": jetstream.DeliverLastPolicy, "new": jetstream.DeliverNewPolicy, "byStartSequence": jetstream.DeliverByStartSequencePolicy,
		"byStartTime": jetstream.DeliverByStartTimePolicy, "lastPerSubject": jetstream.DeliverLastPerSubjectPolicy}
	replayPolicies = map[string]jetstream.ReplayPolicy{"": jetstream.ReplayInstantPolicy, "instant": jetstream.ReplayInstantPolicy, "original": jetstream.ReplayOriginalPolicy}
)

type consumers struct{ *Client }

func (consumers) Validate(_ context.Context, s ConsumerSpec) error {
	if err := checkName("stream name", s.Stream); err != nil {
		return err
	}
	if err := checkName("durable name", s.Durable); err != nil {
		return err
	}
	if _, ok := ackPolicies[s.AckPolicy]; !ok {
		return backenderr.Invalid("ackPolicy %q is not one of none, all, explicit", s.AckPolicy)
	}
	dp, ok := deliverPolicies[s.DeliverPolicy]
	if !ok {
		return backenderr.Invalid("deliverPolicy %q is not one of all, last, new, byStartSequence, byStartTime, lastPerSubject", s.DeliverPolicy)
	}
	if _, ok := replayPolicies[s.ReplayPolicy]; !ok {
		return backenderr.Invalid("replayPolicy %q is not one of instant, original", s.ReplayPolicy)
	}
	switch {
	case dp == jetstream.DeliverByStartSequencePolicy && s.OptStartSeq == 0:
		return backenderr.Invalid("deliverPolicy byStartSequence needs optStartSeq")
	case dp == jetstream.DeliverByStartTimePolicy && s.OptStartTime == nil:
		return backenderr.Invalid("deliverPolicy byStartTime needs optStartTime")
	case dp != jetstream.DeliverByStartSequencePolicy && s.OptStartSeq != 0, dp != jetstream.DeliverByStartTimePolicy && s.OptStartTime != nil:
		return backenderr.Invalid("optStartSeq goes with deliverPolicy byStartSequence, optStartTime with byStartTime")
	}
	for _, f := range s.FilterSubjects {
		if err := checkSubject("filter subject", f, true); err != nil {
			return err
		}
	}
	if s.DeliverSubject != "" {
		if err := checkSubject("deliverSubject", s.DeliverSubject, false); err != nil {
			return err
		}
	} else if s.DeliverGroup != "" || s.FlowControl || s.HeartbeatInterval != 0 || s.RateLimitBps != 0 {
		return backenderr.Invalid("deliverGroup, flowControl, heartbeatInterval and rateLimitBps need deliverSubject (a push consumer)")
	}
	if s.DeliverSubject != "" && s.MaxWaiting != 0 {
		return backenderr.Invalid("maxWaiting applies to pull consumers only")
	}
	if s.DeliverGroup != "" {
		if err := checkName("deliverGroup", s.DeliverGroup); err != nil {
			return err
		}
	}
	if s.FlowControl && s.HeartbeatInterval == 0 {
		return backenderr.Invalid("flowControl needs heartbeatInterval")
	}
	if len(s.BackOff) > 0 && s.MaxDeliver > 0 && len(s.BackOff) > s.MaxDeliver {
		return backenderr.Invalid("backoff has %d delays; maxDeliver allows %d", len(s.BackOff), s.MaxDeliver)
	}
	if s.Replicas < 0 || s.Replicas > 5 {
		return backenderr.Invalid("replicas must be 0 (the stream's) to 5")
	}
	return checkMetadata(s.Metadata)
}

// config is the ConsumerConfig the spec asks for.
func (s ConsumerSpec) config() jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{Durable: s.Durable, Name: s.Durable, Description: s.Description,
		AckPolicy: ackPolicies[s.AckPolicy], AckWait: s.AckWait, DeliverPolicy: deliverPolicies[s.DeliverPolicy],
		OptStartSeq: s.OptStartSeq, OptStartTime: s.OptStartTime, MaxDeliver: int(limit(int64(s.MaxDeliver))),
		BackOff: s.BackOff, MaxAckPending: s.MaxAckPending, MaxWaiting: s.MaxWaiting, InactiveThreshold: s.InactiveThreshold,
		Replicas: s.Replicas, ReplayPolicy: replayPolicies[s.ReplayPolicy], DeliverSubject: s.DeliverSubject,
		DeliverGroup: s.DeliverGroup, FlowControl: s.FlowControl, IdleHeartbeat: s.HeartbeatInterval,
		HeadersOnly: s.HeadersOnly, MemoryStorage: s.MemStorage, RateLimit: s.RateLimitBps, Metadata: s.Metadata}
	// One filter goes in filter_subject, as older servers and tools expect.
	if len(s.FilterSubjects) == 1 {
		cfg.FilterSubject = s.FilterSubjects[0]
	} else {
		cfg.FilterSubjects = s.FilterSubjects
	}
	return cfg
}

// filters is a configuration's filter subjects, however they are held.
func filters(c jetstream.ConsumerConfig) []string {
	if c.FilterSubject != "" {
		return append([]string{c.FilterSubject}, c.FilterSubjects...)
	}
	return c.FilterSubjects
}

// consumerDrift lists how got differs from want, in the server's field names.
func consumerDrift(want, got jetstream.ConsumerConfig) []string {
	var d []string
	diff := func(field string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			d = append(d, fmt.Sprintf("%s is %v, want %v", field, show(g), show(w)))
		}
	}
	diffSet := func(field string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(reflectZero(w)) {
			diff(field, w, g)
		}
	}
	diff("description", want.Description, got.Description)
	diff("ack_policy", want.AckPolicy, got.AckPolicy)
	if len(want.BackOff) == 0 {
		// With backoff, the server sets ack_wait to its first delay.
		diffSet("ack_wait", want.AckWait, got.AckWait)
	}
	diff("deliver_policy", want.DeliverPolicy, got.DeliverPolicy)
	diff("opt_start_seq", want.OptStartSeq, got.OptStartSeq)
	if show(timeView(want.OptStartTime)) != show(timeView(got.OptStartTime)) {
		d = append(d, fmt.Sprintf("opt_start_time is %s, want %s", show(timeView(got.OptStartTime)), show(timeView(want.OptStartTime))))
	}
	if !sameSet(filters(want), filters(got)) {
		d = append(d, fmt.Sprintf("filter subjects are %v, want %v", show(filters(got)), show(filters(want))))
	}
	diff("max_deliver", want.MaxDeliver, int(limit(int64(got.MaxDeliver))))
	if !slices.Equal(want.BackOff, got.BackOff) {
		d = append(d, fmt.Sprintf("backoff is %v, want %v", got.BackOff, want.BackOff))
	}
	diffSet("max_ack_pending", want.MaxAckPending, got.MaxAckPending)
	diffSet("max_waiting", want.MaxWaiting, got.MaxWaiting)
	diffSet("inactive_threshold", want.InactiveThreshold, got.InactiveThreshold)
	diffSet("num_replicas", want.Replicas, got.Replicas)
	diff("replay_policy", want.ReplayPolicy, got.ReplayPolicy)
	diff("deliver_subject", want.DeliverSubject, got.DeliverSubject)
	diff("deliver_group", want.DeliverGroup, got.DeliverGroup)
	diff("flow_control", want.FlowControl, got.FlowControl)
	diffSet("idle_heartbeat", want.IdleHeartbeat, got.IdleHeartbeat)
	diff("headers_only", want.HeadersOnly, got.HeadersOnly)
	diff("mem_storage", want.MemoryStorage, got.MemoryStorage)
	diff("rate_limit_bps", want.RateLimit, got.RateLimit)
	if metadataDiff(want.Metadata, got.Metadata) {
		d = append(d, "metadata differs")
	}
	return d
}

// reflectZero is the zero value of the kinds diffSet compares.
func reflectZero(v any) any {
	switch v.(type) {
	case time.Duration:
		return time.Duration(0)
	case int:
		return 0
	}
	return nil
}

func timeView(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (c consumers) Observe(ctx context.Context, s ConsumerSpec, mode snapshot.Mode) (port.Observation, error) {
	if err := named(s); err != nil {
		return port.Observation{}, err
	}
	info, err := c.consumerInfo(ctx, s.Stream, s.Durable, mode)
	if err != nil || info == nil {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: consumerDrift(s.config(), info.Config)}, nil
}

// named checks the two names a consumer is addressed by.
func named(s ConsumerSpec) error {
	if err := checkName("stream name", s.Stream); err != nil {
		return err
	}
	return checkName("durable name", s.Durable)
}

// consumerInfo reads one consumer now, or from the snapshot (its stream's
// consumer listing); nil when it, or its stream, is missing.
func (c *Client) consumerInfo(ctx context.Context, stream, name string, mode snapshot.Mode) (*jetstream.ConsumerInfo, error) {
	if mode == snapshot.Cached {
		st, err := c.snap.Get(ctx)
		if err != nil {
			return nil, err
		}
		if st.streams[stream] == nil {
			return nil, nil
		}
		list, err := st.consumers(ctx, c, stream)
		if err != nil {
			return nil, err
		}
		return list[name], nil
	}
	// A raw CONSUMER.INFO: nats.go's Consumer refuses push consumers.
	var resp consumerInfoResponse
	err := c.call(ctx, fmt.Sprintf("read consumer %s of stream %s", name, stream), func(ctx context.Context, _ jetstream.JetStream) error {
		if err := c.request(ctx, "CONSUMER.INFO."+stream+"."+name, nil, &resp); err != nil {
			return err
		}
		if resp.Error != nil {
			return resp.Error
		}
		return nil
	})
	if isConsumerNotFound(err) || isStreamNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &resp.ConsumerInfo, nil
}

type consumerInfoResponse struct {
	Error *jetstream.APIError `json:"error,omitempty"`
	jetstream.ConsumerInfo
}

func (c consumers) Apply(ctx context.Context, s ConsumerSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	info, err := c.consumerInfo(ctx, s.Stream, s.Durable, snapshot.Live)
	if err != nil {
		return err
	}
	cfg := s.config()
	if info != nil && len(consumerDrift(cfg, info.Config)) == 0 {
		return nil
	}
	verb := "create"
	if info != nil {
		verb = "update"
	}
	return c.write(ctx, fmt.Sprintf("%s consumer %s of stream %s", verb, s.Durable, s.Stream), func(ctx context.Context, js jetstream.JetStream) error {
		var err error
		if cfg.DeliverSubject != "" {
			_, err = js.CreateOrUpdatePushConsumer(ctx, s.Stream, cfg)
		} else {
			_, err = js.CreateOrUpdateConsumer(ctx, s.Stream, cfg)
		}
		if isStreamNotFound(err) {
			return backenderr.Missing(fmt.Sprintf("stream %s does not exist (yet)", s.Stream), err)
		}
		return err
	})
}

// Delete removes the consumer; one already gone (or whose stream is) is
// success.
func (c consumers) Delete(ctx context.Context, s ConsumerSpec) error {
	if err := named(s); err != nil {
		return err
	}
	return c.write(ctx, fmt.Sprintf("delete consumer %s of stream %s", s.Durable, s.Stream), func(ctx context.Context, js jetstream.JetStream) error {
		err := js.DeleteConsumer(ctx, s.Stream, s.Durable)
		if isConsumerNotFound(err) || isStreamNotFound(err) {
			return nil
		}
		return err
	})
}
