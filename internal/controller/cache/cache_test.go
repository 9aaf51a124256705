package cache_test

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/harness"
)

// refused reports whether err is the server's permission refusal.
func refused(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOPERM") }

func TestServerReady(t *testing.T) {
	f := newFixture(t)
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.ns}}
	f.waitReady(srv)
	f.g.Expect(srv.Status.Version).To(HavePrefix("7."))
	f.g.Expect(srv.Status.Flavor).To(Equal("Redis"))
	f.g.Expect(srv.Status.Nodes).To(Equal([]cachev1.NodeStatus{{Address: node.Address(), Version: srv.Status.Version}}))

	// A wrong password is reported, without the password.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "redis-admin"}}
	f.g.Expect(update(f, secret, func(s *corev1.Secret) {
		s.Data["password"] = []byte("wrong-password")
		s.Labels = map[string]string{"backend-operator.dev/watch": "true"}
	})).To(Succeed())
	c := f.waitReason(srv, metav1.ConditionFalse, backenderr.ReasonAuthFailed)
	f.g.Expect(c.Message).NotTo(ContainSubstring("wrong-password"))
	f.g.Expect(update(f, secret, func(s *corev1.Secret) { s.Data["password"] = []byte(node.AdminPassword) })).To(Succeed())
	f.waitReady(srv)

	// A node that does not answer keeps the server from Ready.
	down := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "down", Namespace: f.ns}, Spec: cachev1.CacheServerSpec{
		Nodes:            []cachev1.Node{{Host: node.Host, Port: int32(node.Port)}, {Host: "127.0.0.1", Port: 1}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "redis-admin"}}}}
	f.create(down)
	c = f.waitReason(down, metav1.ConditionFalse, backenderr.ReasonUnavailable)
	f.g.Expect(c.Message).To(ContainSubstring("127.0.0.1:1"))
}

