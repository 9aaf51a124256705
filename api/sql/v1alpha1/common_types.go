package v1alpha1

// ServerKind names the kind a serverRef points at.
// +kubebuilder:validation:Enum=DatabaseServer;ClusterDatabaseServer
type ServerKind string

const (
	KindDatabaseServer        ServerKind = "DatabaseServer"
	KindClusterDatabaseServer ServerKind = "ClusterDatabaseServer"
)

// ServerReference names the server an object lives on: a DatabaseServer in the
// same namespace or a ClusterDatabaseServer that admits the namespace.
type ServerReference struct {
	// kind is DatabaseServer (default) or ClusterDatabaseServer.
	// +optional
	// +kubebuilder:default=DatabaseServer
	Kind ServerKind `json:"kind,omitempty"`
	// name of the server object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}
