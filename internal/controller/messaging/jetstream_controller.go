package messaging

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
)

// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=streams;consumers;keyvalues;objectstores,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=streams/status;consumers/status;keyvalues/status;objectstores/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=messaging.backend-operator.dev,resources=streams/finalizers;consumers/finalizers;keyvalues/finalizers;objectstores/finalizers,verbs=update

// The JetStream kinds map their spec to the adapter's desired state; the
// shared connect (topology_controller.go) does the rest.

func streamSpec(s *msgv1.Stream) (nats.StreamSpec, error) {
	sp := s.Spec
	out := nats.StreamSpec{Name: s.BackendName(), Description: sp.Description, Subjects: sp.Subjects,
		Retention: sp.Retention, Storage: sp.Storage, Replicas: int(sp.Replicas), MaxAge: dur(sp.MaxAge),
		MaxBytes: deref(sp.MaxBytes), MaxMsgs: deref(sp.MaxMsgs), MaxMsgsPerSubject: deref(sp.MaxMsgsPerSubject),
		MaxMsgSize: deref(sp.MaxMsgSize), MaxConsumers: int(deref(sp.MaxConsumers)), Discard: sp.Discard,
		DiscardPerSubject: sp.DiscardPerSubject, DuplicateWindow: dur(sp.DuplicateWindow), DenyDelete: sp.DenyDelete,
		DenyPurge: sp.DenyPurge, AllowDirect: sp.AllowDirect, AllowRollup: sp.AllowRollup, Compression: sp.Compression,
		Metadata: sp.Metadata}
	if sp.Mirror != nil {
		m := source(*sp.Mirror)
		out.Mirror = &m
	}
	for _, src := range sp.Sources {
		out.Sources = append(out.Sources, source(src))
	}
	if t := sp.SubjectTransform; t != nil {
		out.SubjectTransform = &nats.Transform{Source: t.Source, Destination: t.Dest}
	}
	return out, nil
}

func source(s msgv1.StreamSource) nats.Source {
	out := nats.Source{Name: s.Name, OptStartSeq: uint64(max(s.OptStartSeq, 0)), OptStartTime: timeOf(s.OptStartTime),
		FilterSubject: s.FilterSubject, ExternalAPIPrefix: s.ExternalAPIPrefix, ExternalDeliverPrefix: s.ExternalDeliverPrefix}
	for _, t := range s.SubjectTransforms {
		out.SubjectTransforms = append(out.SubjectTransforms, nats.Transform{Source: t.Source, Destination: t.Dest})
	}
	return out
}

func consumerSpec(c *msgv1.Consumer) (nats.ConsumerSpec, error) {
	sp := c.Spec
	out := nats.ConsumerSpec{Stream: sp.StreamName, Durable: c.BackendName(), Description: sp.Description,
		AckPolicy: sp.AckPolicy, AckWait: dur(sp.AckWait), DeliverPolicy: sp.DeliverPolicy,
		OptStartSeq: uint64(max(sp.OptStartSeq, 0)), OptStartTime: timeOf(sp.OptStartTime), FilterSubjects: sp.FilterSubjects,
		MaxDeliver: int(sp.MaxDeliver), MaxAckPending: int(sp.MaxAckPending), MaxWaiting: int(sp.MaxWaiting),
		InactiveThreshold: dur(sp.InactiveThreshold), Replicas: int(sp.Replicas), ReplayPolicy: sp.ReplayPolicy,
		DeliverSubject: sp.DeliverSubject, DeliverGroup: sp.DeliverGroup, FlowControl: sp.FlowControl,
		HeartbeatInterval: dur(sp.HeartbeatInterval), HeadersOnly: sp.HeadersOnly, MemStorage: sp.MemStorage,
		RateLimitBps: uint64(max(sp.RateLimitBps, 0)), Metadata: sp.Metadata}
	if sp.FilterSubject != "" {
		out.FilterSubjects = append([]string{sp.FilterSubject}, out.FilterSubjects...)
	}
	for _, b := range sp.BackOff {
		out.BackOff = append(out.BackOff, b.Duration)
	}
	return out, nil
}

func keyValueSpec(k *msgv1.KeyValue) (nats.KeyValueSpec, error) {
	sp := k.Spec
	return nats.KeyValueSpec{Bucket: k.BackendName(), Description: sp.Description, History: int(sp.History), TTL: dur(sp.TTL),
		MaxBytes: deref(sp.MaxBytes), MaxValueSize: deref(sp.MaxValueSize), Storage: sp.Storage, Replicas: int(sp.Replicas),
		Compression: sp.Compression}, nil
}

func objectStoreSpec(o *msgv1.ObjectStore) (nats.ObjectStoreSpec, error) {
	sp := o.Spec
	return nats.ObjectStoreSpec{Bucket: o.BackendName(), Description: sp.Description, TTL: dur(sp.TTL),
		MaxBytes: deref(sp.MaxBytes), Storage: sp.Storage, Replicas: int(sp.Replicas), Compression: sp.Compression,
		Metadata: sp.Metadata}, nil
}

func dur(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

func deref[T int32 | int64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}
