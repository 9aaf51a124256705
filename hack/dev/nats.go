package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/backend-operator/backend-operator/test/harness"
)

// natsAdminSecret is the sample admin Secret of the NATS MessagingServer.
const natsAdminSecret = "nats-admin"

// devNATS is the private nats-server the JetStream samples point at.
var devNATS *harness.NATS

// startNATS starts a private nats-server with JetStream (built by
// hack/nats-server.sh; make dev does it first).
func startNATS(ctx context.Context) (*harness.NATS, error) {
	step("starting a private nats-server " + harness.NATSServerVersion + " with JetStream")
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := harness.StartNATS(ctx, harness.NATSOptions{})
	if err != nil {
		return nil, err
	}
	devNATS = n
	return n, nil
}

// patchNATSSample points the NATS samples at devNATS.
func patchNATSSample(u *unstructured.Unstructured) {
	switch {
	case (u.GetKind() == "MessagingServer" || u.GetKind() == "ClusterMessagingServer") && engineOf(u) == "nats":
		_ = unstructured.SetNestedStringSlice(u.Object, []string{devNATS.URL()}, "spec", "nats", "servers")
	case u.GetKind() == "Secret" && u.GetName() == natsAdminSecret:
		_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"username": devNATS.AdminUser, "password": devNATS.AdminPassword}, "stringData")
	}
}

// jetStreamRoundTrip uses the samples as an application would: publishes to
// the sample stream and fetches the message through the sample consumer,
// puts a value into the sample bucket and reads it back, and stores and
// reads an object in the sample object store.
func jetStreamRoundTrip(ctx context.Context) error {
	nc, err := devNATS.Connect()
	if err != nil {
		return fmt.Errorf("connect to the private nats-server: %w", err)
	}
	defer nc.Close()
	js, err := devNATS.JetStream(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body := []byte(fmt.Sprintf("dev-check %d", time.Now().UnixNano()))
	if _, err := js.Publish(ctx, "orders.created", body); err != nil {
		return fmt.Errorf("publish to stream ORDERS: %w", err)
	}
	cons, err := js.Consumer(ctx, "ORDERS", "billing")
	if err != nil {
		return fmt.Errorf("consumer billing of stream ORDERS: %w", err)
	}
	found := false
	for !found && ctx.Err() == nil {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("fetch through consumer billing: %w", err)
		}
		for m := range batch.Messages() {
			if bytes.Equal(m.Data(), body) {
				found = true
			}
			if err := m.Ack(); err != nil {
				return fmt.Errorf("ack: %w", err)
			}
		}
	}
	if !found {
		return errors.New("the message published to orders.created never came through consumer billing")
	}
	kv, err := js.KeyValue(ctx, "settings")
	if err != nil {
		return fmt.Errorf("bucket settings: %w", err)
	}
	if _, err := kv.Put(ctx, "dev.check", body); err != nil {
		return fmt.Errorf("put into bucket settings: %w", err)
	}
	e, err := kv.Get(ctx, "dev.check")
	if err != nil {
		return fmt.Errorf("read back from bucket settings: %w", err)
	}
	if !bytes.Equal(e.Value(), body) {
		return errors.New("bucket settings gave back another value")
	}
	obj, err := js.ObjectStore(ctx, "invoices")
	if err != nil {
		return fmt.Errorf("object store invoices: %w", err)
	}
	if _, err := obj.PutBytes(ctx, "dev-check.txt", body); err != nil {
		return fmt.Errorf("put into object store invoices: %w", err)
	}
	got, err := obj.GetBytes(ctx, "dev-check.txt")
	if err != nil {
		return fmt.Errorf("read back from object store invoices: %w", err)
	}
	if !bytes.Equal(got, body) {
		return errors.New("object store invoices gave back another object")
	}
	fmt.Println("   a message published to stream ORDERS came through consumer billing; a value and an object were put and read back in buckets settings and invoices")
	return nil
}