func TestUserLifecycle(t *testing.T) {
	f := newFixture(t)
	u := f.user("app", func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "app:*"}, {Pattern: "ref:*", Access: cachev1.KeyReadOnly}, {Pattern: "log:*", Access: cachev1.KeyWriteOnly}}
		u.Spec.Channels = []string{"news.*"}
		u.Spec.Commands = cachev1.CommandRules{AllowCategories: []cachev1.Category{"read", "write"}, DenyCategories: []cachev1.Category{"dangerous"},
			Allow: []string{"ping", "publish"}, Deny: []string{"del"}}
		u.Spec.ConnectionSecret = common.ConnectionSecret{Name: "app-redis", Template: map[string]string{"REDIS_URL": "{{ .URI }}"}}
	})
	f.create(u)
	f.waitReady(u)
	f.g.Expect(u.Status.Binding).To(Equal(&common.Binding{Name: "app-redis"}))
	f.g.Expect(u.Finalizers).To(ContainElement(managed.Finalizer))

	s := f.secret("app-redis")
	f.g.Expect(s.Type).To(Equal(corev1.SecretType("servicebinding.io/redis")))
	// Assertions on Secret values compare booleans, so that a failure never prints a password.
	f.g.Expect(slices.Sorted(maps.Keys(s.Data))).To(Equal([]string{"REDIS_URL", "host", "password", "port", "provider", "type", "uri", "username"}))
	f.g.Expect(string(s.Data["type"])).To(Equal("redis"))
	f.g.Expect(string(s.Data["provider"])).To(Equal("redis"))
	f.g.Expect(string(s.Data["username"])).To(Equal(u.Spec.Name))
	f.g.Expect(strings.HasPrefix(string(s.Data["uri"]), "redis://"+u.Spec.Name+":")).To(BeTrue(), "uri is redis://<user>:<password>@...")
	f.g.Expect(string(s.Data["REDIS_URL"]) == string(s.Data["uri"])).To(BeTrue(), "the template rendered the uri")
	// Only the hash of the password is on the server.
	f.g.Expect(userOn(t, node, u.Spec.Name)["passwords"]).To(Equal([]any{redis.HashPassword(string(s.Data["password"]))}))

	app, err := f.login("app-redis", "")
	f.g.Expect(err).NotTo(HaveOccurred())
	defer app.Close()
	ctx := f.ctx
	// Exactly the allowed commands on exactly the allowed keys.
	f.g.Expect(app.Set(ctx, "app:1", "v", 0).Err()).To(Succeed())
	f.g.Expect(app.Get(ctx, "app:1").Val()).To(Equal("v"))
	f.g.Expect(app.Get(ctx, "ref:1").Err()).To(MatchError(goredis.Nil))
	f.g.Expect(refused(app.Set(ctx, "ref:1", "v", 0).Err())).To(BeTrue(), "write to a read-only pattern")
	f.g.Expect(app.Set(ctx, "log:1", "v", 0).Err()).To(Succeed())
	f.g.Expect(refused(app.Get(ctx, "log:1").Err())).To(BeTrue(), "read of a write-only pattern")
	f.g.Expect(refused(app.Set(ctx, "other:1", "v", 0).Err())).To(BeTrue(), "key outside every pattern")
	f.g.Expect(refused(app.Del(ctx, "app:1").Err())).To(BeTrue(), "denied command")
	f.g.Expect(refused(app.Keys(ctx, "*").Err())).To(BeTrue(), "dangerous category")
	f.g.Expect(refused(app.FlushAll(ctx).Err())).To(BeTrue(), "dangerous category")
	f.g.Expect(refused(app.Do(ctx, "CONFIG", "GET", "maxmemory").Err())).To(BeTrue(), "admin command")
	f.g.Expect(app.Publish(ctx, "news.today", "x").Err()).To(Succeed())
	f.g.Expect(refused(app.Publish(ctx, "gossip", "x").Err())).To(BeTrue(), "channel outside the patterns")

	// Rule change: app:* becomes read-only, and the change replaces the rules.
	f.g.Expect(update(f, u, func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "app:*", Access: cachev1.KeyReadOnly}}
		u.Spec.Commands.Deny = nil
	})).To(Succeed())
	f.waitReady(u)
	f.g.Expect(refused(app.Set(ctx, "app:2", "v", 0).Err())).To(BeTrue(), "app:* is read-only now")
	f.g.Expect(app.Get(ctx, "app:1").Val()).To(Equal("v"))
	f.g.Expect(refused(app.Set(ctx, "log:1", "v", 0).Err())).To(BeTrue(), "log:* is no longer declared")
	f.g.Expect(userOn(t, node, u.Spec.Name)["keys"]).To(Equal("%R~app:*"))

	// Drift: rights added out of band are taken away again.
	admin(t, node, "ACL", "SETUSER", u.Spec.Name, "~*", "+flushall", "+@admin")
	f.g.Eventually(func() bool { return refused(app.FlushAll(ctx).Err()) && refused(app.Set(ctx, "x", "v", 0).Err()) },
		3*pollInterval+10*time.Second).Should(BeTrue(), "rules edited out of band were not repaired")
	f.g.Expect(userOn(t, node, u.Spec.Name)["keys"]).To(Equal("%R~app:*"))

	// Drift: a password changed out of band is set back.
	admin(t, node, "ACL", "SETUSER", u.Spec.Name, "resetpass", ">stolen")
	f.g.Eventually(func() error {
		c, err := f.login("app-redis", "")
		if err == nil {
			c.Close()
		}
		return err
	}, 3*pollInterval+10*time.Second).Should(Succeed(), "password was not repaired")
	f.g.Expect(userOn(t, node, u.Spec.Name)["passwords"]).To(HaveLen(1))

	// Drift: a deleted user is recreated.
	admin(t, node, "ACL", "DELUSER", u.Spec.Name)
	f.g.Eventually(func() bool { return userOn(t, node, u.Spec.Name) != nil }, 3*pollInterval+10*time.Second).Should(BeTrue(), "deleted user was not recreated")
	f.g.Eventually(func() error {
		c, err := f.login("app-redis", "")
		if err == nil {
			c.Close()
		}
		return err
	}).Should(Succeed())

	// Disabling keeps the rules and refuses the login.
	f.g.Expect(update(f, u, func(u *cachev1.CacheUser) { u.Spec.Enabled = new(false) })).To(Succeed())
	f.waitReady(u)
	_, err = f.login("app-redis", "")
	f.g.Expect(err).To(HaveOccurred())
	f.g.Expect(strings.Contains(err.Error(), string(s.Data["password"]))).To(BeFalse(), "the error holds the password")

	// Delete (the default policy) removes the user from the server.
	f.delete(u)
	f.waitGone(u)
	f.g.Expect(userOn(t, node, u.Spec.Name)).To(BeNil())
}

