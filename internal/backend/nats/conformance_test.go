package nats_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/backend-operator/backend-operator/internal/backend/conformance"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
)

// natsHostile are stream and consumer names NATS allows that other layers
// could mangle: quotes, semicolons, JSON and subject syntax, percent and
// hash signs, unicode.
var natsHostile = []string{
	`it's`, `"quoted"`, "semi;colon", "';DROP_STREAM_" + conformance.Canary + ";--", "ünïcödé", "日本語", "emoji🐇",
	"a%2Fb", "#hash", "a?b=c&d", "$JS", "{json}", "x-" + conformance.Canary, "~tilde", "+plus", "<tag", "a,b",
}

// bucketHostile are bucket names: only letters, digits, '_' and '-'.
var bucketHostile = []string{"-", "_", "--", "A-b_C", "x-" + conformance.Canary, strings.Repeat("z", 200)}

func streamNames(t *testing.T, js jetstream.JetStream, prefix string) []string {
	t.Helper()
	l := js.StreamNames(ctx(t))
	var out []string
	for n := range l.Name() {
		if strings.HasPrefix(n, prefix) {
			out = append(out, strings.TrimPrefix(n, prefix))
		} else if prefix == "" && !strings.HasPrefix(n, "KV_") && !strings.HasPrefix(n, "OBJ_") {
			out = append(out, n)
		}
	}
	must(t, l.Err())
	return out
}

func configJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

func TestConformanceStream(t *testing.T) {
	n := private(t, harnessOpts())
	c := connect(t, n)
	js := admin(t, n)
	conformance.Run(t, conformance.Case[nats.StreamSpec]{
		Client: kind[nats.Streams](t, nats.KindStream, c),
		New: func(name string) nats.StreamSpec {
			return nats.StreamSpec{Name: name, Storage: "memory", MaxMsgs: 100, MaxAge: time.Hour, Description: "conformance"}
		},
		Names: func(t *testing.T) []string { return streamNames(t, js, "") },
		Break: func(t *testing.T, name string) {
			s, err := js.Stream(ctx(t), name)
			must(t, err)
			cfg := s.CachedInfo().Config
			cfg.MaxMsgs, cfg.Description = 3, "broken"
			_, err = js.UpdateStream(ctx(t), cfg)
			must(t, err)
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			_, err := js.CreateStream(ctx(t), jetstream.StreamConfig{Name: name, Storage: jetstream.MemoryStorage, Description: "by hand"})
			must(t, err)
		},
		State: func(t *testing.T, name string) string {
			s, err := js.Stream(ctx(t), name)
			must(t, err)
			return configJSON(t, s.CachedInfo().Config)
		},
		Hostile: natsHostile,
		Invalid: []conformance.Invalid[nats.StreamSpec]{
			{Why: "dot", Spec: nats.StreamSpec{Name: "a.b"}},
			{Why: "wildcard", Spec: nats.StreamSpec{Name: "a*"}},
			{Why: "full wildcard", Spec: nats.StreamSpec{Name: "a>"}},
			{Why: "space", Spec: nats.StreamSpec{Name: "a b"}},
			{Why: "slash", Spec: nats.StreamSpec{Name: "a/b"}},
			{Why: "backslash", Spec: nats.StreamSpec{Name: `a\b`}},
			{Why: "256-byte name", Spec: nats.StreamSpec{Name: strings.Repeat("s", 256)}},
			{Why: "bad subject", Spec: nats.StreamSpec{Name: "ok", Subjects: []string{"a..b"}}},
			{Why: "unknown storage", Spec: nats.StreamSpec{Name: "ok", Storage: "tape"}},
		},
	})
}

