package nats_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/test/harness"
)

// TestInfo: the server reports its version and the account's JetStream
// limits and usage; an account without JetStream and a wrong password are
// told apart.
func TestInfo(t *testing.T) {
	n := server(t)
	c := connect(t, n)
	info, err := c.Info(ctx(t))
	must(t, err)
	if !strings.HasPrefix(info.Version, "2.15.") {
		t.Errorf("version %q, want 2.15.x", info.Version)
	}
	if info.MaxStreams != -1 && info.MaxStreams <= 0 {
		t.Errorf("max streams %d", info.MaxStreams)
	}
	if info.MaxMemory == 0 || info.MaxStorage == 0 {
		t.Errorf("limits not read: %+v", info)
	}

	nojs, err := nats.New(nats.Config{Servers: []string{n.URL()}, Username: n.NoJSUser, Password: n.NoJSPassword})
	must(t, err)
	defer nojs.Close()
	_, err = nojs.Info(ctx(t))
	wantReason(t, err, nats.ReasonJetStreamDisabled)

	bad, err := nats.New(nats.Config{Servers: []string{n.URL()}, Username: n.AdminUser, Password: "wrong-" + n.AdminPassword})
	must(t, err)
	defer bad.Close()
	_, err = bad.Info(ctx(t))
	be := wantReason(t, err, backenderr.ReasonAuthFailed)
	if strings.Contains(be.Error(), n.AdminPassword) {
		t.Error("the error quotes the password")
	}
}

// TestLogins: an NKey seed, a token, and TLS with a client certificate
// (verify-full) each log in; a missing client certificate, a wrong CA and
// two logins at once are refused.
func TestLogins(t *testing.T) {
	n := server(t)
	nk, err := nats.New(nats.Config{Servers: []string{n.URL()}, NKeySeed: n.NKeySeed})
	must(t, err)
	defer nk.Close()
	if _, err := nk.Info(ctx(t)); err != nil {
		t.Errorf("nkey login: %v", err)
	}

	tok := private(t, harness.NATSOptions{Token: true, Domain: "hub"})
	tc, err := nats.New(nats.Config{Servers: []string{tok.URL()}, Token: tok.Token, Domain: "hub"})
	must(t, err)
	defer tc.Close()
	info, err := tc.Info(ctx(t))
	if err != nil {
		t.Fatalf("token login: %v", err)
	}
	if info.Domain != "hub" {
		t.Errorf("domain %q, want hub", info.Domain)
	}
	// In the domain, the raw consumer requests (info, listing) go to its API prefix.
	ts, tcons := kind[nats.Streams](t, nats.KindStream, tc), kind[nats.Consumers](t, nats.KindConsumer, tc)
	must(t, ts.Apply(ctx(t), streamSpec("HUB")))
	hubConsumer := nats.ConsumerSpec{Stream: "HUB", Durable: "reader", MaxAckPending: 5}
	must(t, tcons.Apply(ctx(t), hubConsumer))
	for _, mode := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		obs, err := tcons.Observe(ctx(t), hubConsumer, mode)
		must(t, err)
		if !obs.UpToDate() {
			t.Fatalf("consumer in domain hub, mode %v: %+v", mode, obs)
		}
	}
	wrongDomain, err := nats.New(nats.Config{Servers: []string{tok.URL()}, Token: tok.Token, Domain: "elsewhere", Timeout: 2 * time.Second})
	must(t, err)
	defer wrongDomain.Close()
	_, err = wrongDomain.Info(ctx(t))
	wantReason(t, err, nats.ReasonJetStreamDisabled)

	sec := private(t, harness.NATSOptions{TLS: true})
	cfg := nats.Config{Servers: []string{sec.URL()}, Username: sec.AdminUser, Password: sec.AdminPassword,
		TLSMode: "verify-full", CAPEM: sec.TLS.CAPEM, ClientCertPEM: sec.TLS.ClientCertPEM, ClientKeyPEM: sec.TLS.ClientKeyPEM, Timeout: 3 * time.Second}
	tl, err := nats.New(cfg)
	must(t, err)
	defer tl.Close()
	if _, err := tl.Info(ctx(t)); err != nil {
		t.Errorf("TLS login with a client certificate: %v", err)
	}
	noCert := cfg
	noCert.ClientCertPEM, noCert.ClientKeyPEM = nil, nil
	nc, err := nats.New(noCert)
	must(t, err)
	defer nc.Close()
	if _, err := nc.Info(ctx(t)); err == nil {
		t.Error("logged in without the client certificate the server requires")
	}
	wrongCA := cfg
	other, err := harness.WriteTLSFiles("127.0.0.1")
	must(t, err)
	defer other.Close()
	wrongCA.CAPEM = other.CAPEM
	wc, err := nats.New(wrongCA)
	must(t, err)
	defer wc.Close()
	_, err = wc.Info(ctx(t))
	wantReason(t, err, backenderr.ReasonUnavailable)

	_, err = nats.New(nats.Config{Servers: []string{n.URL()}, Token: "t", NKeySeed: n.NKeySeed})
	wantReason(t, err, backenderr.ReasonInvalidSpec)
	_, err = nats.New(nats.Config{Servers: []string{n.URL()}, NKeySeed: "not a seed"})
	wantReason(t, err, backenderr.ReasonInvalidSpec)
	_, err = nats.New(nats.Config{Servers: []string{"tls://" + n.Host + ":1"}})
	wantReason(t, err, backenderr.ReasonInvalidSpec)
	_, err = nats.New(nats.Config{Servers: []string{"nats://user:pw@" + n.Host + ":1"}})
	wantReason(t, err, backenderr.ReasonInvalidSpec)
}

