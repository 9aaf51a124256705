package messaging_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

func ptr[T any](v T) *T { return &v }

func TestServerReady(t *testing.T) {
	f := newFixture(t)
	srv := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "rabbit", Namespace: f.NS}}
	f.WaitReady(srv)
	f.G.Expect(srv.Status.Product).To(Equal("RabbitMQ"))
	f.G.Expect(srv.Status.Version).To(HavePrefix("3."))
	f.G.Expect(srv.Status.ErlangVersion).NotTo(BeEmpty())
	f.ExpectAuthFailure(srv, "rabbit-admin", broker.AdminPassword)
}

// topology declares a vhost with an exchange, a queue bound to it and an
// application user, all named after the test.
type topology struct {
	vhost    *msgv1.Vhost
	exchange *msgv1.Exchange
	queue    *msgv1.Queue
	binding  *msgv1.Binding
	user     *msgv1.MessagingUser
}

func (f *fixture) topology(mutate ...func(*topology)) *topology {
	vh := f.uniq("shop/é %#")
	c := f.common()
	tp := &topology{
		vhost: &msgv1.Vhost{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: msgv1.VhostSpec{Common: c, Name: vh,
			Limits: msgv1.VhostLimits{MaxQueues: ptr[int64](10)}}},
		exchange: &msgv1.Exchange{ObjectMeta: metav1.ObjectMeta{Name: "orders"}, Spec: msgv1.ExchangeSpec{Common: c,
			VhostRef: msgv1.VhostRef{Vhost: vh}, Name: "orders events", Type: "topic"}},
		queue: &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "invoices"}, Spec: msgv1.QueueSpec{Common: c,
			VhostRef: msgv1.VhostRef{Vhost: vh}, Name: "app.invoices", Type: "classic",
			Settings: msgv1.QueueSettings{MaxLength: ptr[int64](100)}}},
		binding: &msgv1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "orders-to-invoices"}, Spec: msgv1.BindingSpec{Common: c,
			VhostRef: msgv1.VhostRef{Vhost: vh}, Source: "orders events", Destination: "app.invoices", RoutingKey: "order.*"}},
		user: &msgv1.MessagingUser{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: msgv1.MessagingUserSpec{Common: c,
			Name:             f.uniq("app"),
			Permissions:      []msgv1.Permission{{Vhost: vh, Configure: "^app\\.", Write: "^(orders events|app\\..*)$", Read: "^app\\."}},
			ConnectionSecret: common.ConnectionSecret{Name: "app-amqp", Template: map[string]string{"AMQP_URL": "{{ .URI }}"}}}},
	}
	for _, m := range mutate {
		m(tp)
	}
	return tp
}

func (f *fixture) apply(tp *topology) {
	f.T.Helper()
	// Any order: objects wait for what they need (DependencyMissing) and proceed.
	f.Create(tp.user)
	f.Create(tp.binding)
	f.Create(tp.queue)
	f.Create(tp.exchange)
	f.Create(tp.vhost)
	f.WaitReady(tp.vhost, tp.exchange, tp.queue, tp.binding, tp.user)
}

// TestTopologyAndUser: a vhost, exchange, queue, binding and user declared in
// any order become Ready; the user's Secret logs in over AMQP and can do
// exactly what its permissions allow.
func TestTopologyAndUser(t *testing.T) {
	f := newFixture(t)
	tp := f.topology()
	f.apply(tp)
	vh := tp.vhost.Spec.Name
	f.G.Expect(tp.user.Status.Binding).To(Equal(&common.Binding{Name: "app-amqp"}))

	conn, ch, err := dial(f.secretURI("app-amqp"))
	f.G.Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	// Publish through the exchange, consume from the bound queue.
	f.G.Expect(ch.PublishWithContext(f.Ctx, "orders events", "order.created", false, false, amqp.Publishing{Body: []byte("o-1")})).To(Succeed())
	f.G.Eventually(func() string {
		msg, ok, err := ch.Get("app.invoices", true)
		if err != nil || !ok {
			return ""
		}
		return string(msg.Body)
	}).Should(Equal("o-1"))

	// Outside its configure pattern: refused, and the channel closes.
	_, err = ch.QueueDeclare("other.queue", false, true, false, false, nil)
	f.G.Expect(amqpCode(err)).To(Equal(amqp.AccessRefused), "declared a queue outside its configure pattern")

	// Another vhost ("/") is not open to it at all.
	_, _, err = dial(strings.Replace(f.secretURI("app-amqp"), "/"+encodeVhost(vh), "/%2F", 1))
	f.G.Expect(err).To(HaveOccurred(), "logged in to a vhost it has no permission on")

	// The template key is there, and the Secret has the Service Binding keys.
	s := secret(f, "app-amqp")
	f.G.Expect(s.Data).To(HaveKey("AMQP_URL"))
	f.G.Expect(string(s.Data["type"])).To(Equal("rabbitmq"))
	f.G.Expect(string(s.Data["vhost"])).To(Equal(vh))
}

