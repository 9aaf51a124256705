package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// KeyAccess says what a key pattern allows.
// +kubebuilder:validation:Enum=ReadWrite;ReadOnly;WriteOnly
type KeyAccess string

const (
	// KeyReadWrite allows reading and writing matching keys (~pattern).
	KeyReadWrite KeyAccess = "ReadWrite"
	// KeyReadOnly allows only reading matching keys (%R~pattern).
	KeyReadOnly KeyAccess = "ReadOnly"
	// KeyWriteOnly allows only writing matching keys (%W~pattern).
	KeyWriteOnly KeyAccess = "WriteOnly"
)

// Category is a Redis ACL command category (ACL CAT).
// +kubebuilder:validation:Enum=all;keyspace;read;write;set;sortedset;list;hash;string;bitmap;hyperloglog;geo;stream;pubsub;admin;fast;slow;blocking;dangerous;connection;transaction;scripting
type Category string

// KeyPattern is a glob over key names and the access it grants.
type KeyPattern struct {
	// pattern is a Redis glob such as app:* (no spaces); * matches every key.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[!-~]+$`
	Pattern string `json:"pattern"`
	// access is ReadWrite (default), ReadOnly or WriteOnly.
	// +optional
	// +kubebuilder:default=ReadWrite
	Access KeyAccess `json:"access,omitempty"`
}

// CommandRules say which commands the user may run. They apply in this order:
// allowed categories, denied categories, allowed commands, denied commands;
// so a denied command is refused even when an allowed category holds it.
type CommandRules struct {
	// allowCategories are the command categories the user may run, such as read.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	AllowCategories []Category `json:"allowCategories,omitempty"`
	// denyCategories are categories taken away again, such as dangerous.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	DenyCategories []Category `json:"denyCategories,omitempty"`
	// allow lists commands the user may run, lower case, such as get or
	// client|id for one subcommand.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-z][a-z0-9_.-]*(\|[a-z][a-z0-9_.-]*)?$`
	Allow []string `json:"allow,omitempty"`
	// deny lists commands the user may not run, in the same form.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-z][a-z0-9_.-]*(\|[a-z][a-z0-9_.-]*)?$`
	Deny []string `json:"deny,omitempty"`
}

// CacheUserSpec is the desired state of an ACL user. The rules are the whole
// truth: anything the user holds beyond them is taken away.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name is immutable"
// +kubebuilder:validation:XValidation:rule="!has(self.passwordSecretRef) || !has(self.rotation) || !has(self.rotation.every)",message="rotation.every cannot be used with passwordSecretRef: the referenced Secret decides the password, and changing it rotates"
type CacheUserSpec struct {
	// serverRef names the server; immutable.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="serverRef is immutable"
	ServerRef ServerReference `json:"serverRef"`
	// name of the ACL user; defaults to metadata.name; immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][-A-Za-z0-9._:@]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	Name string `json:"name,omitempty"`
	// enabled users can log in (default true); a disabled user keeps its rules
	// but is refused at AUTH.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`
	// deletionPolicy: Delete (default) removes the ACL user from every node when
	// this object is deleted; Retain keeps it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
	// managementPolicy: Manage (default) creates and repairs; Observe only reports.
	// +optional
	// +kubebuilder:default=Manage
	ManagementPolicy common.ManagementPolicy `json:"managementPolicy,omitempty"`
	// adoptExisting lets this object take over an ACL user that already exists
	// and was not created by it. Its passwords and rules are then replaced.
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
	// keys are the key patterns the user may touch; none means no key.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Keys []KeyPattern `json:"keys,omitempty"`
	// channels are the Pub/Sub channel patterns (globs, no spaces) the user may
	// use; none means no channel.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^[!-~]+$`
	Channels []string `json:"channels,omitempty"`
	// commands are the commands the user may run; none means no command.
	// +optional
	Commands CommandRules `json:"commands,omitempty"`
	// connectionSecret is the Secret written for applications (type redis; uri
	// redis:// or rediss:// with the first node).
	// +optional
	ConnectionSecret common.ConnectionSecret `json:"connectionSecret,omitempty"`
}

// CacheUserStatus is the observed state of a CacheUser.
type CacheUserStatus struct {
	common.ManagedStatus `json:",inline"`
	common.LoginStatus   `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;cache,shortName=cacheuser
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.binding.name`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CacheUser is an ACL user with key, channel and command rules on every node
// of a Redis or Valkey server.
type CacheUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec CacheUserSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status CacheUserStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CacheUserList is a list of CacheUser.
type CacheUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CacheUser `json:"items"`
}
