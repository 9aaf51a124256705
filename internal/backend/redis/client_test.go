package redis_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/test/harness"
)

func start(t *testing.T, opts harness.RedisOptions) (*harness.Redis, *redis.Client) {
	t.Helper()
	srv, err := harness.StartRedis(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := redis.New(redis.Config{Nodes: []redis.Node{{Host: srv.Host, Port: srv.Port}},
		Username: srv.AdminUser, Password: srv.AdminPassword, MaxConnections: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return srv, c
}

// TestApplyObserveOnRealServer checks that what Apply sends reads back as no
// drift, however the server phrases it, and that edits out of band show up.
func TestApplyObserveOnRealServer(t *testing.T) {
	ctx := context.Background()
	srv, c := start(t, harness.RedisOptions{AdminUser: "operator"})
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info) != 1 || info[0].Version == "" || info[0].ACLFile {
		t.Fatalf("Info: %+v", info)
	}
	spec := redis.UserSpec{Name: "app", Enabled: true, Passwords: []string{"pw1", "pw2"},
		Keys:     []redis.KeyPattern{{Pattern: "app:*", Access: redis.ReadWrite}, {Pattern: "ro:*", Access: redis.ReadOnly}, {Pattern: "wo:*", Access: redis.WriteOnly}},
		Channels: []string{"news.*"}, AllowCategories: []string{"read", "write"}, DenyCategories: []string{"dangerous"},
		AllowCommands: []string{"client|id", "ping"}, DenyCommands: []string{"del"}}
	obs, err := c.Observe(ctx, spec)
	if err != nil || obs.Exists {
		t.Fatalf("before create: %+v %v", obs, err)
	}
	if err := c.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	obs, err = c.Observe(ctx, spec)
	if err != nil || !obs.Exists || len(obs.Drift) != 0 {
		t.Fatalf("after apply: %+v %v", obs, err)
	}
	admin := srv.Admin()
	defer admin.Close()
	if err := admin.Do(ctx, "ACL", "SETUSER", "app", "+flushall", "~other:*").Err(); err != nil {
		t.Fatal(err)
	}
	obs, err = c.Observe(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"key patterns not declared: ~other:*", "commands not declared: flushall"}
	if strings.Join(obs.Drift, "|") != strings.Join(want, "|") {
		t.Fatalf("drift %q, want %q", obs.Drift, want)
	}
	if err := c.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if obs, _ = c.Observe(ctx, spec); len(obs.Drift) != 0 {
		t.Fatalf("not repaired: %q", obs.Drift)
	}
	if err := c.Delete(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "app"); err != nil {
		t.Fatalf("deleting a missing user: %v", err)
	}
}

func TestCheckRefusesUnknownCommands(t *testing.T) {
	_, c := start(t, harness.RedisOptions{})
	err := c.Check(context.Background(), redis.UserSpec{Name: "u", AllowCommands: []string{"get", "frobnicate"}})
	if be, ok := backenderr.As(err); !ok || be.Reason != backenderr.ReasonInvalidSpec || !strings.Contains(be.Message, "frobnicate") {
		t.Fatalf("got %v", err)
	}
}

func TestACLFileIsSaved(t *testing.T) {
	ctx := context.Background()
	srv, c := start(t, harness.RedisOptions{ACLFile: true})
	info, err := c.Info(ctx)
	if err != nil || !info[0].ACLFile {
		t.Fatalf("Info: %+v %v", info, err)
	}
	spec := redis.UserSpec{Name: "saved", Enabled: true, Passwords: []string{"pw"}, Keys: []redis.KeyPattern{{Pattern: "s:*"}}}
	if err := c.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(srv.ACLFilePath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "user saved on") || !strings.Contains(string(data), "#"+redis.HashPassword("pw")) {
		t.Fatalf("ACL file lacks the user:\n%s", data)
	}
	if strings.Contains(string(data), " pw ") {
		t.Fatal("ACL file holds the plaintext password")
	}
	if err := c.Delete(ctx, "saved"); err != nil {
		t.Fatal(err)
	}
	if data, _ = os.ReadFile(srv.ACLFilePath()); strings.Contains(string(data), "user saved") {
		t.Fatalf("deleted user still in the ACL file:\n%s", data)
	}
}

func TestAuthFailure(t *testing.T) {
	srv, _ := start(t, harness.RedisOptions{})
	c, err := redis.New(redis.Config{Nodes: []redis.Node{{Host: srv.Host, Port: srv.Port}}, Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Info(context.Background())
	if be, ok := backenderr.As(err); !ok || be.Reason != backenderr.ReasonAuthFailed || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("got %v", err)
	}
}
