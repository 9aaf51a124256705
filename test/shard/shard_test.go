// Package shard tests operator shards (issue 15) on a real API server
// against private PostgreSQL and Redis servers: three operators, as cmd/main
// builds them with --shard=a, --shard=b and no --shard, each with its own
// leader election, split the objects by the backend-operator.dev/shard label.
// Every object is written by exactly one of them (its field manager says
// which), and an object moved to another shard is handed over without a
// second create or a deletion.
package shard

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/onsi/gomega"
	goredis "github.com/redis/go-redis/v9"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/shard"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

var (
	k8s   client.Client
	pg    *harness.Postgres
	redis *harness.Redis
)

// leaseNS holds the shards' leader election Leases.
const leaseNS = "default"

// shards are the instances under test: "" is the one without --shard.
var shards = []string{"", "a", "b"}

// leaderElection are the flags every instance runs with.
var leaderElection = []string{"--leader-elect", "--leader-election-namespace=" + leaseNS}

// TestMain runs the unsharded instance through kubetest.Main; start brings
// up the backends and the instances of shards a and b beside it.
func TestMain(m *testing.M) {
	os.Exit(kubetest.Main(m, "shard-operator-*.log", func(ctx context.Context, env *kubetest.Env) ([]func() error, error) {
		k8s = env.Client
		var cleanups []func() error
		var err error
		if pg, err = harness.StartPostgres(ctx); err != nil {
			return cleanups, err
		}
		cleanups = append(cleanups, pg.Close)
		if redis, err = harness.StartRedis(ctx, harness.RedisOptions{AdminUser: "operator"}); err != nil {
			return cleanups, err
		}
		cleanups = append(cleanups, redis.Close)
		for _, s := range shards[1:] {
			cfg := kubetest.Config(append(leaderElection, "--shard="+s)...)
			cfg.Restartable = true // several managers in one process
			if err := env.RunOperator(ctx, cfg); err != nil {
				return cleanups, fmt.Errorf("shard %s: %w", s, err)
			}
		}
		return cleanups, nil
	}, leaderElection...))
}

