package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	rabbithole "github.com/michaelklishin/rabbit-hole/v2"
	. "github.com/onsi/gomega"
	amqp "github.com/rabbitmq/amqp091-go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// pollInterval is the drift interval the operator runs with in these tests.
const pollInterval = 2 * time.Second

var (
	k8s    client.Client
	broker *harness.RabbitMQ
	// natsSrv is the NATS server the JetStream tests share; tests that stop
	// a server start their own.
	natsSrv *harness.NATS
)

func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, "backend-operator-messaging-test-*.log", func(ctx context.Context, env *kubetest.Env) ([]func() error, error) {
		k8s = env.Client
		var err error
		start, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		if broker, err = harness.StartRabbitMQ(start); err != nil {
			return nil, fmt.Errorf("start RabbitMQ: %w", err)
		}
		if natsSrv, err = harness.StartNATS(start, harness.NATSOptions{}); err != nil {
			_ = broker.Close()
			return nil, fmt.Errorf("start NATS: %w", err)
		}
		return []func() error{broker.Close, natsSrv.Close}, nil
	}, "--poll-interval="+pollInterval.String(), "--wait-interval=500ms", "--concurrency=4"))
}

// fixture is one test's namespace with a MessagingServer "rabbit".
type fixture struct {
	*kubetest.Fixture
	server msgv1.ServerReference
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{Fixture: kubetest.NewFixture(t, k8s, "m-"), server: msgv1.ServerReference{Kind: msgv1.KindMessagingServer, Name: "rabbit"}}
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "rabbit-admin"},
		StringData: map[string]string{"username": broker.AdminUser, "password": broker.AdminPassword}})
	srv := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: "rabbit"}, Spec: msgv1.MessagingServerSpec{
		Engine:           msgv1.EngineRabbitMQ,
		RabbitMQ:         &msgv1.RabbitMQServerSpec{ManagementURL: broker.MgmtURL(), AMQP: msgv1.AMQPEndpoint{Host: broker.Host, Port: int32(broker.AMQPPort)}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "rabbit-admin"}},
		MaxConnections:   3,
	}}
	f.Create(srv)
	f.WaitReady(srv)
	return f
}

// uniq makes backend names unique per test namespace.
func (f *fixture) uniq(name string) string { return name + "-" + f.NS[len("m-"):] }

func (f *fixture) common() msgv1.Common { return msgv1.Common{ServerRef: f.server} }

// admin is a management client with the broker's admin login.
func admin(t *testing.T) *rabbithole.Client {
	t.Helper()
	c, err := rabbithole.NewClient(broker.MgmtURL(), broker.AdminUser, broker.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// secretURI reads the uri of a connection Secret.
func (f *fixture) secretURI(name string) string {
	f.T.Helper()
	s := &corev1.Secret{}
	f.G.Expect(k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: name}, s)).To(Succeed())
	return string(s.Data["uri"])
}

// dial logs in over AMQP as an application would. Only the error's code is
// kept: amqp091 errors can quote the URI.
func dial(uri string) (*amqp.Connection, *amqp.Channel, error) {
	conn, err := amqp.Dial(uri)
	if err != nil {
		return nil, nil, fmt.Errorf("AMQP login refused (code %d)", amqpCode(err))
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, ch, nil
}

func amqpCode(err error) int {
	var e *amqp.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// gone reports whether a management API resource answers 404.
func gone(err error) bool {
	var e rabbithole.ErrorResponse
	if errors.As(err, &e) {
		return e.StatusCode == http.StatusNotFound
	}
	return err != nil && strings.Contains(err.Error(), "404")
}
