// Package v1alpha1 holds the types that every backend-operator API group shares:
// server references, deletion and management policies, TLS, connection Secrets
// and the status block that every managed kind reports.
// +kubebuilder:object:generate=true
package v1alpha1
