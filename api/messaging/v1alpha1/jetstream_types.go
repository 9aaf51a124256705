package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// The NATS JetStream kinds. Field names follow NACK's jetstream/v1beta2
// types where they mean the same thing (docs/nats.md has the mapping);
// durations are Go duration strings ("90s", "24h"), as in NACK.

// SubjectTransform maps the subjects that match source to dest.
type SubjectTransform struct {
	// source is the subject pattern matched.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^\S+$`
	Source string `json:"source"`
	// dest is the subject it becomes (may use {{wildcard(n)}} functions).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^\S+$`
	Dest string `json:"dest"`
}

// StreamSource is a stream that a mirror copies, or a stream sources from.
type StreamSource struct {
	// name of the stream read from.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^.*>/\\\s\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule="!(self.contains('.') || self.contains('*') || self.contains('>') || self.contains('/') || self.contains(' '))",message="NATS forbids '.', '*', '>', '/' and spaces in stream and consumer names: choose a name without them"
	Name string `json:"name"`
	// optStartSeq is the first sequence read.
	// +optional
	// +kubebuilder:validation:Minimum=0
	OptStartSeq int64 `json:"optStartSeq,omitempty"`
	// optStartTime is the time of the first message read (RFC 3339).
	// +optional
	OptStartTime *metav1.Time `json:"optStartTime,omitempty"`
	// filterSubject reads only the messages of matching subjects.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^\S+$`
	FilterSubject string `json:"filterSubject,omitempty"`
	// externalApiPrefix is the API prefix of another account or domain.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^\S+$`
	ExternalAPIPrefix string `json:"externalApiPrefix,omitempty"`
	// externalDeliverPrefix is the delivery prefix of another account or domain.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^\S+$`
	ExternalDeliverPrefix string `json:"externalDeliverPrefix,omitempty"`
	// subjectTransforms filter and rename what is read.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	SubjectTransforms []SubjectTransform `json:"subjectTransforms,omitempty"`
}

