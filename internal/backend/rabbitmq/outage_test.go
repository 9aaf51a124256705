package rabbitmq_test

import (
	"context"
	"testing"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/rabbitmq"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// This file sorts after the others: TestOutage takes the shared node down.

// TestOutage stops the broker (Unavailable), starts it again (the objects
// are back), and wipes its data (Observe says gone, Apply restores). It
// runs last: it takes the shared node down.
func TestOutage(t *testing.T) {
	ctx := context.Background()
	srv := server(t)
	c := connect(t)
	vh := kind[rabbitmq.Vhosts](t, rabbitmq.KindVhost, c)
	us := kind[rabbitmq.Users](t, rabbitmq.KindMessagingUser, c)
	vspec := rabbitmq.VhostSpec{Name: "outage", MaxQueues: i64(3)}
	uspec := rabbitmq.UserSpec{Name: "outage-user", Password: "pw", Permissions: []rabbitmq.Permission{{Vhost: "outage", Read: ".*"}}}
	must(t, vh.Apply(ctx, vspec))
	must(t, us.Apply(ctx, uspec))

	must(t, srv.Stop())
	_, err := vh.Observe(ctx, vspec, snapshot.Live)
	be := wantReason(t, err, backenderr.ReasonUnavailable, "did not answer")
	if be.Terminal {
		t.Fatal("Unavailable is retried")
	}
	rabbitmq.InvalidateSnapshot(c)
	_, err = us.Observe(ctx, uspec, snapshot.Cached)
	_ = wantReason(t, err, backenderr.ReasonUnavailable)
	_ = wantReason(t, us.Apply(ctx, uspec), backenderr.ReasonUnavailable)

	must(t, srv.Start(ctx))
	wantUpToDate(t, c, vh, vspec)
	wantUpToDate(t, c, us, uspec)

	must(t, srv.Wipe(ctx))
	wantGone(t, c, vh, vspec)
	wantGone(t, c, us, uspec)
	must(t, vh.Apply(ctx, vspec))
	must(t, us.Apply(ctx, uspec))
	wantUpToDate(t, c, vh, vspec)
	wantUpToDate(t, c, us, uspec)
	dial(t, c.Connection(uspec.Name, uspec.Password, "outage").URI)
}
