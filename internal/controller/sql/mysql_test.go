package sql_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/harness"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// The same scenarios as sql_test.go, on MariaDB through engine mysql.

func newMariaFixture(t *testing.T) *fixture { return newFixtureOn(t, mariaBackend(maria)) }

// myQuote backquotes an identifier for the test's own statements.
func myQuote(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// myAdmin runs statements as the admin on m.
func myAdmin(t *testing.T, m *harness.MariaDB, stmts ...string) {
	t.Helper()
	db, err := m.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// myQuery returns the first column of the first row, as the admin on m.
func myQuery[T any](t *testing.T, m *harness.MariaDB, q string, args ...any) T {
	t.Helper()
	db, err := m.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck
	var v T
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func accountExists(t *testing.T, name string) bool {
	return myQuery[int](t, maria, `SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = '%'`, name) == 1
}

func schemaExists(t *testing.T, name string) bool {
	return myQuery[int](t, maria, `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, name) == 1
}

func maxUserConnections(t *testing.T, name string) int {
	return myQuery[int](t, maria, `SELECT max_user_connections FROM mysql.user WHERE User = ? AND Host = '%'`, name)
}

// mysqlLogin opens one session with the credentials of a connection Secret,
// parsing its uri key (mysql://user:pass@host:port/db) as an application
// would, into go-sql-driver's configuration.
func (f *fixture) mysqlLogin(name string) (*sql.Conn, *corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := k8s.Get(f.Ctx, client.ObjectKey{Namespace: f.NS, Name: name}, s); err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(string(s.Data["uri"]))
	if err != nil || u.Scheme != "mysql" || u.User == nil {
		return nil, s, errors.New("the Secret's uri is not a mysql:// URL with credentials")
	}
	c := mysql.NewConfig()
	c.Net, c.Addr, c.User, c.DBName = "tcp", u.Host, u.User.Username(), strings.TrimPrefix(u.Path, "/")
	c.Passwd, _ = u.User.Password()
	c.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, s, errors.New("the Secret's uri does not make a driver configuration")
	}
	db := sql.OpenDB(conn)
	db.SetMaxIdleConns(0) // closing the session ends it: MAX_USER_CONNECTIONS is low
	f.T.Cleanup(func() { _ = db.Close() })
	session, err := db.Conn(f.Ctx)
	if err != nil {
		// Only the server's message: the configuration holds the password.
		var my *mysql.MySQLError
		if errors.As(err, &my) {
			return nil, s, errors.New("login with the Secret's uri: " + my.Message)
		}
		return nil, s, errors.New("login with the Secret's uri failed")
	}
	return session, s, nil
}

func TestMysqlServerReady(t *testing.T) {
	f := newMariaFixture(t)
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "mariadb", Namespace: f.NS}}
	f.WaitReady(srv)
	f.G.Expect(srv.Status.Flavor).To(Equal("MariaDB"))
	f.G.Expect(srv.Status.Version).To(MatchRegexp(`^1[0-9]\.[0-9]+\.[0-9]+$`))

	f.ExpectAuthFailure(srv, "mariadb-admin", maria.AdminPassword)
}

func TestMysqlDatabaseLifecycle(t *testing.T) {
	f := newMariaFixture(t)
	name := f.uniq("shop")
	db := f.database(name, func(d *sqlv1.Database) {
		d.Spec.MySQL = &sqlv1.MySQLDatabaseSpec{CharacterSet: "utf8mb4", Collation: "utf8mb4_bin"}
	})
	f.Create(db)
	f.WaitReady(db)
	f.G.Expect(db.Status.BackendName).To(Equal(name))
	f.G.Expect(db.Finalizers).To(ContainElement(managed.Finalizer))
	collation := func() string {
		return myQuery[string](t, maria, `SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, name)
	}
	f.G.Expect(collation()).To(Equal("utf8mb4_bin"))

	// Drift: character set and collation changed out of band are repaired.
	myAdmin(t, maria, "ALTER DATABASE "+myQuote(name)+" CHARACTER SET latin1 COLLATE latin1_swedish_ci",
		"CREATE TABLE "+myQuote(name)+".keep (x int)", "INSERT INTO "+myQuote(name)+".keep VALUES (42)")
	f.G.Eventually(collation).Should(Equal("utf8mb4_bin"), "drift was not repaired")

	// Delete with Retain (the default) keeps the database and its rows.
	f.Delete(db)
	f.WaitGone(db)
	f.G.Expect(myQuery[int](t, maria, "SELECT x FROM "+myQuote(name)+".keep")).To(Equal(42))

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
	f.G.Expect(schemaExists(t, name)).To(BeFalse())
}

func TestMysqlUserLifecycle(t *testing.T) {
	f := newMariaFixture(t)
	dbName := f.uniq("app")
	other := f.uniq("other")
	for _, n := range []string{dbName, other} {
		d := f.database(n)
		f.Create(d)
		f.WaitReady(d)
	}
	myAdmin(t, maria, "CREATE TABLE "+myQuote(dbName)+".items (id int AUTO_INCREMENT PRIMARY KEY, name text)",
		"CREATE TABLE "+myQuote(dbName)+".audit (id int)", "CREATE TABLE "+myQuote(other)+".items (id int)")

	name := f.uniq("app_rw")
	u := f.user(name, func(u *sqlv1.DatabaseUser) {
		u.Spec.ConnectionLimit = 7
		u.Spec.Grants = []sqlv1.Grant{{Database: dbName, Access: sqlv1.AccessReadWrite}}
		u.Spec.ConnectionSecret = common.ConnectionSecret{Name: "app-db", Template: map[string]string{"DATABASE_URL": "{{ .URI }}"}}
	})
	f.Create(u)
	f.WaitReady(u)
	f.G.Expect(u.Status.Binding).To(Equal(&common.Binding{Name: "app-db"}))

	conn, secret, err := f.mysqlLogin("app-db")
	f.G.Expect(err).NotTo(HaveOccurred(), "login with the Secret's uri")
	for _, k := range []string{"type", "provider", "host", "port", "username", "password", "database", "uri", "jdbc-url", "DATABASE_URL"} {
		f.G.Expect(secret.Data).To(HaveKey(k))
	}
	f.G.Expect(string(secret.Data["type"])).To(Equal("mysql"))
	f.G.Expect(string(secret.Data["database"])).To(Equal(dbName))
	f.G.Expect(string(secret.Data["jdbc-url"])).To(HavePrefix("jdbc:mariadb://"))
	f.G.Expect(secret.Type).To(Equal(corev1.SecretType("servicebinding.io/mysql")))
	f.G.Expect(len(secret.Data["password"])).To(Equal(32))
	exec := func(c *sql.Conn, stmt string) error { _, err := c.ExecContext(f.Ctx, stmt); return err }
	// Exactly what the grants allow, nothing more.
	f.G.Expect(exec(conn, "INSERT INTO items (name) VALUES ('a')")).To(Succeed())
	f.G.Expect(exec(conn, "SELECT * FROM items")).To(Succeed())
	f.G.Expect(exec(conn, "CREATE TEMPORARY TABLE scratch (x int)")).To(Succeed())
	f.G.Expect(exec(conn, "CREATE TABLE nope (x int)")).NotTo(Succeed())
	f.G.Expect(exec(conn, "DROP TABLE items")).NotTo(Succeed())
	f.G.Expect(exec(conn, "SELECT * FROM "+myQuote(other)+".items")).NotTo(Succeed())
	_ = conn.Close()
	f.G.Expect(maxUserConnections(t, name)).To(Equal(7))

	// Update: read-only on the database plus INSERT on one table; new limit.
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *sqlv1.DatabaseUser) {
		u.Spec.ConnectionLimit = 3
		u.Spec.Grants = []sqlv1.Grant{
			{Database: dbName, Access: sqlv1.AccessReadOnly},
			{Database: dbName, Tables: []string{"audit"}, Privileges: []string{"INSERT"}},
		}
	})).To(Succeed())
	f.WaitReady(u)
	f.G.Expect(maxUserConnections(t, name)).To(Equal(3))
	conn, _, err = f.mysqlLogin("app-db")
	f.G.Expect(err).NotTo(HaveOccurred())
	f.G.Expect(exec(conn, "INSERT INTO audit VALUES (1)")).To(Succeed())
	f.G.Expect(exec(conn, "SELECT * FROM items")).To(Succeed())
	f.G.Expect(exec(conn, "INSERT INTO items (name) VALUES ('b')")).NotTo(Succeed())
	_ = conn.Close()

	// Drift out of band: ALTER USER, REVOKE, then DROP USER; each repaired.
	acct := myQuote(name) + "@'%'"
	myAdmin(t, maria, "ALTER USER "+acct+" IDENTIFIED BY 'stolen' WITH MAX_USER_CONNECTIONS 50",
		"REVOKE SELECT ON "+myQuote(strings.ReplaceAll(dbName, "_", `\_`))+".* FROM "+acct)
	f.G.Eventually(func() error {
		c, _, err := f.mysqlLogin("app-db")
		if err != nil {
			return err
		}
		defer c.Close() //nolint:errcheck
		return exec(c, "SELECT * FROM items")
	}).Should(Succeed(), "password and grant repaired")
	f.G.Eventually(func() int { return maxUserConnections(t, name) }).Should(Equal(3))

	myAdmin(t, maria, "DROP USER "+acct)
	f.G.Eventually(func() error {
		c, _, err := f.mysqlLogin("app-db")
		if err != nil {
			return err
		}
		defer c.Close() //nolint:errcheck
		return exec(c, "INSERT INTO audit VALUES (2)")
	}).Should(Succeed(), "dropped account recreated with its grants")

	// Delete (the default for users) drops the account.
	f.Delete(u)
	f.WaitGone(u)
	f.G.Expect(accountExists(t, name)).To(BeFalse())
}

