// Command dev runs backend-operator for real on a local control plane (the
// envtest kube-apiserver and etcd) with a private PostgreSQL, applies
// config/samples and waits until everything is Ready. `make dev` runs it.
// Servers with engine mysql go to a private MariaDB (mariadb.go), cache
// servers to a private Redis (redis.go), messaging servers to a private
// RabbitMQ node (rabbitmq.go).
//
// With DEV_ONESHOT=1 it exits 0 once the sample application users have logged
// in with the credentials from their Secrets, and non-zero with the reason
// otherwise.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/harness"
)

const (
	samplesDir = "config/samples"
	// appSecret is the connection Secret of the sample application user.
	appSecret = "orders-db"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "make dev:", err)
		os.Exit(1)
	}
}

func run() error {
	oneshot := os.Getenv("DEV_ONESHOT") == "1"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctrl.SetLogger(operator.NewLogger(zap.WriteTo(logOutput(oneshot))))

	step("starting the local control plane (kube-apiserver + etcd)")
	env := &envtest.Environment{CRDDirectoryPaths: []string{"config/crd/bases"}, ErrorIfCRDPathMissing: true}
	restCfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start control plane (KUBEBUILDER_ASSETS=%q): %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	defer env.Stop() //nolint:errcheck
	kubeconfig, err := writeKubeconfig(env)
	if err != nil {
		return err
	}

	step("starting a private PostgreSQL from the installed server binaries")
	pg, err := harness.StartPostgres(ctx)
	if err != nil {
		return err
	}
	defer pg.Close() //nolint:errcheck
	maria, err := startMariaDB(ctx)
	if err != nil {
		return err
	}
	defer maria.Close() //nolint:errcheck
	rd, err := startRedis(ctx)
	if err != nil {
		return err
	}
	defer rd.Close() //nolint:errcheck
	rmq, err := startRabbitMQ(ctx)
	if err != nil {
		return err
	}
	defer rmq.Close() //nolint:errcheck
	ns, err := startNATS(ctx)
	if err != nil {
		return err
	}
	defer ns.Close() //nolint:errcheck

	step("starting the operator")
	// The binary's own defaults; no listeners, so that nothing on this
	// machine's ports is needed.
	cfg, err := operator.ParseFlags("--metrics-bind-address=0", "--health-probe-bind-address=0")
	if err != nil {
		return err
	}
	mgr, err := operator.New(ctx, restCfg, cfg)
	if err != nil {
		return err
	}
	mgrErr := make(chan error, 1)
	go func() { mgrErr <- mgr.Start(ctx) }()

	c, err := client.New(restCfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		return err
	}
	step("applying " + samplesDir + " (servers pointed at the local PostgreSQL and MariaDB)")
	objs, err := applySamples(ctx, c, pg, maria)
	if err != nil {
		return err
	}
	step("waiting until every sample is Ready")
	if err := waitReady(ctx, c, objs, 3*time.Minute); err != nil {
		return err
	}
	user, err := login(ctx, c)
	if err != nil {
		return err
	}
	mariaUser, err := loginMariaDB(ctx, c)
	if err != nil {
		return err
	}
	if err := redisLogin(ctx, c); err != nil {
		return err
	}
	if err := amqpRoundTrip(ctx, c); err != nil {
		return err
	}
	if err := jetStreamRoundTrip(ctx); err != nil {
		return err
	}
	alias := ""
	if k := os.Getenv("KUBECTL"); k != "" {
		alias = "\n  alias kubectl=" + k + "   # built with the control plane"
	}
	fmt.Printf(`
backend-operator is running. Everything in %s is Ready; the sample users %q
(PostgreSQL) and %q (MariaDB), the sample cache user and the sample broker
user logged in with the credentials from their Secrets; the sample stream,
consumer and buckets carried a message, a value and an object.
%s
  export KUBECONFIG=%s
  kubectl get backend                      # every backend-operator object
  kubectl get jetstream                    # the sample NATS stream, consumer and buckets
  kubectl describe databaseuser orders-app
  kubectl get events
  psql "$(kubectl get secret %s -o jsonpath='{.data.uri}' | base64 -d)"
  mariadb --defaults-file=/dev/null "$(kubectl get secret %s -o jsonpath='{.data.database}' | base64 -d)" \
    -h127.0.0.1 -P"$(kubectl get secret %s -o jsonpath='{.data.port}' | base64 -d)" \
    -u"$(kubectl get secret %s -o jsonpath='{.data.username}' | base64 -d)" \
    -p"$(kubectl get secret %s -o jsonpath='{.data.password}' | base64 -d)"

`, samplesDir, user, mariaUser, alias, kubeconfig, appSecret, mariaAppSecret, mariaAppSecret, mariaAppSecret, mariaAppSecret)
	if oneshot {
		fmt.Println("DEV_ONESHOT=1: the sample users logged in and the JetStream samples work; stopping.")
		return nil
	}
	fmt.Println("Press Ctrl-C to stop (the control plane and the private servers go with it).")
	select {
	case <-ctx.Done():
		return nil
	case err := <-mgrErr:
		return err
	}
}

