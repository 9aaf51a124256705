package messaging_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/nats"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// natsSecrets are the NATS passwords, tokens, seeds and creds the tests
// handed to the operator; TestNATSSecretsNotLeaked searches for them.
var natsSecrets []string

// natsFixture is one test's namespace with a MessagingServer "nats" on srv.
type natsFixture struct {
	*fixture
	srv *harness.NATS
	js  jetstream.JetStream
}

func newNATSFixture(t *testing.T, srv *harness.NATS) *natsFixture {
	t.Helper()
	f := &natsFixture{fixture: &fixture{Fixture: kubetest.NewFixture(t, k8s, "n-"),
		server: msgv1.ServerReference{Kind: msgv1.KindMessagingServer, Name: "nats"}}, srv: srv}
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "nats-admin"},
		StringData: map[string]string{"username": srv.AdminUser, "password": srv.AdminPassword}})
	ms := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "nats"}, Spec: msgv1.MessagingServerSpec{
		Engine: msgv1.EngineNATS, NATS: &msgv1.NATSServerSpec{Servers: []string{srv.URL()}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "nats-admin"}}, MaxConnections: 3}}
	f.Create(ms)
	f.WaitReady(ms)
	nc, err := srv.Connect(natsgo.MaxReconnects(-1), natsgo.ReconnectWait(100*time.Millisecond))
	f.G.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(nc.Close)
	f.js, err = srv.JetStream(nc)
	f.G.Expect(err).NotTo(HaveOccurred())
	return f
}

// name is a backend name unique to the test (streams are account-wide).
func (f *natsFixture) name(base string) string { return base + "_" + f.NS[len("n-"):] }

// streamConfig reads a stream through the independent connection; nil
// when it does not exist.
func (f *natsFixture) streamConfig(name string) *jetstream.StreamConfig {
	f.T.Helper()
	s, err := f.js.Stream(f.Ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	f.G.Expect(err).NotTo(HaveOccurred())
	cfg := s.CachedInfo().Config
	return &cfg
}

// consumerConfig reads a consumer; nil when it does not exist.
func (f *natsFixture) consumerConfig(stream, name string) *jetstream.ConsumerConfig {
	f.T.Helper()
	c, err := f.js.Consumer(f.Ctx, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	f.G.Expect(err).NotTo(HaveOccurred())
	cfg := c.CachedInfo().Config
	return &cfg
}

// jetStream declares a stream, a pull consumer on it, a key/value bucket
// and an object store, named after the test.
type jetStreamSet struct {
	stream   *msgv1.Stream
	consumer *msgv1.Consumer
	kv       *msgv1.KeyValue
	obj      *msgv1.ObjectStore
}

func (f *natsFixture) jetStreamSet(storage string) *jetStreamSet {
	c := f.common()
	stream := f.name("ORDERS")
	return &jetStreamSet{
		stream: &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "orders"}, Spec: msgv1.StreamSpec{Common: c, Name: stream,
			Subjects: []string{stream + ".>"}, Storage: storage, MaxMsgs: ptr[int64](1000), MaxAge: &metav1.Duration{Duration: time.Hour},
			Metadata: map[string]string{"team": "shop"}}},
		consumer: &msgv1.Consumer{ObjectMeta: metav1.ObjectMeta{Name: "billing"}, Spec: msgv1.ConsumerSpec{Common: c,
			StreamName: stream, DurableName: "billing", AckWait: &metav1.Duration{Duration: 20 * time.Second},
			FilterSubject: stream + ".created", MaxAckPending: 100, MaxDeliver: 5}},
		kv: &msgv1.KeyValue{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Spec: msgv1.KeyValueSpec{Common: c,
			Bucket: f.name("settings"), History: 3, Storage: storage}},
		obj: &msgv1.ObjectStore{ObjectMeta: metav1.ObjectMeta{Name: "files"}, Spec: msgv1.ObjectStoreSpec{Common: c,
			Bucket: f.name("files"), Storage: storage, MaxBytes: ptr[int64](1 << 20)}},
	}
}

func (f *natsFixture) apply(s *jetStreamSet) {
	f.T.Helper()
	// Any order: the consumer waits for its stream.
	f.Create(s.consumer)
	f.Create(s.stream)
	f.Create(s.kv)
	f.Create(s.obj)
	f.WaitReady(s.stream, s.consumer, s.kv, s.obj)
}