// StreamSpec is the desired configuration of a JetStream stream. Settings
// left unset take the server's defaults and are put back when changed out
// of band.
// +kubebuilder:validation:XValidation:rule="!has(self.mirror) || (!has(self.subjects) && !has(self.sources))",message="a mirror has neither subjects nor sources"
// +kubebuilder:validation:XValidation:rule="has(self.mirror) == has(oldSelf.mirror)",message="a stream cannot become a mirror or stop being one in place: create a new Stream"
// +kubebuilder:validation:XValidation:rule="!has(self.discardPerSubject) || !self.discardPerSubject || (has(self.discard) && self.discard == 'new' && has(self.maxMsgsPerSubject) && self.maxMsgsPerSubject > 0)",message="discardPerSubject needs discard new and maxMsgsPerSubject"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name cannot be removed once set: set it back to its value"
type StreamSpec struct {
	Common `json:",inline"`
	// name of the stream; defaults to metadata.name; immutable. NATS
	// forbids '.', '*', '>', '/', '\', whitespace and control characters.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^.*>/\\\s\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule="!(self.contains('.') || self.contains('*') || self.contains('>') || self.contains('/') || self.contains(' '))",message="NATS forbids '.', '*', '>', '/' and spaces in stream and consumer names: choose a name without them"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('KV_') && !self.startsWith('OBJ_')",message="stream names starting with KV_ or OBJ_ belong to key/value buckets and object stores: declare those with KeyValue or ObjectStore"
	Name string `json:"name,omitempty"`
	// description of the stream.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`
	// subjects the stream stores (wildcards allowed); none, without mirror
	// or sources, is the stream's name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:Pattern=`^\S+$`
	Subjects []string `json:"subjects,omitempty"`
	// retention is limits (default), interest or workqueue. Between limits
	// and interest it changes in place; to or from workqueue it cannot.
	// +optional
	// +kubebuilder:default=limits
	// +kubebuilder:validation:Enum=limits;interest;workqueue
	// +kubebuilder:validation:XValidation:rule="(self == 'workqueue') == (oldSelf == 'workqueue')",message="retention cannot change to or from workqueue in place: create a new Stream under another name and move the publishers and consumers to it"
	Retention string `json:"retention,omitempty"`
	// storage is file (default) or memory; immutable. A memory stream is
	// lost when the server restarts, and recreated (empty) by the operator.
	// +optional
	// +kubebuilder:default=file
	// +kubebuilder:validation:Enum=file;memory
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage is immutable: NATS cannot move a stream between file and memory; create a new Stream under another name"
	Storage string `json:"storage,omitempty"`
	// replicas is the number of copies in a cluster, 1 to 5.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	Replicas int32 `json:"replicas,omitempty"`
	// maxAge is how long messages are kept ("24h"); unset keeps them.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="maxAge must be a non-negative duration such as 90s or 24h"
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
	// maxBytes bounds the stream's size in bytes; -1 or unset is unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxBytes *int64 `json:"maxBytes,omitempty"`
	// maxMsgs bounds the number of messages; -1 or unset is unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxMsgs *int64 `json:"maxMsgs,omitempty"`
	// maxMsgsPerSubject bounds the messages per subject; -1 or unset is
	// unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxMsgsPerSubject *int64 `json:"maxMsgsPerSubject,omitempty"`
	// maxMsgSize bounds one message in bytes; -1 or unset is the server's limit.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:Maximum=2147483647
	MaxMsgSize *int32 `json:"maxMsgSize,omitempty"`
	// maxConsumers bounds the stream's consumers; -1 or unset is unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxConsumers *int32 `json:"maxConsumers,omitempty"`
	// discard is what goes when a limit is reached: old messages (default)
	// or the new one.
	// +optional
	// +kubebuilder:default=old
	// +kubebuilder:validation:Enum=old;new
	Discard string `json:"discard,omitempty"`
	// discardPerSubject applies discard new per subject (needs discard new
	// and maxMsgsPerSubject).
	// +optional
	DiscardPerSubject bool `json:"discardPerSubject,omitempty"`
	// duplicateWindow is how long message IDs are remembered to drop
	// duplicates; unset is the server's (2m, or maxAge when shorter).
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="duplicateWindow must be a non-negative duration such as 2m"
	DuplicateWindow *metav1.Duration `json:"duplicateWindow,omitempty"`
	// denyDelete refuses deleting single messages. The server cannot turn
	// it off again.
	// +optional
	DenyDelete bool `json:"denyDelete,omitempty"`
	// denyPurge refuses purging. The server cannot turn it off again.
	// +optional
	DenyPurge bool `json:"denyPurge,omitempty"`
	// allowDirect lets any replica answer direct gets.
	// +optional
	AllowDirect bool `json:"allowDirect,omitempty"`
	// allowRollup allows the Nats-Rollup header to replace a subject's or
	// the stream's messages.
	// +optional
	AllowRollup bool `json:"allowRollup,omitempty"`
	// compression of stored messages: none (default, also "") or s2.
	// +optional
	// +kubebuilder:validation:Enum=none;s2;""
	Compression string `json:"compression,omitempty"`
	// mirror makes the stream a copy of another; immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="mirror is immutable: create a new Stream"
	Mirror *StreamSource `json:"mirror,omitempty"`
	// sources are streams whose messages this one also stores.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Sources []StreamSource `json:"sources,omitempty"`
	// subjectTransform renames subjects as messages are stored.
	// +optional
	SubjectTransform *SubjectTransform `json:"subjectTransform,omitempty"`
	// metadata are the application's key/value pairs (keys _nats.* are the
	// server's).
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) > 0 && !k.startsWith('_nats.'))",message="metadata keys must not be empty or start with _nats."
	Metadata map[string]string `json:"metadata,omitempty"`
	// deletionPolicy: Retain (default) keeps the stream and its messages;
	// Delete removes it with its messages and consumers.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ConsumerSpec is the desired configuration of a durable JetStream
