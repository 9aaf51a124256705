package nats_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/test/harness"
)

// TestRestartMemoryStorage: a server restart loses a memory stream and its
// consumer; the client reconnects by itself, reports the server
// unavailable while it is down (quickly, not at the deadline), then sees
// both missing, and Apply recreates them. A file stream survives.
func TestRestartMemoryStorage(t *testing.T) {
	n := private(t, harness.NATSOptions{})
	c := connect(t, n)
	s := kind[nats.Streams](t, nats.KindStream, c)
	cons := kind[nats.Consumers](t, nats.KindConsumer, c)
	mem := nats.StreamSpec{Name: "VOLATILE", Storage: "memory", Subjects: []string{"volatile.>"}}
	file := nats.StreamSpec{Name: "DURABLE", Storage: "file", Subjects: []string{"durable.>"}}
	consumer := nats.ConsumerSpec{Stream: "VOLATILE", Durable: "reader"}
	must(t, s.Apply(ctx(t), mem))
	must(t, s.Apply(ctx(t), file))
	must(t, cons.Apply(ctx(t), consumer))

	must(t, n.Stop())
	// The stopped server is reported unavailable, not waited on: polled
	// until the client has noticed the closed socket, within 3 s.
	var err error
	for stopped := time.Now(); ; {
		_, err = s.Observe(ctx(t), mem, snapshot.Live)
		if be, ok := backenderr.As(err); ok && be.Reason == backenderr.ReasonUnavailable {
			break
		}
		if time.Since(stopped) > 3*time.Second {
			t.Fatalf("a stopped server was not reported unavailable within 3 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	must(t, n.Start(ctx(t)))

	deadline := time.Now().Add(15 * time.Second)
	for {
		obs, err := s.Observe(ctx(t), mem, snapshot.Live)
		if err == nil {
			if obs.Exists {
				t.Fatal("memory stream survived the restart")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reconnected: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	obs, err := s.Observe(ctx(t), file, snapshot.Live)
	must(t, err)
	if !obs.UpToDate() {
		t.Fatalf("file stream after restart: %+v", obs)
	}
	obs, err = cons.Observe(ctx(t), consumer, snapshot.Cached)
	must(t, err)
	if obs.Exists {
		t.Fatal("consumer of the lost stream observed")
	}
	must(t, s.Apply(ctx(t), mem))
	must(t, cons.Apply(ctx(t), consumer))
	js := admin(t, n)
	if streamExists(t, js, "VOLATILE") == nil {
		t.Fatal("not recreated")
	}
	if _, err := js.Consumer(ctx(t), "VOLATILE", "reader"); err != nil {
		t.Fatalf("consumer not recreated: %v", err)
	}
}

// TestSnapshotCost: observing N streams and their consumers from the
// snapshot costs one stream listing plus one consumer listing per stream,
// however often each is observed within the TTL.
func TestSnapshotCost(t *testing.T) {
	n := private(t, harness.NATSOptions{})
	c := connect(t, n)
	s := kind[nats.Streams](t, nats.KindStream, c)
	cons := kind[nats.Consumers](t, nats.KindConsumer, c)
	const streams = 20
	var ss []nats.StreamSpec
	var cs []nats.ConsumerSpec
	for i := range streams {
		name := fmt.Sprintf("S%d", i)
		ss = append(ss, nats.StreamSpec{Name: name, Storage: "memory"})
		cs = append(cs, nats.ConsumerSpec{Stream: name, Durable: "c"})
		must(t, s.Apply(ctx(t), ss[i]))
		must(t, cons.Apply(ctx(t), cs[i]))
	}
	before := c.Requests()
	for range 3 {
		for i := range streams {
			obs, err := s.Observe(ctx(t), ss[i], snapshot.Cached)
			must(t, err)
			if !obs.UpToDate() {
				t.Fatalf("stream %d: %+v", i, obs)
			}
			obs, err = cons.Observe(ctx(t), cs[i], snapshot.Cached)
			must(t, err)
			if !obs.UpToDate() {
				t.Fatalf("consumer %d: %+v", i, obs)
			}
		}
	}
	if got, want := c.Requests()-before, uint64(1+streams); got != want {
		t.Errorf("%d requests for 3 rounds of %d streams and consumers from the snapshot, want %d", got, streams, want)
	}
}
