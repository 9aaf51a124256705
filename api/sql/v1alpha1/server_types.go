package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Engine names a SQL engine.
// +kubebuilder:validation:Enum=postgres;mysql
type Engine string

const (
	EnginePostgres Engine = "postgres"
	EngineMySQL    Engine = "mysql"
)

// DatabaseServerSpec describes an existing SQL server and how to log in to it.
type DatabaseServerSpec struct {
	// engine is postgres or mysql (mysql also covers MariaDB).
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="engine is immutable"
	Engine Engine `json:"engine"`
	// host name or IP address of the server.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`
	// port of the server; defaults to 5432 for postgres and 3306 for mysql.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
	// adminCredentials name the Secret with the login the operator uses.
	// +required
	AdminCredentials common.AdminCredentials `json:"adminCredentials"`
	// tls secures the connection to the server.
	// +optional
	TLS *common.TLS `json:"tls,omitempty"`
	// maxConnections bounds the connections the operator opens to this server.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxConnections int32 `json:"maxConnections,omitempty"`
	// postgres holds PostgreSQL-only settings.
	// +optional
	Postgres *PostgresServerSpec `json:"postgres,omitempty"`
}

// PostgresServerSpec holds PostgreSQL-only server settings.
type PostgresServerSpec struct {
	// adminDatabase is the database the operator connects to for cluster-wide work.
	// +optional
	// +kubebuilder:default=postgres
	// +kubebuilder:validation:MaxLength=63
	AdminDatabase string `json:"adminDatabase,omitempty"`
}

// DatabaseServerStatus reports what the operator found on the server.
type DatabaseServerStatus struct {
	common.ServerStatus `json:",inline"`
	// version is the server's version string.
	// +optional
	Version string `json:"version,omitempty"`
	// flavor is the server product, such as PostgreSQL or MariaDB.
	// +optional
	Flavor string `json:"flavor,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;sql,shortName=dbsrv
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine`
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.host`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DatabaseServer is an existing SQL server that objects in its namespace can use.
type DatabaseServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec DatabaseServerSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status DatabaseServerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DatabaseServerList is a list of DatabaseServer.
type DatabaseServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DatabaseServer `json:"items"`
}

// ClusterDatabaseServerSpec is a DatabaseServerSpec shared across namespaces.
// +kubebuilder:validation:XValidation:rule="size(self.adminCredentials.secretRef.namespace) > 0",message="adminCredentials.secretRef.namespace is required on a cluster-scoped server"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || !has(self.tls.caSecretRef) || size(self.tls.caSecretRef.namespace) > 0",message="tls.caSecretRef.namespace is required on a cluster-scoped server"
type ClusterDatabaseServerSpec struct {
	DatabaseServerSpec `json:",inline"`
	// allowedNamespaces admits namespaces whose objects may use this server.
	// Without it no namespace is admitted.
	// +optional
	AllowedNamespaces *common.AllowedNamespaces `json:"allowedNamespaces,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=backend;sql,shortName=cdbsrv
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine`
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.host`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterDatabaseServer is an existing SQL server shared by the namespaces it admits.
type ClusterDatabaseServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec ClusterDatabaseServerSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status DatabaseServerStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterDatabaseServerList is a list of ClusterDatabaseServer.
type ClusterDatabaseServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterDatabaseServer `json:"items"`
}
