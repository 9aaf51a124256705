// Package cli tests the kubectl plugin (cmd/kubectl-backend) end to end:
// its commands run with a kubeconfig against a real API server (envtest)
// where the operator runs, on private PostgreSQL, MariaDB, Redis and
// RabbitMQ servers.
package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/cli/command"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

var (
	k8s        client.Client
	kubeconfig string

	pg     *harness.Postgres
	maria  *harness.MariaDB
	redis  *harness.Redis
	rabbit *harness.RabbitMQ
	natsrv *harness.NATS
)

func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, "cli-operator-*.log", func(ctx context.Context, env *kubetest.Env) ([]func() error, error) {
		k8s = env.Client
		dir, err := os.MkdirTemp("", "kubectl-backend-test-")
		if err != nil {
			return nil, err
		}
		cleanups := []func() error{func() error { return os.RemoveAll(dir) }}
		kubeconfig = filepath.Join(dir, "kubeconfig")
		if err := writeKubeconfig(env.Config, kubeconfig); err != nil {
			return cleanups, err
		}
		b, err := harness.StartBackends(ctx, true)
		if err != nil {
			return cleanups, err
		}
		cleanups = append(cleanups, b.Close)
		pg, maria, redis, rabbit, natsrv = b.Postgres, b.MariaDB, b.Redis, b.RabbitMQ, b.NATS
		return cleanups, nil
	}))
}

// writeKubeconfig writes a kubeconfig that reaches cfg's API server as
// cfg's user.
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest", Namespace: "default"}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, path)
}

// plugin runs `kubectl backend args...` with the test kubeconfig and
// returns its output and error.
func plugin(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := command.Run(context.Background(), append([]string{args[0], "--kubeconfig", kubeconfig}, args[1:]...), &out, &errOut)
	return out.String(), errOut.String(), err
}

// pgServer creates, in f's namespace, an admin Secret and a DatabaseServer
// on the test PostgreSQL and waits until it is Ready.
func pgServer(f *kubetest.Fixture, name string) *sqlv1.DatabaseServer {
	f.T.Helper()
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-admin"},
		StringData: map[string]string{"username": pg.AdminUser, "password": pg.AdminPassword}})
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: sqlv1.DatabaseServerSpec{
		Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port),
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: name + "-admin"}}}}
	f.Create(srv)
	f.WaitReady(srv)
	return srv
}

// redisServer creates, in f's namespace, an admin Secret and a CacheServer
// on the test Redis and waits until it is Ready.
func redisServer(f *kubetest.Fixture, name string) *cachev1.CacheServer {
	f.T.Helper()
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-admin"},
		StringData: map[string]string{"username": redis.AdminUser, "password": redis.AdminPassword}})
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: cachev1.CacheServerSpec{
		Nodes:            []cachev1.Node{{Host: redis.Host, Port: int32(redis.Port)}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: name + "-admin"}}}}
	f.Create(srv)
	f.WaitReady(srv)
	return srv
}

// rabbitServer creates, in f's namespace, an admin Secret and a
// MessagingServer on the test RabbitMQ and waits until it is Ready.
func rabbitServer(f *kubetest.Fixture, name string) *msgv1.MessagingServer {
	f.T.Helper()
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-admin"},
		StringData: map[string]string{"username": rabbit.AdminUser, "password": rabbit.AdminPassword}})
	srv := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: msgv1.MessagingServerSpec{
		Engine:           msgv1.EngineRabbitMQ,
		RabbitMQ:         &msgv1.RabbitMQServerSpec{ManagementURL: rabbit.MgmtURL(), AMQP: msgv1.AMQPEndpoint{Host: rabbit.Host, Port: int32(rabbit.AMQPPort)}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: name + "-admin"}}}}
	f.Create(srv)
	f.WaitReady(srv)
	return srv
}

// natsServer creates, in f's namespace, an admin Secret and a
// MessagingServer on the test nats-server and waits until it is Ready.
func natsServer(f *kubetest.Fixture, name string) *msgv1.MessagingServer {
	f.T.Helper()
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-admin"},
		StringData: map[string]string{"username": natsrv.AdminUser, "password": natsrv.AdminPassword}})
	srv := &msgv1.MessagingServer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: msgv1.MessagingServerSpec{
		Engine: msgv1.EngineNATS, NATS: &msgv1.NATSServerSpec{Servers: []string{natsrv.URL()}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: name + "-admin"}}}}
	f.Create(srv)
	f.WaitReady(srv)
	return srv
}

// mariaServer creates, in f's namespace, an admin Secret and a
// DatabaseServer on the test MariaDB and waits until it is Ready.
func mariaServer(f *kubetest.Fixture, name string) *sqlv1.DatabaseServer {
	f.T.Helper()
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-admin"},
		StringData: map[string]string{"username": maria.AdminUser, "password": maria.AdminPassword}})
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: sqlv1.DatabaseServerSpec{
		Engine: sqlv1.EngineMySQL, Host: maria.Host, Port: int32(maria.Port),
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: name + "-admin"}}}}
	f.Create(srv)
	f.WaitReady(srv)
	return srv
}
