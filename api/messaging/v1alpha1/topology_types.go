package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Arguments are AMQP x-arguments: values are strings, numbers or booleans.
type Arguments map[string]apiextensionsv1.JSON

// VhostLimits cap what a vhost may hold; unset means no limit.
type VhostLimits struct {
	// maxConnections is the most client connections the vhost accepts.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxConnections *int64 `json:"maxConnections,omitempty"`
	// maxQueues is the most queues the vhost may hold.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxQueues *int64 `json:"maxQueues,omitempty"`
}

// VhostSpec is the desired state of a virtual host.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name cannot be removed once set: set it back to its value"
type VhostSpec struct {
	Common `json:",inline"`
	// name of the vhost; defaults to metadata.name; immutable. Any
	// characters are allowed, "/" included.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="the names . and .. are refused: the management API reads them as path segments"
	Name string `json:"name,omitempty"`
	// description shown in the management UI.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`
	// defaultQueueType is the type of queues declared without one.
	// +optional
	// +kubebuilder:validation:Enum=classic;quorum;stream
	DefaultQueueType string `json:"defaultQueueType,omitempty"`
	// limits cap connections and queues.
	// +optional
	Limits VhostLimits `json:"limits,omitempty"`
	// deletionPolicy: Retain (default) keeps the vhost and all it holds when
	// this object is deleted; Delete removes it with everything in it,
	// unless its queues hold messages and deleteIfNotEmpty is false.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
	// deleteIfNotEmpty lets deletionPolicy Delete drop a vhost whose queues
	// still hold messages.
	// +optional
	DeleteIfNotEmpty bool `json:"deleteIfNotEmpty,omitempty"`
}

// VhostRef is the vhost an object lives in.
type VhostRef struct {
	// vhost is the virtual host's name (default "/"); immutable.
	// +optional
	// +kubebuilder:default="/"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="vhost is immutable"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="the names . and .. are refused: the management API reads them as path segments"
	Vhost string `json:"vhost,omitempty"`
}

