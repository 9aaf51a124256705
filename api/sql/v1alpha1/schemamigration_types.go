package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Approval says when a SchemaMigration's plan runs.
// +kubebuilder:validation:Enum=Automatic;Manual
type Approval string

const (
	// ApprovalAutomatic runs a plan as soon as it is computed.
	ApprovalAutomatic Approval = "Automatic"
	// ApprovalManual holds a plan in status until spec.approvedPlan equals its hash.
	ApprovalManual Approval = "Manual"
)

// ResolveAction says what to do with a blocked migration.
// +kubebuilder:validation:Enum=MarkApplied;Retry
type ResolveAction string

const (
	// ResolveMarkApplied records the blocked version as applied without running it again.
	ResolveMarkApplied ResolveAction = "MarkApplied"
	// ResolveRetry runs the blocked version again.
	ResolveRetry ResolveAction = "Retry"
)

// LocalReference names an object in the same namespace.
type LocalReference struct {
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// MigrationFile is one inline migration file.
type MigrationFile struct {
	// name is the file name as goose names it: a version, an underscore, a
	// description, .sql (00001_create_orders.sql).
	// +required
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[0-9]+_[A-Za-z0-9_.-]*\.sql$`
	Name string `json:"name"`
	// sql is the file's content, with its "-- +goose Up" and "-- +goose Down"
	// sections and, where needed, "-- +goose NO TRANSACTION".
	// +required
	// +kubebuilder:validation:MaxLength=262144
	SQL string `json:"sql"`
}

// MigrationResolve answers a blocked migration.
type MigrationResolve struct {
	// version is the blocked version.
	// +required
	// +kubebuilder:validation:Minimum=1
	Version int64 `json:"version"`
	// action: MarkApplied records it as applied (it was finished by hand);
	// Retry runs it again.
	// +required
	Action ResolveAction `json:"action"`
}

// SchemaMigrationSpec is the desired schema version of one database.
// +kubebuilder:validation:XValidation:rule="!has(self.targetVersion) || !has(self.baseline) || self.targetVersion >= self.baseline",message="targetVersion cannot be below baseline"
// +kubebuilder:validation:XValidation:rule="!has(self.approvedPlan) || self.approval == 'Manual'",message="approvedPlan is only used with approval: Manual"
type SchemaMigrationSpec struct {
	// databaseRef names the Database (in this namespace) to migrate; its server
	// follows. Immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="databaseRef is immutable"
	DatabaseRef LocalReference `json:"databaseRef"`
	// role the files run as (PostgreSQL: SET ROLE in the migration session):
	// defaults to the Database's spec.postgres.owner, else the admin login, so
	// that what the files create is owned by the database owner and the
	// default privileges of ReadOnly and ReadWrite users cover it. MySQL and
	// MariaDB run as the admin login and refuse a role.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[^\x00-\x1f\x7f]+$`
	Role string `json:"role,omitempty"`
	// configMaps hold migration files, one per key named as goose names them;
	// merged in order (a later file of the same name wins) so that a set
	// larger than one ConfigMap fits. Keys not ending in .sql are ignored.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	ConfigMaps []LocalReference `json:"configMaps,omitempty"`
	// files are inline migration files, merged after the ConfigMaps.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Files []MigrationFile `json:"files,omitempty"`
	// targetVersion is the version to reach; default: the latest file.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TargetVersion *int64 `json:"targetVersion,omitempty"`
	// allowDown lets a targetVersion below the current version run the down
	// sections of the files above it.
	// +optional
	AllowDown bool `json:"allowDown,omitempty"`
	// baseline adopts a database whose schema already exists at this version:
	// the files up to it are recorded as applied without running. Used only
	// when the database has no goose history yet.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Baseline int64 `json:"baseline,omitempty"`
	// approval: Automatic (default) runs a plan at once; Manual holds it in
	// status.plan until approvedPlan equals status.plan.hash.
	// +optional
	// +kubebuilder:default=Automatic
	Approval Approval `json:"approval,omitempty"`
	// approvedPlan is the hash of the plan approved to run (approval: Manual).
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{16}$`
	ApprovedPlan string `json:"approvedPlan,omitempty"`
	// acceptChecksums lists applied versions whose file changed on purpose:
	// the new checksum is recorded instead of refusing with ChecksumMismatch.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	AcceptChecksums []int64 `json:"acceptChecksums,omitempty"`
	// resolve answers a Blocked version: a file that failed and could not roll
	// back (MySQL and MariaDB DDL, NO TRANSACTION files).
	// +optional
	Resolve *MigrationResolve `json:"resolve,omitempty"`
	// managementPolicy: Manage (default) runs the plan; Observe only reports
	// the pending versions in status.drift.
	// +optional
	// +kubebuilder:default=Manage
	ManagementPolicy common.ManagementPolicy `json:"managementPolicy,omitempty"`
}

// AppliedMigration is one applied version.
type AppliedMigration struct {
	Version int64 `json:"version"`
	// checksum is the hex SHA-256 of the file when applied; empty when it was
	// applied outside the operator and has no file.
	// +optional
	Checksum string `json:"checksum,omitempty"`
	// appliedAt is when it was applied, when known.
	// +optional
	AppliedAt *metav1.Time `json:"appliedAt,omitempty"`
	// durationMs is how long it ran, in milliseconds (0 when adopted).
	// +optional
	DurationMs int64 `json:"durationMs,omitempty"`
}

// PlannedMigration is one file a plan runs.
type PlannedMigration struct {
	Version int64  `json:"version"`
	Name    string `json:"name"`
	// checksum is the hex SHA-256 of the file.
	Checksum string `json:"checksum"`
	// direction is up or down.
	Direction string `json:"direction"`
}

// MigrationPlan is what the next run does.
type MigrationPlan struct {
	// hash identifies the plan; approvedPlan must equal it (approval: Manual).
	Hash string `json:"hash"`
	// baseline is the version recorded without running files (0: none).
	// +optional
	Baseline int64 `json:"baseline,omitempty"`
	// migrations are the files to run, in order.
	// +optional
	Migrations []PlannedMigration `json:"migrations,omitempty"`
}

// SchemaMigrationStatus is the observed state of a SchemaMigration.
type SchemaMigrationStatus struct {
	common.ManagedStatus `json:",inline"`
	// currentVersion is the highest applied version (0: none).
	// +optional
	CurrentVersion int64 `json:"currentVersion,omitempty"`
	// applied lists the applied versions, oldest first (at most the last 256).
	// +optional
	Applied []AppliedMigration `json:"applied,omitempty"`
	// plan is what the next run does; empty when up to date.
	// +optional
	Plan *MigrationPlan `json:"plan,omitempty"`
	// lastError is the last failure, with the file, statement and server error.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;sql,shortName=sqlmig
// +kubebuilder:printcolumn:name="Database",type=string,JSONPath=`.spec.databaseRef.name`
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.status.currentVersion`
// +kubebuilder:printcolumn:name="Plan",type=string,JSONPath=`.status.plan.hash`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// SchemaMigration applies versioned SQL files (goose v3) to a Database.
// Deleting it never changes the database.
type SchemaMigration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec SchemaMigrationSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status SchemaMigrationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// SchemaMigrationList is a list of SchemaMigration.
type SchemaMigrationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SchemaMigration `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &SchemaMigration{}, &SchemaMigrationList{})
		return nil
	})
}