func TestRetainAndPasswordSecret(t *testing.T) {
	f := newFixture(t)
	f.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: f.ns}, StringData: map[string]string{"pass": "first-password"}})
	u := f.user("kept", func(u *cachev1.CacheUser) {
		u.Spec.DeletionPolicy = common.DeletionRetain
		u.Spec.PasswordSecretRef = &common.SecretKeyReference{SecretReference: common.SecretReference{Name: "pw"}, Key: "pass"}
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "k:*"}}
		u.Spec.Commands.Allow = []string{"get"}
	})
	f.create(u)
	f.waitReady(u)
	f.g.Expect(string(f.secret("kept-connection").Data["password"]) == "first-password").To(BeTrue(), "the password comes from its Secret")
	c, err := f.login("kept-connection", "")
	f.g.Expect(err).NotTo(HaveOccurred())
	c.Close()

	// A new password in the referenced Secret is applied at the next poll.
	pw := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: f.ns}}
	f.g.Expect(update(f, pw, func(s *corev1.Secret) { s.Data["pass"] = []byte("second-password") })).To(Succeed())
	f.g.Eventually(func() error {
		c, err := f.login("kept-connection", "")
		if err == nil {
			c.Close()
		}
		if string(f.secret("kept-connection").Data["password"]) != "second-password" {
			return context.DeadlineExceeded
		}
		return err
	}, 3*pollInterval+10*time.Second).Should(Succeed())

	f.delete(u)
	f.waitGone(u)
	f.g.Expect(userOn(t, node, u.Spec.Name)).NotTo(BeNil(), "Retain keeps the user")
	admin(t, node, "ACL", "DELUSER", u.Spec.Name)
}

func TestTwoNodesAndRestart(t *testing.T) {
	var nodes []*harness.Redis
	for range 2 {
		// Both nodes share the admin login the Secret holds.
		n, err := harness.StartRedis(context.Background(), harness.RedisOptions{AdminUser: "operator", AdminPassword: "shared-admin-password"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		nodes = append(nodes, n)
	}
	f := newFixture(t, nodes...)
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.ns}}
	f.waitReady(srv)
	f.g.Expect(srv.Status.Nodes).To(HaveLen(2))

	u := f.user("both", func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "b:*"}}
		u.Spec.Commands.AllowCategories = []cachev1.Category{"string"}
	})
	f.create(u)
	f.waitReady(u)
	for _, n := range nodes {
		c, err := f.login("both-connection", n.Address())
		f.g.Expect(err).NotTo(HaveOccurred(), "login on %s", n.Address())
		f.g.Expect(c.Set(f.ctx, "b:1", "v", 0).Err()).To(Succeed())
		c.Close()
	}

	// A restart without an ACL file loses the user; it is back within the poll interval.
	f.g.Expect(nodes[1].Stop()).To(Succeed())
	f.g.Expect(nodes[1].Start(context.Background())).To(Succeed())
	f.g.Expect(userOn(t, nodes[1], u.Spec.Name)).To(BeNil(), "the restart dropped the user")
	start := time.Now()
	f.g.Eventually(func() error {
		c, err := f.login("both-connection", nodes[1].Address())
		if err == nil {
			c.Close()
		}
		return err
	}, 3*pollInterval+10*time.Second, 50*time.Millisecond).Should(Succeed())
	t.Logf("user restored %.1fs after the restart (poll interval %s)", time.Since(start).Seconds(), pollInterval)
	f.g.Expect(time.Since(start)).To(BeNumerically("<", 2*pollInterval+5*time.Second))

	f.delete(u)
	f.waitGone(u)
	for _, n := range nodes {
		f.g.Expect(userOn(t, n, u.Spec.Name)).To(BeNil())
	}
}

func TestACLFileDefaultUserAdmin(t *testing.T) {
	n, err := harness.StartRedis(context.Background(), harness.RedisOptions{ACLFile: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	// The admin Secret holds only the default user's password.
	f := newFixture(t, n)
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.ns}}
	f.waitReady(srv)
	f.g.Expect(srv.Status.Nodes[0].ACLFile).To(BeTrue())

	u := f.user("saved", func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "s:*"}}
		u.Spec.Commands.Allow = []string{"get", "set"}
	})
	f.create(u)
	f.waitReady(u)
	aclFile := func() string {
		data, err := os.ReadFile(n.ACLFilePath())
		f.g.Expect(err).NotTo(HaveOccurred())
		return string(data)
	}
	pw := string(f.secret("saved-connection").Data["password"])
	f.g.Expect(aclFile()).To(ContainSubstring("user " + u.Spec.Name + " on"))
	f.g.Expect(aclFile()).To(ContainSubstring("~s:*"))
	f.g.Expect(strings.Contains(aclFile(), pw)).To(BeFalse(), "the ACL file holds the plaintext password")

	f.g.Expect(update(f, u, func(u *cachev1.CacheUser) { u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "t:*"}} })).To(Succeed())
	f.waitReady(u)
	f.g.Expect(aclFile()).To(ContainSubstring("~t:*"))
	f.g.Expect(aclFile()).NotTo(ContainSubstring("~s:*"))

	// With the file the user survives a restart without the operator.
	f.g.Expect(n.Stop()).To(Succeed())
	f.g.Expect(n.Start(context.Background())).To(Succeed())
	f.g.Expect(userOn(t, n, u.Spec.Name)).NotTo(BeNil())

	f.delete(u)
	f.waitGone(u)
	f.g.Expect(aclFile()).NotTo(ContainSubstring("user " + u.Spec.Name))
}

