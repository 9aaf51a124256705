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
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// refused reports whether err is the server's permission refusal.
func refused(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOPERM") }

func TestServerReady(t *testing.T) {
	f := newFixture(t)
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.NS}}
	f.WaitReady(srv)
	f.G.Expect(srv.Status.Version).To(HavePrefix("7."))
	f.G.Expect(srv.Status.Flavor).To(Equal("Redis"))
	f.G.Expect(srv.Status.Nodes).To(Equal([]cachev1.NodeStatus{{Address: node.Address(), Version: srv.Status.Version}}))

	// A wrong password is reported, without the password.
	f.ExpectAuthFailure(srv, "redis-admin", node.AdminPassword)

	// A node that does not answer keeps the server from Ready.
	down := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "down", Namespace: f.NS}, Spec: cachev1.CacheServerSpec{
		Nodes:            []cachev1.Node{{Host: node.Host, Port: int32(node.Port)}, {Host: "127.0.0.1", Port: 1}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "redis-admin"}}}}
	f.Create(down)
	c := f.WaitReason(down, metav1.ConditionFalse, backenderr.ReasonUnavailable)
	f.G.Expect(c.Message).To(ContainSubstring("127.0.0.1:1"))
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
	f.Create(u)
	f.WaitReady(u)
	f.G.Expect(u.Status.Binding).To(Equal(&common.Binding{Name: "app-redis"}))
	f.G.Expect(u.Finalizers).To(ContainElement(managed.Finalizer))

	s := f.secret("app-redis")
	f.G.Expect(s.Type).To(Equal(corev1.SecretType("servicebinding.io/redis")))
	// Assertions on Secret values compare booleans, so that a failure never prints a password.
	f.G.Expect(slices.Sorted(maps.Keys(s.Data))).To(Equal([]string{"REDIS_URL", "host", "password", "port", "provider", "type", "uri", "username"}))
	f.G.Expect(string(s.Data["type"])).To(Equal("redis"))
	f.G.Expect(string(s.Data["provider"])).To(Equal("redis"))
	f.G.Expect(string(s.Data["username"])).To(Equal(u.Spec.Name))
	f.G.Expect(strings.HasPrefix(string(s.Data["uri"]), "redis://"+u.Spec.Name+":")).To(BeTrue(), "uri is redis://<user>:<password>@...")
	f.G.Expect(string(s.Data["REDIS_URL"]) == string(s.Data["uri"])).To(BeTrue(), "the template rendered the uri")
	// Only the hash of the password is on the server.
	f.G.Expect(userOn(t, node, u.Spec.Name)["passwords"]).To(Equal([]any{redis.HashPassword(string(s.Data["password"]))}))

	app, err := f.login("app-redis", "")
	f.G.Expect(err).NotTo(HaveOccurred())
	defer app.Close()
	ctx := f.Ctx
	// Exactly the allowed commands on exactly the allowed keys.
	f.G.Expect(app.Set(ctx, "app:1", "v", 0).Err()).To(Succeed())
	f.G.Expect(app.Get(ctx, "app:1").Val()).To(Equal("v"))
	f.G.Expect(app.Get(ctx, "ref:1").Err()).To(MatchError(goredis.Nil))
	f.G.Expect(refused(app.Set(ctx, "ref:1", "v", 0).Err())).To(BeTrue(), "write to a read-only pattern")
	f.G.Expect(app.Set(ctx, "log:1", "v", 0).Err()).To(Succeed())
	f.G.Expect(refused(app.Get(ctx, "log:1").Err())).To(BeTrue(), "read of a write-only pattern")
	f.G.Expect(refused(app.Set(ctx, "other:1", "v", 0).Err())).To(BeTrue(), "key outside every pattern")
	f.G.Expect(refused(app.Del(ctx, "app:1").Err())).To(BeTrue(), "denied command")
	f.G.Expect(refused(app.Keys(ctx, "*").Err())).To(BeTrue(), "dangerous category")
	f.G.Expect(refused(app.FlushAll(ctx).Err())).To(BeTrue(), "dangerous category")
	f.G.Expect(refused(app.Do(ctx, "CONFIG", "GET", "maxmemory").Err())).To(BeTrue(), "admin command")
	f.G.Expect(app.Publish(ctx, "news.today", "x").Err()).To(Succeed())
	f.G.Expect(refused(app.Publish(ctx, "gossip", "x").Err())).To(BeTrue(), "channel outside the patterns")

	// Rule change: app:* becomes read-only, and the change replaces the rules.
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "app:*", Access: cachev1.KeyReadOnly}}
		u.Spec.Commands.Deny = nil
	})).To(Succeed())
	f.WaitReady(u)
	f.G.Expect(refused(app.Set(ctx, "app:2", "v", 0).Err())).To(BeTrue(), "app:* is read-only now")
	f.G.Expect(app.Get(ctx, "app:1").Val()).To(Equal("v"))
	f.G.Expect(refused(app.Set(ctx, "log:1", "v", 0).Err())).To(BeTrue(), "log:* is no longer declared")
	f.G.Expect(userOn(t, node, u.Spec.Name)["keys"]).To(Equal("%R~app:*"))

	// Drift: rights added out of band are taken away again.
	admin(t, node, "ACL", "SETUSER", u.Spec.Name, "~*", "+flushall", "+@admin")
	f.G.Eventually(func() bool { return refused(app.FlushAll(ctx).Err()) && refused(app.Set(ctx, "x", "v", 0).Err()) },
		3*pollInterval+10*time.Second).Should(BeTrue(), "rules edited out of band were not repaired")
	f.G.Expect(userOn(t, node, u.Spec.Name)["keys"]).To(Equal("%R~app:*"))

	// Drift: a password changed out of band is set back.
	admin(t, node, "ACL", "SETUSER", u.Spec.Name, "resetpass", ">stolen")
	f.G.Eventually(func() error {
		c, err := f.login("app-redis", "")
		if err == nil {
			c.Close()
		}
		return err
	}, 3*pollInterval+10*time.Second).Should(Succeed(), "password was not repaired")
	f.G.Expect(userOn(t, node, u.Spec.Name)["passwords"]).To(HaveLen(1))

	// Drift: a deleted user is recreated.
	admin(t, node, "ACL", "DELUSER", u.Spec.Name)
	f.G.Eventually(func() bool { return userOn(t, node, u.Spec.Name) != nil }, 3*pollInterval+10*time.Second).Should(BeTrue(), "deleted user was not recreated")
	f.G.Eventually(func() error {
		c, err := f.login("app-redis", "")
		if err == nil {
			c.Close()
		}
		return err
	}).Should(Succeed())

	// Disabling keeps the rules and refuses the login.
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *cachev1.CacheUser) { u.Spec.Enabled = new(false) })).To(Succeed())
	f.WaitReady(u)
	_, err = f.login("app-redis", "")
	f.G.Expect(err).To(HaveOccurred())
	f.G.Expect(strings.Contains(err.Error(), string(s.Data["password"]))).To(BeFalse(), "the error holds the password")

	// Delete (the default policy) removes the user from the server.
	f.Delete(u)
	f.WaitGone(u)
	f.G.Expect(userOn(t, node, u.Spec.Name)).To(BeNil())
}