// use is the application-level check: publish to the stream and fetch
// through the consumer, put and get in the bucket, put and get an object.
func (f *natsFixture) use(s *jetStreamSet, payload string) {
	f.T.Helper()
	subject := s.stream.Spec.Name + ".created"
	_, err := f.js.Publish(f.Ctx, subject, []byte(payload))
	f.G.Expect(err).NotTo(HaveOccurred())
	cons, err := f.js.Consumer(f.Ctx, s.stream.Spec.Name, s.consumer.Spec.DurableName)
	f.G.Expect(err).NotTo(HaveOccurred())
	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(5*time.Second))
	f.G.Expect(err).NotTo(HaveOccurred())
	var got []string
	for m := range batch.Messages() {
		got = append(got, string(m.Data()))
		f.G.Expect(m.Ack()).To(Succeed())
	}
	f.G.Expect(got).To(ContainElement(payload))

	kv, err := f.js.KeyValue(f.Ctx, s.kv.Spec.Bucket)
	f.G.Expect(err).NotTo(HaveOccurred())
	_, err = kv.Put(f.Ctx, "greeting", []byte(payload))
	f.G.Expect(err).NotTo(HaveOccurred())
	e, err := kv.Get(f.Ctx, "greeting")
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Expect(string(e.Value())).To(Equal(payload))

	obj, err := f.js.ObjectStore(f.Ctx, s.obj.Spec.Bucket)
	f.G.Expect(err).NotTo(HaveOccurred())
	_, err = obj.PutBytes(f.Ctx, "report.txt", []byte(payload))
	f.G.Expect(err).NotTo(HaveOccurred())
	data, err := obj.GetBytes(f.Ctx, "report.txt")
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Expect(string(data)).To(Equal(payload))
}

