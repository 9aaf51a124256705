package v1alpha1

import (
	"cmp"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// BackendName is the name of the Database object migrated; the backend
// database name is that object's.
func (m *SchemaMigration) BackendName() string { return m.Spec.DatabaseRef.Name }

// ManagedStatus returns the shared status block.
func (m *SchemaMigration) ManagedStatus() *common.ManagedStatus { return &m.Status.ManagedStatus }

// DeletionPolicy is always Retain: deleting a SchemaMigration never changes
// the database.
func (m *SchemaMigration) DeletionPolicy() common.DeletionPolicy { return common.DeletionRetain }

// ManagementPolicy defaults to Manage.
func (m *SchemaMigration) ManagementPolicy() common.ManagementPolicy {
	return cmp.Or(m.Spec.ManagementPolicy, common.ManagementManage)
}

// AdoptExisting is true: a database with goose history is migrated from
// where it stands (its checksums are recorded), never refused.
func (m *SchemaMigration) AdoptExisting() bool { return true }

// ClaimKey is the Database object's: one SchemaMigration per database.
func (m *SchemaMigration) ClaimKey() string {
	return "Database/" + m.Namespace + "/" + m.Spec.DatabaseRef.Name
}

// ApprovalMode defaults to Automatic.
func (m *SchemaMigration) ApprovalMode() Approval { return cmp.Or(m.Spec.Approval, ApprovalAutomatic) }