func TestConformanceConsumer(t *testing.T) {
	n := private(t, harnessOpts())
	c := connect(t, n)
	js := admin(t, n)
	const stream = "CF"
	_, err := js.CreateStream(ctx(t), jetstream.StreamConfig{Name: stream, Subjects: []string{"cf.>"}, Storage: jetstream.MemoryStorage})
	must(t, err)
	conformance.Run(t, conformance.Case[nats.ConsumerSpec]{
		Client: kind[nats.Consumers](t, nats.KindConsumer, c),
		New: func(name string) nats.ConsumerSpec {
			return nats.ConsumerSpec{Stream: stream, Durable: name, MaxAckPending: 20, FilterSubjects: []string{"cf.a"}}
		},
		Names: func(t *testing.T) []string {
			s, err := js.Stream(ctx(t), stream)
			must(t, err)
			l := s.ConsumerNames(ctx(t))
			var out []string
			for n := range l.Name() {
				out = append(out, n)
			}
			must(t, l.Err())
			return out
		},
		Break: func(t *testing.T, name string) {
			cons, err := js.Consumer(ctx(t), stream, name)
			must(t, err)
			cfg := cons.CachedInfo().Config
			cfg.MaxAckPending, cfg.FilterSubject = 3, "cf.b"
			_, err = js.UpdateConsumer(ctx(t), stream, cfg)
			must(t, err)
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			_, err := js.CreateConsumer(ctx(t), stream, jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy})
			must(t, err)
		},
		State: func(t *testing.T, name string) string {
			cons, err := js.Consumer(ctx(t), stream, name)
			must(t, err)
			return configJSON(t, cons.CachedInfo().Config)
		},
		Hostile: natsHostile,
		Invalid: []conformance.Invalid[nats.ConsumerSpec]{
			{Why: "dot", Spec: nats.ConsumerSpec{Stream: stream, Durable: "a.b"}},
			{Why: "space", Spec: nats.ConsumerSpec{Stream: stream, Durable: "a b"}},
			{Why: "wildcard stream", Spec: nats.ConsumerSpec{Stream: "C*", Durable: "ok"}},
			{Why: "start sequence missing", Spec: nats.ConsumerSpec{Stream: stream, Durable: "ok", DeliverPolicy: "byStartSequence"}},
			{Why: "unknown ack policy", Spec: nats.ConsumerSpec{Stream: stream, Durable: "ok", AckPolicy: "sometimes"}},
		},
	})
}

func TestConformanceKeyValue(t *testing.T) {
	n := private(t, harnessOpts())
	c := connect(t, n)
	js := admin(t, n)
	conformance.Run(t, conformance.Case[nats.KeyValueSpec]{
		Client: kind[nats.KeyValues](t, nats.KindKeyValue, c),
		New: func(name string) nats.KeyValueSpec {
			return nats.KeyValueSpec{Bucket: name, History: 3, Storage: "memory", Description: "conformance"}
		},
		Names: func(t *testing.T) []string { return streamNames(t, js, "KV_") },
		Break: func(t *testing.T, name string) {
			_, err := js.UpdateKeyValue(ctx(t), jetstream.KeyValueConfig{Bucket: name, History: 1, Storage: jetstream.MemoryStorage, Description: "broken"})
			must(t, err)
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			_, err := js.CreateKeyValue(ctx(t), jetstream.KeyValueConfig{Bucket: name, Storage: jetstream.MemoryStorage})
			must(t, err)
		},
		State: func(t *testing.T, name string) string {
			s, err := js.Stream(ctx(t), "KV_"+name)
			must(t, err)
			return configJSON(t, s.CachedInfo().Config)
		},
		Hostile: bucketHostile,
		Invalid: []conformance.Invalid[nats.KeyValueSpec]{
			{Why: "dot", Spec: nats.KeyValueSpec{Bucket: "a.b"}},
			{Why: "unicode", Spec: nats.KeyValueSpec{Bucket: "ü"}},
			{Why: "history over 64", Spec: nats.KeyValueSpec{Bucket: "ok", History: 65}},
		},
	})
}

func TestConformanceObjectStore(t *testing.T) {
	n := private(t, harnessOpts())
	c := connect(t, n)
	js := admin(t, n)
	conformance.Run(t, conformance.Case[nats.ObjectStoreSpec]{
		Client: kind[nats.ObjectStores](t, nats.KindObjectStore, c),
		New: func(name string) nats.ObjectStoreSpec {
			return nats.ObjectStoreSpec{Bucket: name, Storage: "memory", MaxBytes: 1 << 20, Description: "conformance"}
		},
		Names: func(t *testing.T) []string { return streamNames(t, js, "OBJ_") },
		Break: func(t *testing.T, name string) {
			_, err := js.UpdateObjectStore(ctx(t), jetstream.ObjectStoreConfig{Bucket: name, Storage: jetstream.MemoryStorage, MaxBytes: 5 << 20})
			must(t, err)
		},
		CreateOutOfBand: func(t *testing.T, name string) {
			_, err := js.CreateObjectStore(ctx(t), jetstream.ObjectStoreConfig{Bucket: name, Storage: jetstream.MemoryStorage})
			must(t, err)
		},
		State: func(t *testing.T, name string) string {
			s, err := js.Stream(ctx(t), "OBJ_"+name)
			must(t, err)
			return configJSON(t, s.CachedInfo().Config)
		},
		Hostile: bucketHostile,
		Invalid: []conformance.Invalid[nats.ObjectStoreSpec]{
			{Why: "slash", Spec: nats.ObjectStoreSpec{Bucket: "a/b"}},
			{Why: "negative ttl", Spec: nats.ObjectStoreSpec{Bucket: "ok", TTL: -time.Second}},
		},
	})
}