// TestNATSServer: Ready reports the version and the account's JetStream;
// an account without JetStream is JetStreamDisabled; a wrong password
// AuthenticationFailed without quoting it; an NKey Secret works; two
// logins in one Secret are refused; a creds file logs in to a server in
// operator mode.
func TestNATSServer(t *testing.T) {
	f := newNATSFixture(t, natsSrv)
	srv := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "nats", Namespace: f.NS}}
	f.WaitReady(srv)
	f.G.Expect(srv.Status.Product).To(Equal("NATS"))
	f.G.Expect(srv.Status.Version).To(HavePrefix("2.15."))
	f.G.Expect(srv.Status.JetStream).NotTo(BeNil())
	f.G.Expect(srv.Status.JetStream.Limits.MaxMemory).NotTo(BeZero())
	f.G.Expect(srv.Status.JetStream.UsageCheckedAt).NotTo(BeNil())
	f.ExpectAuthFailure(srv, "nats-admin", natsSrv.AdminPassword)

	for name, data := range map[string]map[string]string{
		"nojs":  {"username": natsSrv.NoJSUser, "password": natsSrv.NoJSPassword},
		"nkey":  {"nkeySeed": natsSrv.NKeySeed},
		"mixed": {"nkeySeed": natsSrv.NKeySeed, "token": "also-a-token"},
	} {
		f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data})
		f.Create(&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: msgv1.MessagingServerSpec{
			Engine: msgv1.EngineNATS, NATS: &msgv1.NATSServerSpec{Servers: []string{natsSrv.URL()}},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: name}}}})
	}
	f.WaitReason(&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "nojs", Namespace: f.NS}}, metav1.ConditionFalse, nats.ReasonJetStreamDisabled)
	f.WaitReady(&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "nkey", Namespace: f.NS}})
	c := f.WaitReason(&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "mixed", Namespace: f.NS}}, metav1.ConditionFalse, backenderr.ReasonInvalidSpec)
	f.G.Expect(c.Message).To(ContainSubstring("more than one login"))
	f.G.Expect(c.Message).NotTo(ContainSubstring(natsSrv.NKeySeed))

	// The contents of a creds file, on a server in operator mode.
	ctx, cancel := context.WithTimeout(f.Ctx, time.Minute)
	defer cancel()
	op, err := harness.StartNATS(ctx, harness.NATSOptions{Creds: true})
	f.G.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = op.Close() })
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"creds": op.Creds}})
	credsSrv := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Spec: msgv1.MessagingServerSpec{
		Engine: msgv1.EngineNATS, NATS: &msgv1.NATSServerSpec{Servers: []string{op.URL()}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "creds"}}}}
	f.Create(credsSrv)
	f.WaitReady(credsSrv)
	natsSecrets = append(natsSecrets, natsSrv.AdminPassword, natsSrv.NoJSPassword, natsSrv.NKeySeed, "also-a-token", op.Creds)

	// A token, on a server with a JetStream domain.
	tok, err := harness.StartNATS(ctx, harness.NATSOptions{Token: true, Domain: "hub"})
	f.G.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = tok.Close() })
	natsSecrets = append(natsSecrets, tok.Token)
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token"}, StringData: map[string]string{"token": tok.Token}})
	tokSrv := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "token"}, Spec: msgv1.MessagingServerSpec{
		Engine: msgv1.EngineNATS, NATS: &msgv1.NATSServerSpec{Servers: []string{tok.URL()}, Domain: "hub"},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "token"}}}}
	f.Create(tokSrv)
	f.WaitReady(tokSrv)
	f.G.Expect(tokSrv.Status.JetStream.Domain).To(Equal("hub"))
	f.G.Expect(kubetest.Update(f.Fixture, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", Namespace: f.NS}}, func(s *corev1.Secret) {
		s.Data["token"] = []byte("not-" + tok.Token)
		s.Labels = map[string]string{"backend-operator.dev/watch": "true"}
	})).To(Succeed())
	c = f.WaitReason(tokSrv, metav1.ConditionFalse, backenderr.ReasonAuthFailed)
	f.G.Expect(c.Message).NotTo(ContainSubstring(tok.Token))

	// TLS with verify-full and the client certificate the server requires.
	sec, err := harness.StartNATS(ctx, harness.NATSOptions{TLS: true})
	f.G.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = sec.Close() })
	natsSecrets = append(natsSecrets, sec.AdminPassword)
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls-admin"},
		StringData: map[string]string{"username": sec.AdminUser, "password": sec.AdminPassword}})
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls-ca"}, Data: map[string][]byte{"ca.crt": sec.TLS.CAPEM}})
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls-client"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": sec.TLS.ClientCertPEM, "tls.key": sec.TLS.ClientKeyPEM}})
	tlsSrv := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "tls"}, Spec: msgv1.MessagingServerSpec{
		Engine: msgv1.EngineNATS, NATS: &msgv1.NATSServerSpec{Servers: []string{sec.URL()}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "tls-admin"}},
		TLS: &common.TLS{Mode: common.TLSVerifyFull, CASecretRef: &common.SecretKeyReference{SecretReference: common.SecretReference{Name: "tls-ca"}},
			ClientCertSecretRef: &common.SecretReference{Name: "tls-client"}}}}
	f.Create(tlsSrv)
	f.WaitReady(tlsSrv)
	noCert := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "tls-no-cert"}, Spec: msgv1.MessagingServerSpec{
		Engine: msgv1.EngineNATS, NATS: &msgv1.NATSServerSpec{Servers: []string{sec.URL()}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "tls-admin"}},
		TLS:              &common.TLS{Mode: common.TLSVerifyFull, CASecretRef: &common.SecretKeyReference{SecretReference: common.SecretReference{Name: "tls-ca"}}}}}
	f.Create(noCert)
	f.WaitReason(noCert, metav1.ConditionFalse, "")
	f.Stays(noCert, f.Ready(noCert).Reason)
	tlsStream := &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "over-tls"}, Spec: msgv1.StreamSpec{
		Common: msgv1.Common{ServerRef: msgv1.ServerReference{Name: "tls"}}, Name: "OVER_TLS"}}
	f.Create(tlsStream)
	f.WaitReady(tlsStream)

	// A RabbitMQ kind on a NATS server is Unsupported, and the reverse too.
	q := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: msgv1.QueueSpec{Common: f.common(), Name: "q"}}
	f.Create(q)
	f.WaitReason(q, metav1.ConditionFalse, "Unsupported")
}

