package importer

import (
	"context"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
)

func importRedis(context.Context, *cachev1.CacheServerSpec, login, serverRef) ([]Doc, []string, error) {
	return nil, nil, errNotImplemented
}

func importRabbitMQ(context.Context, *msgv1.MessagingServerSpec, login, serverRef) ([]Doc, []string, error) {
	return nil, nil, errNotImplemented
}
