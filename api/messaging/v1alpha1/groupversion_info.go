// Package v1alpha1 contains the messaging.backend-operator.dev API: message
// brokers (RabbitMQ, NATS JetStream) and the topology, streams, consumers,
// buckets and users the operator keeps on them.
// +kubebuilder:object:generate=true
// +groupName=messaging.backend-operator.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "messaging.backend-operator.dev", Version: "v1alpha1"}
	// SchemeBuilder registers the kinds of this API.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&MessagingServer{}, &MessagingServerList{},
		&ClusterMessagingServer{}, &ClusterMessagingServerList{},
		&Vhost{}, &VhostList{},
		&Exchange{}, &ExchangeList{},
		&Queue{}, &QueueList{},
		&Binding{}, &BindingList{},
		&Policy{}, &PolicyList{},
		&MessagingUser{}, &MessagingUserList{},
		&Stream{}, &StreamList{},
		&Consumer{}, &ConsumerList{},
		&KeyValue{}, &KeyValueList{},
		&ObjectStore{}, &ObjectStoreList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