// TestJetStreamCreateAndUse: a stream, a consumer, a bucket and an object
// store declared in any order become Ready, hold the declared settings on
// the server, and work for an application.
func TestJetStreamCreateAndUse(t *testing.T) {
	f := newNATSFixture(t, natsSrv)
	s := f.jetStreamSet("file")
	f.apply(s)
	cfg := f.streamConfig(s.stream.Spec.Name)
	f.G.Expect(cfg).NotTo(BeNil())
	f.G.Expect(cfg.MaxMsgs).To(Equal(int64(1000)))
	f.G.Expect(cfg.MaxAge).To(Equal(time.Hour))
	f.G.Expect(cfg.Metadata).To(HaveKeyWithValue("team", "shop"))
	cc := f.consumerConfig(s.stream.Spec.Name, "billing")
	f.G.Expect(cc).NotTo(BeNil())
	f.G.Expect(cc.AckWait).To(Equal(20 * time.Second))
	f.G.Expect(cc.MaxAckPending).To(Equal(100))
	f.G.Expect(cc.FilterSubject).To(Equal(s.stream.Spec.Name + ".created"))
	kv := f.streamConfig("KV_" + s.kv.Spec.Bucket)
	f.G.Expect(kv).NotTo(BeNil())
	f.G.Expect(kv.MaxMsgsPerSubject).To(Equal(int64(3)))
	f.use(s, "order-1")
	// Nothing is written back into spec: the object keeps what was applied.
	st := &msgv1.Stream{}
	f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(s.stream), st)).To(Succeed())
	f.G.Expect(st.Spec.DuplicateWindow).To(BeNil())
	f.G.Expect(st.Annotations).To(BeEmpty())
	f.G.Expect(st.Status.BackendName).To(Equal(s.stream.Spec.Name))
}

// TestJetStreamUpdateInPlace: changed stream limits and consumer settings
// reach the server without losing messages; retention between limits and
// interest changes in place.
func TestJetStreamUpdateInPlace(t *testing.T) {
	f := newNATSFixture(t, natsSrv)
	s := f.jetStreamSet("file")
	f.apply(s)
	name := s.stream.Spec.Name
	_, err := f.js.Publish(f.Ctx, name+".other", []byte("kept"))
	f.G.Expect(err).NotTo(HaveOccurred())

	f.G.Expect(kubetest.Update(f.Fixture, s.stream, func(st *msgv1.Stream) {
		st.Spec.MaxMsgs = ptr[int64](50)
		st.Spec.Retention = "interest"
		st.Spec.Subjects = append(st.Spec.Subjects, f.name("extra")+".>")
	})).To(Succeed())
	f.G.Expect(kubetest.Update(f.Fixture, s.consumer, func(c *msgv1.Consumer) {
		c.Spec.MaxAckPending = 10
		c.Spec.BackOff = []metav1.Duration{{Duration: time.Second}, {Duration: 5 * time.Second}}
	})).To(Succeed())
	f.G.Expect(kubetest.Update(f.Fixture, s.kv, func(k *msgv1.KeyValue) { k.Spec.History = 10 })).To(Succeed())
	f.WaitReady(s.stream, s.consumer, s.kv)
	cfg := f.streamConfig(name)
	f.G.Expect(cfg.MaxMsgs).To(Equal(int64(50)))
	f.G.Expect(cfg.Retention).To(Equal(jetstream.InterestPolicy))
	f.G.Expect(cfg.Subjects).To(ContainElement(f.name("extra") + ".>"))
	info, err := f.js.Stream(f.Ctx, name)
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Expect(info.CachedInfo().State.Msgs).To(BeNumerically(">=", 1), "the update lost the stream's messages")
	cc := f.consumerConfig(name, "billing")
	f.G.Expect(cc.MaxAckPending).To(Equal(10))
	f.G.Expect(cc.BackOff).To(Equal([]time.Duration{time.Second, 5 * time.Second}))
	f.G.Expect(f.streamConfig("KV_" + s.kv.Spec.Bucket).MaxMsgsPerSubject).To(Equal(int64(10)))
	f.use(s, "after-update")
}

