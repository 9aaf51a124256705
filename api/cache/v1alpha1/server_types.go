package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Engine names a cache engine.
// +kubebuilder:validation:Enum=redis
type Engine string

// EngineRedis covers Redis 7+ and Valkey, which speaks the same protocol.
const EngineRedis Engine = "redis"

// Node is the address of one server process.
type Node struct {
	// host name or IP address of the node.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[^\s/@]+$`
	Host string `json:"host"`
	// port of the node; defaults to 6379.
	// +optional
	// +kubebuilder:default=6379
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
}

// CacheServerSpec describes an existing Redis or Valkey deployment and how to
// log in to it.
type CacheServerSpec struct {
	// engine is redis, which also covers Valkey.
	// +optional
	// +kubebuilder:default=redis
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="engine is immutable"
	Engine Engine `json:"engine,omitempty"`
	// nodes are the server processes. ACLs do not replicate, so every user is
	// applied to each node; list the primary and every replica. The first node
	// is the one published in connection Secrets.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Nodes []Node `json:"nodes"`
	// adminCredentials name the Secret with the login the operator uses: an ACL
	// user allowed to run ACL and CONFIG GET (keys username and password), or
	// only a password for the default user (leave the username key out).
	// +required
	AdminCredentials common.AdminCredentials `json:"adminCredentials"`
	// tls secures the connections to the nodes.
	// +optional
	TLS *common.TLS `json:"tls,omitempty"`
	// maxConnections bounds the connections the operator opens to each node.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxConnections int32 `json:"maxConnections,omitempty"`
}

// NodeStatus is what the operator found on one node.
type NodeStatus struct {
	// address is host:port.
	Address string `json:"address"`
	// version is the server version the node reported.
	// +optional
	Version string `json:"version,omitempty"`
	// aclFile is true when the node keeps its users in an ACL file; the
	// operator then runs ACL SAVE after each change.
	// +optional
	ACLFile bool `json:"aclFile,omitempty"`
}

// CacheServerStatus reports what the operator found on the server.
type CacheServerStatus struct {
	common.ServerStatus `json:",inline"`
	// version is the server version of the first node.
	// +optional
	Version string `json:"version,omitempty"`
	// flavor is the server product, Redis or Valkey.
	// +optional
	Flavor string `json:"flavor,omitempty"`
	// nodes lists each node as last seen.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Nodes []NodeStatus `json:"nodes,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;cache,shortName=cachesrv
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine`
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.nodes[0].host`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CacheServer is an existing Redis or Valkey deployment that objects in its
// namespace can use.
type CacheServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec CacheServerSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status CacheServerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CacheServerList is a list of CacheServer.
type CacheServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CacheServer `json:"items"`
}

// ClusterCacheServerSpec is a CacheServerSpec shared across namespaces.
// +kubebuilder:validation:XValidation:rule="size(self.adminCredentials.secretRef.namespace) > 0",message="adminCredentials.secretRef.namespace is required on a cluster-scoped server"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || !has(self.tls.caSecretRef) || size(self.tls.caSecretRef.namespace) > 0",message="tls.caSecretRef.namespace is required on a cluster-scoped server"
type ClusterCacheServerSpec struct {
	CacheServerSpec `json:",inline"`
	// allowedNamespaces admits namespaces whose objects may use this server.
	// Without it no namespace is admitted.
	// +optional
	AllowedNamespaces *common.AllowedNamespaces `json:"allowedNamespaces,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=backend;cache,shortName=ccachesrv
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine`
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.nodes[0].host`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterCacheServer is an existing Redis or Valkey deployment shared by the
// namespaces it admits.
type ClusterCacheServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ClusterCacheServerSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status CacheServerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterCacheServerList is a list of ClusterCacheServer.
type ClusterCacheServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterCacheServer `json:"items"`
}

// ServerKind names the kind a serverRef points at.
// +kubebuilder:validation:Enum=CacheServer;ClusterCacheServer
type ServerKind string

const (
	KindCacheServer        ServerKind = "CacheServer"
	KindClusterCacheServer ServerKind = "ClusterCacheServer"
)

// ServerReference names the server a user lives on: a CacheServer in the same
// namespace or a ClusterCacheServer that admits the namespace.
type ServerReference struct {
	// kind is CacheServer (default) or ClusterCacheServer.
	// +optional
	// +kubebuilder:default=CacheServer
	Kind ServerKind `json:"kind,omitempty"`
	// name of the server object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}