// TestUpdateInPlace: queue settings change through the operator's policy
// without recreating the queue (its messages stay); a narrowed permission
// takes effect.
func TestUpdateInPlace(t *testing.T) {
	f := newFixture(t)
	tp := f.topology()
	f.apply(tp)
	vh := tp.vhost.Spec.Name
	conn, ch, err := dial(f.secretURI("app-amqp"))
	f.G.Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	for i := 0; i < 5; i++ {
		f.G.Expect(ch.PublishWithContext(f.Ctx, "orders events", "order.x", false, false, amqp.Publishing{Body: []byte("m")})).To(Succeed())
	}
	rh := admin(t)
	f.G.Eventually(func() int {
		q, err := rh.GetQueue(vh, "app.invoices")
		if err != nil {
			return -1
		}
		return q.Messages
	}, 30*time.Second).Should(Equal(5))

	f.G.Expect(kubetest.Update(f.Fixture, tp.queue, func(q *msgv1.Queue) { q.Spec.Settings.MaxLength = ptr[int64](3) })).To(Succeed())
	f.WaitReady(tp.queue)
	// The new limit applies to the same queue: it drops down to 3 messages.
	f.G.Eventually(func() int {
		q, err := rh.GetQueue(vh, "app.invoices")
		if err != nil {
			return -1
		}
		return q.Messages
	}, 30*time.Second).Should(Equal(3), "max length did not apply in place")

	// Narrow the read permission: the user can no longer consume.
	f.G.Expect(kubetest.Update(f.Fixture, tp.user, func(u *msgv1.MessagingUser) { u.Spec.Permissions[0].Read = "^$" })).To(Succeed())
	f.WaitReady(tp.user)
	f.G.Eventually(func() int {
		c, ch, err := dial(f.secretURI("app-amqp"))
		if err != nil {
			return -1
		}
		defer c.Close()
		_, _, err = ch.Get("app.invoices", false)
		return amqpCode(err)
	}, 30*time.Second).Should(Equal(amqp.AccessRefused))
}

// TestDriftRepaired: a queue, exchange, binding, user and permission
// removed out of band come back within a few poll intervals.
func TestDriftRepaired(t *testing.T) {
	f := newFixture(t)
	tp := f.topology()
	f.apply(tp)
	vh, user := tp.vhost.Spec.Name, tp.user.Spec.Name
	rh := admin(t)
	_, err := rh.DeleteQueue(vh, "app.invoices")
	f.G.Expect(err).NotTo(HaveOccurred())
	_, err = rh.DeleteExchange(vh, "orders events")
	f.G.Expect(err).NotTo(HaveOccurred())
	_, err = rh.ClearPermissionsIn(vh, user)
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Eventually(func() error {
		if _, err := rh.GetQueue(vh, "app.invoices"); err != nil {
			return err
		}
		if _, err := rh.GetExchange(vh, "orders events"); err != nil {
			return err
		}
		bs, err := rh.ListQueueBindingsBetween(vh, "orders events", "app.invoices")
		if err != nil || len(bs) == 0 {
			return errString("binding not restored")
		}
		if _, err := rh.GetPermissionsIn(vh, user); err != nil {
			return err
		}
		return nil
	}, 3*pollInterval+20*time.Second, 200*time.Millisecond).Should(Succeed(), "drift was not repaired")

	_, err = rh.DeleteUser(user)
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Eventually(func() error {
		c, _, err := dial(f.secretURI("app-amqp"))
		if err == nil {
			c.Close()
		}
		return err
	}, 3*pollInterval+20*time.Second, 200*time.Millisecond).Should(Succeed(), "deleted user was not recreated")
}

