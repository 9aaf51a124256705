package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
)

// StreamSpec is the desired configuration of a stream. Zero values take the
// server's defaults: limits 0 are unlimited, Replicas 0 is 1, Retention
// limits, Storage file, Discard old, Compression none; DuplicateWindow 0 is
// the server's (2 minutes, or MaxAge when shorter) and is then not checked.
// Storage, and Retention to or from workqueue, cannot change in place: the
// server refuses (Refused, with its error code).
type StreamSpec struct {
	Name        string
	Description string
	// Subjects the stream stores; none (and no mirror or sources) is the
	// stream's name, as the server defaults it.
	Subjects []string
	// Retention is limits, interest or workqueue.
	Retention string
	// Storage is file or memory.
	Storage  string
	Replicas int
	// MaxAge is how long messages are kept; 0 forever.
	MaxAge time.Duration
	// MaxBytes, MaxMsgs, MaxMsgsPerSubject and MaxMsgSize (bytes) bound the
	// stream; 0 or -1 is unlimited. MaxConsumers likewise.
	MaxBytes, MaxMsgs, MaxMsgsPerSubject int64
	MaxMsgSize                           int32
	MaxConsumers                         int
	// Discard is old or new: what goes when a limit is reached.
	Discard string
	// DiscardPerSubject applies discard new per subject.
	DiscardPerSubject bool
	// DuplicateWindow is how long message IDs are remembered.
	DuplicateWindow                                 time.Duration
	DenyDelete, DenyPurge, AllowDirect, AllowRollup bool
	// Compression is none or s2.
	Compression      string
	Mirror           *Source
	Sources          []Source
	SubjectTransform *Transform
	// Metadata are the application's key/value pairs (keys _nats.* are the
	// server's).
	Metadata map[string]string
}

// Source is a stream a mirror or a sourcing stream reads from.
type Source struct {
	Name          string
	OptStartSeq   uint64
	OptStartTime  *time.Time
	FilterSubject string
	// SubjectTransforms filter and rename what is read.
	SubjectTransforms []Transform
	// ExternalAPIPrefix and ExternalDeliverPrefix reach a stream in another
	// account or domain.
	ExternalAPIPrefix, ExternalDeliverPrefix string
}

// Transform maps subjects matching Source to Destination.
type Transform struct{ Source, Destination string }

var (
	retentions   = map[string]jetstream.RetentionPolicy{"": jetstream.LimitsPolicy, "limits": jetstream.LimitsPolicy, "interest": jetstream.InterestPolicy, "workqueue": jetstream.WorkQueuePolicy}
	storages     = map[string]jetstream.StorageType{"": jetstream.FileStorage, "file": jetstream.FileStorage, "memory": jetstream.MemoryStorage}
	discards     = map[string]jetstream.DiscardPolicy{"": jetstream.DiscardOld, "old": jetstream.DiscardOld, "new": jetstream.DiscardNew}
	compressions = map[string]jetstream.StoreCompression{"": jetstream.NoCompression, "none": jetstream.NoCompression, "s2": jetstream.S2Compression}
)

type streams struct{ *Client }

func (streams) Validate(_ context.Context, s StreamSpec) error {
	if err := checkName("stream name", s.Name); err != nil {
		return err
	}
	for _, subj := range s.Subjects {
		if err := checkSubject("subject", subj, true); err != nil {
			return err
		}
	}
	if _, ok := retentions[s.Retention]; !ok {
		return backenderr.Invalid("retention %q is not one of limits, interest, workqueue", s.Retention)
	}
	if _, ok := storages[s.Storage]; !ok {
		return backenderr.Invalid("storage %q is not one of file, memory", s.Storage)
	}
	if _, ok := discards[s.Discard]; !ok {
		return backenderr.Invalid("discard %q is not one of old, new", s.Discard)
	}
	if _, ok := compressions[s.Compression]; !ok {
		return backenderr.Invalid("compression %q is not one of none, s2", s.Compression)
	}
	if s.Replicas < 0 || s.Replicas > 5 {
		return backenderr.Invalid("replicas must be 1 to 5")
	}
	if s.MaxAge < 0 || s.DuplicateWindow < 0 {
		return backenderr.Invalid("maxAge and duplicateWindow may not be negative")
	}
	if s.Mirror != nil && (len(s.Subjects) > 0 || len(s.Sources) > 0) {
		return backenderr.Invalid("a mirror has neither subjects nor sources")
	}
	if s.DiscardPerSubject && (s.Discard != "new" || s.MaxMsgsPerSubject <= 0) {
		return backenderr.Invalid("discardPerSubject needs discard new and maxMsgsPerSubject")
	}
	for _, src := range append(slices.Clone(s.Sources), ptrOr(s.Mirror)...) {
		if err := checkName("source stream name", src.Name); err != nil {
			return err
		}
		if src.FilterSubject != "" {
			if err := checkSubject("source filterSubject", src.FilterSubject, true); err != nil {
				return err
			}
		}
	}
	return checkMetadata(s.Metadata)
}

