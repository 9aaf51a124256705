package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Engine names a messaging engine.
// +kubebuilder:validation:Enum=rabbitmq;nats
type Engine string

const (
	// EngineRabbitMQ is RabbitMQ 3.x and 4.x, through its management API.
	EngineRabbitMQ Engine = "rabbitmq"
	// EngineNATS is NATS 2.10+ with JetStream, through its JetStream API.
	EngineNATS Engine = "nats"
)

// RabbitMQServerSpec says how to reach a RabbitMQ deployment.
type RabbitMQServerSpec struct {
	// managementURL is the base URL of the management API, such as
	// http://rabbitmq.messaging.svc:15672 (https:// with spec.tls).
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#@]+(:[0-9]+)?(/[^\s?#]*)?$`
	ManagementURL string `json:"managementURL"`
	// amqp is the AMQP endpoint published to applications in connection
	// Secrets; the host defaults to the management URL's host.
	// +optional
	AMQP AMQPEndpoint `json:"amqp,omitempty"`
}

// AMQPEndpoint is where applications connect.
type AMQPEndpoint struct {
	// host name or IP address applications connect to.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[^\s/@:]+$`
	Host string `json:"host,omitempty"`
	// port; defaults to 5672, or 5671 with tls.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
	// tls publishes amqps:// URIs.
	// +optional
	TLS bool `json:"tls,omitempty"`
}

// NATSServerSpec says how to reach a NATS deployment with JetStream.
type NATSServerSpec struct {
	// servers are the client URLs, nats://host:port or tls://host:port
	// (tls:// needs spec.tls); the operator tries them in turn and follows
	// the cluster's gossip. Credentials never go in a URL: see
	// adminCredentials.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=512
	// +kubebuilder:validation:items:Pattern=`^(nats|tls)://[^\s/?#@]+(:[0-9]+)?/?$`
	Servers []string `json:"servers"`
	// domain is the JetStream domain the operator works in (NACK's
	// jsDomain); empty for the server's own.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^.*>/\\\s\x00-\x1f\x7f]+$`
	Domain string `json:"domain,omitempty"`
}

// MessagingServerSpec describes an existing broker and how to log in to it.
// +kubebuilder:validation:XValidation:rule="self.engine != 'rabbitmq' || has(self.rabbitmq)",message="spec.rabbitmq is required with engine rabbitmq"
// +kubebuilder:validation:XValidation:rule="self.engine != 'nats' || has(self.nats)",message="spec.nats is required with engine nats"
// +kubebuilder:validation:XValidation:rule="self.engine == 'rabbitmq' || !has(self.rabbitmq)",message="spec.rabbitmq goes with engine rabbitmq only"
// +kubebuilder:validation:XValidation:rule="self.engine == 'nats' || !has(self.nats)",message="spec.nats goes with engine nats only"
type MessagingServerSpec struct {
	// engine is rabbitmq or nats; immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="engine is immutable"
	Engine Engine `json:"engine"`
	// rabbitmq holds the RabbitMQ endpoints.
	// +optional
	RabbitMQ *RabbitMQServerSpec `json:"rabbitmq,omitempty"`
	// nats holds the NATS server URLs and JetStream domain.
	// +optional
	NATS *NATSServerSpec `json:"nats,omitempty"`
	// adminCredentials name the Secret with the login the operator uses.
	// RabbitMQ: a user tagged administrator (keys username and password).
	// NATS: one of username and password, token, nkeySeed (a user NKey
	// seed, SU...) or creds (the contents of a creds file: user JWT and
	// seed); a Secret with none of them connects without authentication.
	// +required
	AdminCredentials common.AdminCredentials `json:"adminCredentials"`
	// tls secures the connection to the management API (RabbitMQ) or the
	// client port (NATS), with an optional client certificate.
	// +optional
	TLS *common.TLS `json:"tls,omitempty"`
	// maxConnections bounds the management requests (RabbitMQ) or JetStream
	// API requests (NATS, over one connection) the operator has in flight
	// to this server at once.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxConnections int32 `json:"maxConnections,omitempty"`
}

// MessagingServerStatus reports what the operator found on the server.
type MessagingServerStatus struct {
	common.ServerStatus `json:",inline"`
	// product is the broker, such as RabbitMQ.
	// +optional
	Product string `json:"product,omitempty"`
	// version is the broker's version.
	// +optional
	Version string `json:"version,omitempty"`
	// erlangVersion is the Erlang/OTP version RabbitMQ runs on.
	// +optional
	ErlangVersion string `json:"erlangVersion,omitempty"`
	// clusterName is the broker's cluster name.
	// +optional
	ClusterName string `json:"clusterName,omitempty"`
	// jetStream is the JetStream account the NATS login works in: its
	// limits and usage at the last check.
	// +optional
	JetStream *JetStreamAccount `json:"jetStream,omitempty"`
}

