package sql_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

func (f *fixture) database(name string, mutate ...func(*sqlv1.Database)) *sqlv1.Database {
	d := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(name, "_", "-"), Namespace: f.NS},
		Spec: sqlv1.DatabaseSpec{ServerRef: f.server, Name: name}}
	for _, m := range mutate {
		m(d)
	}
	return d
}

func (f *fixture) user(name string, mutate ...func(*sqlv1.DatabaseUser)) *sqlv1.DatabaseUser {
	u := &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(name, "_", "-"), Namespace: f.NS},
		Spec: sqlv1.DatabaseUserSpec{ServerRef: f.server, Name: name}}
	for _, m := range mutate {
		m(u)
	}
	return u
}

func TestServerReadyAndCredentialChange(t *testing.T) {
	f := newFixture(t)
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: f.NS}}
	f.WaitReady(srv)
	f.G.Expect(srv.Status.Flavor).To(Equal("PostgreSQL"))
	f.G.Expect(srv.Status.Version).NotTo(BeEmpty())

	// A wrong password in the Secret is picked up and reported.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.NS, Name: "pg-admin"}}
	f.G.Expect(kubetest.Update(f.Fixture, secret, func(s *corev1.Secret) {
		s.Data["password"] = []byte("wrong")
		s.Labels = map[string]string{"backend-operator.dev/watch": "true"} // picked up at once, not at the next poll
	})).To(Succeed())
	c := f.WaitReason(srv, metav1.ConditionFalse, backenderr.ReasonAuthFailed)
	f.G.Expect(c.Message).NotTo(ContainSubstring("wrong"))
	// The new reason is announced in a Warning Event.
	f.G.Eventually(func() []string {
		var events eventsv1.EventList
		f.G.Expect(k8s.List(f.Ctx, &events, client.InNamespace(f.NS))).To(Succeed())
		var reasons []string
		for _, e := range events.Items {
			if e.Regarding.Name == srv.Name && e.Type == corev1.EventTypeWarning {
				reasons = append(reasons, e.Reason)
			}
		}
		return reasons
	}).Should(ContainElement(backenderr.ReasonAuthFailed))

	f.G.Expect(kubetest.Update(f.Fixture, secret, func(s *corev1.Secret) { s.Data["password"] = []byte(pg.AdminPassword) })).To(Succeed())
	f.WaitReady(srv)

	// A missing Secret is reported as such.
	bad := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "nosecret", Namespace: f.NS}, Spec: sqlv1.DatabaseServerSpec{
		Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port),
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "absent"}}}}
	f.Create(bad)
	f.WaitReason(bad, metav1.ConditionFalse, managed.ReasonSecretNotFound)
}