func streamSpec(name string) nats.StreamSpec {
	return nats.StreamSpec{Name: name, Subjects: []string{name + ".>"}, Storage: "file", MaxAge: time.Hour,
		MaxMsgs: 1000, Discard: "old", DuplicateWindow: time.Minute, Metadata: map[string]string{"team": "orders"}}
}

// TestStream: create, up to date, an out-of-band change reported and put
// back, a change the server refuses (storage) is terminal with the
// server's error code, delete and delete again.
func TestStream(t *testing.T) {
	n := server(t)
	c := connect(t, n)
	js := admin(t, n)
	s := kind[nats.Streams](t, nats.KindStream, c)
	spec := streamSpec("ORDERS")
	obs, err := s.Observe(ctx(t), spec, snapshot.Live)
	must(t, err)
	if obs.Exists {
		t.Fatal("exists before create")
	}
	must(t, s.Apply(ctx(t), spec))
	info := streamExists(t, js, "ORDERS")
	if info == nil || info.Config.MaxMsgs != 1000 || info.Config.MaxAge != time.Hour || info.Config.Metadata["team"] != "orders" {
		t.Fatalf("stream on the server: %+v", info)
	}
	for _, mode := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		obs, err := s.Observe(ctx(t), spec, mode)
		must(t, err)
		if !obs.UpToDate() {
			t.Fatalf("mode %v: not up to date after create: %v", mode, obs.Drift)
		}
	}

	// An admin changes two settings.
	cfg := info.Config
	cfg.MaxMsgs, cfg.Discard = 5, jetstream.DiscardNew
	_, err = js.UpdateStream(ctx(t), cfg)
	must(t, err)
	obs, err = s.Observe(ctx(t), spec, snapshot.Live)
	must(t, err)
	if len(obs.Drift) != 2 {
		t.Fatalf("drift %v, want max_msgs and discard", obs.Drift)
	}
	must(t, s.Apply(ctx(t), spec))
	if got := streamExists(t, js, "ORDERS").Config; got.MaxMsgs != 1000 || got.Discard != jetstream.DiscardOld {
		t.Fatalf("not repaired: %+v", got)
	}

	// Storage cannot change in place: the server refuses, terminally.
	mem := spec
	mem.Storage = "memory"
	err = s.Apply(ctx(t), mem)
	be := wantReason(t, err, nats.ReasonRefused)
	if !be.Terminal || !strings.Contains(be.Message, "JetStream error 10") {
		t.Errorf("refusal %+v: want terminal with the server's error code", be)
	}
	if streamExists(t, js, "ORDERS").Config.Storage != jetstream.FileStorage {
		t.Error("storage changed")
	}

	must(t, s.Delete(ctx(t), spec))
	if streamExists(t, js, "ORDERS") != nil {
		t.Fatal("not deleted")
	}
	must(t, s.Delete(ctx(t), spec))
}