func TestMysqlConflictAndAdoption(t *testing.T) {
	f := newMariaFixture(t)
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
	f.G.Expect(maxUserConnections(t, name)).To(Equal(0), "the loser wrote nothing")
	f.G.Expect(second.Finalizers).To(BeEmpty())

	// An existing account is not taken over until spec says so.
	existing := f.uniq("legacy")
	myAdmin(t, maria, "CREATE USER "+myQuote(existing)+"@'%' IDENTIFIED BY 'old' WITH MAX_USER_CONNECTIONS 4")
	u := f.user(existing)
	f.Create(u)
	f.WaitReason(u, metav1.ConditionFalse, managed.ReasonAlreadyExists)
	f.Stays(u, managed.ReasonAlreadyExists)
	f.G.Expect(maxUserConnections(t, existing)).To(Equal(4))
	f.G.Expect(kubetest.Update(f.Fixture, u, func(u *sqlv1.DatabaseUser) { u.Spec.AdoptExisting = true })).To(Succeed())
	f.WaitReady(u)
	f.G.Expect(maxUserConnections(t, existing)).To(Equal(0))
	conn, _, err := f.mysqlLogin(u.Name + "-connection")
	f.G.Expect(err).NotTo(HaveOccurred())
	_ = conn.Close()
}

