package sql_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/harness"
)

func (f *fixture) database(name string, mutate ...func(*sqlv1.Database)) *sqlv1.Database {
	d := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(name, "_", "-"), Namespace: f.ns},
		Spec: sqlv1.DatabaseSpec{ServerRef: f.server, Name: name}}
	for _, m := range mutate {
		m(d)
	}
	return d
}

func (f *fixture) user(name string, mutate ...func(*sqlv1.DatabaseUser)) *sqlv1.DatabaseUser {
	u := &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(name, "_", "-"), Namespace: f.ns},
		Spec: sqlv1.DatabaseUserSpec{ServerRef: f.server, Name: name}}
	for _, m := range mutate {
		m(u)
	}
	return u
}

func TestServerReadyAndCredentialChange(t *testing.T) {
	f := newFixture(t)
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: f.ns}}
	f.waitReady(srv)
	f.g.Expect(srv.Status.Flavor).To(Equal("PostgreSQL"))
	f.g.Expect(srv.Status.Version).NotTo(BeEmpty())

	// A wrong password in the Secret is picked up and reported.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "pg-admin"}}
	f.g.Expect(update(f, secret, func(s *corev1.Secret) {
		s.Data["password"] = []byte("wrong")
		s.Labels = map[string]string{"backend-operator.dev/watch": "true"} // picked up at once, not at the next poll
	})).To(Succeed())
	c := f.waitReason(srv, metav1.ConditionFalse, backenderr.ReasonAuthFailed)
	f.g.Expect(c.Message).NotTo(ContainSubstring("wrong"))

	f.g.Expect(update(f, secret, func(s *corev1.Secret) { s.Data["password"] = []byte(pg.AdminPassword) })).To(Succeed())
	f.waitReady(srv)

	// A missing Secret is reported as such.
	bad := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "nosecret", Namespace: f.ns}, Spec: sqlv1.DatabaseServerSpec{
		Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port),
		AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "absent"}}}}
	f.create(bad)
	f.waitReason(bad, metav1.ConditionFalse, managed.ReasonSecretNotFound)
}