func TestShards(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "shard-")
	f.G.SetDefaultEventuallyTimeout(60 * time.Second) // three leader elections first
	f.Create(adminSecret("pg-admin", pg.AdminUser, pg.AdminPassword))
	f.Create(adminSecret("redis-admin", redis.AdminUser, redis.AdminPassword))
	// The PostgreSQL server belongs to the unsharded instance, the Redis one
	// to shard b; every shard has objects on both.
	pgServer := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg"}, Spec: sqlv1.DatabaseServerSpec{
		Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port),
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "pg-admin"}}}}
	cacheServer := &cachev1.CacheServer{ObjectMeta: metav1.ObjectMeta{Name: "cache", Labels: labelled("b")}, Spec: cachev1.CacheServerSpec{
		Nodes:            []cachev1.Node{{Host: redis.Host, Port: int32(redis.Port)}},
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "redis-admin"}}}}
	f.Create(pgServer)
	f.Create(cacheServer)

	objs := map[string][]client.Object{}
	for _, s := range shards {
		objs[s] = []client.Object{database(f.NS, s), user(f.NS, s), cacheUser(f.NS, s)}
		for _, o := range objs[s] {
			f.Create(o)
		}
	}
	// Labelled for a shard no instance runs: nobody touches it.
	orphan := user(f.NS, "c")
	f.Create(orphan)
	for _, s := range shards {
		f.WaitReady(objs[s]...)
	}
	f.WaitReady(pgServer, cacheServer)

	t.Run("each object is written by its own shard only", func(t *testing.T) {
		g := gomega.NewWithT(t)
		for _, s := range shards {
			for _, o := range objs[s] {
				g.Expect(writers(f, o)).To(gomega.Equal([]string{shard.FieldManager(s)}), "%T %s", o, o.GetName())
			}
		}
		g.Expect(writers(f, pgServer)).To(gomega.Equal([]string{shard.FieldManager("")}))
		g.Expect(writers(f, cacheServer)).To(gomega.Equal([]string{shard.FieldManager("b")}))
		g.Expect(writers(f, orphan)).To(gomega.BeEmpty())
		g.Expect(f.Ready(orphan)).To(gomega.BeNil(), "no instance runs shard c")
		for _, s := range shards {
			for _, o := range objs[s] {
				g.Expect(events(f, o, "Created")).To(gomega.Equal(1), "%T %s", o, o.GetName())
			}
		}
	})

	t.Run("each shard holds its own leader election", func(t *testing.T) {
		g := gomega.NewWithT(t)
		holders := map[string]bool{}
		for _, s := range shards {
			var lease coordinationv1.Lease
			name := shard.LeaseName("backend-operator.backend-operator.dev", s)
			g.Expect(k8s.Get(f.Ctx, client.ObjectKey{Namespace: leaseNS, Name: name}, &lease)).To(gomega.Succeed(), name)
			g.Expect(lease.Spec.HolderIdentity).NotTo(gomega.BeNil())
			holders[*lease.Spec.HolderIdentity] = true
		}
		g.Expect(holders).To(gomega.HaveLen(len(shards)))
	})

	t.Run("logins work with exactly their grants", func(t *testing.T) {
		for _, s := range shards {
			pgLogin(f, objs[s][1].(*sqlv1.DatabaseUser), objs[s][0].(*sqlv1.Database))
			redisLogin(f, objs[s][2].(*cachev1.CacheUser))
		}
	})

	t.Run("an object moved to another shard is handed over", func(t *testing.T) {
		db, u, cu := objs["a"][0].(*sqlv1.Database), objs["a"][1].(*sqlv1.DatabaseUser), objs["a"][2].(*cachev1.CacheUser)
		roleOID, dbOID := oid(f, "pg_roles", "rolname", u.Spec.Name), oid(f, "pg_database", "datname", db.BackendName())
		secret := &corev1.Secret{}
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: u.ConnectionSecretName()}, secret)).To(gomega.Succeed())
		moved := time.Now().Truncate(time.Second)
		for _, o := range []client.Object{db, u} {
			f.G.Expect(kubetest.Update(f, o, func(o client.Object) { o.SetLabels(labelled("b")) })).To(gomega.Succeed())
		}
		// To the unsharded instance: the label goes.
		f.G.Expect(kubetest.Update(f, cu, func(o *cachev1.CacheUser) { o.Labels = nil })).To(gomega.Succeed())
		// A spec change proves the new owner acts on them.
		f.G.Expect(kubetest.Update(f, u, func(o *sqlv1.DatabaseUser) { o.Spec.ConnectionLimit = 7 })).To(gomega.Succeed())
		f.G.Expect(kubetest.Update(f, cu, func(o *cachev1.CacheUser) {
			o.Spec.Commands.Allow = append(o.Spec.Commands.Allow, "del")
		})).To(gomega.Succeed())
		f.WaitReady(u, cu)
		f.G.Eventually(func() string {
			return query(f, "SELECT rolconnlimit::text FROM pg_roles WHERE rolname = $1", u.Spec.Name)
		}).Should(gomega.Equal("7"))
		f.G.Eventually(func() string { return aclRules(f, cu.Spec.Name) }).Should(gomega.ContainSubstring("+del"))

		f.G.Expect(oid(f, "pg_roles", "rolname", u.Spec.Name)).To(gomega.Equal(roleOID), "the role was not dropped and created again")
		f.G.Expect(oid(f, "pg_database", "datname", db.BackendName())).To(gomega.Equal(dbOID), "the database was not dropped and created again")
		for _, o := range []client.Object{db, u, cu} {
			f.G.Expect(events(f, o, "Created")).To(gomega.Equal(1), "%T %s", o, o.GetName())
			f.G.Expect(events(f, o, "Deleted")).To(gomega.Equal(0), "%T %s", o, o.GetName())
			f.G.Expect(events(f, o, "Adopted")).To(gomega.Equal(0), "%T %s", o, o.GetName())
		}
		after := &corev1.Secret{}
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(secret), after)).To(gomega.Succeed())
		f.G.Expect(after.UID).To(gomega.Equal(secret.UID), "the connection Secret was kept")
		f.G.Expect(after.Data["password"]).To(gomega.Equal(secret.Data["password"]))
		// The new owners wrote the status after the move; shard a wrote nothing since.
		f.G.Expect(lastWrite(f, u, shard.FieldManager("b"))).NotTo(gomega.BeTemporally("<", moved))
		f.G.Expect(lastWrite(f, cu, shard.FieldManager(""))).NotTo(gomega.BeTemporally("<", moved))
		f.G.Expect(lastWrite(f, u, shard.FieldManager("a"))).To(gomega.BeTemporally("<=", moved))
		f.G.Expect(lastWrite(f, cu, shard.FieldManager("a"))).To(gomega.BeTemporally("<=", moved))
		pgLogin(f, u, db)
		redisLogin(f, cu)
	})

	t.Run("the owning shard deletes", func(t *testing.T) {
		u := objs["b"][1].(*sqlv1.DatabaseUser)
		f.Delete(u)
		f.WaitGone(u)
		f.G.Expect(query(f, "SELECT count(*)::text FROM pg_roles WHERE rolname = $1", u.Spec.Name)).To(gomega.Equal("0"))
		f.G.Expect(events(f, u, "Deleted")).To(gomega.Equal(1))
	})
}

