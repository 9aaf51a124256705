package redis_test

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	goredis "github.com/redis/go-redis/v9"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
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
	obs, err := c.Observe(ctx, spec, snapshot.Live)
	if err != nil || obs.Exists {
		t.Fatalf("before create: %+v %v", obs, err)
	}
	if err := c.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	obs, err = c.Observe(ctx, spec, snapshot.Live)
	if err != nil || !obs.Exists || len(obs.Drift) != 0 {
		t.Fatalf("after apply: %+v %v", obs, err)
	}
	admin := srv.Admin()
	defer admin.Close()
	if err := admin.Do(ctx, "ACL", "SETUSER", "app", "+flushall", "~other:*").Err(); err != nil {
		t.Fatal(err)
	}
	obs, err = c.Observe(ctx, spec, snapshot.Live)
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
	if obs, _ = c.Observe(ctx, spec, snapshot.Live); len(obs.Drift) != 0 {
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

// Writes at once share ACL SAVEs, and each returns only after a save that
// holds it.
func TestConcurrentWritesShareSaves(t *testing.T) {
	ctx := context.Background()
	srv, c := start(t, harness.RedisOptions{ACLFile: true})
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			spec := redis.UserSpec{Name: "group-" + strconv.Itoa(i), Enabled: true, Passwords: []string{"pw"}}
			if err := c.Apply(ctx, spec); err != nil {
				t.Error(err)
				return
			}
			// Saved by the time Apply returns.
			if data, err := os.ReadFile(srv.ACLFilePath()); err != nil || !strings.Contains(string(data), "user "+spec.Name+" on") {
				t.Errorf("%s not in the ACL file when its Apply returned (%v)", spec.Name, err)
			}
		})
	}
	wg.Wait()
	stats, err := srv.Admin().Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`cmdstat_acl\|save:calls=(\d+)`).FindStringSubmatch(stats)
	if m == nil {
		t.Fatalf("no ACL SAVE in commandstats:\n%s", stats)
	}
	if saves, _ := strconv.Atoi(m[1]); saves >= n {
		t.Errorf("%d ACL SAVEs for %d concurrent writes, want fewer (shared)", saves, n)
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

// applyUsers creates n users and returns their specs.
func applyUsers(t *testing.T, c *redis.Client, n int) []redis.UserSpec {
	t.Helper()
	var specs []redis.UserSpec
	for i := range n {
		s := redis.UserSpec{Name: "user_" + strconv.Itoa(i), Enabled: true, Passwords: []string{"pw-" + strconv.Itoa(i)},
			Keys: []redis.KeyPattern{{Pattern: "app:" + strconv.Itoa(i) + ":*"}}, Channels: []string{"news"},
			AllowCategories: []string{"read", "write"}, DenyCategories: []string{"dangerous"}}
		if err := c.Apply(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	return specs
}

// commands reads the node's total_commands_processed. The INFO that reads it
// is counted by the next reading.
func commands(t *testing.T, admin *goredis.Client) int64 {
	t.Helper()
	info, err := admin.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("INFO stats has no total_commands_processed")
	return 0
}

// TestCachedObserveCostsOneListPerNode checks that steady-state checks of
// many users cost one ACL LIST, where live ones cost a GETUSER each.
func TestCachedObserveCostsOneListPerNode(t *testing.T) {
	ctx := context.Background()
	srv, c := start(t, harness.RedisOptions{AdminUser: "operator"})
	specs := applyUsers(t, c, 20)
	admin := srv.Admin()
	defer admin.Close()

	cost := func(mode snapshot.Mode) int64 {
		q0 := commands(t, admin)
		for _, s := range specs {
			obs, err := c.Observe(ctx, s, mode)
			if err != nil || !obs.Exists || len(obs.Drift) != 0 {
				t.Fatalf("%s: %+v %v", s.Name, obs, err)
			}
		}
		return commands(t, admin) - q0 - 1
	}
	cached, live := cost(snapshot.Cached), cost(snapshot.Live)
	t.Logf("commands for %d observations: cached %d, live %d", len(specs), cached, live)
	if cached != 1 {
		t.Errorf("cached observations ran %d commands, want 1 (one ACL LIST)", cached)
	}
	if live < int64(len(specs)) {
		t.Errorf("live observations ran %d commands, want one per user at least", live)
	}
	if n := redis.SnapshotLoads(c); n != 1 {
		t.Errorf("%d snapshot loads, want 1", n)
	}
}

// TestCachedMatchesLiveAfterOutOfBandChanges edits users behind the client's
// back; once the snapshot expires, cached and live observations agree.
func TestCachedMatchesLiveAfterOutOfBandChanges(t *testing.T) {
	ctx := context.Background()
	srv, c := start(t, harness.RedisOptions{AdminUser: "operator"})
	specs := applyUsers(t, c, 7)
	for _, s := range specs {
		if obs, err := c.Observe(ctx, s, snapshot.Cached); err != nil || len(obs.Drift) != 0 {
			t.Fatalf("%s: %+v %v", s.Name, obs, err)
		}
	}
	admin := srv.Admin()
	defer admin.Close()
	for _, cmd := range [][]any{
		{"ACL", "DELUSER", "user_0"},
		{"ACL", "SETUSER", "user_1", "~*", "+flushall", "+@admin"},
		{"ACL", "SETUSER", "user_2", "resetpass", ">stolen"},
		{"ACL", "SETUSER", "user_3", "off", "nopass"},
		{"ACL", "SETUSER", "user_4", "(~x) +get)", "(%R~y +@read)"},
		{"ACL", "SETUSER", "user_5", "~(odd", "&chan)", "-@write"},
	} {
		if err := admin.Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Poll until the snapshot has expired and the deleted user shows.
	deadline := time.Now().Add(2 * snapshot.DefaultTTL)
	for {
		obs, err := c.Observe(ctx, specs[0], snapshot.Cached)
		if err != nil {
			t.Fatal(err)
		}
		if !obs.Exists {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cached observation still shows user_0 after %s", 2*snapshot.DefaultTTL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, s := range specs {
		live, err := c.Observe(ctx, s, snapshot.Live)
		if err != nil {
			t.Fatal(err)
		}
		cached, err := c.Observe(ctx, s, snapshot.Cached)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(live, cached); diff != "" {
			t.Errorf("%s: cached differs from live (-live +cached):\n%s", s.Name, diff)
		}
		if changed := i < 6; changed == (live.Exists && len(live.Drift) == 0) {
			t.Errorf("%s: changed %t, but observed %+v", s.Name, changed, live)
		}
	}
	if n := redis.SnapshotLoads(c); n != 2 {
		t.Errorf("%d snapshot loads, want 2 (before and after the TTL)", n)
	}
}

// TestCachedObserveSeesOwnWrites checks that every write, failed or not,
// drops the snapshot of the node it touched.
func TestCachedObserveSeesOwnWrites(t *testing.T) {
	ctx := context.Background()
	srv, c := start(t, harness.RedisOptions{AdminUser: "operator"})
	s := redis.UserSpec{Name: "w", Enabled: true, Passwords: []string{"pw"}, Keys: []redis.KeyPattern{{Pattern: "w:*"}}, AllowCommands: []string{"get"}}
	observe := func(s redis.UserSpec) port.Observation {
		t.Helper()
		obs, err := c.Observe(ctx, s, snapshot.Cached)
		if err != nil {
			t.Fatal(err)
		}
		return obs
	}
	if obs := observe(s); obs.Exists {
		t.Fatalf("before apply: %+v", obs)
	}
	if err := c.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	if obs := observe(s); !obs.Exists || len(obs.Drift) != 0 {
		t.Fatalf("after apply: %+v", obs)
	}
	s.Keys = append(s.Keys, redis.KeyPattern{Pattern: "v:*", Access: redis.ReadOnly})
	if obs := observe(s); len(obs.Drift) != 1 {
		t.Fatalf("changed spec: %+v", obs)
	}
	if err := c.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	if obs := observe(s); len(obs.Drift) != 0 {
		t.Fatalf("after the second apply: %+v", obs)
	}
	if err := c.Delete(ctx, s.Name); err != nil {
		t.Fatal(err)
	}
	if obs := observe(s); obs.Exists {
		t.Fatalf("after delete: %+v", obs)
	}
	if n := redis.SnapshotLoads(c); n != 4 {
		t.Errorf("%d snapshot loads, want 4 (one after each write)", n)
	}

	// A login that may not delete users: the failed write still drops the snapshot.
	admin := srv.Admin()
	defer admin.Close()
	if err := admin.Do(ctx, "ACL", "SETUSER", "limited", "on", ">limited-pw", "~*", "&*", "+@all", "-acl|deluser").Err(); err != nil {
		t.Fatal(err)
	}
	lc, err := redis.New(redis.Config{Nodes: []redis.Node{{Host: srv.Host, Port: srv.Port}}, Username: "limited", Password: "limited-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if _, err := lc.Observe(ctx, s, snapshot.Cached); err != nil {
		t.Fatal(err)
	}
	if err := lc.Delete(ctx, s.Name); err == nil {
		t.Fatal("ACL DELUSER without the right succeeded")
	}
	if _, err := lc.Observe(ctx, s, snapshot.Cached); err != nil {
		t.Fatal(err)
	}
	if n := redis.SnapshotLoads(lc); n != 2 {
		t.Errorf("%d snapshot loads, want 2 (the failed delete dropped the first)", n)
	}
}

// TestACLListMatchesGetUser reads users with odd names, patterns and
// selectors both ways on a real server: ACL LIST parses to what ACL GETUSER
// says, field for field.
func TestACLListMatchesGetUser(t *testing.T) {
	ctx := context.Background()
	srv, _ := start(t, harness.RedisOptions{AdminUser: "operator"})
	admin := srv.Admin()
	defer admin.Close()
	for _, cmd := range [][]any{
		{"ACL", "SETUSER", "app", "on", "#" + redis.HashPassword("a"), "#" + redis.HashPassword("b"), "~app:*", "%R~ro:*", "%W~wo:*", "%RW~rw:*",
			"&news.*", "+@read", "+@write", "-@dangerous", "+client|id", "-del"},
		{"ACL", "SETUSER", "off1", "off"},
		{"ACL", "SETUSER", "np", "on", "nopass", "allkeys", "allchannels", "allcommands"},
		{"ACL", "SETUSER", "sel", "on", "~a", "+get", "(~b +set)", "(%R~c +@read)"},
		{"ACL", "SETUSER", "par", "on", "(~c) +get)", "~(d"},
		{"ACL", "SETUSER", "a:b@c.d-e_f", "on", `~"quoted"`, `~x\y`, "~{a}", `&a"b`},
		{"ACL", "SETUSER", `we"ird(`, "on", ">pw"},
		{"ACL", "SETUSER", "hashy", "on", "~#abc", "~nopass", "&off", "+@all", "-flushall"},
	} {
		if err := admin.Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	lines, err := admin.Do(ctx, "ACL", "LIST").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range lines {
		name, fromList, err := redis.ParseACLUser(line)
		if err != nil {
			t.Errorf("user %q: %v", name, err)
			continue
		}
		reply, err := admin.Do(ctx, "ACL", "GETUSER", name).Result()
		if err != nil {
			t.Fatal(err)
		}
		fromGet, err := redis.ParseGetUser(reply)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(fromGet, fromList, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("user %q: ACL LIST differs from ACL GETUSER (-getuser +list):\n%s", name, diff)
		}
	}
	if len(lines) < 10 {
		t.Errorf("ACL LIST has %d users, want the 8 above, default and operator", len(lines))
	}
}
