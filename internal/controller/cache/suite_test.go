package cache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/controller/cache"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/harness"
)

// pollInterval is the drift interval the operator runs with in these tests.
const pollInterval = 2 * time.Second

var (
	k8s     client.Client
	restCfg *rest.Config
	// node is the shared Redis most tests use, with an ACL admin user.
	node *harness.Redis
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run these tests with `make test`, which builds the envtest binaries")
		return 1
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(logSink())))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	var err error
	if restCfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start envtest:", err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	if node, err = harness.StartRedis(ctx, harness.RedisOptions{AdminUser: "operator"}); err != nil {
		fmt.Fprintln(os.Stderr, "start Redis:", err)
		return 1
	}
	defer node.Close() //nolint:errcheck

	mgr, err := operator.New(ctx, restCfg, operator.Config{Cache: cache.Options{
		Options: managed.Options{PollInterval: pollInterval, WaitInterval: 500 * time.Millisecond}, Concurrency: 4}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "build manager:", err)
		return 1
	}
	k8s, err = client.New(restCfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return m.Run()
}

// logSink sends operator logs to a file, so that test output stays readable;
// TEST_LOG=1 sends them to stderr.
func logSink() *os.File {
	if os.Getenv("TEST_LOG") != "" {
		return os.Stderr
	}
	f, err := os.CreateTemp("", "backend-operator-cache-test-*.log")
	if err != nil {
		return os.Stderr
	}
	return f
}

// fixture is one test's namespace with a CacheServer "redis" on some nodes.
type fixture struct {
	t      *testing.T
	g      Gomega
	ctx    context.Context
	ns     string
	server cachev1.ServerReference
	nodes  []*harness.Redis
}

func newFixture(t *testing.T, nodes ...*harness.Redis) *fixture {
	t.Helper()
	if len(nodes) == 0 {
		nodes = []*harness.Redis{node}
	}
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &fixture{t: t, g: g, ctx: ctx, nodes: nodes}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	g.Expect(k8s.Create(ctx, ns)).To(Succeed())
	f.ns = ns.Name
	data := map[string]string{"password": nodes[0].AdminPassword}
	if nodes[0].AdminUser != "" {
		data["username"] = nodes[0].AdminUser
	}
	f.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "redis-admin", Namespace: f.ns}, StringData: data})
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.ns}, Spec: cachev1.CacheServerSpec{
		MaxConnections:   2,
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "redis-admin"}},
	}}
	for _, n := range nodes {
		srv.Spec.Nodes = append(srv.Spec.Nodes, cachev1.Node{Host: n.Host, Port: int32(n.Port)})
	}
	f.create(srv)
	f.server = cachev1.ServerReference{Kind: cachev1.KindCacheServer, Name: "redis"}
	f.waitReady(&cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.ns}})
	return f
}

func (f *fixture) create(obj client.Object) {
	f.t.Helper()
	if obj.GetNamespace() == "" && !isClusterScoped(obj) {
		obj.SetNamespace(f.ns)
	}
	f.g.Expect(k8s.Create(f.ctx, obj)).To(Succeed())
}

func isClusterScoped(obj client.Object) bool {
	switch obj.(type) {
	case *cachev1.ClusterCacheServer, *corev1.Namespace:
		return true
	}
	return false
}

// ready reads obj and returns its Ready condition.
func (f *fixture) ready(obj client.Object) *metav1.Condition {
	if err := k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil
	}
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *cachev1.CacheServer:
		conds = o.Status.Conditions
	case *cachev1.ClusterCacheServer:
		conds = o.Status.Conditions
	case managed.Object:
		if o.ManagedStatus().ObservedGeneration != o.GetGeneration() && meta.IsStatusConditionTrue(o.ManagedStatus().Conditions, "Ready") {
			return nil
		}
		conds = o.ManagedStatus().Conditions
	}
	return meta.FindStatusCondition(conds, managed.ConditionReady)
}

func (f *fixture) waitReady(obj client.Object) {
	f.t.Helper()
	f.waitReason(obj, metav1.ConditionTrue, "")
}

