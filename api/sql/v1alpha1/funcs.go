package v1alpha1

import (
	"cmp"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Key identifies the server a reference points at, from the namespace of the
// referring object: "DatabaseServer/<namespace>/<name>" or
// "ClusterDatabaseServer//<name>".
func (r ServerReference) Key(namespace string) string {
	if r.Kind == KindClusterDatabaseServer {
		return string(KindClusterDatabaseServer) + "//" + r.Name
	}
	return string(KindDatabaseServer) + "/" + namespace + "/" + r.Name
}

// ServerKey identifies this server the way ServerReference.Key does.
func (s *DatabaseServer) ServerKey() string {
	return string(KindDatabaseServer) + "/" + s.Namespace + "/" + s.Name
}

// ServerKey identifies this server the way ServerReference.Key does.
func (s *ClusterDatabaseServer) ServerKey() string {
	return string(KindClusterDatabaseServer) + "//" + s.Name
}

// EffectivePort returns the configured port or the engine's default.
func (s *DatabaseServerSpec) EffectivePort() int {
	if s.Port != 0 {
		return int(s.Port)
	}
	if s.Engine == EngineMySQL {
		return 3306
	}
	return 5432
}

// BackendName is spec.name, or metadata.name when unset.
func (d *Database) BackendName() string { return cmp.Or(d.Spec.Name, d.Name) }

// ManagedStatus returns the shared status block.
func (d *Database) ManagedStatus() *common.ManagedStatus { return &d.Status.ManagedStatus }

// DeletionPolicy defaults to Retain: a database holds data.
func (d *Database) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(d.Spec.DeletionPolicy, common.DeletionRetain)
}

// ManagementPolicy defaults to Manage.
func (d *Database) ManagementPolicy() common.ManagementPolicy {
	return cmp.Or(d.Spec.ManagementPolicy, common.ManagementManage)
}

// AdoptExisting reports spec.adoptExisting.
func (d *Database) AdoptExisting() bool { return d.Spec.AdoptExisting }

// ClaimKey is the server key plus the backend name.
func (d *Database) ClaimKey() string {
	return d.Spec.ServerRef.Key(d.Namespace) + "/" + d.BackendName()
}

// BackendName is spec.name, or metadata.name when unset.
func (u *DatabaseUser) BackendName() string { return cmp.Or(u.Spec.Name, u.Name) }

// ManagedStatus returns the shared status block.
func (u *DatabaseUser) ManagedStatus() *common.ManagedStatus { return &u.Status.ManagedStatus }

// DeletionPolicy defaults to Delete: a login is an access object.
func (u *DatabaseUser) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(u.Spec.DeletionPolicy, common.DeletionDelete)
}

// ManagementPolicy defaults to Manage.
func (u *DatabaseUser) ManagementPolicy() common.ManagementPolicy {
	return cmp.Or(u.Spec.ManagementPolicy, common.ManagementManage)
}

// AdoptExisting reports spec.adoptExisting.
func (u *DatabaseUser) AdoptExisting() bool { return u.Spec.AdoptExisting }

// ClaimKey is the server key plus the backend name.
func (u *DatabaseUser) ClaimKey() string {
	return u.Spec.ServerRef.Key(u.Namespace) + "/" + u.BackendName()
}

// ConnectionSecretName is spec.connectionSecret.name or "<name>-connection".
func (u *DatabaseUser) ConnectionSecretName() string {
	return cmp.Or(u.Spec.ConnectionSecret.Name, u.Name+"-connection")
}

// ServerSpec returns the spec shared by both server kinds.
func (s *DatabaseServer) ServerSpec() *DatabaseServerSpec { return &s.Spec }

// ServerStatus returns the status shared by both server kinds.
func (s *DatabaseServer) ServerStatus() *DatabaseServerStatus { return &s.Status }

// ServerSpec returns the spec shared by both server kinds.
func (s *ClusterDatabaseServer) ServerSpec() *DatabaseServerSpec { return &s.Spec.DatabaseServerSpec }

// ServerStatus returns the status shared by both server kinds.
func (s *ClusterDatabaseServer) ServerStatus() *DatabaseServerStatus { return &s.Status }

// Access says how to reach the server and who may use it.
func (s *DatabaseServer) Access() common.ServerAccess {
	return common.ServerAccess{Engine: string(s.Spec.Engine), Credentials: s.Spec.AdminCredentials, TLS: s.Spec.TLS}
}

// Access says how to reach the server and who may use it.
func (s *ClusterDatabaseServer) Access() common.ServerAccess {
	return common.ServerAccess{Engine: string(s.Spec.Engine), Credentials: s.Spec.AdminCredentials, TLS: s.Spec.TLS,
		Cluster: true, AllowedNamespaces: s.Spec.AllowedNamespaces}
}

// CommonStatus returns the status every server kind shares.
func (s *DatabaseServer) CommonStatus() *common.ServerStatus { return &s.Status.ServerStatus }

// CommonStatus returns the status every server kind shares.
func (s *ClusterDatabaseServer) CommonStatus() *common.ServerStatus { return &s.Status.ServerStatus }

// Login returns the login status block.
func (u *DatabaseUser) Login() *common.LoginStatus { return &u.Status.LoginStatus }

// PasswordRef is spec.passwordSecretRef.
func (u *DatabaseUser) PasswordRef() *common.SecretKeyReference { return u.Spec.PasswordSecretRef }

// RotationSpec is spec.rotation: nil when the password is not rotated.
func (u *DatabaseUser) RotationSpec() *common.Rotation { return u.Spec.Rotation }

// ConnectionSecretSpec is spec.connectionSecret.
func (u *DatabaseUser) ConnectionSecretSpec() common.ConnectionSecret { return u.Spec.ConnectionSecret }
