package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Engine names a messaging engine.
// +kubebuilder:validation:Enum=rabbitmq
type Engine string

// EngineRabbitMQ is RabbitMQ 3.x and 4.x, through its management API.
const EngineRabbitMQ Engine = "rabbitmq"

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

// MessagingServerSpec describes an existing broker and how to log in to it.
// +kubebuilder:validation:XValidation:rule="self.engine != 'rabbitmq' || has(self.rabbitmq)",message="spec.rabbitmq is required with engine rabbitmq"
type MessagingServerSpec struct {
	// engine is rabbitmq; immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="engine is immutable"
	Engine Engine `json:"engine"`
	// rabbitmq holds the RabbitMQ endpoints.
	// +optional
	RabbitMQ *RabbitMQServerSpec `json:"rabbitmq,omitempty"`
	// adminCredentials name the Secret with the login the operator uses: a
	// user tagged administrator (keys username and password).
	// +required
	AdminCredentials common.AdminCredentials `json:"adminCredentials"`
	// tls secures the connection to the management API.
	// +optional
	TLS *common.TLS `json:"tls,omitempty"`
	// maxConnections bounds the management requests the operator has in
	// flight to this server at once.
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