func ptrOr[T any](p *T) []T {
	if p == nil {
		return nil
	}
	return []T{*p}
}

// config is the StreamConfig the spec asks for.
func (s StreamSpec) config() jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{Name: s.Name, Description: s.Description, Subjects: s.Subjects,
		Retention: retentions[s.Retention], Storage: storages[s.Storage], Replicas: max(s.Replicas, 1),
		MaxAge: s.MaxAge, MaxBytes: limit(s.MaxBytes), MaxMsgs: limit(s.MaxMsgs), MaxMsgsPerSubject: limit(s.MaxMsgsPerSubject),
		MaxMsgSize: int32(limit(int64(s.MaxMsgSize))), MaxConsumers: int(limit(int64(s.MaxConsumers))),
		Discard: discards[s.Discard], DiscardNewPerSubject: s.DiscardPerSubject, Duplicates: s.DuplicateWindow,
		DenyDelete: s.DenyDelete, DenyPurge: s.DenyPurge, AllowDirect: s.AllowDirect, AllowRollup: s.AllowRollup,
		Compression: compressions[s.Compression], Metadata: s.Metadata}
	if s.Mirror != nil {
		cfg.Mirror = s.Mirror.config()
	}
	for _, src := range s.Sources {
		cfg.Sources = append(cfg.Sources, src.config())
	}
	if t := s.SubjectTransform; t != nil {
		cfg.SubjectTransform = &jetstream.SubjectTransformConfig{Source: t.Source, Destination: t.Destination}
	}
	return cfg
}

func (s Source) config() *jetstream.StreamSource {
	src := &jetstream.StreamSource{Name: s.Name, OptStartSeq: s.OptStartSeq, OptStartTime: s.OptStartTime, FilterSubject: s.FilterSubject}
	for _, t := range s.SubjectTransforms {
		src.SubjectTransforms = append(src.SubjectTransforms, jetstream.SubjectTransformConfig{Source: t.Source, Destination: t.Destination})
	}
	if s.ExternalAPIPrefix != "" || s.ExternalDeliverPrefix != "" {
		src.External = &jetstream.ExternalStream{APIPrefix: s.ExternalAPIPrefix, DeliverPrefix: s.ExternalDeliverPrefix}
	}
	return src
}

// limit is n, or -1 (the server's "unlimited") for n <= 0.
func limit(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// streamDrift lists how got differs from want, in the server's field
// names. Fields whose server default depends on others (duplicate_window)
// are checked only when want sets them.
func streamDrift(want, got jetstream.StreamConfig) []string {
	var d []string
	diff := func(field string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			d = append(d, fmt.Sprintf("%s is %v, want %v", field, show(g), show(w)))
		}
	}
	diff("description", want.Description, got.Description)
	wantSubjects := want.Subjects
	if len(wantSubjects) == 0 && want.Mirror == nil && len(want.Sources) == 0 {
		wantSubjects = []string{want.Name}
	}
	if !sameSet(wantSubjects, got.Subjects) {
		d = append(d, fmt.Sprintf("subjects are %v, want %v", show(got.Subjects), show(wantSubjects)))
	}
	diff("retention", want.Retention, got.Retention)
	diff("storage", want.Storage, got.Storage)
	diff("num_replicas", want.Replicas, max(got.Replicas, 1))
	diff("max_age", want.MaxAge, got.MaxAge)
	diff("max_bytes", want.MaxBytes, limit(got.MaxBytes))
	diff("max_msgs", want.MaxMsgs, limit(got.MaxMsgs))
	diff("max_msgs_per_subject", want.MaxMsgsPerSubject, limit(got.MaxMsgsPerSubject))
	diff("max_msg_size", want.MaxMsgSize, int32(limit(int64(got.MaxMsgSize))))
	diff("max_consumers", want.MaxConsumers, int(limit(int64(got.MaxConsumers))))
	diff("discard", want.Discard, got.Discard)
	diff("discard_new_per_subject", want.DiscardNewPerSubject, got.DiscardNewPerSubject)
	if want.Duplicates != 0 {
		diff("duplicate_window", want.Duplicates, got.Duplicates)
	}
	diff("deny_delete", want.DenyDelete, got.DenyDelete)
	diff("deny_purge", want.DenyPurge, got.DenyPurge)
	diff("allow_direct", want.AllowDirect, got.AllowDirect)
	diff("allow_rollup_hdrs", want.AllowRollup, got.AllowRollup)
	diff("compression", want.Compression, got.Compression)
	if show(sourceView(want.Mirror)) != show(sourceView(got.Mirror)) {
		d = append(d, fmt.Sprintf("mirror is %s, want %s", show(sourceView(got.Mirror)), show(sourceView(want.Mirror))))
	}
	if show(sourcesView(want.Sources)) != show(sourcesView(got.Sources)) {
		d = append(d, fmt.Sprintf("sources are %s, want %s", show(sourcesView(got.Sources)), show(sourcesView(want.Sources))))
	}
	if show(transformView(want.SubjectTransform)) != show(transformView(got.SubjectTransform)) {
		d = append(d, fmt.Sprintf("subject_transform is %s, want %s", show(transformView(got.SubjectTransform)), show(transformView(want.SubjectTransform))))
	}
	if metadataDiff(want.Metadata, got.Metadata) {
		d = append(d, "metadata differs")
	}
	return d
}