type errString string

func (e errString) Error() string { return string(e) }

// TestDeletion: deletion policies, and a queue with messages that blocks
// its own deletion until deleteIfNotEmpty allows it.
func TestDeletion(t *testing.T) {
	f := newFixture(t)
	tp := f.topology(func(tp *topology) { tp.queue.Spec.DeletionPolicy = common.DeletionDelete })
	f.apply(tp)
	vh := tp.vhost.Spec.Name
	rh := admin(t)
	conn, ch, err := dial(f.secretURI("app-amqp"))
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Expect(ch.PublishWithContext(f.Ctx, "orders events", "order.x", false, false, amqp.Publishing{Body: []byte("keep me")})).To(Succeed())
	conn.Close()

	f.Delete(tp.queue)
	f.WaitReason(tp.queue, metav1.ConditionFalse, backenderr.ReasonDeletionBlocked)
	// The count comes from the broker's statistics, which lag a few seconds.
	f.G.Eventually(func() string {
		return f.WaitReason(tp.queue, metav1.ConditionFalse, backenderr.ReasonDeletionBlocked).Message
	}).
		Should(ContainSubstring("holds 1 message;"))
	_, err = rh.GetQueue(vh, "app.invoices")
	f.G.Expect(err).NotTo(HaveOccurred(), "a queue with messages was deleted")
	f.G.Expect(kubetest.Update(f.Fixture, tp.queue, func(q *msgv1.Queue) { q.Spec.DeleteIfNotEmpty = true })).To(Succeed())
	f.WaitGone(tp.queue)
	_, err = rh.GetQueue(vh, "app.invoices")
	f.G.Expect(gone(err)).To(BeTrue(), "the queue is still on the broker")

	// The user is deleted (default Delete), the exchange kept (default Retain).
	f.Delete(tp.user)
	f.Delete(tp.exchange)
	f.WaitGone(tp.user)
	f.WaitGone(tp.exchange)
	_, err = rh.GetUser(tp.user.Spec.Name)
	f.G.Expect(gone(err)).To(BeTrue(), "the user is still on the broker")
	_, err = rh.GetExchange(vh, "orders events")
	f.G.Expect(err).NotTo(HaveOccurred(), "a retained exchange was deleted")
}

// TestConflictAdoptionTenancy: two claims on one queue, an existing queue
// taken over only with adoptExisting, and a cluster server that does not
// admit the namespace.
func TestConflictAdoptionTenancy(t *testing.T) {
	f := newFixture(t)
	c := f.common()
	rh := admin(t)
	name := f.uniq("existing")
	_, err := rh.DeclareQueue("/", name, rabbitholeQueue())
	f.G.Expect(err).NotTo(HaveOccurred())
	q := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "existing"}, Spec: msgv1.QueueSpec{Common: c, Name: name}}
	f.Create(q)
	f.WaitReason(q, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.G.Expect(kubetest.Update(f.Fixture, q, func(q *msgv1.Queue) { q.Spec.AdoptExisting = true })).To(Succeed())
	f.WaitReady(q)

	c2 := c
	c2.AdoptExisting = true
	second := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Spec: msgv1.QueueSpec{Common: c2, Name: name}}
	f.Create(second)
	f.WaitReason(second, metav1.ConditionFalse, managed.ReasonConflict)
	f.Stays(second, managed.ReasonConflict)

	cluster := &msgv1.ClusterMessagingServer{ObjectMeta: metav1.ObjectMeta{Name: f.uniq("shared")}, Spec: msgv1.ClusterMessagingServerSpec{
		MessagingServerSpec: msgv1.MessagingServerSpec{Engine: msgv1.EngineRabbitMQ,
			RabbitMQ:         &msgv1.RabbitMQServerSpec{ManagementURL: broker.MgmtURL()},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Namespace: f.NS, Name: "rabbit-admin"}}}}}
	f.Create(cluster)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cluster) })
	refused := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "refused"}, Spec: msgv1.QueueSpec{
		Common: msgv1.Common{ServerRef: msgv1.ServerReference{Kind: msgv1.KindClusterMessagingServer, Name: cluster.Name}}, Name: f.uniq("refused")}}
	f.Create(refused)
	f.WaitReason(refused, metav1.ConditionFalse, managed.ReasonServerNotAllowed)
	_, err = rh.GetQueue("/", refused.Spec.Name)
	f.G.Expect(gone(err)).To(BeTrue(), "a refused namespace created a queue")
}