func labelled(s string) map[string]string {
	if s == "" {
		return nil
	}
	return map[string]string{shard.Label: s}
}

// suffix names a shard's objects.
func suffix(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func database(ns, s string) *sqlv1.Database {
	return &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-" + suffix(s), Labels: labelled(s)}, Spec: sqlv1.DatabaseSpec{
		ServerRef: sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "pg"}, Name: backendName(ns, "db_"+suffix(s))}}
}

func user(ns, s string) *sqlv1.DatabaseUser {
	return &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "user-" + suffix(s), Labels: labelled(s)}, Spec: sqlv1.DatabaseUserSpec{
		ServerRef: sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: "pg"}, Name: backendName(ns, "user_"+suffix(s)),
		Grants: []sqlv1.Grant{{Database: backendName(ns, "db_"+suffix(s)), Access: sqlv1.AccessReadWrite}}}}
}

func cacheUser(ns, s string) *cachev1.CacheUser {
	return &cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cache-" + suffix(s), Labels: labelled(s)}, Spec: cachev1.CacheUserSpec{
		ServerRef: cachev1.ServerReference{Kind: cachev1.KindCacheServer, Name: "cache"},
		Name:      ns + "-" + suffix(s),
		Keys:      []cachev1.KeyPattern{{Pattern: suffix(s) + ":*"}},
		Commands:  cachev1.CommandRules{AllowCategories: []cachev1.Category{"connection"}, Allow: []string{"get", "set"}}}}
}

// backendName is a name unique to the namespace, valid unquoted in SQL.
func backendName(ns, name string) string { return strings.ReplaceAll(ns+"_"+name, "-", "_") }

func adminSecret(name, user, password string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name},
		Data: map[string][]byte{"username": []byte(user), "password": []byte(password)}}
}

// writers lists the operator instances (field managers) that wrote obj.
func writers(f *kubetest.Fixture, obj client.Object) []string {
	f.T.Helper()
	f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(obj), obj)).To(gomega.Succeed())
	var out []string
	for _, m := range obj.GetManagedFields() {
		if strings.HasPrefix(m.Manager, "backend-operator") && !slices.Contains(out, m.Manager) {
			out = append(out, m.Manager)
		}
	}
	return out
}

// lastWrite is the latest time manager wrote obj, or the zero time.
func lastWrite(f *kubetest.Fixture, obj client.Object, manager string) time.Time {
	f.T.Helper()
	f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(obj), obj)).To(gomega.Succeed())
	var last time.Time
	for _, m := range obj.GetManagedFields() {
		if m.Manager == manager && m.Time != nil && m.Time.After(last) {
			last = m.Time.Time
		}
	}
	return last
}