// TestStreamSources: a mirror and a stream with sources and a subject
// transform are created as declared; publishing through them works.
func TestStreamSources(t *testing.T) {
	n := server(t)
	c := connect(t, n)
	js := admin(t, n)
	s := kind[nats.Streams](t, nats.KindStream, c)
	origin := streamSpec("SRC_A")
	must(t, s.Apply(ctx(t), origin))
	mirror := nats.StreamSpec{Name: "SRC_MIRROR", Mirror: &nats.Source{Name: "SRC_A"}}
	agg := nats.StreamSpec{Name: "SRC_AGG", Sources: []nats.Source{{Name: "SRC_A", FilterSubject: "SRC_A.x.>"}},
		SubjectTransform: &nats.Transform{Source: "agg.>", Destination: "agg.in.>"}, Subjects: []string{"agg.>"},
		Compression: "s2", AllowDirect: true, AllowRollup: true, DenyDelete: true}
	for _, spec := range []nats.StreamSpec{mirror, agg} {
		must(t, s.Apply(ctx(t), spec))
		obs, err := s.Observe(ctx(t), spec, snapshot.Live)
		must(t, err)
		if !obs.UpToDate() {
			t.Fatalf("%s: %v", spec.Name, obs.Drift)
		}
	}
	_, err := js.Publish(ctx(t), "SRC_A.x.1", []byte("hello"))
	must(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, mErr := streamExists(t, js, "SRC_MIRROR"), streamExists(t, js, "SRC_AGG")
		if m.State.Msgs == 1 && mErr.State.Msgs == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror holds %d, aggregate %d messages; want 1 each", m.State.Msgs, mErr.State.Msgs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, spec := range []nats.StreamSpec{mirror, agg, origin} {
		must(t, s.Delete(ctx(t), spec))
	}
}

// TestConsumer: a pull consumer is created, publishes are fetched through
// it, an out-of-band change and deletion are repaired, a change of ack
// policy is refused by the server; a push consumer with a group too.
func TestConsumer(t *testing.T) {
	n := server(t)
	c := connect(t, n)
	js := admin(t, n)
	s := kind[nats.Streams](t, nats.KindStream, c)
	cons := kind[nats.Consumers](t, nats.KindConsumer, c)
	stream := streamSpec("JOBS")
	stream.Retention = "workqueue"
	spec := nats.ConsumerSpec{Stream: "JOBS", Durable: "worker", AckWait: 10 * time.Second, MaxDeliver: 5,
		BackOff: []time.Duration{time.Second, 2 * time.Second}, FilterSubjects: []string{"JOBS.a.>", "JOBS.b.>"}, MaxAckPending: 50}

	// The stream is missing: the consumer waits for it.
	err := cons.Apply(ctx(t), spec)
	wantReason(t, err, backenderr.ReasonDependencyMissing)

	must(t, s.Apply(ctx(t), stream))
	must(t, cons.Apply(ctx(t), spec))
	for _, mode := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
		obs, err := cons.Observe(ctx(t), spec, mode)
		must(t, err)
		if !obs.UpToDate() {
			t.Fatalf("mode %v: %v", mode, obs.Drift)
		}
	}
	_, err = js.Publish(ctx(t), "JOBS.a.1", []byte("job-1"))
	must(t, err)
	cc, err := js.Consumer(ctx(t), "JOBS", "worker")
	must(t, err)
	batch, err := cc.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	must(t, err)
	var got []byte
	for m := range batch.Messages() {
		got = m.Data()
		must(t, m.Ack())
	}
	if !bytes.Equal(got, []byte("job-1")) {
		t.Fatalf("fetched %q", got)
	}

	// Changed out of band, then deleted out of band: repaired each time.
	cfg := cc.CachedInfo().Config
	cfg.MaxAckPending = 7
	_, err = js.UpdateConsumer(ctx(t), "JOBS", cfg)
	must(t, err)
	obs, err := cons.Observe(ctx(t), spec, snapshot.Live)
	must(t, err)
	if len(obs.Drift) != 1 || !strings.Contains(obs.Drift[0], "max_ack_pending") {
		t.Fatalf("drift %v", obs.Drift)
	}
	must(t, cons.Apply(ctx(t), spec))
	cc, err = js.Consumer(ctx(t), "JOBS", "worker")
	must(t, err)
	if cc.CachedInfo().Config.MaxAckPending != 50 {
		t.Fatal("max_ack_pending not put back")
	}
	must(t, js.DeleteConsumer(ctx(t), "JOBS", "worker"))
	obs, err = cons.Observe(ctx(t), spec, snapshot.Live)
	must(t, err)
	if obs.Exists {
		t.Fatal("deleted consumer observed")
	}
	must(t, cons.Apply(ctx(t), spec))
	if _, err := js.Consumer(ctx(t), "JOBS", "worker"); err != nil {
		t.Fatalf("not recreated: %v", err)
	}

	// Ack policy cannot change in place.
	none := spec
	none.AckPolicy = "none"
	err = cons.Apply(ctx(t), none)
	be := wantReason(t, err, nats.ReasonRefused)
	if !be.Terminal || !strings.Contains(be.Message, "JetStream error") {
		t.Errorf("refusal %+v", be)
	}

	push := nats.ConsumerSpec{Stream: "JOBS", Durable: "pusher", DeliverSubject: "deliver.jobs", DeliverGroup: "workers",
		AckPolicy: "explicit", FilterSubjects: []string{"JOBS.c.>"}, FlowControl: true, HeartbeatInterval: 5 * time.Second}
	must(t, cons.Apply(ctx(t), push))
	obs, err = cons.Observe(ctx(t), push, snapshot.Live)
	must(t, err)
	if !obs.UpToDate() {
		t.Fatalf("push: %v", obs.Drift)
	}

	must(t, cons.Delete(ctx(t), spec))
	must(t, cons.Delete(ctx(t), spec))
	if _, err := js.Consumer(ctx(t), "JOBS", "worker"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer still there: %v", err)
	}
	must(t, s.Delete(ctx(t), stream))
	// Its stream gone, a consumer's deletion is already done.
	must(t, cons.Delete(ctx(t), push))
}

