package importer

import (
	"context"

	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
)

func importRabbitMQ(context.Context, *msgv1.MessagingServerSpec, login, serverRef) ([]Doc, []string, error) {
	return nil, nil, errNotImplemented
}