func TestMysqlClusterServerNamespaces(t *testing.T) {
	f := newMariaFixture(t)
	cs := &sqlv1.ClusterDatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "shared-maria-" + f.NS}, Spec: sqlv1.ClusterDatabaseServerSpec{
		DatabaseServerSpec: sqlv1.DatabaseServerSpec{Engine: sqlv1.EngineMySQL, Host: maria.Host, Port: int32(maria.Port),
			AdminCredentials: common.AdminCredentials{SecretRef: common.SecretReference{Name: "mariadb-admin", Namespace: f.NS}}},
		AllowedNamespaces: &common.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}},
	}}
	f.Create(cs)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cs) })
	f.WaitReady(cs)
	f.G.Expect(cs.Status.Flavor).To(Equal("MariaDB"))

	allowed := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "payments-", Labels: map[string]string{"team": "payments"}}}
	refused := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "other-"}}
	f.Create(allowed)
	f.Create(refused)
	ref := sqlv1.ServerReference{Kind: sqlv1.KindClusterDatabaseServer, Name: cs.Name}
	ok := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: allowed.Name}, Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: f.uniq("allowed"), DeletionPolicy: common.DeletionDelete}}
	no := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: refused.Name}, Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: f.uniq("refused"), DeletionPolicy: common.DeletionDelete}}
	f.Create(ok)
	f.Create(no)
	f.WaitReady(ok)
	c := f.WaitReason(no, metav1.ConditionFalse, managed.ReasonServerNotAllowed)
	f.G.Expect(c.Message).To(ContainSubstring(refused.Name))
	f.G.Expect(schemaExists(t, f.uniq("allowed"))).To(BeTrue())
	f.G.Expect(schemaExists(t, f.uniq("refused"))).To(BeFalse())

	f.G.Expect(kubetest.Update(f.Fixture, refused, func(n *corev1.Namespace) { n.Labels = map[string]string{"team": "payments"} })).To(Succeed())
	f.WaitReady(no)
	for _, d := range []*sqlv1.Database{ok, no} {
		f.Delete(d)
		f.WaitGone(d)
	}
	f.G.Expect(schemaExists(t, f.uniq("allowed"))).To(BeFalse())
}

