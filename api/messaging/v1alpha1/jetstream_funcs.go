package v1alpha1

import (
	"cmp"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// The managed.Object accessors of the JetStream kinds. Buckets are streams
// on the server (KV_<bucket>, OBJ_<bucket>), and their claim keys say so,
// so that two objects claiming one stream conflict.

// BackendName is spec.name, or metadata.name when unset.
func (s *Stream) BackendName() string { return cmp.Or(s.Spec.Name, s.Name) }

// ManagedStatus returns the shared status block.
func (s *Stream) ManagedStatus() *common.ManagedStatus { return &s.Status.ManagedStatus }

// DeletionPolicy defaults to Retain: a stream holds messages.
func (s *Stream) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(s.Spec.DeletionPolicy, common.DeletionRetain)
}

// ManagementPolicy defaults to Manage.
func (s *Stream) ManagementPolicy() common.ManagementPolicy { return s.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (s *Stream) AdoptExisting() bool { return s.Spec.AdoptExisting }

// ClaimKey is the server key plus the stream name.
func (s *Stream) ClaimKey() string { return s.Spec.claim(s.Namespace, "stream", s.BackendName()) }

// Shared returns the spec block every messaging kind shares.
func (s *Stream) Shared() *Common { return &s.Spec.Common }

// BackendName is spec.durableName, or metadata.name when unset.
func (c *Consumer) BackendName() string { return cmp.Or(c.Spec.DurableName, c.Name) }

// ManagedStatus returns the shared status block.
func (c *Consumer) ManagedStatus() *common.ManagedStatus { return &c.Status.ManagedStatus }

// DeletionPolicy defaults to Delete: a consumer holds a position, not data.
func (c *Consumer) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(c.Spec.DeletionPolicy, common.DeletionDelete)
}

// ManagementPolicy defaults to Manage.
func (c *Consumer) ManagementPolicy() common.ManagementPolicy { return c.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (c *Consumer) AdoptExisting() bool { return c.Spec.AdoptExisting }

// ClaimKey is the server key, the stream and the durable name.
func (c *Consumer) ClaimKey() string {
	return c.Spec.claim(c.Namespace, "stream", c.Spec.StreamName, "consumer", c.BackendName())
}

// Shared returns the spec block every messaging kind shares.
func (c *Consumer) Shared() *Common { return &c.Spec.Common }

// BackendName is spec.bucket, or metadata.name when unset.
func (k *KeyValue) BackendName() string { return cmp.Or(k.Spec.Bucket, k.Name) }

// ManagedStatus returns the shared status block.
func (k *KeyValue) ManagedStatus() *common.ManagedStatus { return &k.Status.ManagedStatus }

// DeletionPolicy defaults to Retain: a bucket holds values.
func (k *KeyValue) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(k.Spec.DeletionPolicy, common.DeletionRetain)
}

// ManagementPolicy defaults to Manage.
func (k *KeyValue) ManagementPolicy() common.ManagementPolicy { return k.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (k *KeyValue) AdoptExisting() bool { return k.Spec.AdoptExisting }

// ClaimKey is the server key plus the bucket's stream, KV_<bucket>.
func (k *KeyValue) ClaimKey() string {
	return k.Spec.claim(k.Namespace, "stream", "KV_"+k.BackendName())
}

// Shared returns the spec block every messaging kind shares.
func (k *KeyValue) Shared() *Common { return &k.Spec.Common }

// BackendName is spec.bucket, or metadata.name when unset.
func (o *ObjectStore) BackendName() string { return cmp.Or(o.Spec.Bucket, o.Name) }

// ManagedStatus returns the shared status block.
func (o *ObjectStore) ManagedStatus() *common.ManagedStatus { return &o.Status.ManagedStatus }

// DeletionPolicy defaults to Retain: a bucket holds objects.
func (o *ObjectStore) DeletionPolicy() common.DeletionPolicy {
	return cmp.Or(o.Spec.DeletionPolicy, common.DeletionRetain)
}

// ManagementPolicy defaults to Manage.
func (o *ObjectStore) ManagementPolicy() common.ManagementPolicy { return o.Spec.managementPolicy() }

// AdoptExisting reports spec.adoptExisting.
func (o *ObjectStore) AdoptExisting() bool { return o.Spec.AdoptExisting }

// ClaimKey is the server key plus the bucket's stream, OBJ_<bucket>.
func (o *ObjectStore) ClaimKey() string {
	return o.Spec.claim(o.Namespace, "stream", "OBJ_"+o.BackendName())
}

// Shared returns the spec block every messaging kind shares.
func (o *ObjectStore) Shared() *Common { return &o.Spec.Common }
