package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// KeyValue and ObjectStore buckets are streams the server names KV_<bucket>
// and OBJ_<bucket>: they are observed through the stream listing and
// compared on the settings the bucket exposes.

// KeyValueSpec is the desired configuration of a key/value bucket. Zero
// values take the defaults: History 1, no TTL, no byte limits, file
// storage, one replica. Storage cannot change in place.
type KeyValueSpec struct {
	Bucket      string
	Description string
	// History is the values kept per key, 1 to 64.
	History int
	// TTL is how long a value lives; 0 forever.
	TTL time.Duration
	// MaxBytes bounds the bucket, MaxValueSize one value (bytes); 0 or -1
	// unlimited.
	MaxBytes     int64
	MaxValueSize int32
	// Storage is file or memory.
	Storage     string
	Replicas    int
	Compression bool
}

// ObjectStoreSpec is the desired configuration of an object store bucket,
// with the same defaults as KeyValueSpec.
type ObjectStoreSpec struct {
	Bucket      string
	Description string
	// TTL is how long an object lives; 0 forever.
	TTL time.Duration
	// MaxBytes bounds the bucket; 0 or -1 unlimited.
	MaxBytes    int64
	Storage     string
	Replicas    int
	Compression bool
	Metadata    map[string]string
}

// bucketView is what both bucket kinds are compared on, as the stream holds it.
type bucketView struct {
	Description  string
	History      int64
	TTL          time.Duration
	MaxBytes     int64
	MaxValueSize int32
	Storage      jetstream.StorageType
	Replicas     int
	Compression  bool
	Metadata     map[string]string
}

func viewOf(c jetstream.StreamConfig) bucketView {
	return bucketView{Description: c.Description, History: c.MaxMsgsPerSubject, TTL: c.MaxAge, MaxBytes: limit(c.MaxBytes),
		MaxValueSize: int32(limit(int64(c.MaxMsgSize))), Storage: c.Storage, Replicas: max(c.Replicas, 1),
		Compression: c.Compression == jetstream.S2Compression, Metadata: c.Metadata}
}

// bucketDrift lists how got differs from want; kv compares history and
// value size, which object stores do not have.
func bucketDrift(want, got bucketView, kv bool) []string {
	var d []string
	diff := func(field string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			d = append(d, fmt.Sprintf("%s is %v, want %v", field, show(g), show(w)))
		}
	}
	diff("description", want.Description, got.Description)
	if kv {
		diff("history", want.History, got.History)
		diff("max_value_size", want.MaxValueSize, got.MaxValueSize)
	}
	diff("ttl", want.TTL, got.TTL)
	diff("max_bytes", want.MaxBytes, got.MaxBytes)
	diff("storage", want.Storage, got.Storage)
	diff("replicas", want.Replicas, got.Replicas)
	diff("compression", want.Compression, got.Compression)
	if !kv && metadataDiff(want.Metadata, got.Metadata) {
		d = append(d, "metadata differs")
	}
	return d
}

func validateBucket(what, bucket, storage string, replicas int, ttl time.Duration) error {
	if err := checkBucket(what, bucket); err != nil {
		return err
	}
	if _, ok := storages[storage]; !ok {
		return backenderr.Invalid("storage %q is not one of file, memory", storage)
	}
	if replicas < 0 || replicas > 5 {
		return backenderr.Invalid("replicas must be 1 to 5")
	}
	if ttl < 0 {
		return backenderr.Invalid("ttl may not be negative")
	}
	return nil
}

type keyValues struct{ *Client }

func (keyValues) Validate(_ context.Context, s KeyValueSpec) error {
	if err := validateBucket("bucket", s.Bucket, s.Storage, s.Replicas, s.TTL); err != nil {
		return err
	}
	if s.History < 0 || s.History > jetstream.KeyValueMaxHistory {
		return backenderr.Invalid("history must be 1 to %d", jetstream.KeyValueMaxHistory)
	}
	return nil
}

func (s KeyValueSpec) config() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: s.Bucket, Description: s.Description, History: uint8(max(s.History, 1)), //nolint:gosec // Validate bounds it to 64.
		TTL: s.TTL, MaxBytes: s.MaxBytes, MaxValueSize: s.MaxValueSize, Storage: storages[s.Storage],
		Replicas: max(s.Replicas, 1), Compression: s.Compression}
}

