package v1alpha1

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Key identifies the server a reference points at, from the namespace of the
// referring object: "MessagingServer/<namespace>/<name>" or
// "ClusterMessagingServer//<name>".
func (r ServerReference) Key(namespace string) string {
	if r.Kind == KindClusterMessagingServer {
		return string(KindClusterMessagingServer) + "//" + r.Name
	}
	return string(KindMessagingServer) + "/" + namespace + "/" + r.Name
}

// ServerKey identifies this server the way ServerReference.Key does.
func (s *MessagingServer) ServerKey() string {
	return string(KindMessagingServer) + "/" + s.Namespace + "/" + s.Name
}

// ServerKey identifies this server the way ServerReference.Key does.
func (s *ClusterMessagingServer) ServerKey() string {
	return string(KindClusterMessagingServer) + "//" + s.Name
}

// ServerSpec returns the spec shared by both server kinds.
func (s *MessagingServer) ServerSpec() *MessagingServerSpec { return &s.Spec }

// ServerSpec returns the spec shared by both server kinds.
func (s *ClusterMessagingServer) ServerSpec() *MessagingServerSpec {
	return &s.Spec.MessagingServerSpec
}

// ServerStatus returns the status shared by both server kinds.
func (s *MessagingServer) ServerStatus() *MessagingServerStatus { return &s.Status }

// ServerStatus returns the status shared by both server kinds.
func (s *ClusterMessagingServer) ServerStatus() *MessagingServerStatus { return &s.Status }

// Access says how to reach the server and who may use it.
func (s *MessagingServer) Access() common.ServerAccess {
	return common.ServerAccess{Engine: string(s.Spec.Engine), Credentials: s.Spec.AdminCredentials, TLS: s.Spec.TLS}
}

// Access says how to reach the server and who may use it.
func (s *ClusterMessagingServer) Access() common.ServerAccess {
	return common.ServerAccess{Engine: string(s.Spec.Engine), Credentials: s.Spec.AdminCredentials, TLS: s.Spec.TLS,
		Cluster: true, AllowedNamespaces: s.Spec.AllowedNamespaces}
}

// CommonStatus returns the status every server kind shares.
func (s *MessagingServer) CommonStatus() *common.ServerStatus { return &s.Status.ServerStatus }

// CommonStatus returns the status every server kind shares.
func (s *ClusterMessagingServer) CommonStatus() *common.ServerStatus { return &s.Status.ServerStatus }

// managementPolicy defaults to Manage.
func (c *Common) managementPolicy() common.ManagementPolicy {
	return cmp.Or(c.ManagementPolicy, common.ManagementManage)
}

// claim is the claim key of a backend object called name on c's server.
func (c *Common) claim(namespace string, parts ...string) string {
	key := c.ServerRef.Key(namespace)
	for _, p := range parts {
		key += "/" + p
	}
	return key
}

// VhostName is spec.vhost, "/" when unset.
func (v VhostRef) VhostName() string { return cmp.Or(v.Vhost, "/") }

// BackendName is spec.name, or metadata.name when unset.
func (v *Vhost) BackendName() string { return cmp.Or(v.Spec.Name, v.Name) }

// ManagedStatus returns the shared status block.
func (v *Vhost) ManagedStatus() *common.ManagedStatus { return &v.Status.ManagedStatus }

// DeletionPolicy defaults to Retain: a vhost holds queues and messages.
func (v *Vhost) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(v.Spec.DeletionPolicy, common.DeletionRetain)
}

// ManagementPolicy defaults to Manage.
func (v *Vhost) ManagementPolicy() common.ManagementPolicy { return v.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (v *Vhost) AdoptExisting() bool { return v.Spec.AdoptExisting }

// ClaimKey is the server key plus the vhost name.
func (v *Vhost) ClaimKey() string { return v.Spec.claim(v.Namespace, v.BackendName()) }

// BackendName is spec.name, or metadata.name when unset.
func (e *Exchange) BackendName() string { return cmp.Or(e.Spec.Name, e.Name) }

// ManagedStatus returns the shared status block.
func (e *Exchange) ManagedStatus() *common.ManagedStatus { return &e.Status.ManagedStatus }

// DeletionPolicy defaults to Retain: deleting an exchange breaks its publishers.
func (e *Exchange) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(e.Spec.DeletionPolicy, common.DeletionRetain)
}

// ManagementPolicy defaults to Manage.
func (e *Exchange) ManagementPolicy() common.ManagementPolicy { return e.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (e *Exchange) AdoptExisting() bool { return e.Spec.AdoptExisting }

// ClaimKey is the server key, the vhost and the exchange name.
func (e *Exchange) ClaimKey() string {
	return e.Spec.claim(e.Namespace, e.Spec.VhostName(), e.BackendName())
}

// BackendName is spec.name, or metadata.name when unset.
func (q *Queue) BackendName() string { return cmp.Or(q.Spec.Name, q.Name) }

// ManagedStatus returns the shared status block.
func (q *Queue) ManagedStatus() *common.ManagedStatus { return &q.Status.ManagedStatus }

// DeletionPolicy defaults to Retain: a queue holds messages.
func (q *Queue) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(q.Spec.DeletionPolicy, common.DeletionRetain)
}