func TestDatabaseLifecycle(t *testing.T) {
	f := newFixture(t)
	owner := f.uniq("owner")
	f.create(f.user(owner))
	f.waitReady(f.user(owner))

	name := f.uniq("shop")
	db := f.database(name, func(d *sqlv1.Database) {
		d.Spec.Postgres = &sqlv1.PostgresDatabaseSpec{Owner: owner, Schemas: []string{"billing"}, Extensions: []string{"pgcrypto"}, Encoding: "UTF8"}
	})
	f.create(db)
	f.waitReady(db)
	f.g.Expect(db.Status.BackendName).To(Equal(name))
	f.g.Expect(db.Finalizers).To(ContainElement(managed.Finalizer))
	f.g.Expect(queryAdmin[string](t, pg, "postgres", `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name)).To(Equal(owner))
	f.g.Expect(queryAdmin[string](t, pg, name, `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'billing'`)).To(Equal(owner))

	// Drift: schema and extension dropped out of band, owner changed: repaired.
	sqlAdmin(t, pg, name, `DROP SCHEMA billing`, `DROP EXTENSION pgcrypto`, `CREATE TABLE keep (x int)`, `INSERT INTO keep VALUES (42)`)
	sqlAdmin(t, pg, "postgres", `ALTER DATABASE "`+name+`" OWNER TO postgres`)
	f.g.Eventually(func() bool {
		return queryAdmin[bool](t, pg, name, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'billing') AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto')`) &&
			queryAdmin[string](t, pg, "postgres", `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name) == owner
	}).Should(BeTrue(), "drift was not repaired")

	// Delete with Retain (the default) keeps the database and its rows.
	f.delete(db)
	f.waitGone(db)
	f.g.Expect(queryAdmin[int](t, pg, name, `SELECT x FROM keep`)).To(Equal(42))

	// A new object for the retained database must adopt it explicitly.
	again := f.database(name)
	f.create(again)
	f.waitReason(again, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.g.Expect(update(f, again, func(d *sqlv1.Database) {
		d.Spec.AdoptExisting = true
		d.Spec.DeletionPolicy = common.DeletionDelete
	})).To(Succeed())
	f.waitReady(again)

	// Delete with Delete drops it.
	f.delete(again)
	f.waitGone(again)
	f.g.Expect(databaseExists(t, name)).To(BeFalse())
}

func TestUserLifecycle(t *testing.T) {
	f := newFixture(t)
	dbName := f.uniq("app")
	db := f.database(dbName, func(d *sqlv1.Database) { d.Spec.Postgres = &sqlv1.PostgresDatabaseSpec{Schemas: []string{"billing"}} })
	f.create(db)
	f.waitReady(db)
	sqlAdmin(t, pg, dbName, `CREATE TABLE items (id serial PRIMARY KEY, name text)`, `CREATE TABLE billing.invoices (id int)`)

	name := f.uniq("app_rw")
	u := f.user(name, func(u *sqlv1.DatabaseUser) {
		u.Spec.ConnectionLimit = 7
		u.Spec.Grants = []sqlv1.Grant{{Database: dbName, Access: sqlv1.AccessReadWrite, Schema: "public"}}
		u.Spec.ConnectionSecret = common.ConnectionSecret{Name: "app-db", Template: map[string]string{"DATABASE_URL": "{{ .URI }}"}}
	})
	f.create(u)
	f.waitReady(u)
	f.g.Expect(u.Status.Binding).To(Equal(&common.Binding{Name: "app-db"}))

	conn, secret, err := f.secretLogin("app-db")
	f.g.Expect(err).NotTo(HaveOccurred(), "login with the Secret's uri")
	for _, k := range []string{"type", "provider", "host", "port", "username", "password", "database", "uri", "jdbc-url", "DATABASE_URL"} {
		f.g.Expect(secret.Data).To(HaveKey(k))
	}
	f.g.Expect(string(secret.Data["type"])).To(Equal("postgresql"))
	f.g.Expect(string(secret.Data["database"])).To(Equal(dbName))
	f.g.Expect(secret.Type).To(Equal(corev1.SecretType("servicebinding.io/postgresql")))
	f.g.Expect(len(secret.Data["password"])).To(Equal(32))
	exec := func(sql string) error { _, err := conn.Exec(f.ctx, sql); return err }
	// Exactly what the grants allow, nothing more.
	f.g.Expect(exec(`INSERT INTO items (name) VALUES ('a')`)).To(Succeed())
	f.g.Expect(exec(`SELECT * FROM items`)).To(Succeed())
	f.g.Expect(exec(`SELECT * FROM billing.invoices`)).NotTo(Succeed())
	f.g.Expect(exec(`CREATE TABLE nope (x int)`)).NotTo(Succeed())
	f.g.Expect(exec(`TRUNCATE items`)).NotTo(Succeed())
	conn.Close(f.ctx)
	f.g.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name)).To(Equal(7))

	// Update: add a grant on billing, drop write access, change the connection limit.
	f.g.Expect(update(f, u, func(u *sqlv1.DatabaseUser) {
		u.Spec.ConnectionLimit = 3
		u.Spec.Grants = []sqlv1.Grant{
			{Database: dbName, Access: sqlv1.AccessReadOnly, Schema: "public"},
			{Database: dbName, Schema: "billing", Tables: []string{"invoices"}, Privileges: []string{"SELECT"}},
		}
	})).To(Succeed())
	f.waitReady(u)
	f.g.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name)).To(Equal(3))
	conn, _, err = f.secretLogin("app-db")
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(exec(`SELECT * FROM billing.invoices`)).To(Succeed())
	f.g.Expect(exec(`INSERT INTO items (name) VALUES ('b')`)).NotTo(Succeed())
	conn.Close(f.ctx)

	// Drift out of band: ALTER ROLE, REVOKE, then DROP ROLE; each repaired.
	sqlAdmin(t, pg, "postgres", `ALTER ROLE "`+name+`" CONNECTION LIMIT 50 PASSWORD 'stolen'`)
	sqlAdmin(t, pg, dbName, `REVOKE SELECT ON billing.invoices FROM "`+name+`"`)
	f.g.Eventually(func() error {
		c, _, err := f.secretLogin("app-db")
		if err != nil {
			return err
		}
		defer c.Close(f.ctx)
		_, err = c.Exec(f.ctx, `SELECT * FROM billing.invoices`)
		return err
	}).Should(Succeed(), "password and grant repaired")
	f.g.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name)).To(Equal(3))

	sqlAdmin(t, pg, dbName, `DROP OWNED BY "`+name+`"`)
	sqlAdmin(t, pg, "postgres", `DROP OWNED BY "`+name+`"`, `DROP ROLE "`+name+`"`)
	f.g.Eventually(func() bool { return roleExists(t, name) }).Should(BeTrue(), "dropped role recreated")
	f.g.Eventually(func() error {
		c, _, err := f.secretLogin("app-db")
		if err != nil {
			return err
		}
		defer c.Close(f.ctx)
		_, err = c.Exec(f.ctx, `SELECT * FROM items`)
		return err
	}).Should(Succeed())

	// A role that owns objects is not dropped; the condition says why.
	sqlAdmin(t, pg, dbName, `CREATE TABLE owned (x int)`, `ALTER TABLE owned OWNER TO "`+name+`"`)
	f.delete(u)
	c := f.waitReason(u, metav1.ConditionFalse, backenderr.ReasonDeletionBlocked)
	f.g.Expect(c.Message).To(ContainSubstring("REASSIGN OWNED"))
	f.g.Expect(roleExists(t, name)).To(BeTrue())
	sqlAdmin(t, pg, dbName, `DROP TABLE owned`)
	f.waitGone(u)
	f.g.Expect(roleExists(t, name)).To(BeFalse())
}

func TestConflictAndAdoption(t *testing.T) {
	f := newFixture(t)
	name := f.uniq("shared")
	first := f.user(name)
	first.Name = "first"
	f.create(first)
	f.waitReady(first)
	second := f.user(name)
	second.Name = "second"
	second.Spec.ConnectionLimit = 99
	f.create(second)
	f.waitReason(second, metav1.ConditionFalse, managed.ReasonConflict)
	f.stays(second, managed.ReasonConflict)
	f.g.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, name)).To(Equal(-1), "the loser wrote nothing")
	f.g.Expect(second.Finalizers).To(BeEmpty())

	// An existing role is not taken over until spec says so.
	existing := f.uniq("legacy")
	sqlAdmin(t, pg, "postgres", `CREATE ROLE "`+existing+`" LOGIN CONNECTION LIMIT 4`)
	u := f.user(existing)
	f.create(u)
	f.waitReason(u, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.stays(u, managed.ReasonAlreadyExists)
	f.g.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, existing)).To(Equal(4))
	f.g.Expect(update(f, u, func(u *sqlv1.DatabaseUser) { u.Spec.AdoptExisting = true })).To(Succeed())
	f.waitReady(u)
	f.g.Expect(queryAdmin[int](t, pg, "postgres", `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, existing)).To(Equal(-1))
	conn, _, err := f.secretLogin(u.Name + "-connection")
	f.g.Expect(err).NotTo(HaveOccurred())
	conn.Close(f.ctx)
}