// consumer. Without deliverSubject it is a pull consumer; with one, a push
// consumer.
// +kubebuilder:validation:XValidation:rule="has(self.deliverSubject) == has(oldSelf.deliverSubject)",message="a pull consumer cannot become a push consumer or back: create a new Consumer under another durableName"
// +kubebuilder:validation:XValidation:rule="!has(self.deliverPolicy) || self.deliverPolicy != 'byStartSequence' || has(self.optStartSeq)",message="deliverPolicy byStartSequence needs optStartSeq"
// +kubebuilder:validation:XValidation:rule="!has(self.deliverPolicy) || self.deliverPolicy != 'byStartTime' || has(self.optStartTime)",message="deliverPolicy byStartTime needs optStartTime"
// +kubebuilder:validation:XValidation:rule="!has(self.optStartSeq) || (has(self.deliverPolicy) && self.deliverPolicy == 'byStartSequence')",message="optStartSeq goes with deliverPolicy byStartSequence"
// +kubebuilder:validation:XValidation:rule="!has(self.optStartTime) || (has(self.deliverPolicy) && self.deliverPolicy == 'byStartTime')",message="optStartTime goes with deliverPolicy byStartTime"
// +kubebuilder:validation:XValidation:rule="has(self.deliverSubject) || (!has(self.deliverGroup) && !has(self.flowControl) && !has(self.heartbeatInterval) && !has(self.rateLimitBps))",message="deliverGroup, flowControl, heartbeatInterval and rateLimitBps need deliverSubject (a push consumer)"
// +kubebuilder:validation:XValidation:rule="!has(self.deliverSubject) || !has(self.maxWaiting)",message="maxWaiting applies to pull consumers only"
// +kubebuilder:validation:XValidation:rule="!has(self.filterSubject) || !has(self.filterSubjects)",message="set filterSubject or filterSubjects, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.flowControl) || !self.flowControl || has(self.heartbeatInterval)",message="flowControl needs heartbeatInterval"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.durableName) || has(self.durableName)",message="spec.durableName cannot be removed once set: set it back to its value"
type ConsumerSpec struct {
	Common `json:",inline"`
	// streamName is the stream the consumer reads; immutable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^.*>/\\\s\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule="!(self.contains('.') || self.contains('*') || self.contains('>') || self.contains('/') || self.contains(' '))",message="NATS forbids '.', '*', '>', '/' and spaces in stream and consumer names: choose a name without them"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="streamName is immutable: create a new Consumer"
	StreamName string `json:"streamName"`
	// durableName of the consumer; defaults to metadata.name; immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^.*>/\\\s\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule="!(self.contains('.') || self.contains('*') || self.contains('>') || self.contains('/') || self.contains(' '))",message="NATS forbids '.', '*', '>', '/' and spaces in stream and consumer names: choose a name without them"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="durableName is immutable: create a new Consumer (it starts again from its deliverPolicy)"
	DurableName string `json:"durableName,omitempty"`
	// description of the consumer.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`
	// ackPolicy is explicit (default), all or none; immutable.
	// +optional
	// +kubebuilder:default=explicit
	// +kubebuilder:validation:Enum=none;all;explicit
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="ackPolicy cannot change in place: create a new Consumer under another durableName (and delete this one)"
	AckPolicy string `json:"ackPolicy,omitempty"`
	// ackWait is how long a delivered message waits for its ack before it
	// is delivered again; unset is the server's (30s).
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="ackWait must be a positive duration such as 30s"
	AckWait *metav1.Duration `json:"ackWait,omitempty"`
	// deliverPolicy is where delivery starts: all (default), last, new,
	// byStartSequence (optStartSeq), byStartTime (optStartTime) or
	// lastPerSubject; immutable, with its start.
	// +optional
	// +kubebuilder:default=all
	// +kubebuilder:validation:Enum=all;last;new;byStartSequence;byStartTime;lastPerSubject
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="deliverPolicy cannot change in place: create a new Consumer under another durableName (and delete this one)"
	DeliverPolicy string `json:"deliverPolicy,omitempty"`
	// optStartSeq is the first sequence delivered (byStartSequence); immutable.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="optStartSeq cannot change in place: create a new Consumer"
	OptStartSeq int64 `json:"optStartSeq,omitempty"`
	// optStartTime is the time delivery starts from (byStartTime, RFC 3339); immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="optStartTime cannot change in place: create a new Consumer"
	OptStartTime *metav1.Time `json:"optStartTime,omitempty"`
	// filterSubject delivers only the messages of one subject (pattern).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^\S+$`
	FilterSubject string `json:"filterSubject,omitempty"`
	// filterSubjects delivers only the messages of these subjects (patterns).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:Pattern=`^\S+$`
	FilterSubjects []string `json:"filterSubjects,omitempty"`
	// maxDeliver bounds the deliveries of one message; -1 or unset is unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxDeliver int32 `json:"maxDeliver,omitempty"`
	// backoff are the delays before each redelivery ("1s", "5s", ...); the
	// last repeats. They replace ackWait.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:XValidation:rule="duration(self) > duration('0s')",message="backoff delays must be positive durations"
	BackOff []metav1.Duration `json:"backoff,omitempty"`
	// maxAckPending bounds the messages delivered and not acked yet; unset
	// is the server's (1000); -1 is unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxAckPending int32 `json:"maxAckPending,omitempty"`
	// maxWaiting bounds the pull requests waiting (pull consumers); unset
	// is the server's (512).
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxWaiting int32 `json:"maxWaiting,omitempty"`
	// inactiveThreshold deletes the consumer after it was unused this long;
	// unset never (a durable consumer).
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="inactiveThreshold must be a non-negative duration"
	InactiveThreshold *metav1.Duration `json:"inactiveThreshold,omitempty"`
	// replicas of the consumer's state, 1 to 5; unset is the stream's.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	Replicas int32 `json:"replicas,omitempty"`
	// replayPolicy is instant (default) or original (at the pace stored).
	// +optional
	// +kubebuilder:default=instant
	// +kubebuilder:validation:Enum=instant;original
	ReplayPolicy string `json:"replayPolicy,omitempty"`
	// deliverSubject makes a push consumer that delivers there.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[^\s*>]+$`
	DeliverSubject string `json:"deliverSubject,omitempty"`
	// deliverGroup is the queue group a push consumer delivers to.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^.*>/\\\s\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule="!(self.contains('.') || self.contains('*') || self.contains('>') || self.contains('/') || self.contains(' '))",message="NATS forbids '.', '*', '>', '/' and spaces in stream and consumer names: choose a name without them"
	DeliverGroup string `json:"deliverGroup,omitempty"`
	// flowControl enables flow control of a push consumer (needs
	// heartbeatInterval).
	// +optional
	FlowControl bool `json:"flowControl,omitempty"`
	// heartbeatInterval sends idle heartbeats to a push consumer.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="heartbeatInterval must be a positive duration"
	HeartbeatInterval *metav1.Duration `json:"heartbeatInterval,omitempty"`
	// headersOnly delivers headers without payloads.
	// +optional
	HeadersOnly bool `json:"headersOnly,omitempty"`
	// memStorage keeps the consumer's state in memory whatever the stream's storage.
	// +optional
	MemStorage bool `json:"memStorage,omitempty"`
	// rateLimitBps bounds push delivery, in bits per second.
	// +optional
	// +kubebuilder:validation:Minimum=1
	RateLimitBps int64 `json:"rateLimitBps,omitempty"`
	// metadata are the application's key/value pairs.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) > 0 && !k.startsWith('_nats.'))",message="metadata keys must not be empty or start with _nats."
	Metadata map[string]string `json:"metadata,omitempty"`
	// deletionPolicy: Delete (default) removes the consumer (its position
	// in the stream is lost, not the messages); Retain keeps it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// KeyValueSpec is the desired configuration of a JetStream key/value
// bucket (the stream KV_<bucket>).
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.bucket) || has(self.bucket)",message="spec.bucket cannot be removed once set: set it back to its value"
type KeyValueSpec struct {
	Common `json:",inline"`
	// bucket name; defaults to metadata.name; immutable; letters, digits,
	// '_' and '-'.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=251
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_-]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.bucket is immutable"
	Bucket string `json:"bucket,omitempty"`
	// description of the bucket.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`
	// history is how many values are kept per key, 1 (default) to 64.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	History int32 `json:"history,omitempty"`
	// ttl is how long a value lives ("1h"); unset forever.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="ttl must be a non-negative duration such as 1h"
	TTL *metav1.Duration `json:"ttl,omitempty"`
	// maxBytes bounds the bucket in bytes; -1 or unset is unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxBytes *int64 `json:"maxBytes,omitempty"`
	// maxValueSize bounds one value in bytes; -1 or unset is unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:Maximum=2147483647
	MaxValueSize *int32 `json:"maxValueSize,omitempty"`
	// storage is file (default) or memory; immutable.
	// +optional
	// +kubebuilder:default=file
	// +kubebuilder:validation:Enum=file;memory
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage is immutable: NATS cannot move a bucket between file and memory; create a new KeyValue under another bucket name"
	Storage string `json:"storage,omitempty"`
	// replicas is the number of copies in a cluster, 1 to 5.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	Replicas int32 `json:"replicas,omitempty"`
	// compression stores values compressed (s2).
	// +optional
	Compression bool `json:"compression,omitempty"`
	// deletionPolicy: Retain (default) keeps the bucket and its values;
	// Delete removes them.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ObjectStoreSpec is the desired configuration of a JetStream object store
