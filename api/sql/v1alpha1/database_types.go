package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// DatabaseSpec is the desired state of a database on a server.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name is immutable"
type DatabaseSpec struct {
	// serverRef names the server; immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="serverRef is immutable"
	ServerRef ServerReference `json:"serverRef"`
	// name of the database on the server; defaults to metadata.name; immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	Name string `json:"name,omitempty"`
	// deletionPolicy: Retain (default) keeps the database and its data when this
	// object is deleted; Delete drops it.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
	// managementPolicy: Manage (default) creates and repairs; Observe only reports.
	// +optional
	// +kubebuilder:default=Manage
	ManagementPolicy common.ManagementPolicy `json:"managementPolicy,omitempty"`
	// adoptExisting lets this object take over a database that already exists
	// and was not created by it.
	// +optional
	AdoptExisting bool `json:"adoptExisting,omitempty"`
	// postgres holds PostgreSQL-only settings.
	// +optional
	Postgres *PostgresDatabaseSpec `json:"postgres,omitempty"`
	// mysql holds MySQL and MariaDB-only settings.
	// +optional
	MySQL *MySQLDatabaseSpec `json:"mysql,omitempty"`
}

// MySQLDatabaseSpec holds MySQL and MariaDB-only database settings. Both are
// repaired when changed out of band (ALTER DATABASE); changing them does not
// convert existing tables.
type MySQLDatabaseSpec struct {
	// characterSet is the database default character set, such as utf8mb4;
	// empty keeps the server default.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_]+$`
	CharacterSet string `json:"characterSet,omitempty"`
	// collation is the database default collation, such as utf8mb4_unicode_ci;
	// empty keeps the default of the character set.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_]+$`
	Collation string `json:"collation,omitempty"`
}

// PostgresDatabaseSpec holds PostgreSQL-only database settings.
type PostgresDatabaseSpec struct {
	// owner is the role that owns the database and its schemas; defaults to the
	// admin login. The role must exist (for example from a DatabaseUser).
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]+$`
	Owner string `json:"owner,omitempty"`
	// encoding at creation, such as UTF8; immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="encoding is immutable"
	Encoding string `json:"encoding,omitempty"`
	// locale at creation (LC_COLLATE and LC_CTYPE), such as C.UTF-8; immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.@-]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="locale is immutable"
	Locale string `json:"locale,omitempty"`
	// template database to copy at creation; immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="template is immutable"
	Template string `json:"template,omitempty"`
	// schemas that must exist, owned by the database owner. Removing one from the
	// list stops managing it; it is never dropped.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[^\x00-\x1f\x7f]+$`
	Schemas []string `json:"schemas,omitempty"`
	// extensions that must be installed. Removing one stops managing it.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9_-]+$`
	Extensions []string `json:"extensions,omitempty"`
}

// DatabaseStatus is the observed state of a Database.
type DatabaseStatus struct {
	common.ManagedStatus `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;sql,shortName=sqldb
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Backend Name",type=string,JSONPath=`.status.backendName`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Database is a database on a SQL server.
type Database struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec DatabaseSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status DatabaseStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DatabaseList is a list of Database.
type DatabaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Database `json:"items"`
}
