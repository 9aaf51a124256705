package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// AccessPreset is a named bundle of privileges on a database.
// +kubebuilder:validation:Enum=ReadOnly;ReadWrite;All
type AccessPreset string

const (
	AccessReadOnly  AccessPreset = "ReadOnly"
	AccessReadWrite AccessPreset = "ReadWrite"
	AccessAll       AccessPreset = "All"
)

// Grant gives the user privileges in one database: a preset, or explicit
// privileges on the database, a schema or named tables.
// +kubebuilder:validation:XValidation:rule="has(self.access) != has(self.privileges)",message="set exactly one of access or privileges"
// +kubebuilder:validation:XValidation:rule="!has(self.tables) || has(self.privileges)",message="tables take explicit privileges, not an access preset"
type Grant struct {
	// database the grant applies to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]+$`
	Database string `json:"database"`
	// access preset: ReadOnly, ReadWrite or All. It covers the database, its
	// schemas (or only schema, when set), every table and sequence in them, and
	// default privileges for objects the database owner creates later.
	// +optional
	Access AccessPreset `json:"access,omitempty"`
	// schema narrows the grant to one schema.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]+$`
	Schema string `json:"schema,omitempty"`
	// tables narrows explicit privileges to these tables (in schema, default public).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[^\x00-\x1f\x7f]+$`
	Tables []string `json:"tables,omitempty"`
	// privileges to grant, upper case, such as SELECT or CONNECT. Which ones
	// apply depends on the target and the engine; unknown ones are reported.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[A-Z][A-Z ]{1,30}$`
	Privileges []string `json:"privileges,omitempty"`
}

// DatabaseUserSpec is the desired state of a login on a SQL server.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name is immutable"
// +kubebuilder:validation:XValidation:rule="!has(self.passwordSecretRef) || !has(self.rotation) || !has(self.rotation.every)",message="rotation.every cannot be used with passwordSecretRef: the referenced Secret decides the password, and changing it rotates"
type DatabaseUserSpec struct {
	// serverRef names the server; immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="serverRef is immutable"
	ServerRef ServerReference `json:"serverRef"`
	// name of the login on the server; defaults to metadata.name; immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	Name string `json:"name,omitempty"`
	// deletionPolicy: Delete (default) revokes the grants and drops the login when
	// this object is deleted; Retain keeps it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
	// managementPolicy: Manage (default) creates and repairs; Observe only reports.
	// +optional
	// +kubebuilder:default=Manage
	ManagementPolicy common.ManagementPolicy `json:"managementPolicy,omitempty"`
	// adoptExisting lets this object take over a login that already exists and was
	// not created by it. Its password, attributes and grants are then replaced.
	// +optional
	AdoptExisting bool `json:"adoptExisting,omitempty"`
	// passwordSecretRef takes the password from a Secret key (default key
	// password) in the same namespace; without it a password is generated.
	// +optional
	PasswordSecretRef *common.SecretKeyReference `json:"passwordSecretRef,omitempty"`
	// rotation replaces the password on a schedule or on demand without a
	// failed login: the next credential is set on the server, published in
	// the connection Secret, rolled out, and only then the previous one is
	// retired. See docs/rotation.md.
	// +optional
	Rotation *common.Rotation `json:"rotation,omitempty"`
	// connectionLimit caps concurrent sessions; -1 (default) means no limit.
	// +optional
	// +kubebuilder:default=-1
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:Maximum=100000
	ConnectionLimit int32 `json:"connectionLimit,omitempty"`
	// memberOf lists roles the login is a member of; authoritative. PostgreSQL
	// only: on MySQL and MariaDB a non-empty list is reported as InvalidSpec.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[^\x00-\x1f\x7f]+$`
	MemberOf []string `json:"memberOf,omitempty"`
	// grants are the privileges the login holds; the set is authoritative:
	// privileges it holds in any database beyond these are revoked.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Grants []Grant `json:"grants,omitempty"`
	// connectionSecret is the Secret written for applications. The database key
	// is the first grant's database.
	// +optional
	ConnectionSecret common.ConnectionSecret `json:"connectionSecret,omitempty"`
	// postgres holds PostgreSQL-only role attributes.
	// +optional
	Postgres *PostgresUserSpec `json:"postgres,omitempty"`
	// mysql holds MySQL and MariaDB-only account settings.
	// +optional
	MySQL *MySQLUserSpec `json:"mysql,omitempty"`
}

// MySQLUserSpec holds MySQL and MariaDB-only account settings.
type MySQLUserSpec struct {
	// host is the account host pattern ('name'@'host'), such as % (any host,
	// the default), 10.0.% or an address; immutable, since it is part of the
	// account name.
	// +optional
	// +kubebuilder:default="%"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9.%_:/-]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.mysql.host is immutable"
	Host string `json:"host,omitempty"`
	// requireTLS refuses the account's unencrypted logins (REQUIRE SSL).
	// +optional
	RequireTLS bool `json:"requireTLS,omitempty"`
}

// PostgresUserSpec holds PostgreSQL-only role attributes.
type PostgresUserSpec struct {
	// createDB lets the role create databases.
	// +optional
	CreateDB bool `json:"createDB,omitempty"`
	// createRole lets the role create roles.
	// +optional
	CreateRole bool `json:"createRole,omitempty"`
}

// DatabaseUserStatus is the observed state of a DatabaseUser.
type DatabaseUserStatus struct {
	common.ManagedStatus `json:",inline"`
	common.LoginStatus   `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;sql,shortName=dbuser
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.binding.name`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// DatabaseUser is a login with grants on a SQL server.
type DatabaseUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec DatabaseUserSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status DatabaseUserStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DatabaseUserList is a list of DatabaseUser.
type DatabaseUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DatabaseUser `json:"items"`
}
