// Package v1alpha1 contains the sql.backend-operator.dev API: database servers,
// databases and database users, engine-agnostic across PostgreSQL and MySQL/MariaDB.
// +kubebuilder:object:generate=true
// +groupName=sql.backend-operator.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "sql.backend-operator.dev", Version: "v1alpha1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