func (s KeyValueSpec) view() bucketView {
	return bucketView{Description: s.Description, History: int64(max(s.History, 1)), TTL: s.TTL, MaxBytes: limit(s.MaxBytes),
		MaxValueSize: int32(limit(int64(s.MaxValueSize))), Storage: storages[s.Storage], Replicas: max(s.Replicas, 1),
		Compression: s.Compression}
}

func kvStream(bucket string) string { return "KV_" + bucket }

func (c keyValues) Observe(ctx context.Context, s KeyValueSpec, mode snapshot.Mode) (port.Observation, error) {
	if err := checkBucket("bucket", s.Bucket); err != nil {
		return port.Observation{}, err
	}
	info, err := c.streamInfo(ctx, kvStream(s.Bucket), mode)
	if err != nil || info == nil {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: bucketDrift(s.view(), viewOf(info.Config), true)}, nil
}

func (c keyValues) Apply(ctx context.Context, s KeyValueSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	info, err := c.streamInfo(ctx, kvStream(s.Bucket), snapshot.Live)
	if err != nil {
		return err
	}
	if info != nil && len(bucketDrift(s.view(), viewOf(info.Config), true)) == 0 {
		return nil
	}
	if info == nil {
		return c.write(ctx, "create key/value bucket "+s.Bucket, func(ctx context.Context, js jetstream.JetStream) error {
			_, err := js.CreateKeyValue(ctx, s.config())
			return err
		})
	}
	return c.write(ctx, "update key/value bucket "+s.Bucket, func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.UpdateKeyValue(ctx, s.config())
		return err
	})
}

// Delete removes the bucket and its values; one already gone is success.
func (c keyValues) Delete(ctx context.Context, s KeyValueSpec) error {
	if err := checkBucket("bucket", s.Bucket); err != nil {
		return err
	}
	return c.deleteStream(ctx, "key/value bucket", kvStream(s.Bucket))
}

type objectStores struct{ *Client }

func (objectStores) Validate(_ context.Context, s ObjectStoreSpec) error {
	if err := validateBucket("bucket", s.Bucket, s.Storage, s.Replicas, s.TTL); err != nil {
		return err
	}
	return checkMetadata(s.Metadata)
}

func (s ObjectStoreSpec) config() jetstream.ObjectStoreConfig {
	return jetstream.ObjectStoreConfig{Bucket: s.Bucket, Description: s.Description, TTL: s.TTL, MaxBytes: s.MaxBytes,
		Storage: storages[s.Storage], Replicas: max(s.Replicas, 1), Compression: s.Compression, Metadata: s.Metadata}
}

func (s ObjectStoreSpec) view() bucketView {
	return bucketView{Description: s.Description, TTL: s.TTL, MaxBytes: limit(s.MaxBytes), Storage: storages[s.Storage],
		Replicas: max(s.Replicas, 1), Compression: s.Compression, Metadata: s.Metadata}
}

func objStream(bucket string) string { return "OBJ_" + bucket }

func (c objectStores) Observe(ctx context.Context, s ObjectStoreSpec, mode snapshot.Mode) (port.Observation, error) {
	if err := checkBucket("bucket", s.Bucket); err != nil {
		return port.Observation{}, err
	}
	info, err := c.streamInfo(ctx, objStream(s.Bucket), mode)
	if err != nil || info == nil {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: bucketDrift(s.view(), viewOf(info.Config), false)}, nil
}

func (c objectStores) Apply(ctx context.Context, s ObjectStoreSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	info, err := c.streamInfo(ctx, objStream(s.Bucket), snapshot.Live)
	if err != nil {
		return err
	}
	if info != nil && len(bucketDrift(s.view(), viewOf(info.Config), false)) == 0 {
		return nil
	}
	if info == nil {
		return c.write(ctx, "create object store "+s.Bucket, func(ctx context.Context, js jetstream.JetStream) error {
			_, err := js.CreateObjectStore(ctx, s.config())
			return err
		})
	}
	return c.write(ctx, "update object store "+s.Bucket, func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.UpdateObjectStore(ctx, s.config())
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return backenderr.New(backenderr.ReasonBackendError, "object store "+s.Bucket+" vanished during the update", err)
		}
		return err
	})
}

// Delete removes the bucket and its objects; one already gone is success.
func (c objectStores) Delete(ctx context.Context, s ObjectStoreSpec) error {
	if err := checkBucket("bucket", s.Bucket); err != nil {
		return err
	}
	return c.deleteStream(ctx, "object store", objStream(s.Bucket))
}