// TestJetStreamRefusedChange: what the server cannot change in place is
// refused at admission with what to do instead; what it still refuses at
// run time is a terminal Refused condition carrying its error code, not a
// retry loop.
func TestJetStreamRefusedChange(t *testing.T) {
	f := newNATSFixture(t, natsSrv)
	s := f.jetStreamSet("file")
	f.apply(s)
	for _, tc := range []struct {
		obj    client.Object
		mutate func()
		want   string
	}{
		{s.stream, func() { s.stream.Spec.Storage = "memory" }, "storage is immutable"},
		{s.stream, func() { s.stream.Spec.Retention = "workqueue" }, "retention cannot change to or from workqueue"},
		{s.stream, func() { s.stream.Spec.Name = "renamed" }, "spec.name is immutable"},
		{s.stream, func() { s.stream.Spec.Mirror, s.stream.Spec.Subjects = &msgv1.StreamSource{Name: "ELSEWHERE"}, nil }, "cannot become a mirror"},
		{s.consumer, func() { s.consumer.Spec.AckPolicy = "none" }, "ackPolicy cannot change in place"},
		{s.consumer, func() { s.consumer.Spec.DeliverPolicy = "new" }, "deliverPolicy cannot change in place"},
		{s.consumer, func() { s.consumer.Spec.DurableName = "other" }, "durableName is immutable"},
		{s.consumer, func() { s.consumer.Spec.DurableName = "" }, "spec.durableName cannot be removed once set"},
		{s.stream, func() { s.stream.Spec.Name = "" }, "spec.name cannot be removed once set"},
		{s.consumer, func() { s.consumer.Spec.DeliverSubject = "push.here" }, "pull consumer cannot become a push consumer"},
		{s.kv, func() { s.kv.Spec.Storage = "memory" }, "storage is immutable"},
	} {
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(tc.obj), tc.obj)).To(Succeed())
		tc.mutate()
		err := k8s.Update(f.Ctx, tc.obj)
		f.G.Expect(err).To(MatchError(ContainSubstring(tc.want)))
	}

	// A bucket's stream is not a Stream's to claim.
	kvStream := s.stream.DeepCopy()
	kvStream.ObjectMeta = metav1.ObjectMeta{Name: "kv-claim", Namespace: f.NS}
	kvStream.Spec.Name, kvStream.Spec.AdoptExisting = "KV_"+s.kv.Spec.Bucket, true
	f.G.Expect(k8s.Create(f.Ctx, kvStream)).To(MatchError(ContainSubstring("belong to key/value buckets and object stores")))

	// denyPurge cannot be turned off again: the server says so.
	f.G.Expect(kubetest.Update(f.Fixture, s.stream, func(st *msgv1.Stream) { st.Spec.DenyPurge = true })).To(Succeed())
	f.WaitReady(s.stream)
	f.G.Expect(kubetest.Update(f.Fixture, s.stream, func(st *msgv1.Stream) { st.Spec.DenyPurge = false })).To(Succeed())
	c := f.WaitReason(s.stream, metav1.ConditionFalse, nats.ReasonRefused)
	f.G.Expect(c.Message).To(ContainSubstring("deny purge"))
	f.G.Expect(c.Message).To(MatchRegexp(`JetStream error 1\d{4}`))
	// Terminal: the status stays put (no retry loop rewriting it).
	before := c.LastTransitionTime
	f.Stays(s.stream, nats.ReasonRefused)
	f.G.Expect(f.Ready(s.stream).LastTransitionTime).To(Equal(before))
	f.G.Expect(f.streamConfig(s.stream.Spec.Name).DenyPurge).To(BeTrue())
}

// TestJetStreamDrift: a stream and a consumer deleted out of band, and a
// changed setting, are put back within the poll; under Observe the
// difference is reported and left alone.
func TestJetStreamDrift(t *testing.T) {
	f := newNATSFixture(t, natsSrv)
	s := f.jetStreamSet("file")
	f.apply(s)
	name := s.stream.Spec.Name

	f.G.Expect(f.js.DeleteConsumer(f.Ctx, name, "billing")).To(Succeed())
	f.G.Eventually(func() bool { return f.consumerConfig(name, "billing") != nil }).Should(BeTrue(), "the deleted consumer was not recreated")

	cfg := f.streamConfig(name)
	cfg.MaxMsgs = 7
	_, err := f.js.UpdateStream(f.Ctx, *cfg)
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Eventually(func() int64 { return f.streamConfig(name).MaxMsgs }).Should(Equal(int64(1000)), "max_msgs was not put back")

	cc := f.consumerConfig(name, "billing")
	cc.MaxAckPending = 3
	_, err = f.js.UpdateConsumer(f.Ctx, name, *cc)
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Eventually(func() int { return f.consumerConfig(name, "billing").MaxAckPending }).Should(Equal(100), "max_ack_pending was not put back")

	f.G.Expect(f.js.DeleteStream(f.Ctx, name)).To(Succeed())
	f.G.Eventually(func() bool {
		return f.streamConfig(name) != nil && f.consumerConfig(name, "billing") != nil
	}).Should(BeTrue(), "the deleted stream and its consumer were not recreated")
	f.WaitReady(s.stream, s.consumer)
	f.use(s, "after-drift")

	// Observe: reported, not repaired.
	f.G.Expect(kubetest.Update(f.Fixture, s.kv, func(k *msgv1.KeyValue) { k.Spec.ManagementPolicy = common.ManagementObserve })).To(Succeed())
	f.WaitReady(s.kv)
	_, err = f.js.UpdateKeyValue(f.Ctx, jetstream.KeyValueConfig{Bucket: s.kv.Spec.Bucket, History: 1})
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Eventually(func() []string {
		kv := &msgv1.KeyValue{}
		_ = k8s.Get(f.Ctx, client.ObjectKeyFromObject(s.kv), kv)
		return kv.Status.Drift
	}).Should(ContainElement(ContainSubstring("history")))
	f.G.Expect(f.streamConfig("KV_"+s.kv.Spec.Bucket).MaxMsgsPerSubject).To(Equal(int64(1)), "Observe repaired the bucket")
}

