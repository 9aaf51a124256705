package nats

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestStreamDrift: what the server fills in by itself is not drift; what
// an admin changes is, in the server's field names.
func TestStreamDrift(t *testing.T) {
	base := StreamSpec{Name: "S", MaxAge: time.Hour}.config()
	// What the server reports for it: defaults filled in, its own metadata.
	server := base
	server.Subjects = []string{"S"}
	server.Replicas = 1
	server.Duplicates = 2 * time.Minute
	server.Metadata = map[string]string{"_nats.level": "1", "_nats.ver": "2.15.2"}
	for _, tc := range []struct {
		why    string
		want   jetstream.StreamConfig
		got    func(c *jetstream.StreamConfig)
		drifts []string
	}{
		{why: "server defaults", want: base, got: func(*jetstream.StreamConfig) {}},
		{why: "unlimited as 0 or -1", want: base, got: func(c *jetstream.StreamConfig) { c.MaxMsgs, c.MaxBytes = 0, -1 }},
		{why: "subjects in another order", want: StreamSpec{Name: "S", Subjects: []string{"a", "b"}}.config(),
			got: func(c *jetstream.StreamConfig) { c.Subjects, c.MaxAge = []string{"b", "a"}, 0 }},
		{why: "a changed limit", want: base, got: func(c *jetstream.StreamConfig) { c.MaxMsgs = 5 }, drifts: []string{"max_msgs is 5, want -1"}},
		{why: "a duplicate window set by the spec", want: StreamSpec{Name: "S", MaxAge: time.Hour, DuplicateWindow: time.Minute}.config(),
			got: func(*jetstream.StreamConfig) {}, drifts: []string{"duplicate_window is 2m0s, want 1m0s"}},
		{why: "user metadata added", want: base, got: func(c *jetstream.StreamConfig) { c.Metadata = map[string]string{"x": "y"} },
			drifts: []string{"metadata differs"}},
		{why: "a source removed", want: StreamSpec{Name: "S", Sources: []Source{{Name: "A"}}}.config(),
			got: func(c *jetstream.StreamConfig) { c.Subjects, c.MaxAge = nil, 0 }, drifts: []string{"sources are"}},
	} {
		t.Run(tc.why, func(t *testing.T) {
			got := server
			got.Metadata = map[string]string{"_nats.level": "1"}
			tc.got(&got)
			d := streamDrift(tc.want, got)
			if len(d) != len(tc.drifts) {
				t.Fatalf("drift %q, want %q", d, tc.drifts)
			}
			for i := range d {
				if !strings.HasPrefix(d[i], tc.drifts[i]) {
					t.Errorf("drift %q, want %q", d[i], tc.drifts[i])
				}
			}
		})
	}
}

// TestConsumerDrift: server-chosen defaults (ack wait, max ack pending,
// ack wait under backoff) are not drift; set values are.
func TestConsumerDrift(t *testing.T) {
	spec := ConsumerSpec{Stream: "S", Durable: "d", FilterSubjects: []string{"a"}}
	server := spec.config()
	server.AckWait, server.MaxAckPending, server.MaxWaiting, server.MaxDeliver = 30*time.Second, 1000, 512, -1
	if d := consumerDrift(spec.config(), server); len(d) != 0 {
		t.Fatalf("defaults reported as drift: %q", d)
	}
	backoff := spec
	backoff.BackOff, backoff.AckWait = []time.Duration{time.Second, 2 * time.Second}, 10*time.Second
	withBackoff := backoff.config()
	withBackoff.AckWait = time.Second // the server's, from backoff
	if d := consumerDrift(backoff.config(), withBackoff); len(d) != 0 {
		t.Fatalf("ack_wait under backoff reported as drift: %q", d)
	}
	set := spec
	set.MaxAckPending = 50
	if d := consumerDrift(set.config(), server); len(d) != 1 || !strings.HasPrefix(d[0], "max_ack_pending is 1000, want 50") {
		t.Fatalf("drift %q", d)
	}
	moved := server
	moved.FilterSubject, moved.FilterSubjects = "", []string{"a", "b"}
	if d := consumerDrift(spec.config(), moved); len(d) != 1 || !strings.HasPrefix(d[0], "filter subjects") {
		t.Fatalf("drift %q", d)
	}
}

// TestBucketDrift: a KeyValue bucket is compared on what the bucket
// exposes, not on the stream settings the client library picks.
func TestBucketDrift(t *testing.T) {
	spec := KeyValueSpec{Bucket: "b", History: 5, TTL: time.Hour, Compression: true}
	stream := jetstream.StreamConfig{Name: "KV_b", MaxMsgsPerSubject: 5, MaxAge: time.Hour, MaxBytes: -1, MaxMsgSize: -1,
		Replicas: 1, Compression: jetstream.S2Compression, AllowRollup: true, DenyDelete: true, AllowDirect: true, Discard: jetstream.DiscardNew,
		Duplicates: 2 * time.Minute}
	if d := bucketDrift(spec.view(), viewOf(stream), true); len(d) != 0 {
		t.Fatalf("drift %q", d)
	}
	stream.MaxMsgsPerSubject = 1
	if d := bucketDrift(spec.view(), viewOf(stream), true); len(d) != 1 || !strings.HasPrefix(d[0], "history is 1, want 5") {
		t.Fatalf("drift %q", d)
	}
}