func TestRetainAndPasswordSecret(t *testing.T) {
	f := newFixture(t)
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: f.NS}, StringData: map[string]string{"pass": "first-password"}})
	u := f.user("kept", func(u *cachev1.CacheUser) {
		u.Spec.DeletionPolicy = common.DeletionRetain
		u.Spec.PasswordSecretRef = &common.SecretKeyReference{SecretReference: common.SecretReference{Name: "pw"}, Key: "pass"}
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "k:*"}}
		u.Spec.Commands.Allow = []string{"get"}
	})
	f.Create(u)
	f.WaitReady(u)
	f.G.Expect(string(f.secret("kept-connection").Data["password"]) == "first-password").To(BeTrue(), "the password comes from its Secret")
	c, err := f.login("kept-connection", "")
	f.G.Expect(err).NotTo(HaveOccurred())
	c.Close()

	// A new password in the referenced Secret is applied at the next poll.
	pw := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: f.NS}}
	f.G.Expect(kubetest.Update(f.Fixture, pw, func(s *corev1.Secret) { s.Data["pass"] = []byte("second-password") })).To(Succeed())
	f.G.Eventually(func() error {
		c, err := f.login("kept-connection", "")
		if err == nil {
			c.Close()
		}
		if string(f.secret("kept-connection").Data["password"]) != "second-password" {
			return context.DeadlineExceeded
		}
		return err
	}, 3*pollInterval+10*time.Second).Should(Succeed())

	f.Delete(u)
	f.WaitGone(u)
	f.G.Expect(userOn(t, node, u.Spec.Name)).NotTo(BeNil(), "Retain keeps the user")
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
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.NS}}
	f.WaitReady(srv)
	f.G.Expect(srv.Status.Nodes).To(HaveLen(2))

	u := f.user("both", func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "b:*"}}
		u.Spec.Commands.AllowCategories = []cachev1.Category{"string"}
	})
	f.Create(u)
	f.WaitReady(u)
	for _, n := range nodes {
		c, err := f.login("both-connection", n.Address())
		f.G.Expect(err).NotTo(HaveOccurred(), "login on %s", n.Address())
		f.G.Expect(c.Set(f.Ctx, "b:1", "v", 0).Err()).To(Succeed())
		c.Close()
	}

	// A restart without an ACL file loses the user; it is back within the poll interval.
	f.G.Expect(nodes[1].Stop()).To(Succeed())
	f.G.Expect(nodes[1].Start(context.Background())).To(Succeed())
	f.G.Expect(userOn(t, nodes[1], u.Spec.Name)).To(BeNil(), "the restart dropped the user")
	start := time.Now()
	f.G.Eventually(func() error {
		c, err := f.login("both-connection", nodes[1].Address())
		if err == nil {
			c.Close()
		}
		return err
	}, 3*pollInterval+10*time.Second, 50*time.Millisecond).Should(Succeed())
	t.Logf("user restored %.1fs after the restart (poll interval %s)", time.Since(start).Seconds(), pollInterval)
	f.G.Expect(time.Since(start)).To(BeNumerically("<", 2*pollInterval+5*time.Second))

	f.Delete(u)
	f.WaitGone(u)
	for _, n := range nodes {
		f.G.Expect(userOn(t, n, u.Spec.Name)).To(BeNil())
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
	srv := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "redis", Namespace: f.NS}}
	f.WaitReady(srv)
	f.G.Expect(srv.Status.Nodes[0].ACLFile).To(BeTrue())

	u := f.user("saved", func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "s:*"}}
		u.Spec.Commands.Allow = []string{"get", "set"}
	})
	f.Create(u)
	f.WaitReady(u)
	aclFile := func() string {
		data, err := os.ReadFile(n.ACLFilePath())
		f.G.Expect(err).NotTo(HaveOccurred())
		return string(data)
	}
	pw := string(f.secret("saved-connection").Data["password"])
	f.G.Expect(aclFile()).To(ContainSubstring("user " + u.Spec.Name + " on"))
	f.G.Expect(aclFile()).To(ContainSubstring("~s:*"))
	f.G.Expect(strings.Contains(aclFile(), pw)).To(BeFalse(), "the ACL file holds the plaintext password")

	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *cachev1.CacheUser) { u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "t:*"}} })).To(Succeed())
	f.WaitReady(u)
	f.G.Expect(aclFile()).To(ContainSubstring("~t:*"))
	f.G.Expect(aclFile()).NotTo(ContainSubstring("~s:*"))

	// With the file the user survives a restart without the operator.
	f.G.Expect(n.Stop()).To(Succeed())
	f.G.Expect(n.Start(context.Background())).To(Succeed())
	f.G.Expect(userOn(t, n, u.Spec.Name)).NotTo(BeNil())

	f.Delete(u)
	f.WaitGone(u)
	f.G.Expect(aclFile()).NotTo(ContainSubstring("user " + u.Spec.Name))
}