// ManagementPolicy defaults to Manage.
func (q *Queue) ManagementPolicy() common.ManagementPolicy { return q.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (q *Queue) AdoptExisting() bool { return q.Spec.AdoptExisting }

// ClaimKey is the server key, the vhost and the queue name.
func (q *Queue) ClaimKey() string {
	return q.Spec.claim(q.Namespace, q.Spec.VhostName(), q.BackendName())
}

// BackendName describes the binding: source, destination and routing key
// (a binding has no name of its own).
func (b *Binding) BackendName() string {
	return b.Spec.Source + " -> " + cmp.Or(b.Spec.DestinationType, "queue") + " " + b.Spec.Destination + " (" + b.Spec.RoutingKey + ")"
}

// ManagedStatus returns the shared status block.
func (b *Binding) ManagedStatus() *common.ManagedStatus { return &b.Status.ManagedStatus }

// DeletionPolicy defaults to Delete: a binding holds no data.
func (b *Binding) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(b.Spec.DeletionPolicy, common.DeletionDelete)
}

// ManagementPolicy defaults to Manage.
func (b *Binding) ManagementPolicy() common.ManagementPolicy { return b.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (b *Binding) AdoptExisting() bool { return b.Spec.AdoptExisting }

// ClaimKey is the server key, the vhost and a hash of the binding's
// identity (source, destination, its type, routing key and arguments).
func (b *Binding) ClaimKey() string {
	args, _ := json.Marshal(b.Spec.Arguments) // maps marshal with sorted keys
	h := sha256.Sum256(fmt.Appendf(nil, "%q|%q|%q|%q|%s", b.Spec.Source, cmp.Or(b.Spec.DestinationType, "queue"), b.Spec.Destination, b.Spec.RoutingKey, args))
	return b.Spec.claim(b.Namespace, b.Spec.VhostName(), hex.EncodeToString(h[:16]))
}

// BackendName is spec.name, or metadata.name when unset.
func (p *Policy) BackendName() string { return cmp.Or(p.Spec.Name, p.Name) }

// ManagedStatus returns the shared status block.
func (p *Policy) ManagedStatus() *common.ManagedStatus { return &p.Status.ManagedStatus }

// DeletionPolicy defaults to Delete.
func (p *Policy) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(p.Spec.DeletionPolicy, common.DeletionDelete)
}

// ManagementPolicy defaults to Manage.
func (p *Policy) ManagementPolicy() common.ManagementPolicy { return p.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (p *Policy) AdoptExisting() bool { return p.Spec.AdoptExisting }

// ClaimKey is the server key, the vhost, the policy kind and name.
func (p *Policy) ClaimKey() string {
	kind := "policy"
	if p.Spec.Operator {
		kind = "operator-policy"
	}
	return p.Spec.claim(p.Namespace, p.Spec.VhostName(), kind, p.BackendName())
}

// BackendName is spec.name, or metadata.name when unset.
func (u *MessagingUser) BackendName() string { return cmp.Or(u.Spec.Name, u.Name) }

// ManagedStatus returns the shared status block.
func (u *MessagingUser) ManagedStatus() *common.ManagedStatus { return &u.Status.ManagedStatus }

// DeletionPolicy defaults to Delete: a user is an access object.
func (u *MessagingUser) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(u.Spec.DeletionPolicy, common.DeletionDelete)
}

// ManagementPolicy defaults to Manage.
func (u *MessagingUser) ManagementPolicy() common.ManagementPolicy { return u.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (u *MessagingUser) AdoptExisting() bool { return u.Spec.AdoptExisting }

// ClaimKey is the server key plus the user name.
func (u *MessagingUser) ClaimKey() string { return u.Spec.claim(u.Namespace, u.BackendName()) }

// ConnectionSecretName is spec.connectionSecret.name or "<name>-connection".
func (u *MessagingUser) ConnectionSecretName() string {
	return cmp.Or(u.Spec.ConnectionSecret.Name, u.Name+"-connection")
}

// Login returns the login status block.
func (u *MessagingUser) Login() *common.LoginStatus { return &u.Status.LoginStatus }

// PasswordRef is spec.passwordSecretRef.
func (u *MessagingUser) PasswordRef() *common.SecretKeyReference { return u.Spec.PasswordSecretRef }

// RotationSpec is spec.rotation: nil when the password is not rotated.
func (u *MessagingUser) RotationSpec() *common.Rotation { return u.Spec.Rotation }

// ConnectionSecretSpec is spec.connectionSecret.
func (u *MessagingUser) ConnectionSecretSpec() common.ConnectionSecret {
	return u.Spec.ConnectionSecret
}

// Shared returns the spec block every messaging kind shares.
func (v *Vhost) Shared() *Common { return &v.Spec.Common }

// Shared returns the spec block every messaging kind shares.
func (e *Exchange) Shared() *Common { return &e.Spec.Common }

// Shared returns the spec block every messaging kind shares.
func (q *Queue) Shared() *Common { return &q.Spec.Common }

// Shared returns the spec block every messaging kind shares.
func (b *Binding) Shared() *Common { return &b.Spec.Common }

// Shared returns the spec block every messaging kind shares.
func (p *Policy) Shared() *Common { return &p.Spec.Common }

// Shared returns the spec block every messaging kind shares.
func (m *MessagingUser) Shared() *Common { return &m.Spec.Common }