func step(msg string) { fmt.Println(">>", msg) }

// logOutput keeps the one-shot run quiet: operator logs go to a file then.
func logOutput(quiet bool) io.Writer {
	if !quiet {
		return os.Stderr
	}
	f, err := os.Create(filepath.Join(os.TempDir(), "backend-operator-dev.log"))
	if err != nil {
		return os.Stderr
	}
	return f
}

func writeKubeconfig(env *envtest.Environment) (string, error) {
	u, err := env.AddUser(envtest.User{Name: "dev", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("add dev user: %w", err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		return "", err
	}
	dir, err := filepath.Abs(".dev")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// applySamples creates every object in samplesDir in the default namespace,
// with MySQL servers and their Secret aimed at maria, the rest at pg, and
// cache servers at the private Redis.
func applySamples(ctx context.Context, c client.Client, pg *harness.Postgres, maria *harness.MariaDB) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "*_v1alpha1_*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var objs []*unstructured.Unstructured
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				f.Close()
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			switch {
			case routeMariaDB(u, maria):
			case u.GetKind() == "DatabaseServer" || u.GetKind() == "ClusterDatabaseServer":
				_ = unstructured.SetNestedField(u.Object, pg.Host, "spec", "host")
				_ = unstructured.SetNestedField(u.Object, int64(pg.Port), "spec", "port")
			case u.GetKind() == "Secret":
				_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"username": pg.AdminUser, "password": pg.AdminPassword}, "stringData")
			}
			patchRedisSample(u)
			patchRabbitMQSample(u)
			patchNATSSample(u)
			if u.GetNamespace() == "" && !strings.HasPrefix(u.GetKind(), "Cluster") {
				u.SetNamespace("default")
			}
			if err := c.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
				f.Close()
				return nil, fmt.Errorf("create %s %s: %w", u.GetKind(), u.GetName(), err)
			}
			fmt.Printf("   %s/%s\n", strings.ToLower(u.GetKind()), u.GetName())
			objs = append(objs, u)
		}
		f.Close()
	}
	return objs, nil
}

// waitReady waits until every backend-operator object has Ready=True.
func waitReady(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var pending []string
		for _, o := range objs {
			if o.GetKind() == "Secret" || o.GetKind() == "ConfigMap" {
				continue
			}
			cur := &unstructured.Unstructured{}
			cur.SetGroupVersionKind(o.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
				return err
			}
			if status, reason, msg := readyOf(cur); status != "True" {
				pending = append(pending, fmt.Sprintf("%s/%s: Ready=%s %s %s", o.GetKind(), o.GetName(), status, reason, msg))
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not Ready after %s:\n  %s", timeout, strings.Join(pending, "\n  "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func readyOf(u *unstructured.Unstructured) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			return fmt.Sprint(m["status"]), fmt.Sprint(m["reason"]), fmt.Sprint(m["message"])
		}
	}
	return "Unknown", "", ""
}

// login connects with the sample application's Secret, as an application would.
func login(ctx context.Context, c client.Client) (string, error) {
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: appSecret}, s); err != nil {
		return "", fmt.Errorf("read Secret %s: %w", appSecret, err)
	}
	conn, err := pgx.Connect(ctx, string(s.Data["uri"]))
	if err != nil {
		return "", errors.New("log in with the Secret's uri: " + err.Error())
	}
	defer conn.Close(ctx)
	var user string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		return "", fmt.Errorf("query as the sample user: %w", err)
	}
	if user != string(s.Data["username"]) {
		return "", fmt.Errorf("logged in as %q, the Secret says %q", user, s.Data["username"])
	}
	return user, nil
}