func TestConflictAndAdoption(t *testing.T) {
	f := newFixture(t)
	first := f.user("first", func(u *cachev1.CacheUser) { u.Spec.Name = f.uniq("shared") })
	f.Create(first)
	f.WaitReady(first)
	second := f.user("second", func(u *cachev1.CacheUser) {
		u.Spec.Name = f.uniq("shared")
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "*"}}
	})
	f.Create(second)
	f.WaitReason(second, metav1.ConditionFalse, managed.ReasonConflict)
	f.Stays(second, managed.ReasonConflict)
	f.G.Expect(userOn(t, node, f.uniq("shared"))["keys"]).To(Equal(""), "the loser wrote nothing")
	f.G.Expect(second.Finalizers).To(BeEmpty())

	// An existing user is not taken over until spec says so.
	legacy := f.uniq("legacy")
	admin(t, node, "ACL", "SETUSER", legacy, "on", ">legacy-password", "~*", "+@all")
	u := f.user("legacy", func(u *cachev1.CacheUser) {
		u.Spec.Keys = []cachev1.KeyPattern{{Pattern: "l:*"}}
		u.Spec.Commands.Allow = []string{"get"}
	})
	f.Create(u)
	f.WaitReason(u, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.Stays(u, managed.ReasonAlreadyExists)
	f.G.Expect(userOn(t, node, legacy)["keys"]).To(Equal("~*"))
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *cachev1.CacheUser) { u.Spec.AdoptExisting = true })).To(Succeed())
	f.WaitReady(u)
	got := userOn(t, node, legacy)
	f.G.Expect(got["keys"]).To(Equal("~l:*"))
	f.G.Expect(got["commands"]).To(Equal("-@all +get"))
	c, err := f.login("legacy-connection", "")
	f.G.Expect(err).NotTo(HaveOccurred())
	c.Close()
}

