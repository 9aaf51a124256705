package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Permission is a user's access to one vhost: regular expressions over the
// names of the exchanges and queues it may configure (declare, delete),
// write to (publish, bind to) and read from (consume, bind from). "" matches
// nothing, ".*" everything.
type Permission struct {
	// vhost the permission is on.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Vhost string `json:"vhost"`
	// configure is the pattern of names the user may declare and delete.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Configure string `json:"configure,omitempty"`
	// write is the pattern of names the user may publish to.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Write string `json:"write,omitempty"`
	// read is the pattern of names the user may consume from.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Read string `json:"read,omitempty"`
}

// TopicPermission restricts the routing keys a user may publish with
// (write) and bind with (read) on one topic exchange.
type TopicPermission struct {
	// vhost of the exchange.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Vhost string `json:"vhost"`
	// exchange is the topic exchange.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Exchange string `json:"exchange"`
	// write is the pattern of routing keys the user may publish with.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Write string `json:"write,omitempty"`
	// read is the pattern of routing keys the user may bind with.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Read string `json:"read,omitempty"`
}

// MessagingUserSpec is the desired state of a broker user. Its permissions
// are the whole truth: any others it holds are cleared.
// +kubebuilder:validation:XValidation:rule="!has(self.passwordSecretRef) || !has(self.rotation) || !has(self.rotation.every)",message="rotation.every cannot be used with passwordSecretRef: the referenced Secret decides the password, and changing it rotates"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.name) || has(self.name)",message="spec.name cannot be removed once set: set it back to its value"
type MessagingUserSpec struct {
	Common `json:",inline"`
	// name of the user; defaults to metadata.name; immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.name is immutable"
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="the names . and .. are refused: the management API reads them as path segments"
	Name string `json:"name,omitempty"`
	// tags grant management UI and API access (management, monitoring,
	// policymaker, administrator); none for an application.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Pattern=`^[a-z][a-z_-]{0,63}$`
	Tags []string `json:"tags,omitempty"`
	// passwordSecretRef takes the password from a Secret key (default key
	// password) in the same namespace; without it a password is generated.
	// The broker only ever gets a salted hash.
	// +optional
	PasswordSecretRef *common.SecretKeyReference `json:"passwordSecretRef,omitempty"`
	// rotation replaces the password on a schedule or on demand without a
	// failed login: the next credential is set on the server, published in
	// the connection Secret, rolled out, and only then the previous one is
	// retired. See docs/rotation.md.
	// +optional
	Rotation *common.Rotation `json:"rotation,omitempty"`
	// permissions per vhost, at most one per vhost.
	// +optional
	// +listType=map
	// +listMapKey=vhost
	// +kubebuilder:validation:MaxItems=64
	Permissions []Permission `json:"permissions,omitempty"`
	// topicPermissions per topic exchange.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	TopicPermissions []TopicPermission `json:"topicPermissions,omitempty"`
	// deletionPolicy: Delete (default) removes the user; Retain keeps it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy common.DeletionPolicy `json:"deletionPolicy,omitempty"`
	// connectionSecret is the Secret written for applications (type
	// rabbitmq; uri amqp:// or amqps:// with the first permission's vhost).
	// +optional
	ConnectionSecret common.ConnectionSecret `json:"connectionSecret,omitempty"`
}

// MessagingUserStatus is the observed state of a MessagingUser.
type MessagingUserStatus struct {
	common.ManagedStatus `json:",inline"`
	common.LoginStatus   `json:",inline"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=backend;messaging,shortName=msguser
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.binding.name`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MessagingUser is a broker user with per-vhost permissions and a connection
// Secret.
type MessagingUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// +required
	Spec MessagingUserSpec `json:"spec"`
	// +optional
	// +kubebuilder:default={}
	Status MessagingUserStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// MessagingUserList is a list of MessagingUser.
type MessagingUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MessagingUser `json:"items"`
}