func TestConflictAndAdoption(t *testing.T) {
	f := newFixture(t)
	first := f.user("first", func(u *cachev1.CacheUser) { u.Spec.Name = f.uniq("shared") })
	f.create(first)
	f.waitReady(first)
	second := f.user("second", func(u *cachev1.CacheUser) {
		u.Spec.Name = f.uniq("shared")
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "*"}}
	})
	f.create(second)
	f.waitReason(second, metav1.ConditionFalse, managed.ReasonConflict)
	f.stays(second, managed.ReasonConflict)
	f.g.Expect(userOn(t, node, f.uniq("shared"))["keys"]).To(Equal(""), "the loser wrote nothing")
	f.g.Expect(second.Finalizers).To(BeEmpty())

	// An existing user is not taken over until spec says so.
	legacy := f.uniq("legacy")
	admin(t, node, "ACL", "SETUSER", legacy, "on", ">legacy-password", "~*", "+@all")
	u := f.user("legacy", func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "l:*"}}
		u.Spec.Commands.Allow = []string{"get"}
	})
	f.create(u)
	f.waitReason(u, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.stays(u, managed.ReasonAlreadyExists)
	f.g.Expect(userOn(t, node, legacy)["keys"]).To(Equal("~*"))
	f.g.Expect(update(f, u, func(u *cachev1.CacheUser) { u.Spec.AdoptExisting = true })).To(Succeed())
	f.waitReady(u)
	got := userOn(t, node, legacy)
	f.g.Expect(got["keys"]).To(Equal("~l:*"))
	f.g.Expect(got["commands"]).To(Equal("-@all +get"))
	c, err := f.login("legacy-connection", "")
	f.g.Expect(err).NotTo(HaveOccurred())
	c.Close()
}