// events counts the events with reason about obj.
func events(f *kubetest.Fixture, obj client.Object, reason string) int {
	f.T.Helper()
	var list eventsv1.EventList
	f.G.Expect(k8s.List(f.Ctx, &list, client.InNamespace(f.NS))).To(gomega.Succeed())
	n := 0
	for _, e := range list.Items {
		if e.Regarding.UID == obj.GetUID() && e.Reason == reason {
			n++
			if e.Series != nil {
				n += int(e.Series.Count) - 1
			}
		}
	}
	return n
}

func query(f *kubetest.Fixture, sql string, args ...any) string {
	f.T.Helper()
	c, err := pgx.Connect(f.Ctx, pg.URL("postgres"))
	f.G.Expect(err).NotTo(gomega.HaveOccurred())
	defer c.Close(f.Ctx) //nolint:errcheck
	var out string
	f.G.Expect(c.QueryRow(f.Ctx, sql, args...).Scan(&out)).To(gomega.Succeed())
	return out
}

func oid(f *kubetest.Fixture, catalog, column, name string) string {
	return query(f, "SELECT oid::text FROM "+pgx.Identifier{catalog}.Sanitize()+" WHERE "+pgx.Identifier{column}.Sanitize()+" = $1", name)
}

// connection reads a login's connection Secret.
func connection(f *kubetest.Fixture, name string) (string, string) {
	f.T.Helper()
	s := &corev1.Secret{}
	f.G.Expect(k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: name}, s)).To(gomega.Succeed())
	return string(s.Data["username"]), string(s.Data["password"])
}

// pgLogin logs in as u with its Secret to db and may use its public schema
// (a ReadWrite grant). PostgreSQL lets every role connect to every database
// by default, so the refusal checked is Redis's.
func pgLogin(f *kubetest.Fixture, u *sqlv1.DatabaseUser, db *sqlv1.Database) {
	f.T.Helper()
	name, password := connection(f, u.ConnectionSecretName())
	cfg, err := pgx.ParseConfig("host=" + pg.Host + " port=" + strconv.Itoa(pg.Port) + " sslmode=disable connect_timeout=5")
	f.G.Expect(err).NotTo(gomega.HaveOccurred())
	cfg.User, cfg.Password, cfg.Database = name, password, db.BackendName()
	c, err := pgx.ConnectConfig(f.Ctx, cfg)
	f.G.Expect(err).NotTo(gomega.HaveOccurred(), "login as %s", name)
	defer c.Close(f.Ctx) //nolint:errcheck
	var usage bool
	f.G.Expect(c.QueryRow(f.Ctx, "SELECT has_schema_privilege('public', 'USAGE')").Scan(&usage)).To(gomega.Succeed())
	f.G.Expect(usage).To(gomega.BeTrue())
}

// redisLogin logs in as u with its Secret, sets and gets a key of its own
// pattern, and is refused another key.
func redisLogin(f *kubetest.Fixture, u *cachev1.CacheUser) {
	f.T.Helper()
	name, password := connection(f, u.ConnectionSecretName())
	c := goredis.NewClient(&goredis.Options{Addr: redis.Address(), Username: name, Password: password,
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close() //nolint:errcheck
	key := u.Spec.Keys[0].Pattern[:len(u.Spec.Keys[0].Pattern)-1] + "k"
	f.G.Expect(c.Set(f.Ctx, key, "v", 0).Err()).To(gomega.Succeed(), "login as %s", name)
	f.G.Expect(c.Get(f.Ctx, key).Val()).To(gomega.Equal("v"))
	f.G.Expect(c.Set(f.Ctx, "elsewhere:k", "v", 0).Err()).To(gomega.MatchError(gomega.ContainSubstring("NOPERM")))
}

func aclRules(f *kubetest.Fixture, name string) string {
	f.T.Helper()
	c := redis.Admin()
	defer c.Close() //nolint:errcheck
	res, err := c.Do(f.Ctx, "ACL", "GETUSER", name).Result()
	f.G.Expect(err).NotTo(gomega.HaveOccurred())
	return fmt.Sprint(res)
}