// TestJetStreamRestart: a server restart loses memory streams; the
// operator recreates the stream, its consumer and the buckets. Then the
// server is down while a stream is created, and the stream appears once it
// is back.
func TestJetStreamRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := harness.StartNATS(ctx, harness.NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := newNATSFixture(t, srv)
	s := f.jetStreamSet("memory")
	f.apply(s)
	f.use(s, "before-restart")

	f.G.Expect(srv.Restart(ctx)).To(Succeed())
	f.G.Eventually(func() bool {
		return f.streamConfig(s.stream.Spec.Name) != nil && f.consumerConfig(s.stream.Spec.Name, "billing") != nil &&
			f.streamConfig("KV_"+s.kv.Spec.Bucket) != nil && f.streamConfig("OBJ_"+s.obj.Spec.Bucket) != nil
	}, 45*time.Second, 200*time.Millisecond).Should(BeTrue(), "memory streams were not recreated after the restart")
	f.WaitReady(s.stream, s.consumer, s.kv, s.obj)
	f.use(s, "after-restart")

	// Down mid-create, then back.
	f.G.Expect(srv.Stop()).To(Succeed())
	late := &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "late"}, Spec: msgv1.StreamSpec{Common: f.common(), Name: f.name("LATE"), Storage: "file"}}
	f.Create(late)
	c := f.WaitReason(late, metav1.ConditionFalse, "")
	f.G.Expect(c.Reason).To(BeElementOf(backenderr.ReasonUnavailable, managed.ReasonServerNotReady))
	f.G.Expect(srv.Start(ctx)).To(Succeed())
	f.G.Eventually(func() *jetstream.StreamConfig { return f.streamConfig(late.Spec.Name) }, 45*time.Second).ShouldNot(BeNil())
	f.WaitReady(late)
}

// TestJetStreamDelete: Retain (the default for streams and buckets) keeps
// the backend object; Delete removes it; a consumer is deleted by default.
func TestJetStreamDelete(t *testing.T) {
	f := newNATSFixture(t, natsSrv)
	s := f.jetStreamSet("file")
	f.apply(s)
	name := s.stream.Spec.Name
	f.Delete(s.consumer)
	f.WaitGone(s.consumer)
	f.G.Expect(f.consumerConfig(name, "billing")).To(BeNil(), "the consumer (deletionPolicy Delete by default) was kept")
	f.Delete(s.stream)
	f.Delete(s.kv)
	f.WaitGone(s.stream)
	f.WaitGone(s.kv)
	f.G.Expect(f.streamConfig(name)).NotTo(BeNil(), "a retained stream was deleted")
	f.G.Expect(f.streamConfig("KV_"+s.kv.Spec.Bucket)).NotTo(BeNil(), "a retained bucket was deleted")

	f.G.Expect(kubetest.Update(f.Fixture, s.obj, func(o *msgv1.ObjectStore) { o.Spec.DeletionPolicy = common.DeletionDelete })).To(Succeed())
	f.WaitReady(s.obj)
	f.Delete(s.obj)
	f.WaitGone(s.obj)
	f.G.Expect(f.streamConfig("OBJ_"+s.obj.Spec.Bucket)).To(BeNil(), "deletionPolicy Delete kept the object store")

	// The retained stream, adopted again, then deleted with Delete.
	again := &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "again"}, Spec: msgv1.StreamSpec{Common: msgv1.Common{ServerRef: f.server, AdoptExisting: true},
		Name: name, Subjects: s.stream.Spec.Subjects, DeletionPolicy: common.DeletionDelete}}
	f.Create(again)
	f.WaitReady(again)
	f.Delete(again)
	f.WaitGone(again)
	f.G.Expect(f.streamConfig(name)).To(BeNil(), "deletionPolicy Delete kept the stream")
}