// TestAdmission: immutable fields and reserved names are refused by the API
// server itself.
func TestAdmission(t *testing.T) {
	f := newFixture(t)
	c := f.common()
	q := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: f.NS}, Spec: msgv1.QueueSpec{Common: c, Name: f.uniq("q")}}
	f.Create(q)
	err := kubetest.Update(f.Fixture, q, func(q *msgv1.Queue) { q.Spec.Type = "quorum" })
	f.G.Expect(err).To(MatchError(ContainSubstring("type is immutable")))
	err = kubetest.Update(f.Fixture, q, func(q *msgv1.Queue) { q.Spec.Name = "renamed" })
	f.G.Expect(err).To(MatchError(ContainSubstring("spec.name is immutable")))
	bad := &msgv1.Exchange{ObjectMeta: metav1.ObjectMeta{Name: "amq", Namespace: f.NS}, Spec: msgv1.ExchangeSpec{Common: c, Name: "amq.mine"}}
	f.G.Expect(k8s.Create(f.Ctx, bad)).To(MatchError(ContainSubstring("reserved by RabbitMQ")))
	nonDurable := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "qq", Namespace: f.NS}, Spec: msgv1.QueueSpec{Common: c, Type: "quorum", Durable: ptr(false)}}
	f.G.Expect(k8s.Create(f.Ctx, nonDurable)).To(MatchError(ContainSubstring("always durable")))
	args := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "args", Namespace: f.NS}, Spec: msgv1.QueueSpec{Common: c,
		Arguments: msgv1.Arguments{"x-queue-type": apiextensionsv1.JSON{Raw: mustJSON("quorum")}}}}
	f.Create(args)
	f.WaitReason(args, metav1.ConditionFalse, managed.ReasonInvalidSpec)
}

// TestBrokerWipedAndDown: a broker stopped mid-create converges when it is
// back; a broker whose data was wiped gets its whole topology back.
func TestBrokerWipedAndDown(t *testing.T) {
	f := newFixture(t)
	tp := f.topology()
	f.apply(tp)
	vh := tp.vhost.Spec.Name

	f.G.Expect(broker.Wipe(context.Background())).To(Succeed())
	rh := admin(t)
	f.G.Eventually(func() error {
		if _, err := rh.GetVhost(vh); err != nil {
			return err
		}
		if _, err := rh.GetQueue(vh, "app.invoices"); err != nil {
			return err
		}
		bs, err := rh.ListQueueBindingsBetween(vh, "orders events", "app.invoices")
		if err != nil || len(bs) == 0 {
			return errString("binding not restored")
		}
		c, _, err := dial(f.secretURI("app-amqp"))
		if err != nil {
			return err
		}
		c.Close()
		return nil
	}, 90*time.Second, 500*time.Millisecond).Should(Succeed(), "the wiped broker did not get its topology back")

	f.G.Expect(broker.Stop()).To(Succeed())
	late := &msgv1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "late"}, Spec: msgv1.QueueSpec{Common: f.common(), VhostRef: msgv1.VhostRef{Vhost: vh}, Name: "app.late"}}
	f.Create(late)
	f.WaitReason(late, metav1.ConditionFalse, "")
	f.G.Expect(broker.Start(context.Background())).To(Succeed())
	f.G.Eventually(func() bool { c := f.Ready(late); return c != nil && c.Status == metav1.ConditionTrue }, 90*time.Second).Should(BeTrue())
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func encodeVhost(v string) string { return url.PathEscape(v) }

func secret(f *fixture, name string) *corev1.Secret {
	f.T.Helper()
	s := &corev1.Secret{}
	f.G.Expect(k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: name}, s)).To(Succeed())
	return s
}

func rabbitholeQueue() rabbithole.QueueSettings { return rabbithole.QueueSettings{Durable: true} }