// bucket (the stream OBJ_<bucket>).
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.bucket) || has(self.bucket)",message="spec.bucket cannot be removed once set: set it back to its value"
type ObjectStoreSpec struct {
	Common `json:",inline"`
	// bucket name; defaults to metadata.name; immutable; letters, digits,
	// '_' and '-'.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=251
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_-]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.bucket is immutable"
	Bucket string `json:"bucket,omitempty"`
	// description of the bucket.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`
	// ttl is how long an object lives ("720h"); unset forever.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="ttl must be a non-negative duration such as 720h"
	TTL *metav1.Duration `json:"ttl,omitempty"`
	// maxBytes bounds the bucket in bytes; -1 or unset is unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	MaxBytes *int64 `json:"maxBytes,omitempty"`
	// storage is file (default) or memory; immutable.
	// +optional
	// +kubebuilder:default=file
	// +kubebuilder:validation:Enum=file;memory
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage is immutable: NATS cannot move a bucket between file and memory; create a new ObjectStore under another bucket name"
	Storage string `json:"storage,omitempty"`
	// replicas is the number of copies in a cluster, 1 to 5.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	Replicas int32 `json:"replicas,omitempty"`
	// compression stores objects compressed (s2).
	// +optional
	Compression bool `json:"compression,omitempty"`
	// metadata are the application's key/value pairs.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) > 0 && !k.startsWith('_nats.'))",message="metadata keys must not be empty or start with _nats."
	Metadata map[string]string `json:"metadata,omitempty"`
	// deletionPolicy: Retain (default) keeps the bucket and its objects;
	// Delete removes them.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging;jetstream,shortName=jsstream
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Storage",type=string,JSONPath=`.spec.storage`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.name) || self.metadata.name.matches('^[^.]+$')",message="metadata.name holds a '.', which NATS forbids in stream names: set spec.name"

