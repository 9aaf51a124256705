package cache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// pollInterval is the drift interval the operator runs with in these tests.
const pollInterval = 2 * time.Second

var (
	k8s client.Client
	// node is the shared Redis most tests use, with an ACL admin user.
	node *harness.Redis
)

func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, "backend-operator-cache-test-*.log", func(ctx context.Context, env *kubetest.Env) ([]func() error, error) {
		k8s = env.Client
		var err error
		if node, err = harness.StartRedis(ctx, harness.RedisOptions{AdminUser: "operator"}); err != nil {
			return nil, fmt.Errorf("start Redis: %w", err)
		}
		return []func() error{node.Close}, nil
	}, "--poll-interval="+pollInterval.String(), "--wait-interval=500ms", "--concurrency=4"))
}

// fixture is one test's namespace with a CacheServer "redis" on some nodes.
type fixture struct {
	*kubetest.Fixture
	server cachev1.ServerReference
	nodes  []*harness.Redis
}

func newFixture(t *testing.T, nodes ...*harness.Redis) *fixture {
	t.Helper()
	if len(nodes) == 0 {
		nodes = []*harness.Redis{node}
	}
	f := &fixture{Fixture: kubetest.NewFixture(t, k8s, "t-"), nodes: nodes}
	data := map[string]string{"password": nodes[0].AdminPassword}
	if nodes[0].AdminUser != "" {
		data["username"] = nodes[0].AdminUser
	}
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "redis-admin"}, StringData: data})
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis"}, Spec: cachev1.CacheServerSpec{
		MaxConnections:   2,
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "redis-admin"}},
	}}
	for _, n := range nodes {
		srv.Spec.Nodes = append(srv.Spec.Nodes, cachev1.Node{Host: n.Host, Port: int32(n.Port)})
	}
	f.Create(srv)
	f.server = cachev1.ServerReference{Kind: cachev1.KindCacheServer, Name: "redis"}
	f.WaitReady(&cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.NS}})
	return f
}

// uniq makes backend names unique per test namespace.
func (f *fixture) uniq(name string) string { return name + "-" + f.NS[len("t-"):] }

func (f *fixture) user(name string, mutate ...func(*cachev1.CacheUser)) *cachev1.CacheUser {
	u := &cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.NS},
		Spec: cachev1.CacheUserSpec{ServerRef: f.server, Name: f.uniq(name)}}
	for _, m := range mutate {
		m(u)
	}
	return u
}

// secret reads a connection Secret.
func (f *fixture) secret(name string) *corev1.Secret {
	f.T.Helper()
	s := &corev1.Secret{}
	f.G.Expect(k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: name}, s)).To(Succeed())
	return s
}

// login connects with the uri of a connection Secret, as an application would,
// to the node the uri names or to another node of the server (addr).
func (f *fixture) login(secretName, addr string) (*goredis.Client, error) {
	s := &corev1.Secret{}
	if err := k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: secretName}, s); err != nil {
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
	if err := c.Ping(f.Ctx).Err(); err != nil && !refused(err) {
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
