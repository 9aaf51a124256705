package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/test/harness"
)

// redisWorkload: N CacheUsers on one CacheServer with one node.
type redisWorkload struct {
	redis *harness.Redis
	// admin is the bench's one connection for the floor, drift and counters.
	admin *goredis.Client
	// sampler is the connection listing clients, used by the sampling
	// goroutine only.
	sampler *goredis.Client
}

const (
	// redisMaxConns is the CacheServer's maxConnections (per node).
	redisMaxConns = 5
	// benchClientPrefix names every connection the bench opens (CLIENT
	// SETNAME); the operator's connections have no name.
	benchClientPrefix = "bench-"
)

func (w *redisWorkload) name() string        { return "redis" }
func (w *redisWorkload) maxConnections() int { return redisMaxConns }

// benchClient is a one-connection client logged in as the admin whose
// connection carries name.
func (w *redisWorkload) benchClient(name string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: w.redis.Address(), Username: w.redis.AdminUser, Password: w.redis.AdminPassword,
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1, MinIdleConns: 0,
		ClientName: benchClientPrefix + name})
}

func (w *redisWorkload) setup(ctx context.Context, c client.Client) (string, error) {
	var err error
	if w.redis, err = harness.StartRedis(ctx, harness.RedisOptions{AdminUser: "operator"}); err != nil {
		return "", err
	}
	w.admin, w.sampler = w.benchClient("admin"), w.benchClient("sampler")
	for _, rc := range []*goredis.Client{w.admin, w.sampler} {
		if err := rc.Ping(ctx).Err(); err != nil {
			return "", err
		}
	}
	ns := "bench-redis"
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: ns},
			StringData: map[string]string{"username": w.redis.AdminUser, "password": w.redis.AdminPassword}},
		&cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: ns}, Spec: cachev1.CacheServerSpec{
			Nodes: []cachev1.Node{{Host: w.redis.Host, Port: int32(w.redis.Port)}}, MaxConnections: redisMaxConns,
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "admin"}}}},
	} {
		if err := c.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	return ns, waitServerReady(ctx, c, &cachev1.CacheServer{}, client.ObjectKey{Namespace: ns, Name: "redis"})
}

// redisRules are the rules after reset that the operator renders for the
// bench's CacheUser spec (see objects), password hash apart.
func redisRules(i int) []string {
	return []string{"~app:" + strconv.Itoa(i) + ":*", "+@read", "+@write", "-@dangerous"}
}

// floor is what a hand-written script does for the same end state: one
// connection, one ACL SETUSER per user, sequentially.
func (w *redisWorkload) floor(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		sum := sha256.Sum256([]byte("floor-password-" + strconv.Itoa(i)))
		args := []any{"ACL", "SETUSER", "floor_user_" + strconv.Itoa(i), "reset", "on", "#" + hex.EncodeToString(sum[:])}
		for _, r := range redisRules(i) {
			args = append(args, r)
		}
		if err := w.admin.Do(ctx, args...).Err(); err != nil {
			return 0, err
		}
	}
	elapsed := time.Since(start)
	// Leave the server as the floor found it.
	for i := range n {
		if err := w.admin.Do(ctx, "ACL", "DELUSER", "floor_user_"+strconv.Itoa(i)).Err(); err != nil {
			return 0, err
		}
	}
	return elapsed, nil
}

func (w *redisWorkload) objects(ns string, n int) []client.Object {
	ref := cachev1.ServerReference{Kind: cachev1.KindCacheServer, Name: "redis"}
	var objs []client.Object
	for i := range n {
		objs = append(objs, &cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Name: "user-" + strconv.Itoa(i), Namespace: ns},
			Spec: cachev1.CacheUserSpec{ServerRef: ref, Name: "bench_user_" + strconv.Itoa(i),
				Keys: []cachev1.KeyPattern{{Pattern: "app:" + strconv.Itoa(i) + ":*", Access: cachev1.KeyReadWrite}},
				Commands: cachev1.CommandRules{AllowCategories: []cachev1.Category{"read", "write"},
					DenyCategories: []cachev1.Category{"dangerous"}}}})
	}
	return objs
}

// connections counts the clients CLIENT LIST shows except the bench's own
// (named bench-*, the sampler's included).
func (w *redisWorkload) connections(ctx context.Context) (int, error) {
	return operatorClients(ctx, w.sampler)
}

// operatorClients counts the clients of the server sampler is connected to,
// except the bench's own (named bench-*, sampler's included).
func operatorClients(ctx context.Context, sampler *goredis.Client) (int, error) {
	list, err := sampler.ClientList(ctx).Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if line == "" {
			continue
		}
		name := ""
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "name="); ok {
				name = v
			}
		}
		if !strings.HasPrefix(name, benchClientPrefix) {
			n++
		}
	}
	return n, nil
}

// queries reads total_commands_processed from INFO stats: every command the
// server executed, from any client. It is bumped after a command runs, so the
// INFO reading it is counted by the next reading, which measure subtracts.
func (w *redisWorkload) queries(ctx context.Context) (int64, error) {
	info, err := w.admin.Info(ctx, "stats").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO stats has no total_commands_processed")
}

func (w *redisWorkload) drift(ctx context.Context, n int) (map[string]func() bool, error) {
	last := strconv.Itoa(n - 1)
	deleted, widened := "bench_user_0", "bench_user_"+last
	if err := w.admin.Do(ctx, "ACL", "DELUSER", deleted).Err(); err != nil {
		return nil, err
	}
	if err := w.admin.Do(ctx, "ACL", "SETUSER", widened, "+flushall").Err(); err != nil {
		return nil, err
	}
	// dryrun reports whether user may run args (ACL DRYRUN answers OK or the
	// reason it would be denied; an error for an unknown user).
	dryrun := func(user string, args ...any) (bool, error) {
		res, err := w.admin.Do(ctx, append([]any{"ACL", "DRYRUN", user}, args...)...).Text()
		return res == "OK", err
	}
	if ok, err := dryrun(widened, "flushall"); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("the ACL SETUSER +flushall on %s did not take", widened)
	}
	return map[string]func() bool{
		// The user is back with its declared key pattern and commands.
		"ACL DELUSER": func() bool {
			get, err := dryrun(deleted, "get", "app:0:k")
			if err != nil || !get {
				return false
			}
			flush, err := dryrun(deleted, "flushall")
			return err == nil && !flush
		},
		// FLUSHALL is denied again while the user's own commands still work.
		"ACL SETUSER +flushall": func() bool {
			flush, err := dryrun(widened, "flushall")
			if err != nil || flush {
				return false
			}
			set, err := dryrun(widened, "set", "app:"+last+":k", "v")
			return err == nil && set
		},
	}, nil
}

func (w *redisWorkload) close() {
	for _, c := range []*goredis.Client{w.admin, w.sampler} {
		if c != nil {
			_ = c.Close()
		}
	}
	if w.redis != nil {
		_ = w.redis.Close()
	}
}