// TestJetStreamConflictAdoptionTenancy: two objects claiming one stream,
// a stream that exists taken over only with adoptExisting, and a cluster
// server that does not admit the namespace.
func TestJetStreamConflictAdoptionTenancy(t *testing.T) {
	f := newNATSFixture(t, natsSrv)
	name := f.name("EXISTING")
	_, err := f.js.CreateStream(f.Ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name}, MaxMsgs: 9})
	f.G.Expect(err).NotTo(HaveOccurred())
	st := &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "existing"}, Spec: msgv1.StreamSpec{Common: f.common(), Name: name, MaxMsgs: ptr[int64](90)}}
	f.Create(st)
	f.WaitReason(st, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.G.Expect(f.streamConfig(name).MaxMsgs).To(Equal(int64(9)), "changed before adoption")
	f.G.Expect(kubetest.Update(f.Fixture, st, func(s *msgv1.Stream) { s.Spec.AdoptExisting = true })).To(Succeed())
	f.WaitReady(st)
	f.G.Expect(f.streamConfig(name).MaxMsgs).To(Equal(int64(90)))

	c2 := f.common()
	c2.AdoptExisting = true
	second := &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Spec: msgv1.StreamSpec{Common: c2, Name: name, MaxMsgs: ptr[int64](5)}}
	f.Create(second)
	f.WaitReason(second, metav1.ConditionFalse, managed.ReasonConflict)
	f.Stays(second, managed.ReasonConflict)
	f.G.Expect(f.streamConfig(name).MaxMsgs).To(Equal(int64(90)), "the conflicting object wrote")

	cluster := &msgv1.ClusterMessagingServer{ObjectMeta: metav1.ObjectMeta{Name: f.uniq("shared-nats")}, Spec: msgv1.ClusterMessagingServerSpec{
		MessagingServerSpec: msgv1.MessagingServerSpec{Engine: msgv1.EngineNATS, NATS: &msgv1.NATSServerSpec{Servers: []string{natsSrv.URL()}},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Namespace: f.NS, Name: "nats-admin"}}},
		AllowedNamespaces: &common.AllowedNamespaces{Names: []string{"someone-else"}}}}
	f.Create(cluster)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cluster) })
	refused := &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "refused"}, Spec: msgv1.StreamSpec{
		Common: msgv1.Common{ServerRef: msgv1.ServerReference{Kind: msgv1.KindClusterMessagingServer, Name: cluster.Name}}, Name: f.name("REFUSED")}}
	f.Create(refused)
	f.WaitReason(refused, metav1.ConditionFalse, managed.ReasonServerNotAllowed)
	f.G.Expect(f.streamConfig(refused.Spec.Name)).To(BeNil(), "a refused namespace created a stream")
}

