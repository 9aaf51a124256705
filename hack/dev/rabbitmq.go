package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/test/harness"
)

const (
	// amqpSecret is the connection Secret of the sample MessagingUser.
	amqpSecret = "orders-amqp"
	// rabbitAdminSecret is the sample admin Secret of the MessagingServer.
	rabbitAdminSecret = "rabbitmq-admin"
)

// devRabbit is the private RabbitMQ node the messaging samples point at.
var devRabbit *harness.RabbitMQ

// startRabbitMQ starts a private RabbitMQ node with the management plugin.
func startRabbitMQ(ctx context.Context) (*harness.RabbitMQ, error) {
	step("starting a private RabbitMQ node from the installed rabbitmq-server (about 10 s)")
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	r, err := harness.StartRabbitMQ(ctx)
	if err != nil {
		return nil, err
	}
	devRabbit = r
	return r, nil
}

// patchRabbitMQSample points the messaging samples at devRabbit.
func patchRabbitMQSample(u *unstructured.Unstructured) {
	switch {
	case (u.GetKind() == "MessagingServer" || u.GetKind() == "ClusterMessagingServer") && engineOf(u) == "rabbitmq":
		_ = unstructured.SetNestedField(u.Object, devRabbit.MgmtURL(), "spec", "rabbitmq", "managementURL")
		_ = unstructured.SetNestedMap(u.Object, map[string]any{"host": devRabbit.Host, "port": int64(devRabbit.AMQPPort)}, "spec", "rabbitmq", "amqp")
	case u.GetKind() == "Secret" && u.GetName() == rabbitAdminSecret:
		_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"username": devRabbit.AdminUser, "password": devRabbit.AdminPassword}, "stringData")
	}
}

// amqpRoundTrip logs in with the sample MessagingUser's Secret, as an
// application would, publishes through the sample exchange and consumes the
// message from the sample queue.
func amqpRoundTrip(ctx context.Context, c client.Client) error {
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: amqpSecret}, s); err != nil {
		return fmt.Errorf("read Secret %s: %w", amqpSecret, err)
	}
	conn, err := amqp.Dial(string(s.Data["uri"]))
	if err != nil {
		return errors.New("AMQP login with the uri in Secret " + amqpSecret + " failed") // the error may quote the URI
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	body := fmt.Sprintf("dev-check %d", time.Now().UnixNano())
	if err := ch.PublishWithContext(ctx, "orders.events", "order.created", false, false, amqp.Publishing{Body: []byte(body)}); err != nil {
		return fmt.Errorf("publish to orders.events as the sample user: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msg, ok, err := ch.Get("orders.invoicing", true)
		if err != nil {
			return fmt.Errorf("consume from orders.invoicing as the sample user: %w", err)
		}
		if ok && string(msg.Body) == body {
			fmt.Printf("   the sample broker user %q published to orders.events and consumed from orders.invoicing with Secret %q\n", s.Data["username"], amqpSecret)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("the message published to orders.events never reached orders.invoicing")
}

// engineOf is a server sample's spec.engine.
func engineOf(u *unstructured.Unstructured) string {
	e, _, _ := unstructured.NestedString(u.Object, "spec", "engine")
	return e
}