func TestMysqlBadInput(t *testing.T) {
	f := newMariaFixture(t)
	// PostgreSQL-only settings against a MySQL server change nothing.
	pgDB := f.database(f.uniq("pgonly"), func(d *sqlv1.Database) { d.Spec.Postgres = &sqlv1.PostgresDatabaseSpec{Schemas: []string{"s"}} })
	f.Create(pgDB)
	c := f.WaitReason(pgDB, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	f.G.Expect(c.Message).To(ContainSubstring("spec.postgres"))
	pgUser := f.user(f.uniq("pgonly_u"), func(u *sqlv1.DatabaseUser) { u.Spec.Postgres = &sqlv1.PostgresUserSpec{CreateDB: true} })
	f.Create(pgUser)
	f.WaitReason(pgUser, metav1.ConditionFalse, managed.ReasonInvalidSpec)

	// A privilege MySQL lacks, a schema, and roles are reported before anything is sent.
	cases := map[string]func(*sqlv1.DatabaseUser){
		"does not apply to a database": func(u *sqlv1.DatabaseUser) {
			u.Spec.Grants = []sqlv1.Grant{{Database: "mysql", Privileges: []string{"CONNECT"}}}
		},
		"no schemas": func(u *sqlv1.DatabaseUser) {
			u.Spec.Grants = []sqlv1.Grant{{Database: "mysql", Schema: "public", Access: sqlv1.AccessReadOnly}}
		},
		"memberOf": func(u *sqlv1.DatabaseUser) { u.Spec.MemberOf = []string{"r"} },
	}
	i := 0
	for want, mutate := range cases {
		i++
		name := f.uniq("bad" + string(rune('a'+i)))
		u := f.user(name, mutate)
		f.Create(u)
		c := f.WaitReason(u, metav1.ConditionFalse, managed.ReasonInvalidSpec)
		f.G.Expect(c.Message).To(ContainSubstring(want))
		f.G.Expect(accountExists(t, name)).To(BeFalse())
	}
	f.G.Expect(schemaExists(t, f.uniq("pgonly"))).To(BeFalse())
	f.G.Expect(accountExists(t, f.uniq("pgonly_u"))).To(BeFalse())

	// And the symmetric case: MySQL settings against PostgreSQL.
	pf := newFixture(t)
	myDB := pf.database(pf.uniq("myonly"), func(d *sqlv1.Database) { d.Spec.MySQL = &sqlv1.MySQLDatabaseSpec{CharacterSet: "utf8mb4"} })
	pf.Create(myDB)
	c = pf.WaitReason(myDB, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	pf.G.Expect(c.Message).To(ContainSubstring("spec.mysql"))
	myUser := pf.user(pf.uniq("myonly_u"), func(u *sqlv1.DatabaseUser) { u.Spec.MySQL = &sqlv1.MySQLUserSpec{RequireTLS: true} })
	pf.Create(myUser)
	pf.WaitReason(myUser, metav1.ConditionFalse, managed.ReasonInvalidSpec)
	pf.G.Expect(databaseExists(t, pf.uniq("myonly"))).To(BeFalse())
	pf.G.Expect(roleExists(t, pf.uniq("myonly_u"))).To(BeFalse())
}

func TestMysqlServerStoppedAndRestarted(t *testing.T) {
	own, err := harness.StartMariaDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = own.Close() })
	f := newFixtureOn(t, mariaBackend(own))
	u := f.user(f.uniq("survivor"), func(u *sqlv1.DatabaseUser) {
		u.Spec.Grants = []sqlv1.Grant{{Database: "mysql", Access: sqlv1.AccessReadOnly}}
	})
	f.Create(u)
	f.WaitReady(u)

	f.G.Expect(own.Stop()).To(Succeed())
	srv := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Name: "mariadb", Namespace: f.NS}}
	f.WaitReason(srv, metav1.ConditionFalse, backenderr.ReasonUnavailable)
	c := f.WaitReason(u, metav1.ConditionFalse, "")
	f.G.Expect([]string{backenderr.ReasonUnavailable, managed.ReasonServerNotReady}).To(ContainElement(c.Reason))
	late := f.user(f.uniq("late"))
	f.Create(late)
	f.WaitReason(late, metav1.ConditionFalse, managed.ReasonServerNotReady)
	f.Stays(late, managed.ReasonServerNotReady)

	f.G.Expect(own.Start(context.Background())).To(Succeed())
	f.G.SetDefaultEventuallyTimeout(90 * time.Second)
	f.WaitReady(srv)
	f.WaitReady(u)
	f.WaitReady(late)
	conn, _, err := f.mysqlLogin(late.Name + "-connection")
	f.G.Expect(err).NotTo(HaveOccurred())
	_ = conn.Close()
}