func TestAdmissionAndInvalidSpec(t *testing.T) {
	f := newFixture(t)
	u := f.user("immutable")
	f.create(u)
	f.waitReady(u)
	err := update(f, u, func(u *cachev1.CacheUser) { u.Spec.Name = "renamed" })
	f.g.Expect(err).To(MatchError(ContainSubstring("spec.name is immutable")))
	err = update(f, u, func(u *cachev1.CacheUser) { u.Spec.Name = "" })
	f.g.Expect(err).To(MatchError(ContainSubstring("spec.name is immutable")))

	cases := []struct {
		reason string
		mutate func(*cachev1.CacheUser)
		want   string
	}{
		{"space in a key pattern", func(u *cachev1.CacheUser) { u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "a +@all"}} }, "spec.keys[0].pattern"},
		{"space in a channel", func(u *cachev1.CacheUser) { u.Spec.Channels = []string{"a b"} }, "spec.channels[0]"},
		{"unknown category", func(u *cachev1.CacheUser) {
			u.Spec.Commands.AllowCategories = []cachev1.Category{"everything"}
		}, "spec.commands.allowCategories[0]"},
		{"rule text as a command", func(u *cachev1.CacheUser) { u.Spec.Commands.Allow = []string{"+@all"} }, "spec.commands.allow[0]"},
		{"upper-case command", func(u *cachev1.CacheUser) { u.Spec.Commands.Deny = []string{"FLUSHALL"} }, "spec.commands.deny[0]"},
		{"user name with a space", func(u *cachev1.CacheUser) { u.Spec.Name = "a b" }, "spec.name"},
		{"unknown key access", func(u *cachev1.CacheUser) { u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "a", Access: "All"}} }, "spec.keys[0].access"},
		{"template replaces a standard key", func(u *cachev1.CacheUser) {
			u.Spec.ConnectionSecret.Template = map[string]string{"uri": "x"}
		}, "must not replace a standard key"},
	}
	for i, c := range cases {
		obj := f.user("bad", c.mutate)
		obj.Name = "bad-" + string(rune('a'+i))
		err := k8s.Create(f.ctx, obj)
		if err == nil {
			t.Errorf("%s: accepted", c.reason)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.reason, err, c.want)
		}
	}
	for _, srv := range []*cachev1.CacheServer{
		{ObjectMeta: metav1.ObjectMeta{Name: "nonodes", Namespace: f.ns}, Spec: cachev1.CacheServerSpec{
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "s"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: f.ns}, Spec: cachev1.CacheServerSpec{Nodes: []cachev1.Node{{Host: "h"}},
			TLS: &common.TLS{Mode: common.TLSVerifyFull}, AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "s"}}}},
	} {
		if err := k8s.Create(f.ctx, srv); err == nil {
			t.Errorf("CacheServer %s accepted", srv.Name)
		}
	}

	// A command the server does not know is reported before anything is sent.
	bad := f.user("unknown", func(u *cachev1.CacheUser) { u.Spec.Commands.Allow = []string{"get", "frobnicate"} })
	f.create(bad)
	c := f.waitReason(bad, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.g.Expect(c.Message).To(ContainSubstring("frobnicate"))
	f.g.Expect(userOn(t, node, bad.Spec.Name)).To(BeNil())
	f.g.Expect(bad.Finalizers).To(BeEmpty())

	// A spec that turns invalid leaves the user as it was, and still lets
	// the object be deleted (with the user, by the default policy).
	f.g.Expect(update(f, u, func(u *cachev1.CacheUser) { u.Spec.Commands.Allow = []string{"frobnicate"} })).To(Succeed())
	f.waitReason(u, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.g.Expect(userOn(t, node, u.Spec.Name)["commands"]).To(Equal("-@all"))
	f.delete(u)
	f.waitGone(u)
	f.g.Expect(userOn(t, node, u.Spec.Name)).To(BeNil())
}

func TestClusterServerNamespaces(t *testing.T) {
	f := newFixture(t)
	cs := &cachev1.ClusterCacheServer{ObjectMeta: metav1.ObjectMeta{Name: "shared-" + f.ns}, Spec: cachev1.ClusterCacheServerSpec{
		CacheServerSpec: cachev1.CacheServerSpec{Nodes: []cachev1.Node{{Host: node.Host, Port: int32(node.Port)}},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "redis-admin", Namespace: f.ns}}},
		AllowedNamespaces: &common.AllowedNamespaces{Names: []string{f.ns}},
	}}
	f.create(cs)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cs) })
	f.waitReady(cs)
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "other-"}}
	f.create(other)
	ref := cachev1.ServerReference{Kind: cachev1.KindClusterCacheServer, Name: cs.Name}
	ok := f.user("ok", func(u *cachev1.CacheUser) { u.Spec.ServerRef = ref })
	no := f.user("no", func(u *cachev1.CacheUser) { u.Spec.ServerRef = ref; u.Namespace = other.Name })
	f.create(ok)
	f.create(no)
	f.waitReady(ok)
	f.waitReason(no, metav1.ConditionFalse, managed.ReasonServerNotAllowed)
	f.g.Expect(userOn(t, node, no.Spec.Name)).To(BeNil())
	f.delete(ok)
	f.waitGone(ok)
	f.g.Expect(userOn(t, node, ok.Spec.Name)).To(BeNil())
}

func TestObservePolicy(t *testing.T) {
	f := newFixture(t)
	name := f.uniq("watched")
	admin(t, node, "ACL", "SETUSER", name, "on", ">watched-password", "~w:*", "+get", "+set")
	u := f.user("watched", func(u *cachev1.CacheUser) {
		u.Spec.ManagementPolicy = common.ManagementObserve
		u.Spec.AdoptExisting = true
		u.Spec.PasswordSecretRef = &common.SecretKeyReference{SecretReference: common.SecretReference{Name: "watched-pw"}}
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "w:*"}}
		u.Spec.Commands.Allow = []string{"get"}
	})
	f.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "watched-pw", Namespace: f.ns}, StringData: map[string]string{"password": "watched-password"}})
	f.create(u)
	f.waitReason(u, metav1.ConditionFalse, managed.ReasonDrifted)
	f.g.Expect(u.Status.Drift).To(Equal([]string{"commands not declared: set"}))
	f.g.Expect(strings.Fields(userOn(t, node, name)["commands"].(string))).To(ConsistOf("-@all", "+get", "+set"), "Observe writes nothing")

	f.g.Expect(update(f, u, func(u *cachev1.CacheUser) { u.Spec.Commands.Allow = []string{"get", "set"} })).To(Succeed())
	f.waitReady(u)
	f.g.Expect(u.Status.Drift).To(BeEmpty())
	f.delete(u)
	f.waitGone(u)
	f.g.Expect(userOn(t, node, name)).NotTo(BeNil(), "Observe never deletes")
}