// JetStreamAccount is what a NATS account's JetStream reports.
type JetStreamAccount struct {
	// domain is the JetStream domain that answered.
	// +optional
	Domain string `json:"domain,omitempty"`
	// limits of the account; -1 is unlimited.
	Limits JetStreamLimits `json:"limits"`
	// usage of the account when usageCheckedAt says. It is refreshed about
	// every 5 minutes, not at every check: a change to the server's status
	// wakes every object on the server.
	Usage JetStreamUsage `json:"usage"`
	// usageCheckedAt is when usage was read.
	// +optional
	UsageCheckedAt *metav1.Time `json:"usageCheckedAt,omitempty"`
}

// JetStreamLimits are an account's JetStream limits; -1 is unlimited.
type JetStreamLimits struct {
	// maxMemory is the memory storage the account may use, in bytes.
	MaxMemory int64 `json:"maxMemory"`
	// maxStorage is the file storage the account may use, in bytes.
	MaxStorage int64 `json:"maxStorage"`
	// maxStreams is the most streams (buckets included) the account may hold.
	MaxStreams int64 `json:"maxStreams"`
	// maxConsumers is the most consumers the account may hold.
	MaxConsumers int64 `json:"maxConsumers"`
}

// JetStreamUsage is what an account's JetStream uses.
type JetStreamUsage struct {
	// memory is the memory storage used, in bytes.
	Memory int64 `json:"memory"`
	// storage is the file storage used, in bytes.
	Storage int64 `json:"storage"`
	// streams is the number of streams, buckets included.
	Streams int64 `json:"streams"`
	// consumers is the number of consumers.
	Consumers int64 `json:"consumers"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging,shortName=msgsrv
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MessagingServer is an existing broker that objects in its namespace can use.
type MessagingServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec MessagingServerSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status MessagingServerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// MessagingServerList is a list of MessagingServer.
type MessagingServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MessagingServer `json:"items"`
}

// ClusterMessagingServerSpec is a MessagingServerSpec shared across namespaces.
// +kubebuilder:validation:XValidation:rule="size(self.adminCredentials.secretRef.namespace) > 0",message="adminCredentials.secretRef.namespace is required on a cluster-scoped server"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || !has(self.tls.caSecretRef) || size(self.tls.caSecretRef.namespace) > 0",message="tls.caSecretRef.namespace is required on a cluster-scoped server"
type ClusterMessagingServerSpec struct {
	MessagingServerSpec `json:",inline"`
	// allowedNamespaces admits namespaces whose objects may use this server.
	// Without it no namespace is admitted.
	// +optional
	AllowedNamespaces *common.AllowedNamespaces `json:"allowedNamespaces,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=backend;messaging,shortName=cmsgsrv
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterMessagingServer is an existing broker shared by the namespaces it admits.
type ClusterMessagingServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ClusterMessagingServerSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status MessagingServerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterMessagingServerList is a list of ClusterMessagingServer.
type ClusterMessagingServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterMessagingServer `json:"items"`
}

// ServerKind names the kind a serverRef points at.
// +kubebuilder:validation:Enum=MessagingServer;ClusterMessagingServer
type ServerKind string

const (
	KindMessagingServer        ServerKind = "MessagingServer"
	KindClusterMessagingServer ServerKind = "ClusterMessagingServer"
)

// ServerReference names the broker an object lives on: a MessagingServer in
// the same namespace or a ClusterMessagingServer that admits the namespace.
type ServerReference struct {
	// kind is MessagingServer (default) or ClusterMessagingServer.
	// +optional
	// +kubebuilder:default=MessagingServer
	Kind ServerKind `json:"kind,omitempty"`
	// name of the server object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Common is the part of the spec every managed messaging kind shares.
type Common struct {
	// serverRef names the broker; immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="serverRef is immutable"
	ServerRef ServerReference `json:"serverRef"`
	// managementPolicy: Manage (default) creates and repairs; Observe only reports.
	// +optional
	// +kubebuilder:default=Manage
	ManagementPolicy common.ManagementPolicy `json:"managementPolicy,omitempty"`
	// adoptExisting lets this object take over a backend object that already
	// exists and was not created by it.
	// +optional
	AdoptExisting bool `json:"adoptExisting,omitempty"`
}