func TestClusterServerNamespaces(t *testing.T) {
	f := newFixture(t)
	cs := &sqlv1.ClusterDatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "shared-" + f.ns}, Spec: sqlv1.ClusterDatabaseServerSpec{
		DatabaseServerSpec: sqlv1.DatabaseServerSpec{Engine: sqlv1.EnginePostgres, Host: pg.Host, Port: int32(pg.Port),
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "pg-admin", Namespace: f.ns}}},
		AllowedNamespaces: &common.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}},
	}}
	f.create(cs)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cs) })
	f.waitReady(cs)

	allowed := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "payments-", Labels: map[string]string{"team": "payments"}}}
	refused := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "other-"}}
	f.create(allowed)
	f.create(refused)
	ref := sqlv1.ServerReference{Kind: sqlv1.KindClusterDatabaseServer, Name: cs.Name}
	ok := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: allowed.Name}, Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: f.uniq("allowed"), DeletionPolicy: common.DeletionDelete}}
	no := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: refused.Name}, Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: f.uniq("refused")}}
	f.create(ok)
	f.create(no)
	f.waitReady(ok)
	c := f.waitReason(no, metav1.ConditionFalse, managed.ReasonServerNotAllowed)
	f.g.Expect(c.Message).To(ContainSubstring(refused.Name))
	f.g.Expect(databaseExists(t, f.uniq("allowed"))).To(BeTrue())
	f.g.Expect(databaseExists(t, f.uniq("refused"))).To(BeFalse())

	// Admitting the namespace later lets the object proceed.
	f.g.Expect(update(f, refused, func(n *corev1.Namespace) { n.Labels = map[string]string{"team": "payments"} })).To(Succeed())
	f.waitReady(no)
	f.delete(ok)
	f.waitGone(ok)
	f.g.Expect(databaseExists(t, f.uniq("allowed"))).To(BeFalse())
}

