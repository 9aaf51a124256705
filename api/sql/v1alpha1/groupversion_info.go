// Package v1alpha1 contains the sql.backend-operator.dev API: database servers,
// databases and database users, engine-agnostic across PostgreSQL and MySQL/MariaDB.
// +kubebuilder:object:generate=true
// +groupName=sql.backend-operator.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "sql.backend-operator.dev", Version: "v1alpha1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&DatabaseServer{}, &DatabaseServerList{},
		&ClusterDatabaseServer{}, &ClusterDatabaseServerList{},
		&Database{}, &DatabaseList{},
		&DatabaseUser{}, &DatabaseUserList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