func TestDatabaseLifecycle(t *testing.T) {
	f := newFixture(t)
	owner := f.uniq("owner")
	f.Create(f.user(owner))
	f.WaitReady(f.user(owner))

	name := f.uniq("shop")
	db := f.database(name, func(d *sqlv1.Database) {
		d.Spec.Postgres = &sqlv1.PostgresDatabaseSpec{Owner: owner, Schemas: []string{"billing"}, Extensions: []string{"pgcrypto"}, Encoding: "UTF8"}
	})
	f.Create(db)
	f.WaitReady(db)
	f.G.Expect(db.Status.BackendName).To(Equal(name))
	f.G.Expect(db.Finalizers).To(ContainElement(managed.Finalizer))
	f.G.Expect(queryAdmin[string](t, pg, "postgres", `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name)).To(Equal(owner))
	f.G.Expect(queryAdmin[string](t, pg, name, `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'billing'`)).To(Equal(owner))

	// Drift: schema and extension dropped out of band, owner changed: repaired.
	sqlAdmin(t, pg, name, `DROP SCHEMA billing`, `DROP EXTENSION pgcrypto`, `CREATE TABLE keep (x int)`, `INSERT INTO keep VALUES (42)`)
	sqlAdmin(t, pg, "postgres", `ALTER DATABASE "`+name+`" OWNER TO postgres`)
	f.G.Eventually(func() bool {
		return queryAdmin[bool](t, pg, name, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'billing') AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto')`) &&
			queryAdmin[string](t, pg, "postgres", `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name) == owner
	}).Should(BeTrue(), "drift was not repaired")

	// Delete with Retain (the default) keeps the database and its rows.
	f.Delete(db)
	f.WaitGone(db)
	f.G.Expect(queryAdmin[int](t, pg, name, `SELECT x FROM keep`)).To(Equal(42))

	// A new object for the retained database must adopt it explicitly.
	again := f.database(name)
	f.Create(again)
	f.WaitReason(again, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.G.Expect(kubetest.Update(f.Fixture, again, func(d *sqlv1.Database) {
		d.Spec.AdoptExisting = true
		d.Spec.DeletionPolicy = common.DeletionDelete
	})).To(Succeed())
	f.WaitReady(again)

	// Delete with Delete drops it.
	f.Delete(again)
	f.WaitGone(again)
	f.G.Expect(databaseExists(t, name)).To(BeFalse())
}

func TestUserLifecycle(t *testing.T) {
	f := newFixture(t)
	dbName := f.uniq("app")
	db := f.database(dbName, func(d *sqlv1.Database) { d.Spec.Postgres = &sqlv1.PostgresDatabaseSpec{Schemas: []string{"billing"}} })
	f.Create(db)
	f.WaitReady(db)
	sqlAdmin(t, pg, dbName, `CREATE TABLE items (id serial PRIMARY KEY, name text)`, `CREATE TABLE billing.invoices (id int)`)

	name := f.uniq("app_rw")
	u := f.user(name, func(u *sqlv1.DatabaseUser) {
		u.Spec.ConnectionLimit = 7
		u.Spec.Grants = []sqlv1.Grant{{Database: dbName, Access: sqlv1.AccessReadWrite, Schema: "public"}}
		u.Spec.ConnectionSecret = common.ConnectionSecret{Name: "app-db", Template: map[string]string{"DATABASE_URL": "{{ .URI }}"}}
	})
	f.Create(u)
	f.WaitReady(u)
	f.G.Expect(u.Status.Binding).To(Equal(&common.Binding{Name: "app-db"}))

	conn, secret, err := f.secretLogin("app-db")
	f.G.Expect(err).NotTo(HaveOccurred(), "login with the Secret's uri")
	for _, k := range []string{"type", "provider", "host", "port", "username", "password", "database", "uri", "jdbc-url", "DATABASE_URL"} {
		f.G.Expect(secret.Data).To(HaveKey(k))
	}
	f.G.Expect(string(secret.Data["type"])).To(Equal("postgresql"))
	f.G.Expect(string(secret.Data["database"])).To(Equal(dbName))
	f.G.Expect(secret.Type).To(Equal(corev1.SecretType("servicebinding.io/postgresql")))
	f.G.Expect(len(secret.Data["password"])).To(Equal(32))
	exec := func(sql string) error { _, err := conn.Exec(f.Ctx, sql); return err }
	// Exactly what the grants allow, nothing more.
	f.G.Expect(exec(`INSERT INTO items (name) VALUES ('a')`)).To(Succeed())
	f.G.Expect(exec(`SELECT * FROM items`)).To(Succeed())
	f.G.Expect(exec(`SELECT * FROM billing.invoices`)).NotTo(Succeed())
	f.G.Expect(exec(`CREATE TABLE nope (x int)`)).NotTo(Succeed())
	f.G.Expect(exec(`TRUNCATE items`)).NotTo(Succeed())
	conn.Close(f.Ctx)
	f.G.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name)).To(Equal(7))

	// Update: add a grant on billing, drop write access, change the connection limit.
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *sqlv1.DatabaseUser) {
		u.Spec.ConnectionLimit = 3
		u.Spec.Grants = []sqlv1.Grant{
			{Database: dbName, Access: sqlv1.AccessReadOnly, Schema: "public"},
			{Database: dbName, Schema: "billing", Tables: []string{"invoices"}, Privileges: []string{"SELECT"}},
		}
	})).To(Succeed())
	f.WaitReady(u)
	f.G.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name)).To(Equal(3))
	conn, _, err = f.secretLogin("app-db")
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Expect(exec(`SELECT * FROM billing.invoices`)).To(Succeed())
	f.G.Expect(exec(`INSERT INTO items (name) VALUES ('b')`)).NotTo(Succeed())
	conn.Close(f.Ctx)

	// Drift out of band: ALTER ROLE, REVOKE, then DROP ROLE; each repaired.
	sqlAdmin(t, pg, "postgres", `ALTER ROLE "`+name+`" CONNECTION LIMIT 50 PASSWORD 'stolen'`)
	sqlAdmin(t, pg, dbName, `REVOKE SELECT ON billing.invoices FROM "`+name+`"`)
	f.G.Eventually(func() error {
		c, _, err := f.secretLogin("app-db")
		if err != nil {
			return err
		}
		defer c.Close(f.Ctx)
		_, err = c.Exec(f.Ctx, `SELECT * FROM billing.invoices`)
		return err
	}).Should(Succeed(), "password and grant repaired")
	f.G.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name)).To(Equal(3))

	sqlAdmin(t, pg, dbName, `DROP OWNED BY "`+name+`"`)
	sqlAdmin(t, pg, "postgres", `DROP OWNED BY "`+name+`"`, `DROP ROLE "`+name+`"`)
	f.G.Eventually(func() bool { return roleExists(t, name) }).Should(BeTrue(), "dropped role recreated")
	f.G.Eventually(func() error {
		c, _, err := f.secretLogin("app-db")
		if err != nil {
			return err
		}
		defer c.Close(f.Ctx)
		_, err = c.Exec(f.Ctx, `SELECT * FROM items`)
		return err
	}).Should(Succeed())

	// A role that owns objects is not dropped; the condition says why.
	sqlAdmin(t, pg, dbName, `CREATE TABLE owned (x int)`, `ALTER TABLE owned OWNER TO "`+name+`"`)
	f.Delete(u)
	c := f.WaitReason(u, metav1.ConditionFalse, backenderr.ReasonDeletionBlocked)
	f.G.Expect(c.Message).To(ContainSubstring("REASSIGN OWNED"))
	f.G.Expect(roleExists(t, name)).To(BeTrue())
	sqlAdmin(t, pg, dbName, `DROP TABLE owned`)
	f.WaitGone(u)
	f.G.Expect(roleExists(t, name)).To(BeFalse())
}

func TestConflictAndAdoption(t *testing.T) {
	f := newFixture(t)
	name := f.uniq("shared")
	first := f.user(name)
	first.Name = "first"
	f.Create(first)
	f.WaitReady(first)
	second := f.user(name)
	second.Name = "second"
	second.Spec.ConnectionLimit = 99
	f.Create(second)
	f.WaitReason(second, metav1.ConditionFalse, managed.ReasonConflict)
	f.Stays(second, managed.ReasonConflict)
	f.G.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name)).To(Equal(-1), "the loser wrote nothing")
	f.G.Expect(second.Finalizers).To(BeEmpty())

	// An existing role is not taken over until spec says so.
	existing := f.uniq("legacy")
	sqlAdmin(t, pg, "postgres", `CREATE ROLE "`+existing+`" LOGIN CONNECTION LIMIT 4`)
	u := f.user(existing)
	f.Create(u)
	f.WaitReason(u, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.Stays(u, managed.ReasonAlreadyExists)
	f.G.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, existing)).To(Equal(4))
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *sqlv1.DatabaseUser) { u.Spec.AdoptExisting = true })).To(Succeed())
	f.WaitReady(u)
	f.G.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, existing)).To(Equal(-1))
	conn, _, err := f.secretLogin(u.Name + "-connection")
	f.G.Expect(err).NotTo(HaveOccurred())
	conn.Close(f.Ctx)
}

func TestClusterServerNamespaces(t *testing.T) {
	f := newFixture(t)
	cs := &sqlv1.ClusterDatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "shared-" + f.NS}, Spec: sqlv1.ClusterDatabaseServerSpec{
		DatabaseServerSpec: sqlv1.DatabaseServerSpec{Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port),
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "pg-admin", Namespace: f.NS}}},
		AllowedNamespaces: &common.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}},
	}}
	f.Create(cs)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cs) })
	f.WaitReady(cs)

	allowed := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "payments-", Labels: map[string]string{"team": "payments"}}}
	refused := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "other-"}}
	f.Create(allowed)
	f.Create(refused)
	ref := sqlv1.ServerReference{Kind: sqlv1.KindClusterDatabaseServer, Name: cs.Name}
	ok := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: allowed.Name}, Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: f.uniq("allowed"), DeletionPolicy: common.DeletionDelete}}
	no := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: refused.Name}, Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: f.uniq("refused")}}
	f.Create(ok)
	f.Create(no)
	f.WaitReady(ok)
	c := f.WaitReason(no, metav1.ConditionFalse, managed.ReasonServerNotAllowed)
	f.G.Expect(c.Message).To(ContainSubstring(refused.Name))
	f.G.Expect(databaseExists(t, f.uniq("allowed"))).To(BeTrue())
	f.G.Expect(databaseExists(t, f.uniq("refused"))).To(BeFalse())

	// Admitting the namespace later lets the object proceed.
	f.G.Expect(kubetest.Update(f.Fixture, refused, func(n *corev1.Namespace) { n.Labels = map[string]string{"team": "payments"} })).To(Succeed())
	f.WaitReady(no)
	f.Delete(ok)
	f.WaitGone(ok)
	f.G.Expect(databaseExists(t, f.uniq("allowed"))).To(BeFalse())
}

func TestAdmission(t *testing.T) {
	f := newFixture(t)
	u := f.user(f.uniq("immutable"))
	f.Create(u)
	f.WaitReady(u)
	err := kubetest.Update(f.Fixture, u, func(u *sqlv1.DatabaseUser) { u.Spec.Name = f.uniq("renamed") })
	f.G.Expect(err).To(MatchError(ContainSubstring("spec.name is immutable")))

	// Adding spec.name equal to metadata.name is not a change.
	d := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: f.NS}, Spec: sqlv1.DatabaseSpec{ServerRef: f.server}}
	f.Create(d)
	f.G.Expect(kubetest.Update(f.Fixture, d, func(d *sqlv1.Database) { d.Spec.Name = "plain" })).To(Succeed())

	cases := []struct {
		reason string
		obj    client.Object
		want   string
	}{
		{"over-long name", f.user(strings.Repeat("x", 64), func(u *sqlv1.DatabaseUser) { u.Name = "long" }), "spec.name"},
		{"control character", f.user("a\nb", func(u *sqlv1.DatabaseUser) { u.Name = "ctl" }), "spec.name"},
		{"preset and privileges together", f.user("g", func(u *sqlv1.DatabaseUser) {
			u.Spec.Grants = []sqlv1.Grant{{Database: "d", Access: sqlv1.AccessAll, Privileges: []string{"SELECT"}}}
		}), "exactly one of access or privileges"},
		{"template replaces a standard key", f.user("tpl", func(u *sqlv1.DatabaseUser) {
			u.Spec.ConnectionSecret.Template = map[string]string{"password": "x"}
		}), "must not replace a standard key"},
		{"lower-case privilege", f.user("p", func(u *sqlv1.DatabaseUser) {
			u.Spec.Grants = []sqlv1.Grant{{Database: "d", Privileges: []string{"select"}}}
		}), "privileges"},
		{"verify-full without a CA", &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: f.NS}, Spec: sqlv1.DatabaseServerSpec{
			Engine: sqlv1.EnginePostgres, Host: "h", TLS: &common.TLS{Mode: common.TLSVerifyFull},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "s"}}}}, "caSecretRef is required"},
		{"cluster server without a Secret namespace", &sqlv1.ClusterDatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "nons-" + f.NS}, Spec: sqlv1.ClusterDatabaseServerSpec{
			DatabaseServerSpec: sqlv1.DatabaseServerSpec{Engine: sqlv1.EnginePostgres, Host: "h",
				AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "s"}}}}}, "namespace is required"},
	}
	for _, c := range cases {
		err := k8s.Create(f.Ctx, c.obj)
		if err == nil {
			t.Errorf("%s: accepted", c.reason)
			continue
		}
		if c.want != "" && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.reason, err, c.want)
		}
	}

	empty := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": sqlv1.GroupVersion.String(), "kind": "DatabaseUser",
		"metadata": map[string]any{"name": "empty", "namespace": f.NS},
		"spec":     map[string]any{"serverRef": map[string]any{"name": "pg"}, "name": ""},
	}}
	f.G.Expect(k8s.Create(f.Ctx, empty)).To(MatchError(ContainSubstring("spec.name")), "empty name")

	// Engine rules CEL cannot know are reported before anything is sent.
	bad := f.user(f.uniq("badpriv"), func(u *sqlv1.DatabaseUser) {
		u.Spec.Grants = []sqlv1.Grant{{Database: "postgres", Privileges: []string{"SELECT"}}}
	})
	f.Create(bad)
	c := f.WaitReason(bad, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.G.Expect(c.Message).To(ContainSubstring("does not apply to a database"))
	f.G.Expect(roleExists(t, f.uniq("badpriv"))).To(BeFalse())

	long := f.user(strings.Repeat("é", 32), func(u *sqlv1.DatabaseUser) { u.Name = "bytes" })
	f.Create(long)
	c = f.WaitReason(long, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.G.Expect(c.Message).To(ContainSubstring("64 bytes"))
}

func TestServerStoppedAndRestarted(t *testing.T) {
	own, err := harness.StartPostgres(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = own.Close() })
	f := newFixtureOn(t, pgBackend(own))
	name := f.uniq("survivor")
	u := f.user(name, func(u *sqlv1.DatabaseUser) {
		u.Spec.Grants = []sqlv1.Grant{{Database: "postgres", Access: sqlv1.AccessReadOnly}}
	})
	f.Create(u)
	f.WaitReady(u)

	f.G.Expect(own.Stop()).To(Succeed())
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: f.NS}}
	f.WaitReason(srv, metav1.ConditionFalse, backenderr.ReasonUnavailable)
	// The user notices at its next observation and keeps a stable reason.
	c := f.WaitReason(u, metav1.ConditionFalse, "")
	f.G.Expect([]string{backenderr.ReasonUnavailable, managed.ReasonServerNotReady}).To(ContainElement(c.Reason))
	// A user created while the server is down waits and says why.
	late := f.user(f.uniq("late"))
	f.Create(late)
	f.WaitReason(late, metav1.ConditionFalse, managed.ReasonServerNotReady)
	f.Stays(late, managed.ReasonServerNotReady)

	f.G.Expect(own.Start(context.Background())).To(Succeed())
	f.G.SetDefaultEventuallyTimeout(90 * time.Second)
	f.WaitReady(srv)
	f.WaitReady(u)
	f.WaitReady(late)
	conn, _, err := f.secretLogin(late.Name + "-connection")
	f.G.Expect(err).NotTo(HaveOccurred())
	conn.Close(f.Ctx)
}

// A spec that turns invalid reports InvalidSpec and still deletes cleanly:
// deletion needs only the name.
func TestInvalidSpecStillDeletes(t *testing.T) {
	f := newFixture(t)
	name := f.uniq("turns_bad")
	u := f.user(name)
	f.Create(u)
	f.WaitReady(u)
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *sqlv1.DatabaseUser) {
		u.Spec.Grants = []sqlv1.Grant{{Database: "postgres", Privileges: []string{"SELECT"}}}
		u.Spec.PasswordSecretRef = &common.SecretKeyReference{SecretReference: common.SecretReference{Name: "absent"}}
	})).To(Succeed())
	f.WaitReason(u, metav1.ConditionFalse, "")
	f.Delete(u)
	f.WaitGone(u)
	f.G.Expect(roleExists(t, name)).To(BeFalse())
}
