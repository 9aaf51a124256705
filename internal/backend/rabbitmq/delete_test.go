package rabbitmq_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// TestDeleteRightAfterPublish: quorum queues and vhosts count their
// messages from statistics that lag; a deletion right after a publish must
// not drop the messages the statistics do not show yet.
func TestDeleteRightAfterPublish(t *testing.T) {
	srv := server(t)
	c := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vhosts, err := port.For[rabbitmq.Vhosts](rabbitmq.KindVhost, rabbitmq.EngineName, c)
	if err != nil {
		t.Fatal(err)
	}
	queues, err := port.For[rabbitmq.Queues](rabbitmq.KindQueue, rabbitmq.EngineName, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		delete func() error
		exists func() bool
	}{
		{name: "quorum queue",
			delete: func() error {
				return queues.Delete(ctx, rabbitmq.QueueSpec{Vhost: "/", Name: "fresh-qq", Type: "quorum", Durable: true})
			},
			exists: func() bool {
				obs, err := queues.Observe(ctx, rabbitmq.QueueSpec{Vhost: "/", Name: "fresh-qq", Type: "quorum", Durable: true}, snapshot.Live)
				return err == nil && obs.Exists
			}},
		{name: "vhost",
			delete: func() error { return vhosts.Delete(ctx, rabbitmq.VhostSpec{Name: "fresh-vh"}) },
			exists: func() bool {
				obs, err := vhosts.Observe(ctx, rabbitmq.VhostSpec{Name: "fresh-vh"}, snapshot.Live)
				return err == nil && obs.Exists
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vhost := "/"
			if tc.name == "vhost" {
				vhost = "fresh-vh"
				if err := vhosts.Apply(ctx, rabbitmq.VhostSpec{Name: vhost}); err != nil {
					t.Fatal(err)
				}
				// The admin's permissions on a new vhost arrive a moment later.
				time.Sleep(500 * time.Millisecond)
			}
			q := rabbitmq.QueueSpec{Vhost: vhost, Name: "fresh-qq", Type: "quorum", Durable: true}
			if err := queues.Apply(ctx, q); err != nil {
				t.Fatal(err)
			}
			_, ch := dial(t, srv.AMQPURL(srv.AdminUser, srv.AdminPassword, vhost))
			for range 2 {
				if err := ch.PublishWithContext(ctx, "", "fresh-qq", false, false, amqp.Publishing{Body: []byte("keep")}); err != nil {
					t.Fatal(err)
				}
			}
			// At once, and again until the statistics have caught up: never deleted.
			for deadline := time.Now().Add(8 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				err := tc.delete()
				if be, ok := backenderr.As(err); !ok || be.Reason != backenderr.ReasonDeletionBlocked {
					t.Fatalf("Delete with 2 fresh messages = %v, want DeletionBlocked", err)
				}
				if !tc.exists() {
					t.Fatal("deleted with its messages")
				}
			}
			_ = wantReason(t, tc.delete(), backenderr.ReasonDeletionBlocked, "holds 2 messages")
			// With the queue gone, an empty vhost is deleted once confirmed.
			if err := queues.Delete(ctx, rabbitmq.QueueSpec{Vhost: vhost, Name: "fresh-qq", Type: "quorum", Durable: true, DeleteIfNotEmpty: true}); err != nil {
				t.Fatal(err)
			}
			if tc.name == "vhost" {
				var err error
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
					if err = tc.delete(); err == nil {
						break
					}
				}
				if err != nil || tc.exists() {
					t.Fatalf("the empty vhost was not deleted: %v", err)
				}
			}
		})
	}
}
