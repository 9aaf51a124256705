// Package v1alpha1 contains the cache.backend-operator.dev API: Redis and Valkey
// servers and the ACL users the operator keeps on them.
// +kubebuilder:object:generate=true
// +groupName=cache.backend-operator.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "cache.backend-operator.dev", Version: "v1alpha1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&CacheServer{}, &CacheServerList{},
		&ClusterCacheServer{}, &ClusterCacheServerList{},
		&CacheUser{}, &CacheUserList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
