package redis_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/test/harness"
)

// dial logs in as user; the caller closes the client.
func dial(t *testing.T, srv *harness.Redis, user, password string) (*goredis.Client, error) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Address(), Username: user, Password: password,
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
	if err := c.Ping(context.Background()).Err(); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// TestRotationDualPassword: during a rotation the user accepts the next
// and the previous password, with the same rights; afterwards only the next.
func TestRotationDualPassword(t *testing.T) {
	ctx := context.Background()
	srv, c := start(t, harness.RedisOptions{AdminUser: "operator"})
	u, err := port.For[redis.Users](redis.KindCacheUser, redis.Engine, c)
	if err != nil {
		t.Fatal(err)
	}
	rot, ok := u.(port.Rotator)
	if !ok {
		t.Fatalf("the CacheUser client %T is no port.Rotator", u)
	}
	if got := rot.Overlaps(); !slices.Equal(got, []port.Overlap{port.OverlapDualPassword}) {
		t.Fatalf("Overlaps = %v", got)
	}
	const oldPW, newPW = "old-secret", "new-secret"
	spec := redis.UserSpec{Name: "rot", Enabled: true, Passwords: []string{oldPW},
		Keys: []redis.KeyPattern{{Pattern: "rot:*"}}, AllowCategories: []string{"read", "write", "connection"}, DenyCategories: []string{"dangerous"}}
	current := func(want port.PasswordState, drift ...string) {
		t.Helper()
		redis.InvalidateSnapshots(c)
		for _, mode := range []snapshot.Mode{snapshot.Live, snapshot.Cached} {
			obs, err := u.Observe(ctx, spec, mode)
			if err != nil {
				t.Fatal(err)
			}
			if !obs.Exists || strings.Join(obs.Drift, "|") != strings.Join(drift, "|") || obs.Password != want {
				t.Fatalf("mode %v: %+v, want drift %q, password %v", mode, obs, drift, want)
			}
		}
	}
	if err := u.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	current(port.PasswordMatches)

	// Overlap: [new, old].
	spec.Passwords = []string{newPW, oldPW}
	if err := u.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	current(port.PasswordMatches)
	var open []*goredis.Client
	for _, pw := range []string{newPW, oldPW} {
		cl, err := dial(t, srv, "rot", pw)
		if err != nil {
			t.Fatalf("during the overlap a password fails: %v", err)
		}
		defer cl.Close()
		open = append(open, cl)
		if err := cl.Set(ctx, "rot:k", "v", 0).Err(); err != nil {
			t.Errorf("SET on a granted key: %v", err)
		}
		if err := cl.Get(ctx, "other:k").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Errorf("GET on another key: %v, want NOPERM", err)
		}
		if err := cl.FlushAll(ctx).Err(); err == nil {
			t.Error("FLUSHALL was allowed")
		}
	}
	if n, err := rot.Sessions(ctx, "rot"); err != nil || n != len(open) {
		t.Fatalf("Sessions = %d, %v; want %d", n, err, len(open))
	}
	if n, err := rot.Sessions(ctx, "nobody"); err != nil || n != 0 {
		t.Fatalf("Sessions of a user without connections = %d, %v", n, err)
	}

	// Out of band, the previous password is dropped: drift.
	admin := srv.Admin()
	defer admin.Close()
	if err := admin.Do(ctx, "ACL", "SETUSER", "rot", "resetpass", "#"+redis.HashPassword(newPW)).Err(); err != nil {
		t.Fatal(err)
	}
	current(port.PasswordDiffers, "password differs from the Secret")
	if err := u.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	current(port.PasswordMatches)

	// The rotation ends: only the new password logs in.
	spec.Passwords = []string{newPW}
	if err := u.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	current(port.PasswordMatches)
	if cl, err := dial(t, srv, "rot", oldPW); err == nil {
		_ = cl.Close()
		t.Fatal("the retired password still logs in")
	} else if !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("the retired password: %v, want WRONGPASS", err)
	}
	cl, err := dial(t, srv, "rot", newPW)
	if err != nil {
		t.Fatalf("the new password: %v", err)
	}
	defer cl.Close()
	if err := cl.Get(ctx, "rot:k").Err(); err != nil {
		t.Fatal(err)
	}
	// Adding the old password back out of band is drift.
	if err := admin.Do(ctx, "ACL", "SETUSER", "rot", "#"+redis.HashPassword(oldPW)).Err(); err != nil {
		t.Fatal(err)
	}
	current(port.PasswordDiffers, "password differs from the Secret")
	if err := u.Delete(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, err := u.Observe(ctx, spec, snapshot.Live); err != nil || obs.Exists {
		t.Fatalf("after Delete: %+v, %v", obs, err)
	}
}