func TestAdmission(t *testing.T) {
	f := newFixture(t)
	u := f.user(f.uniq("immutable"))
	f.create(u)
	f.waitReady(u)
	err := update(f, u, func(u *sqlv1.DatabaseUser) { u.Spec.Name = f.uniq("renamed") })
	f.g.Expect(err).To(MatchError(ContainSubstring("spec.name is immutable")))

	// Adding spec.name equal to metadata.name is not a change.
	d := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: f.ns}, Spec: sqlv1.DatabaseSpec{ServerRef: f.server}}
	f.create(d)
	f.g.Expect(update(f, d, func(d *sqlv1.Database) { d.Spec.Name = "plain" })).To(Succeed())

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
		{"verify-full without a CA", &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: f.ns}, Spec: sqlv1.DatabaseServerSpec{
			Engine: sqlv1.EnginePostgres, Host: "h", TLS: &common.TLS{Mode: common.TLSVerifyFull},
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "s"}}}}, "caSecretRef is required"},
		{"cluster server without a Secret namespace", &sqlv1.ClusterDatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "nons-" + f.ns}, Spec: sqlv1.ClusterDatabaseServerSpec{
			DatabaseServerSpec: sqlv1.DatabaseServerSpec{Engine: sqlv1.EnginePostgres, Host: "h",
				AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "s"}}}}}, "namespace is required"},
	}
	for _, c := range cases {
		err := k8s.Create(f.ctx, c.obj)
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
		"metadata": map[string]any{"name": "empty", "namespace": f.ns},
		"spec":     map[string]any{"serverRef": map[string]any{"name": "pg"}, "name": ""},
	}}
	f.g.Expect(k8s.Create(f.ctx, empty)).To(MatchError(ContainSubstring("spec.name")), "empty name")

	// Engine rules CEL cannot know are reported before anything is sent.
	bad := f.user(f.uniq("badpriv"), func(u *sqlv1.DatabaseUser) {
		u.Spec.Grants = []sqlv1.Grant{{Database: "postgres", Privileges: []string{"SELECT"}}}
	})
	f.create(bad)
	c := f.waitReason(bad, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.g.Expect(c.Message).To(ContainSubstring("does not apply to a database"))
	f.g.Expect(roleExists(t, f.uniq("badpriv"))).To(BeFalse())

	long := f.user(strings.Repeat("é", 32), func(u *sqlv1.DatabaseUser) { u.Name = "bytes" })
	f.create(long)
	c = f.waitReason(long, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.g.Expect(c.Message).To(ContainSubstring("64 bytes"))
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
	f.create(u)
	f.waitReady(u)

	f.g.Expect(own.Stop()).To(Succeed())
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: f.ns}}
	f.waitReason(srv, metav1.ConditionFalse, backenderr.ReasonUnavailable)
	// The user notices at its next observation and keeps a stable reason.
	c := f.waitReason(u, metav1.ConditionFalse, "")
	f.g.Expect([]string{backenderr.ReasonUnavailable, managed.ReasonServerNotReady}).To(ContainElement(c.Reason))
	// A user created while the server is down waits and says why.
	late := f.user(f.uniq("late"))
	f.create(late)
	f.waitReason(late, metav1.ConditionFalse, managed.ReasonServerNotReady)
	f.stays(late, managed.ReasonServerNotReady)

	f.g.Expect(own.Start(context.Background())).To(Succeed())
	f.g.SetDefaultEventuallyTimeout(90 * time.Second)
	f.waitReady(srv)
	f.waitReady(u)
	f.waitReady(late)
	conn, _, err := f.secretLogin(late.Name + "-connection")
	f.g.Expect(err).NotTo(HaveOccurred())
	conn.Close(f.ctx)
}

// A spec that turns invalid reports InvalidSpec and still deletes cleanly:
// deletion needs only the name.
func TestInvalidSpecStillDeletes(t *testing.T) {
	f := newFixture(t)
	name := f.uniq("turns_bad")
	u := f.user(name)
	f.create(u)
	f.waitReady(u)
	f.g.Expect(update(f, u, func(u *sqlv1.DatabaseUser) {
		u.Spec.Grants = []sqlv1.Grant{{Database: "postgres", Privileges: []string{"SELECT"}}}
		u.Spec.PasswordSecretRef = &common.SecretKeyReference{SecretReference: common.SecretReference{Name: "absent"}}
	})).To(Succeed())
	f.waitReason(u, metav1.ConditionFalse, "")
	f.delete(u)
	f.waitGone(u)
	f.g.Expect(roleExists(t, name)).To(BeFalse())
}