// waitReason waits until Ready has status and (if not empty) reason.
func (f *fixture) waitReason(obj client.Object, status metav1.ConditionStatus, reason string) *metav1.Condition {
	f.t.Helper()
	var last *metav1.Condition
	f.g.Eventually(func() bool {
		last = f.ready(obj)
		return last != nil && last.Status == status && (reason == "" || last.Reason == reason)
	}).Should(BeTrue(), func() string { return fmt.Sprintf("%T %s: Ready is %+v", obj, obj.GetName(), last) })
	return last
}

// stays asserts that Ready keeps reason for a while.
func (f *fixture) stays(obj client.Object, reason string) {
	f.t.Helper()
	f.g.Consistently(func() string {
		if c := f.ready(obj); c != nil {
			return c.Reason
		}
		return ""
	}, 3*time.Second, 200*time.Millisecond).Should(Equal(reason))
}

// update re-reads obj, applies mutate and writes it, retrying on conflicts
// with the operator's own writes.
func update[T client.Object](f *fixture, obj T, mutate func(T)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return k8s.Update(f.ctx, obj)
	})
}

func (f *fixture) delete(obj client.Object) {
	f.t.Helper()
	f.g.Expect(k8s.Delete(f.ctx, obj)).To(Succeed())
}

func (f *fixture) waitGone(obj client.Object) {
	f.t.Helper()
	f.g.Eventually(func() bool {
		err := k8s.Get(f.ctx, client.ObjectKeyFromObject(obj), obj)
		return err != nil && client.IgnoreNotFound(err) == nil
	}).Should(BeTrue(), "%T %s was not deleted", obj, obj.GetName())
}

// uniq makes backend names unique per test namespace.
func (f *fixture) uniq(name string) string { return name + "-" + f.ns[len("t-"):] }

func (f *fixture) user(name string, mutate ...func(*cachev1.CacheUser)) *cachev1.CacheUser {
	u := &cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: cachev1.CacheUserSpec{ServerRef: f.server, Name: f.uniq(name)}}
	for _, m := range mutate {
		m(u)
	}
	return u
}

// secret reads a connection Secret.
func (f *fixture) secret(name string) *corev1.Secret {
	f.t.Helper()
	s := &corev1.Secret{}
	f.g.Expect(k8s.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: name}, s)).To(Succeed())
	return s
}

// login connects with the uri of a connection Secret, as an application would,
// to the node the uri names or to another node of the server (addr).
func (f *fixture) login(secretName, addr string) (*goredis.Client, error) {
	s := &corev1.Secret{}
	if err := k8s.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: secretName}, s); err != nil {
		return nil, err
	}
	opts, err := goredis.ParseURL(string(s.Data["uri"]))
	if err != nil {
		// Only a fixed message: the error may quote the URL, password included.
		return nil, errors.New("the Secret's uri does not parse")
	}
	if addr != "" {
		opts.Addr = addr
	}
	opts.Protocol, opts.DisableIdentity, opts.MaxRetries = 2, true, -1
	c := goredis.NewClient(opts)
	// The connection authenticates first; NOPERM for PING means the login
	// worked and only PING is not among the user's commands.
	if err := c.Ping(f.ctx).Err(); err != nil && !refused(err) {
		c.Close()
		return nil, errors.New("log in with the Secret's uri: " + err.Error())
	}
	return c, nil
}

// userOn returns the ACL GETUSER fields of name on n, nil when absent.
func userOn(t *testing.T, n *harness.Redis, name string) map[string]any {
	t.Helper()
	c := n.Admin()
	defer c.Close()
	v, err := c.Do(context.Background(), "ACL", "GETUSER", name).Result()
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	if err != nil {
		t.Fatalf("ACL GETUSER %s: %v", name, err)
	}
	list, _ := v.([]any)
	out := map[string]any{}
	for i := 0; i+1 < len(list); i += 2 {
		out[fmt.Sprint(list[i])] = list[i+1]
	}
	return out
}

// admin runs one command as the admin of n.
func admin(t *testing.T, n *harness.Redis, args ...any) {
	t.Helper()
	c := n.Admin()
	defer c.Close()
	if err := c.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("%v: %v", args[:2], err)
	}
}