func TestAdmissionAndInvalidSpec(t *testing.T) {
	f := newFixture(t)
	u := f.user("immutable")
	f.Create(u)
	f.WaitReady(u)
	err := kubetest.Update(f.Fixture, u, func(u *cachev1.CacheUser) { u.Spec.Name = "renamed" })
	f.G.Expect(err).To(MatchError(ContainSubstring("spec.name is immutable")))
	err = kubetest.Update(f.Fixture, u, func(u *cachev1.CacheUser) { u.Spec.Name = "" })
	f.G.Expect(err).To(MatchError(ContainSubstring("spec.name is immutable")))

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
		err := k8s.Create(f.Ctx, obj)
		if err == nil {
			t.Errorf("%s: accepted", c.reason)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.reason, err, c.want)
		}
	}
	for _, srv := range []*cachev1.CacheServer{
		{ObjectMeta: metav1.ObjectMeta{Name: "nonodes", Namespace: f.NS}, Spec: cachev1.CacheServerSpec{
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "s"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: f.NS}, Spec: cachev1.CacheServerSpec{Nodes: []cachev1.Node{{Host: "h"}},
			TLS: &common.TLS{Mode: common.TLSVerifyFull}, AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "s"}}}},
	} {
		if err := k8s.Create(f.Ctx, srv); err == nil {
			t.Errorf("CacheServer %s accepted", srv.Name)
		}
	}

	// A command the server does not know is reported before anything is sent.
	bad := f.user("unknown", func(u *cachev1.CacheUser) { u.Spec.Commands.Allow = []string{"get", "frobnicate"} })
	f.Create(bad)
	c := f.WaitReason(bad, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.G.Expect(c.Message).To(ContainSubstring("frobnicate"))
	f.G.Expect(userOn(t, node, bad.Spec.Name)).To(BeNil())
	f.G.Expect(bad.Finalizers).To(BeEmpty())

	// A spec that turns invalid leaves the user as it was, and still lets
	// the object be deleted (with the user, by the default policy).
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *cachev1.CacheUser) { u.Spec.Commands.Allow = []string{"frobnicate"} })).To(Succeed())
	f.WaitReason(u, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.G.Expect(userOn(t, node, u.Spec.Name)["commands"]).To(Equal("-@all"))
	f.Delete(u)
	f.WaitGone(u)
	f.G.Expect(userOn(t, node, u.Spec.Name)).To(BeNil())
}

func TestClusterServerNamespaces(t *testing.T) {
	f := newFixture(t)
	cs := &cachev1.ClusterCacheServer{ObjectMeta: metav1.ObjectMeta{Name: "shared-" + f.NS}, Spec: cachev1.ClusterCacheServerSpec{
		CacheServerSpec: cachev1.CacheServerSpec{Nodes: []cachev1.Node{{Host: node.Host, Port: int32(node.Port)}},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "redis-admin", Namespace: f.NS}}},
		AllowedNamespaces: &common.AllowedNamespaces{Names: []string{f.NS}},
	}}
	f.Create(cs)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cs) })
	f.WaitReady(cs)
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "other-"}}
	f.Create(other)
	ref := cachev1.ServerReference{Kind: cachev1.KindClusterCacheServer, Name: cs.Name}
	ok := f.user("ok", func(u *cachev1.CacheUser) { u.Spec.ServerRef = ref })
	no := f.user("no", func(u *cachev1.CacheUser) { u.Spec.ServerRef = ref; u.Namespace = other.Name })
	f.Create(ok)
	f.Create(no)
	f.WaitReady(ok)
	f.WaitReason(no, metav1.ConditionFalse, managed.ReasonServerNotAllowed)
	f.G.Expect(userOn(t, node, no.Spec.Name)).To(BeNil())
	f.Delete(ok)
	f.WaitGone(ok)
	f.G.Expect(userOn(t, node, ok.Spec.Name)).To(BeNil())
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
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "watched-pw", Namespace: f.NS}, StringData: map[string]string{"password": "watched-password"}})
	f.Create(u)
	f.WaitReason(u, metav1.ConditionFalse, managed.ReasonDrifted)
	f.G.Expect(u.Status.Drift).To(Equal([]string{"commands not declared: set"}))
	f.G.Expect(strings.Fields(userOn(t, node, name)["commands"].(string))).To(ConsistOf("-@all", "+get", "+set"), "Observe writes nothing")

	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *cachev1.CacheUser) { u.Spec.Commands.Allow = []string{"get", "set"} })).To(Succeed())
	f.WaitReady(u)
	f.G.Expect(u.Status.Drift).To(BeEmpty())
	f.Delete(u)
	f.WaitGone(u)
	f.G.Expect(userOn(t, node, name)).NotTo(BeNil(), "Observe never deletes")
}