// ExchangeSpec is the desired state of an exchange. RabbitMQ cannot change
// an exchange's type or flags in place: they are immutable here.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name cannot be removed once set: set it back to its value"
type ExchangeSpec struct {
	Common   `json:",inline"`
	VhostRef `json:",inline"`
	// name of the exchange; defaults to metadata.name; immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="the names . and .. are refused: the management API reads them as path segments"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('amq.')",message="names starting with amq. are reserved by RabbitMQ"
	Name string `json:"name,omitempty"`
	// type is direct, fanout, topic, headers or a plugin's x-... type; immutable.
	// +optional
	// +kubebuilder:default=direct
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^(direct|fanout|topic|headers|x-[-a-z0-9_.]+)$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="type is immutable: delete and recreate the exchange"
	Type string `json:"type,omitempty"`
	// durable exchanges survive a broker restart (default true); immutable.
	// +optional
	// +kubebuilder:default=true
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="durable is immutable: delete and recreate the exchange"
	Durable *bool `json:"durable,omitempty"`
	// autoDelete removes the exchange when its last binding goes; immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="autoDelete is immutable: delete and recreate the exchange"
	AutoDelete bool `json:"autoDelete,omitempty"`
	// internal exchanges take messages only from other exchanges; immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="internal is immutable: delete and recreate the exchange"
	Internal bool `json:"internal,omitempty"`
	// arguments are the declare-time x-arguments (such as alternate-exchange).
	// RabbitMQ cannot change them in place: a difference is reported in
	// status.drift and the condition says to recreate the exchange.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Arguments Arguments `json:"arguments,omitempty"`
	// deletionPolicy: Retain (default) keeps the exchange; Delete removes it.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// QueueSettings are applied in place through a policy the operator owns for
// exactly this queue, so a change never needs a recreate.
type QueueSettings struct {
	// messageTTL is how long a message may stay in the queue, in milliseconds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MessageTTL *int64 `json:"messageTTL,omitempty"`
	// maxLength is the most messages the queue holds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxLength *int64 `json:"maxLength,omitempty"`
	// maxLengthBytes is the most message body bytes the queue holds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxLengthBytes *int64 `json:"maxLengthBytes,omitempty"`
	// overflow is what happens at the limits: drop-head (default),
	// reject-publish or reject-publish-dlx.
	// +optional
	// +kubebuilder:validation:Enum=drop-head;reject-publish;reject-publish-dlx
	Overflow string `json:"overflow,omitempty"`
	// deadLetterExchange receives rejected and expired messages.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	DeadLetterExchange string `json:"deadLetterExchange,omitempty"`
	// deadLetterRoutingKey replaces their routing key.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	DeadLetterRoutingKey string `json:"deadLetterRoutingKey,omitempty"`
	// deliveryLimit is how often a message is redelivered (quorum queues).
	// +optional
	// +kubebuilder:validation:Minimum=0
	DeliveryLimit *int64 `json:"deliveryLimit,omitempty"`
	// expires deletes the queue after it was unused this long, in milliseconds.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Expires *int64 `json:"expires,omitempty"`
}

// QueueSpec is the desired state of a queue.
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type == 'classic' || !has(self.durable) || self.durable",message="quorum queues and streams are always durable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name cannot be removed once set: set it back to its value"
type QueueSpec struct {
	Common   `json:",inline"`
	VhostRef `json:",inline"`
	// name of the queue; defaults to metadata.name; immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="the names . and .. are refused: the management API reads them as path segments"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('amq.')",message="names starting with amq. are reserved by RabbitMQ"
	Name string `json:"name,omitempty"`
	// type is classic (default), quorum or stream; immutable.
	// +optional
	// +kubebuilder:default=classic
	// +kubebuilder:validation:Enum=classic;quorum;stream
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="type is immutable: declare a new queue and move consumers"
	Type string `json:"type,omitempty"`
	// durable queues survive a broker restart (default true); immutable.
	// +optional
	// +kubebuilder:default=true
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="durable is immutable: declare a new queue and move consumers"
	Durable *bool `json:"durable,omitempty"`
	// arguments are declare-time x-arguments (not x-queue-type: use type).
	// RabbitMQ cannot change them in place: a difference is reported, never
	// applied by deleting the queue. Use settings for what may change.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Arguments Arguments `json:"arguments,omitempty"`
	// settings change in place.
	// +optional
	Settings QueueSettings `json:"settings,omitempty"`
	// deletionPolicy: Retain (default) keeps the queue and its messages;
	// Delete removes it, unless it holds messages and deleteIfNotEmpty is
	// false.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
	// deleteIfNotEmpty lets deletionPolicy Delete drop a queue that still
	// holds messages.
	// +optional
	DeleteIfNotEmpty bool `json:"deleteIfNotEmpty,omitempty"`
}

// BindingSpec is the desired state of a binding. A binding has no name of
// its own: it is its source, destination, routing key and arguments, all
// immutable; to change one, apply a new Binding and delete the old.
type BindingSpec struct {
	Common   `json:",inline"`
	VhostRef `json:",inline"`
	// source is the exchange messages come from; immutable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="source is immutable"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="the names . and .. are refused: the management API reads them as path segments"
	Source string `json:"source"`
	// destination is the queue or exchange they go to; immutable.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="destination is immutable"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="the names . and .. are refused: the management API reads them as path segments"
	Destination string `json:"destination"`
	// destinationType is queue (default) or exchange; immutable.
	// +optional
	// +kubebuilder:default=queue
	// +kubebuilder:validation:Enum=queue;exchange
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="destinationType is immutable"
	DestinationType string `json:"destinationType,omitempty"`
	// routingKey selects the messages (a pattern on topic exchanges); immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="routingKey is immutable"
	RoutingKey string `json:"routingKey,omitempty"`
	// arguments match headers exchanges; a change is a different binding.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Arguments Arguments `json:"arguments,omitempty"`
	// deletionPolicy: Delete (default) removes the binding; Retain keeps it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// PolicySpec is the desired state of a policy or an operator policy.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name cannot be removed once set: set it back to its value"
type PolicySpec struct {
	Common   `json:",inline"`
	VhostRef `json:",inline"`
	// name of the policy; defaults to metadata.name; immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="the names . and .. are refused: the management API reads them as path segments"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('backend-operator.')",message="names starting with backend-operator. are reserved for queue settings"
	Name string `json:"name,omitempty"`
	// operator makes it an operator policy (limits users cannot override); immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="operator is immutable"
	Operator bool `json:"operator,omitempty"`
	// pattern is the regular expression over queue or exchange names.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Pattern string `json:"pattern"`
	// applyTo is queues, exchanges or all (default).
	// +optional
	// +kubebuilder:default=all
	// +kubebuilder:validation:Enum=queues;exchanges;all;classic_queues;quorum_queues;streams
	ApplyTo string `json:"applyTo,omitempty"`
	// priority: of the policies matching a name, the highest applies.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=999
	Priority int32 `json:"priority,omitempty"`
	// definition holds the policy keys, such as max-length or ha-mode.
	// +required
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=32
	Definition Arguments `json:"definition"`
	// deletionPolicy: Delete (default) removes the policy; Retain keeps it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ManagedObjectStatus is the status of the topology kinds.
type ManagedObjectStatus struct {
	common.ManagedStatus `json:",inline"`
}

// printer columns shared by the topology kinds are on each kind below.

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging,shortName=mqvhost
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Vhost is a RabbitMQ virtual host.
type Vhost struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec VhostSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// VhostList is a list of Vhost.
type VhostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Vhost `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging,shortName=mqexchange
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Vhost",type=string,JSONPath=`.spec.vhost`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Exchange is a RabbitMQ exchange.
type Exchange struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec ExchangeSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ExchangeList is a list of Exchange.
type ExchangeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Exchange `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging,shortName=mqqueue
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Vhost",type=string,JSONPath=`.spec.vhost`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Queue is a RabbitMQ queue (classic, quorum or stream).
type Queue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec QueueSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// QueueList is a list of Queue.
type QueueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Queue `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging,shortName=mqbinding
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source`
// +kubebuilder:printcolumn:name="Destination",type=string,JSONPath=`.spec.destination`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Binding routes messages from an exchange to a queue or another exchange.
type Binding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec BindingSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BindingList is a list of Binding.
type BindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Binding `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging,shortName=mqpolicy
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Pattern",type=string,JSONPath=`.spec.pattern`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Policy is a RabbitMQ policy or operator policy.
type Policy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec PolicySpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status ManagedObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PolicyList is a list of Policy.
type PolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Policy `json:"items"`
}