// TestJetStreamAdmission: names NATS forbids and impossible combinations
// are refused by the API server.
func TestJetStreamAdmission(t *testing.T) {
	f := &natsFixture{fixture: &fixture{Fixture: kubetest.NewFixture(t, k8s, "n-"),
		server: msgv1.ServerReference{Kind: msgv1.KindMessagingServer, Name: "nats"}}}
	c := f.common()
	refused := func(obj client.Object, want string) {
		t.Helper()
		obj.SetNamespace(f.NS)
		err := k8s.Create(f.Ctx, obj)
		f.G.Expect(err).To(HaveOccurred(), "%T %s was admitted", obj, obj.GetName())
		f.G.Expect(err.Error()).To(ContainSubstring(want))
	}
	for _, bad := range []string{"a.b", "a*", "a>", "a b", "a/b", `a\b`, "tab\tx"} {
		refused(&msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: msgv1.StreamSpec{Common: c, Name: bad}}, "spec.name")
		refused(&msgv1.Consumer{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: msgv1.ConsumerSpec{Common: c, StreamName: "ok", DurableName: bad}}, "spec.durableName")
		refused(&msgv1.KeyValue{ObjectMeta: metav1.ObjectMeta{Name: "k"}, Spec: msgv1.KeyValueSpec{Common: c, Bucket: bad}}, "spec.bucket")
	}
	for _, bad := range []string{"a.b", "a*", "a>", "a b", "a/b"} {
		refused(&msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: msgv1.StreamSpec{Common: c, Name: bad}}, "NATS forbids")
	}
	refused(&msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "orders.v1"}, Spec: msgv1.StreamSpec{Common: c}}, "set spec.name")
	refused(&msgv1.ObjectStore{ObjectMeta: metav1.ObjectMeta{Name: "files.v1"}, Spec: msgv1.ObjectStoreSpec{Common: c}}, "set spec.bucket")
	refused(&msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "m"}, Spec: msgv1.StreamSpec{Common: c,
		Mirror: &msgv1.StreamSource{Name: "x"}, Subjects: []string{"a"}}}, "a mirror has neither subjects nor sources")
	refused(&msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: msgv1.StreamSpec{Common: c,
		MaxAge: &metav1.Duration{Duration: -time.Second}}}, "maxAge")
	refused(&msgv1.Consumer{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: msgv1.ConsumerSpec{Common: c, StreamName: "ok",
		DeliverPolicy: "byStartSequence"}}, "needs optStartSeq")
	refused(&msgv1.Consumer{ObjectMeta: metav1.ObjectMeta{Name: "g"}, Spec: msgv1.ConsumerSpec{Common: c, StreamName: "ok",
		DeliverGroup: "workers"}}, "need deliverSubject")
	refused(&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "srv"}, Spec: msgv1.MessagingServerSpec{Engine: msgv1.EngineNATS,
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "x"}}}}, "spec.nats is required")
	refused(&msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "srv"}, Spec: msgv1.MessagingServerSpec{Engine: msgv1.EngineNATS,
		NATS:             &msgv1.NATSServerSpec{Servers: []string{"nats://user:secret@host:4222"}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "x"}}}}, "servers")
	ok := &msgv1.Stream{ObjectMeta: metav1.ObjectMeta{Name: "fine", Namespace: f.NS}, Spec: msgv1.StreamSpec{Common: c,
		Name: `it's;"ünïcödé"`, Compression: "s2", Retention: "limits"}}
	f.G.Expect(k8s.Create(f.Ctx, ok)).To(Succeed())
	f.G.Expect(strings.Contains(ok.Spec.Name, ".")).To(BeFalse())
}

// TestNATSSecretsNotLeaked: no NATS password, token, seed or creds handed
// to the operator appears in its log, in an Event or in a condition. It
// runs after the NATS tests (file order) and needs TestNATSServer to have run.
func TestNATSSecretsNotLeaked(t *testing.T) {
	if len(natsSecrets) == 0 {
		t.Fatal("TestNATSServer did not run first, so there is nothing to search for: run it with the NATS tests (-run 'TestNATS|TestJetStream')")
	}
	g := NewWithT(t)
	ctx := context.Background()
	var haystack []string
	// The operator's log: the temporary file this process writes it to.
	fds, err := os.ReadDir("/proc/self/fd")
	g.Expect(err).NotTo(HaveOccurred())
	found := false
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.Contains(filepath.Base(target), "backend-operator-messaging-test-") {
			data, err := os.ReadFile(target)
			g.Expect(err).NotTo(HaveOccurred())
			haystack = append(haystack, string(data))
			found = true
		}
	}
	if !found && os.Getenv("TEST_LOG") == "" {
		t.Fatal("the operator's log file is not open in this process")
	}
	events := &corev1.EventList{}
	g.Expect(k8s.List(ctx, events)).To(Succeed())
	for _, e := range events.Items {
		haystack = append(haystack, e.Message, e.Reason)
	}
	eventsV1 := &eventsv1.EventList{}
	g.Expect(k8s.List(ctx, eventsV1)).To(Succeed())
	for _, e := range eventsV1.Items {
		haystack = append(haystack, e.Note, e.Reason)
	}
	servers := &msgv1.MessagingServerList{}
	g.Expect(k8s.List(ctx, servers)).To(Succeed())
	for _, s := range servers.Items {
		for _, c := range s.Status.Conditions {
			haystack = append(haystack, c.Message)
		}
	}
	g.Expect(len(haystack)).To(BeNumerically(">", 10))
	for _, secret := range natsSecrets {
		for _, h := range haystack {
			if strings.Contains(h, secret) {
				// Never print the secret itself.
				t.Fatalf("a NATS secret (%d bytes) appears in the log, an Event or a condition", len(secret))
			}
		}
	}
}
