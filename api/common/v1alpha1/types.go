package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeletionPolicy says what happens to the backend object when the Kubernetes
// object is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionRetain keeps the backend object.
	DeletionRetain DeletionPolicy = "Retain"
	// DeletionDelete removes the backend object.
	DeletionDelete DeletionPolicy = "Delete"
)

// ManagementPolicy says whether the operator writes to the backend.
// +kubebuilder:validation:Enum=Manage;Observe
type ManagementPolicy string

const (
	// ManagementManage creates, repairs and deletes the backend object.
	ManagementManage ManagementPolicy = "Manage"
	// ManagementObserve only reports differences in status and never writes.
	ManagementObserve ManagementPolicy = "Observe"
)

// SecretReference names a Secret. Namespace is only honoured on cluster-scoped
// objects; namespaced objects always read Secrets from their own namespace.
type SecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// namespace of the Secret; required on cluster-scoped objects, ignored elsewhere.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// SecretKeyReference names one key of a Secret.
type SecretKeyReference struct {
	SecretReference `json:",inline"`
	// key in the Secret's data.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// AdminCredentials locate the login the operator uses on a server.
type AdminCredentials struct {
	// secretRef names a Secret holding the admin login.
	// +required
	SecretRef SecretReference `json:"secretRef"`
	// usernameKey is the Secret key holding the user name.
	// +optional
	// +kubebuilder:default=username
	UsernameKey string `json:"usernameKey,omitempty"`
	// passwordKey is the Secret key holding the password.
	// +optional
	// +kubebuilder:default=password
	PasswordKey string `json:"passwordKey,omitempty"`
}

// TLSMode selects how the connection to the backend is secured.
// +kubebuilder:validation:Enum=disable;require;verify-ca;verify-full
type TLSMode string

const (
	TLSDisable    TLSMode = "disable"
	TLSRequire    TLSMode = "require"
	TLSVerifyCA   TLSMode = "verify-ca"
	TLSVerifyFull TLSMode = "verify-full"
)

// TLS configures transport security towards the backend.
// +kubebuilder:validation:XValidation:rule="!(self.mode in ['verify-ca','verify-full']) || has(self.caSecretRef)",message="caSecretRef is required for verify-ca and verify-full"
type TLS struct {
	// mode is disable, require (encrypted, unverified), verify-ca (the server
	// certificate chains to the CA) or verify-full (and its name matches host).
	// +optional
	// +kubebuilder:default=disable
	Mode TLSMode `json:"mode,omitempty"`
	// caSecretRef names the Secret key with the PEM CA bundle (default key ca.crt).
	// +optional
	CASecretRef *SecretKeyReference `json:"caSecretRef,omitempty"`
	// clientCertSecretRef names a Secret with the client certificate and key
	// the operator presents (keys tls.crt and tls.key, as in a
	// kubernetes.io/tls Secret), for servers that require mutual TLS.
	// +optional
	ClientCertSecretRef *SecretReference `json:"clientCertSecretRef,omitempty"`
}

// AllowedNamespaces selects the namespaces whose objects may use a cluster-scoped server.
type AllowedNamespaces struct {
	// selector matches namespace labels. An empty selector ({}) admits every
	// namespace; no allowedNamespaces admits none.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// names lists namespaces admitted by name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	Names []string `json:"names,omitempty"`
}

// ConnectionSecret describes the Secret the operator writes for applications.
type ConnectionSecret struct {
	// name of the Secret, in the object's namespace. Defaults to
	// "<metadata.name>-connection".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name,omitempty"`
	// template adds keys to the Secret; each value is a Go text/template rendered
	// with .Host .Port .Username .Password .Database .Vhost .URI .JDBCURL .Type .Provider.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[-._a-zA-Z0-9]+$') && !(k in ['type','provider','host','port','username','password','database','uri','jdbc-url','vhost']))",message="template keys must be valid Secret keys and must not replace a standard key"
	Template map[string]string `json:"template,omitempty"`
	// labels added to the Secret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations added to the Secret.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// rollout restarts the workloads that use the Secret when its data
	// changes (a rotation, a new password).
	// +optional
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Binding is the Service Binding for Kubernetes duck type: the Secret an
// application can project.
type Binding struct {
	// name of the Secret in the object's namespace.
	Name string `json:"name"`
}

// ManagedStatus is the status every managed kind reports.
type ManagedStatus struct {
	// observedGeneration is the generation last reconciled: successfully,
	// or as far as it can go without a person (Stalled). It reads 0 until
	// the first reconcile, so kstatus sees a new object as InProgress.
	// +optional
	// +kubebuilder:default=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, plus Synced on managed objects.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// backendName is the name of the backend object this object manages.
	// +optional
	BackendName string `json:"backendName,omitempty"`
	// managed is true once this object created or adopted its backend object.
	// +optional
	Managed bool `json:"managed,omitempty"`
	// drift lists the differences found at the last observation (with
	// managementPolicy Observe they are left in place).
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Drift []string `json:"drift,omitempty"`
}

// LoginStatus is the status every login kind (a user with a password and a
// connection Secret) reports besides ManagedStatus.
type LoginStatus struct {
	// binding names the connection Secret (Service Binding for Kubernetes).
	// +optional
	Binding *Binding `json:"binding,omitempty"`
	// passwordVersion identifies the password last set: the resourceVersion of
	// the Secret it came from.
	// +optional
	PasswordVersion string `json:"passwordVersion,omitempty"`
	// rotation reports spec.rotation's progress.
	// +optional
	Rotation *RotationStatus `json:"rotation,omitempty"`
	// rollout reports the restarts of connectionSecret.rollout's workloads.
	// +optional
	Rollout *RolloutStatus `json:"rollout,omitempty"`
}

// ServerStatus is the status every server kind reports.
type ServerStatus struct {
	// observedGeneration is the generation last reconciled: successfully,
	// or as far as it can go without a person (Stalled). It reads 0 until
	// the first reconcile, so kstatus sees a new object as InProgress.
	// +optional
	// +kubebuilder:default=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready means the operator connected and authenticated.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// credentialsVersion is the resourceVersion of the admin Secret last used.
	// +optional
	CredentialsVersion string `json:"credentialsVersion,omitempty"`
}

// ServerAccess is what every server kind says about reaching and sharing it.
type ServerAccess struct {
	// Engine is spec.engine.
	Engine string
	// Credentials is spec.adminCredentials.
	Credentials AdminCredentials
	// TLS is spec.tls, nil when unset.
	TLS *TLS
	// Cluster is true for the cluster-scoped kinds, whose AllowedNamespaces
	// admit namespaces.
	Cluster           bool
	AllowedNamespaces *AllowedNamespaces
}
