package v1alpha1

import (
	"cmp"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Key identifies the server a reference points at, from the namespace of the
// referring object: "CacheServer/<namespace>/<name>" or "ClusterCacheServer//<name>".
func (r ServerReference) Key(namespace string) string {
	if r.Kind == KindClusterCacheServer {
		return string(KindClusterCacheServer) + "//" + r.Name
	}
	return string(KindCacheServer) + "/" + namespace + "/" + r.Name
}

// ServerKey identifies this server the way ServerReference.Key does.
func (s *CacheServer) ServerKey() string {
	return string(KindCacheServer) + "/" + s.Namespace + "/" + s.Name
}

// ServerKey identifies this server the way ServerReference.Key does.
func (s *ClusterCacheServer) ServerKey() string {
	return string(KindClusterCacheServer) + "//" + s.Name
}

// ServerSpec returns the spec shared by both server kinds.
func (s *CacheServer) ServerSpec() *CacheServerSpec { return &s.Spec }

// ServerStatus returns the status shared by both server kinds.
func (s *CacheServer) ServerStatus() *CacheServerStatus { return &s.Status }

// ServerSpec returns the spec shared by both server kinds.
func (s *ClusterCacheServer) ServerSpec() *CacheServerSpec { return &s.Spec.CacheServerSpec }

// ServerStatus returns the status shared by both server kinds.
func (s *ClusterCacheServer) ServerStatus() *CacheServerStatus { return &s.Status }

// EffectivePort returns the node's port or 6379.
func (n Node) EffectivePort() int {
	if n.Port != 0 {
		return int(n.Port)
	}
	return 6379
}

// BackendName is spec.name, or metadata.name when unset.
func (u *CacheUser) BackendName() string { return cmp.Or(u.Spec.Name, u.Name) }

// ManagedStatus returns the shared status block.
func (u *CacheUser) ManagedStatus() *common.ManagedStatus { return &u.Status.ManagedStatus }

// DeletionPolicy defaults to Delete: an ACL user is an access object.
func (u *CacheUser) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(u.Spec.DeletionPolicy, common.DeletionDelete)
}

// ManagementPolicy defaults to Manage.
func (u *CacheUser) ManagementPolicy() common.ManagementPolicy {
	return cmp.Or(u.Spec.ManagementPolicy, common.ManagementManage)
}

// AdoptExisting reports spec.adoptExisting.
func (u *CacheUser) AdoptExisting() bool { return u.Spec.AdoptExisting }

// ClaimKey is the server key plus the backend name.
func (u *CacheUser) ClaimKey() string {
	return u.Spec.ServerRef.Key(u.Namespace) + "/" + u.BackendName()
}

// Enabled reports spec.enabled, true when unset.
func (u *CacheUser) Enabled() bool { return u.Spec.Enabled == nil || *u.Spec.Enabled }

// ConnectionSecretName is spec.connectionSecret.name or "<name>-connection".
func (u *CacheUser) ConnectionSecretName() string {
	return cmp.Or(u.Spec.ConnectionSecret.Name, u.Name+"-connection")
}

// Access says how to reach the server and who may use it.
func (s *CacheServer) Access() common.ServerAccess {
	return common.ServerAccess{Engine: string(s.Spec.Engine), Credentials: s.Spec.AdminCredentials, TLS: s.Spec.TLS}
}

// Access says how to reach the server and who may use it.
func (s *ClusterCacheServer) Access() common.ServerAccess {
	return common.ServerAccess{Engine: string(s.Spec.Engine), Credentials: s.Spec.AdminCredentials, TLS: s.Spec.TLS,
		Cluster: true, AllowedNamespaces: s.Spec.AllowedNamespaces}
}

// CommonStatus returns the status every server kind shares.
func (s *CacheServer) CommonStatus() *common.ServerStatus { return &s.Status.ServerStatus }

// CommonStatus returns the status every server kind shares.
func (s *ClusterCacheServer) CommonStatus() *common.ServerStatus { return &s.Status.ServerStatus }

// Login returns the login status block.
func (u *CacheUser) Login() *common.LoginStatus { return &u.Status.LoginStatus }

// PasswordRef is spec.passwordSecretRef.
func (u *CacheUser) PasswordRef() *common.SecretKeyReference { return u.Spec.PasswordSecretRef }

// RotationSpec is spec.rotation: nil when the password is not rotated.
func (u *CacheUser) RotationSpec() *common.Rotation { return u.Spec.Rotation }

// ConnectionSecretSpec is spec.connectionSecret.
func (u *CacheUser) ConnectionSecretSpec() common.ConnectionSecret { return u.Spec.ConnectionSecret }