// TestBuckets: a key/value bucket and an object store are created, used,
// repaired after an out-of-band change and deleted.
func TestBuckets(t *testing.T) {
	n := server(t)
	c := connect(t, n)
	js := admin(t, n)
	kv := kind[nats.KeyValues](t, nats.KindKeyValue, c)
	spec := nats.KeyValueSpec{Bucket: "config", History: 5, TTL: time.Hour, MaxValueSize: 1024, Compression: true, Description: "settings"}
	must(t, kv.Apply(ctx(t), spec))
	bucket, err := js.KeyValue(ctx(t), "config")
	must(t, err)
	_, err = bucket.Put(ctx(t), "colour", []byte("blue"))
	must(t, err)
	e, err := bucket.Get(ctx(t), "colour")
	must(t, err)
	if string(e.Value()) != "blue" {
		t.Fatalf("got %q", e.Value())
	}
	_, err = js.UpdateKeyValue(ctx(t), jetstream.KeyValueConfig{Bucket: "config", History: 2, TTL: time.Hour, MaxValueSize: 1024, Compression: true, Description: "settings"})
	must(t, err)
	obs, err := kv.Observe(ctx(t), spec, snapshot.Live)
	must(t, err)
	if len(obs.Drift) != 1 || !strings.Contains(obs.Drift[0], "history") {
		t.Fatalf("drift %v", obs.Drift)
	}
	must(t, kv.Apply(ctx(t), spec))
	st, _ := bucket.Status(ctx(t))
	if st.History() != 5 {
		t.Fatalf("history %d, want 5", st.History())
	}
	obs, err = kv.Observe(ctx(t), spec, snapshot.Cached)
	must(t, err)
	if !obs.UpToDate() {
		t.Fatalf("cached: %v", obs.Drift)
	}

	obj := kind[nats.ObjectStores](t, nats.KindObjectStore, c)
	ospec := nats.ObjectStoreSpec{Bucket: "files", TTL: 24 * time.Hour, MaxBytes: 1 << 20, Storage: "memory", Description: "uploads",
		Metadata: map[string]string{"owner": "web"}}
	must(t, obj.Apply(ctx(t), ospec))
	store, err := js.ObjectStore(ctx(t), "files")
	must(t, err)
	_, err = store.PutBytes(ctx(t), "a.txt", []byte("contents"))
	must(t, err)
	data, err := store.GetBytes(ctx(t), "a.txt")
	must(t, err)
	if string(data) != "contents" {
		t.Fatalf("got %q", data)
	}
	obs, err = obj.Observe(ctx(t), ospec, snapshot.Live)
	must(t, err)
	if !obs.UpToDate() {
		t.Fatalf("object store: %v", obs.Drift)
	}
	grown := ospec
	grown.MaxBytes = 2 << 20
	must(t, obj.Apply(ctx(t), grown))
	if got := streamExists(t, js, "OBJ_files").Config.MaxBytes; got != 2<<20 {
		t.Fatalf("max bytes %d", got)
	}

	must(t, kv.Delete(ctx(t), spec))
	must(t, obj.Delete(ctx(t), ospec))
	must(t, kv.Delete(ctx(t), spec))
	if streamExists(t, js, "KV_config") != nil || streamExists(t, js, "OBJ_files") != nil {
		t.Fatal("buckets not deleted")
	}
}