// Stream is a NATS JetStream stream.
type Stream struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec StreamSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// StreamList is a list of Stream.
type StreamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Stream `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging;jetstream,shortName=jsconsumer
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Stream",type=string,JSONPath=`.spec.streamName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.durableName) || self.metadata.name.matches('^[^.]+$')",message="metadata.name holds a '.', which NATS forbids in consumer names: set spec.durableName"

// Consumer is a durable NATS JetStream consumer (pull or push).
type Consumer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec ConsumerSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ConsumerList is a list of Consumer.
type ConsumerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Consumer `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging;jetstream,shortName=jskv
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.bucket) || self.metadata.name.matches('^[a-zA-Z0-9_-]+$')",message="metadata.name is not a valid bucket name (letters, digits, '_' and '-'): set spec.bucket"

// KeyValue is a NATS JetStream key/value bucket.
type KeyValue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec KeyValueSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// KeyValueList is a list of KeyValue.
type KeyValueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KeyValue `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging;jetstream,shortName=jsobj
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="has(self.spec.bucket) || self.metadata.name.matches('^[a-zA-Z0-9_-]+$')",message="metadata.name is not a valid bucket name (letters, digits, '_' and '-'): set spec.bucket"

// ObjectStore is a NATS JetStream object store bucket.
type ObjectStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec ObjectStoreSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ObjectStoreList is a list of ObjectStore.
type ObjectStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ObjectStore `json:"items"`
}