// sourceView is a source as compared: the fields the spec sets.
type sourceKey struct {
	Name          string
	OptStartSeq   uint64
	OptStartTime  string
	FilterSubject string
	Transforms    []string
	External      string
}

func sourceView(s *jetstream.StreamSource) *sourceKey {
	if s == nil {
		return nil
	}
	k := &sourceKey{Name: s.Name, OptStartSeq: s.OptStartSeq, FilterSubject: s.FilterSubject}
	if s.OptStartTime != nil {
		k.OptStartTime = s.OptStartTime.UTC().Format(time.RFC3339Nano)
	}
	for _, t := range s.SubjectTransforms {
		k.Transforms = append(k.Transforms, t.Source+" -> "+t.Destination)
	}
	if s.External != nil {
		k.External = s.External.APIPrefix + " " + s.External.DeliverPrefix
	}
	return k
}

func sourcesView(ss []*jetstream.StreamSource) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, show(sourceView(s)))
	}
	slices.Sort(out)
	return out
}

func transformView(t *jetstream.SubjectTransformConfig) string {
	if t == nil || (t.Source == "" && t.Destination == "") {
		return ""
	}
	return t.Source + " -> " + t.Destination
}

// show renders a value for a drift line.
func show(v any) string {
	switch x := v.(type) {
	case []string:
		return "[" + strings.Join(x, " ") + "]"
	case nil:
		return "none"
	case *sourceKey:
		if x == nil {
			return "none"
		}
		return fmt.Sprintf("%+v", *x)
	case string:
		if x == "" {
			return `""`
		}
		return x
	}
	return fmt.Sprint(v)
}

func (c streams) Observe(ctx context.Context, s StreamSpec, mode snapshot.Mode) (port.Observation, error) {
	if err := checkName("stream name", s.Name); err != nil {
		return port.Observation{}, err
	}
	info, err := c.streamInfo(ctx, s.Name, mode)
	if err != nil || info == nil {
		return port.Observation{}, err
	}
	return port.Observation{Exists: true, Drift: streamDrift(s.config(), info.Config)}, nil
}

// streamInfo reads one stream now, or from the snapshot; nil when missing.
func (c *Client) streamInfo(ctx context.Context, name string, mode snapshot.Mode) (*jetstream.StreamInfo, error) {
	if mode == snapshot.Cached {
		st, err := c.snap.Get(ctx)
		if err != nil {
			return nil, err
		}
		return st.streams[name], nil
	}
	var info *jetstream.StreamInfo
	err := c.call(ctx, "read stream "+name, func(ctx context.Context, js jetstream.JetStream) error {
		st, err := js.Stream(ctx, name)
		if isStreamNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		info = st.CachedInfo()
		return nil
	})
	return info, err
}

func (c streams) Apply(ctx context.Context, s StreamSpec) error {
	if err := c.Validate(ctx, s); err != nil {
		return err
	}
	info, err := c.streamInfo(ctx, s.Name, snapshot.Live)
	if err != nil {
		return err
	}
	cfg := s.config()
	if info == nil {
		return c.write(ctx, "create stream "+s.Name, func(ctx context.Context, js jetstream.JetStream) error {
			_, err := js.CreateStream(ctx, cfg)
			return err
		})
	}
	if len(streamDrift(cfg, info.Config)) == 0 {
		return nil
	}
	return c.write(ctx, "update stream "+s.Name, func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.UpdateStream(ctx, cfg)
		return err
	})
}

// Delete removes the stream with its messages and consumers; one already
// gone is success.
func (c streams) Delete(ctx context.Context, s StreamSpec) error {
	return c.deleteStream(ctx, "stream", s.Name)
}

func (c *Client) deleteStream(ctx context.Context, what, name string) error {
	if err := checkName(what+" name", name); err != nil {
		return err
	}
	return c.write(ctx, "delete "+what+" "+name, func(ctx context.Context, js jetstream.JetStream) error {
		err := js.DeleteStream(ctx, name)
		if isStreamNotFound(err) || errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}