// TestInvalid: names NATS forbids and impossible settings are refused
// before anything is sent.
func TestInvalid(t *testing.T) {
	n := server(t)
	c := connect(t, n)
	s := kind[nats.Streams](t, nats.KindStream, c)
	for _, name := range []string{"", "a.b", "a*", "a>", "with space", "a/b", `a\b`, "tab\tx", strings.Repeat("x", 256)} {
		wantReason(t, s.Validate(ctx(t), nats.StreamSpec{Name: name}), backenderr.ReasonInvalidSpec)
	}
	for _, subj := range []string{"a..b", "a b", ">.a", "a*", ""} {
		wantReason(t, s.Validate(ctx(t), nats.StreamSpec{Name: "ok", Subjects: []string{subj}}), backenderr.ReasonInvalidSpec)
	}
	cons := kind[nats.Consumers](t, nats.KindConsumer, c)
	wantReason(t, cons.Validate(ctx(t), nats.ConsumerSpec{Stream: "ok", Durable: "d", DeliverPolicy: "byStartSequence"}), backenderr.ReasonInvalidSpec)
	wantReason(t, cons.Validate(ctx(t), nats.ConsumerSpec{Stream: "ok", Durable: "d", DeliverGroup: "g"}), backenderr.ReasonInvalidSpec)
	kv := kind[nats.KeyValues](t, nats.KindKeyValue, c)
	wantReason(t, kv.Validate(ctx(t), nats.KeyValueSpec{Bucket: "a.b"}), backenderr.ReasonInvalidSpec)
	wantReason(t, kv.Validate(ctx(t), nats.KeyValueSpec{Bucket: "ok", History: 65}), backenderr.ReasonInvalidSpec)
}

// TestCredsParsing: the contents of a creds file are read (a user JWT and
// its seed); anything else is refused without quoting it.
func TestCredsParsing(t *testing.T) {
	kp, err := nkeys.CreateUser()
	must(t, err)
	seed, _ := kp.Seed()
	creds := "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln\n------END NATS USER JWT------\n\n" +
		"-----BEGIN USER NKEY SEED-----\n" + string(seed) + "\n------END USER NKEY SEED------\n"
	if _, err := nats.New(nats.Config{Servers: []string{"nats://127.0.0.1:1"}, Creds: creds}); err != nil {
		t.Fatalf("creds refused: %v", err)
	}
	for _, bad := range []string{"just text", string(seed)} {
		_, err := nats.New(nats.Config{Servers: []string{"nats://127.0.0.1:1"}, Creds: bad})
		be := wantReason(t, err, backenderr.ReasonInvalidSpec)
		if strings.Contains(be.Error(), string(seed)) {
			t.Error("the error quotes the seed")
		}
	}
}

// TestCredsLogin: the contents of a creds file log in to a server in
// operator mode (JWT accounts), and JetStream answers for the account.
func TestCredsLogin(t *testing.T) {
	op := private(t, harness.NATSOptions{Creds: true})
	c, err := nats.New(nats.Config{Servers: []string{op.URL()}, Creds: op.Creds})
	must(t, err)
	defer c.Close()
	if _, err := c.Info(ctx(t)); err != nil {
		t.Fatalf("creds login: %v", err)
	}
	s := kind[nats.Streams](t, nats.KindStream, c)
	must(t, s.Apply(ctx(t), streamSpec("CREDS")))
	if streamExists(t, admin(t, op), "CREDS") == nil {
		t.Fatal("no stream created with the creds login")
	}
}
