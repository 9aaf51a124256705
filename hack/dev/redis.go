package main

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/test/harness"
)

const (
	// cacheSecret is the connection Secret of the sample CacheUser.
	cacheSecret = "orders-cache"
	// redisAdminSecret is the sample admin Secret of the CacheServer.
	redisAdminSecret = "redis-admin"
	redisAdminUser   = "operator"
)

// devRedis is the private Redis the cache samples point at.
var devRedis *harness.Redis

// startRedis starts a private Redis with an ACL admin user for the cache samples.
func startRedis(ctx context.Context) (*harness.Redis, error) {
	step("starting a private Redis from the installed redis-server")
	r, err := harness.StartRedis(ctx, harness.RedisOptions{AdminUser: redisAdminUser})
	if err != nil {
		return nil, err
	}
	devRedis = r
	return r, nil
}

// patchRedisSample points the cache samples at devRedis: the CacheServer's
// nodes and the admin Secret's login.
func patchRedisSample(u *unstructured.Unstructured) {
	switch {
	case u.GetKind() == "CacheServer" || u.GetKind() == "ClusterCacheServer":
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"host": devRedis.Host, "port": int64(devRedis.Port)}}, "spec", "nodes")
	case u.GetKind() == "Secret" && u.GetName() == redisAdminSecret:
		_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"username": devRedis.AdminUser, "password": devRedis.AdminPassword}, "stringData")
	}
}

// redisLogin logs in with the sample CacheUser's Secret, as an application
// would, and runs a command its rules allow on a key they allow.
func redisLogin(ctx context.Context, c client.Client) error {
	s := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: cacheSecret}, s); err != nil {
		return fmt.Errorf("read Secret %s: %w", cacheSecret, err)
	}
	opts, err := goredis.ParseURL(string(s.Data["uri"]))
	if err != nil {
		return errors.New("the uri in Secret " + cacheSecret + " does not parse") // the error would quote the password
	}
	opts.Protocol, opts.DisableIdentity = 2, true
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Set(ctx, "orders:dev-check", "ok", 0).Err(); err != nil {
		return fmt.Errorf("SET orders:dev-check as the sample cache user: %w", err)
	}
	who, err := rdb.Do(ctx, "ACL", "WHOAMI").Text()
	if err == nil && who != string(s.Data["username"]) {
		return fmt.Errorf("logged in to Redis as %q, the Secret says %q", who, s.Data["username"])
	}
	fmt.Printf("   the sample cache user %q ran SET orders:dev-check with the credentials from Secret %q\n", s.Data["username"], cacheSecret)
	return nil
}
