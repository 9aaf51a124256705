package sql_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/migrate"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

func migrationSQL(up, down string) string {
	return "-- +goose Up\n" + up + "\n-- +goose Down\n" + down + "\n"
}

// events lists "<type> <reason>" of the events regarding name.
func (f *fixture) events(name string) []string {
	var list eventsv1.EventList
	f.G.Expect(k8s.List(f.Ctx, &list, client.InNamespace(f.NS))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e.Type+" "+e.Reason)
		}
	}
	return out
}

func TestSchemaMigrationConfigMapApprovalAndApplicationUser(t *testing.T) {
	f := newFixture(t)
	owner := f.uniq("owner")
	f.Create(f.user(owner))
	f.WaitReady(f.user(owner))
	dbName := f.uniq("orders")
	db := f.database(dbName, func(d *sqlv1.Database) { d.Spec.Postgres = &sqlv1.PostgresDatabaseSpec{Owner: owner} })
	f.Create(db)
	f.WaitReady(db)
	app := f.uniq("app")
	u := f.user(app, func(u *sqlv1.DatabaseUser) {
		u.Spec.Grants = []sqlv1.Grant{{Database: dbName, Access: sqlv1.AccessReadWrite, Schema: "public"}}
		u.Spec.ConnectionSecret = common.ConnectionSecret{Name: "app-db"}
	})
	f.Create(u)
	f.WaitReady(u)

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orders-migrations"}, Data: map[string]string{
		"00001_create_orders.sql": migrationSQL("CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);", "DROP TABLE orders;"),
		"00002_create_lines.sql":  migrationSQL("CREATE TABLE lines (order_id int REFERENCES orders, sku text);", "DROP TABLE lines;"),
		"README.md":               "not a migration",
	}}
	f.Create(cm)
	mig := &sqlv1.SchemaMigration{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: f.NS}, Spec: sqlv1.SchemaMigrationSpec{
		DatabaseRef: sqlv1.LocalReference{Name: db.Name},
		ConfigMaps:  []sqlv1.LocalReference{{Name: cm.Name}},
		Approval:    sqlv1.ApprovalManual,
	}}
	f.Create(mig)

	// Manual approval: the plan waits in status, nothing runs.
	c := f.WaitReason(mig, metav1.ConditionFalse, migrate.ReasonAwaitingApproval)
	f.G.Expect(mig.Status.Plan).NotTo(BeNil())
	hash := mig.Status.Plan.Hash
	f.G.Expect(c.Message).To(ContainSubstring(hash))
	f.G.Expect(mig.Status.Plan.Migrations).To(HaveLen(2))
	f.G.Expect(mig.Status.Plan.Migrations[0].Name).To(Equal("00001_create_orders.sql"))
	f.G.Expect(mig.Status.Plan.Migrations[0].Checksum).To(Equal(migrate.Checksum(cm.Data["00001_create_orders.sql"])))
	f.G.Expect(queryAdmin[bool](t, pg, dbName, `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'orders')`)).To(BeFalse())

	// Approved: applied, as the database owner.
	f.G.Expect(kubetest.Update(f.Fixture, mig, func(m *sqlv1.SchemaMigration) { m.Spec.ApprovedPlan = hash })).To(Succeed())
	f.WaitReady(mig)
	f.G.Expect(mig.Status.CurrentVersion).To(Equal(int64(2)))
	f.G.Expect(mig.Status.Applied).To(HaveLen(2))
	f.G.Expect(mig.Status.Applied[1].Checksum).To(Equal(migrate.Checksum(cm.Data["00002_create_lines.sql"])))
	f.G.Expect(mig.Status.Applied[1].AppliedAt).NotTo(BeNil())
	f.G.Expect(mig.Status.Plan).To(BeNil())
	f.G.Expect(queryAdmin[string](t, pg, dbName, `SELECT tableowner FROM pg_tables WHERE tablename = 'orders'`)).To(Equal(owner))

	// The application reads and writes the new tables with its Secret.
	conn, _, err := f.secretLogin("app-db")
	f.G.Expect(err).NotTo(HaveOccurred())
	_, err = conn.Exec(f.Ctx, `INSERT INTO orders (total) VALUES (42)`)
	f.G.Expect(err).NotTo(HaveOccurred(), "insert with the application's Secret")
	var total int
	f.G.Expect(conn.QueryRow(f.Ctx, `SELECT total FROM orders`).Scan(&total)).To(Succeed())
	f.G.Expect(total).To(Equal(42))
	_, err = conn.Exec(f.Ctx, `DROP TABLE lines`)
	f.G.Expect(err).To(HaveOccurred(), "ReadWrite cannot drop the owner's tables")
	conn.Close(f.Ctx)
	// The migration history is not the application's: the ReadWrite preset
	// leaves the bookkeeping tables out and takes back what the default
	// privileges gave at their creation (at the user's next drift check).
	f.G.Eventually(func() error {
		c, _, err := f.secretLogin("app-db")
		if err != nil {
			return err
		}
		defer c.Close(f.Ctx)
		for _, q := range []string{`UPDATE backend_operator_migrations SET checksum = checksum`, `DELETE FROM goose_db_version WHERE false`} {
			if _, err := c.Exec(f.Ctx, q); err == nil {
				return errors.New(q + " succeeded as the application")
			}
		}
		return nil
	}, 90*time.Second, 500*time.Millisecond).Should(Succeed())

	// A file added to the ConfigMap wakes the migration: a new plan, approved, applied alone.
	f.G.Expect(kubetest.Update(f.Fixture, cm, func(c *corev1.ConfigMap) {
		c.Data["00003_add_note.sql"] = migrationSQL("ALTER TABLE orders ADD COLUMN note text;", "ALTER TABLE orders DROP COLUMN note;")
	})).To(Succeed())
	f.G.Eventually(func() string {
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(mig), mig)).To(Succeed())
		if mig.Status.Plan == nil {
			return ""
		}
		return mig.Status.Plan.Hash
	}).ShouldNot(BeElementOf("", hash))
	f.G.Expect(mig.Status.Plan.Migrations).To(HaveLen(1))
	f.G.Expect(kubetest.Update(f.Fixture, mig, func(m *sqlv1.SchemaMigration) { m.Spec.ApprovedPlan = m.Status.Plan.Hash })).To(Succeed())
	f.G.Eventually(func() int64 {
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(mig), mig)).To(Succeed())
		return mig.Status.CurrentVersion
	}).Should(Equal(int64(3)))
	f.WaitReady(mig)
	f.G.Expect(queryAdmin[int](t, pg, dbName, `SELECT count(*) FROM orders`)).To(Equal(1))
	f.G.Eventually(func() []string { return f.events(mig.Name) }).Should(ContainElement(HavePrefix("Normal ")))

	// An applied file changed in the ConfigMap: refused, named, announced.
	f.G.Expect(kubetest.Update(f.Fixture, cm, func(c *corev1.ConfigMap) {
		c.Data["00001_create_orders.sql"] = migrationSQL("CREATE TABLE orders (id bigserial PRIMARY KEY);", "DROP TABLE orders;")
	})).To(Succeed())
	c = f.WaitReason(mig, metav1.ConditionFalse, migrate.ReasonChecksumMismatch)
	f.G.Expect(c.Message).To(ContainSubstring("00001_create_orders.sql"))
	f.G.Expect(mig.Status.LastError).To(ContainSubstring("00001_create_orders.sql"))
	f.G.Eventually(func() []string { return f.events(mig.Name) }).Should(ContainElement("Warning " + migrate.ReasonChecksumMismatch))
	f.G.Expect(kubetest.Update(f.Fixture, mig, func(m *sqlv1.SchemaMigration) { m.Spec.AcceptChecksums = []int64{1} })).To(Succeed())
	f.WaitReady(mig)

	// Deleting the SchemaMigration changes nothing in the database.
	f.Delete(mig)
	f.WaitGone(mig)
	f.G.Expect(queryAdmin[int](t, pg, dbName, `SELECT count(*) FROM orders`)).To(Equal(1))
}

func TestSchemaMigrationInlineDownAndBlockedOnMariaDB(t *testing.T) {
	f := newFixtureOn(t, mariaBackend(maria))
	dbName := f.uniq("shop")
	db := f.database(dbName)
	f.Create(db)
	mig := &sqlv1.SchemaMigration{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: f.NS}, Spec: sqlv1.SchemaMigrationSpec{
		DatabaseRef: sqlv1.LocalReference{Name: db.Name},
		Files: []sqlv1.MigrationFile{
			{Name: "00001_items.sql", SQL: migrationSQL("CREATE TABLE items (id INT PRIMARY KEY);", "DROP TABLE items;")},
			{Name: "00002_bad.sql", SQL: migrationSQL("CREATE TABLE extra (id INT);\nINSERT INTO missing_table VALUES (1);", "DROP TABLE extra;")},
		},
	}}
	f.Create(mig)
	c := f.WaitReason(mig, metav1.ConditionFalse, migrate.ReasonBlocked)
	f.G.Expect(c.Message).To(And(ContainSubstring("00002_bad.sql"), ContainSubstring("INSERT INTO missing_table"), ContainSubstring("missing_table")))
	f.G.Expect(mig.Status.CurrentVersion).To(Equal(int64(1)))
	f.Stays(mig, migrate.ReasonBlocked)

	// Finished by hand, then marked applied.
	f.G.Expect(kubetest.Update(f.Fixture, mig, func(m *sqlv1.SchemaMigration) {
		m.Spec.Resolve = &sqlv1.MigrationResolve{Version: 2, Action: sqlv1.ResolveMarkApplied}
	})).To(Succeed())
	f.WaitReady(mig)
	f.G.Expect(mig.Status.CurrentVersion).To(Equal(int64(2)))

	// Down needs allowDown: refused, then run.
	f.G.Expect(kubetest.Update(f.Fixture, mig, func(m *sqlv1.SchemaMigration) {
		m.Spec.Resolve = nil
		m.Spec.TargetVersion = new(int64)
		*m.Spec.TargetVersion = 1
	})).To(Succeed())
	f.WaitReason(mig, metav1.ConditionFalse, migrate.ReasonDownNotAllowed)
	f.G.Expect(kubetest.Update(f.Fixture, mig, func(m *sqlv1.SchemaMigration) { m.Spec.AllowDown = true })).To(Succeed())
	f.G.Eventually(func() int64 {
		f.G.Expect(k8s.Get(f.Ctx, client.ObjectKeyFromObject(mig), mig)).To(Succeed())
		return mig.Status.CurrentVersion
	}).Should(Equal(int64(1)))
	f.WaitReady(mig)
}

func TestSchemaMigrationWaitsAndAdmission(t *testing.T) {
	f := newFixture(t)
	mig := &sqlv1.SchemaMigration{ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: f.NS}, Spec: sqlv1.SchemaMigrationSpec{
		DatabaseRef: sqlv1.LocalReference{Name: "later"},
		Files:       []sqlv1.MigrationFile{{Name: "00001_t.sql", SQL: migrationSQL("CREATE TABLE t (x int);", "DROP TABLE t;")}},
	}}
	f.Create(mig)
	f.WaitReason(mig, metav1.ConditionFalse, "DatabaseNotFound")
	// The Database appearing wakes it.
	dbName := f.uniq("later")
	db := f.database(dbName)
	db.Name = "later"
	f.Create(db)
	f.WaitReady(mig)
	f.G.Expect(queryAdmin[bool](t, pg, dbName, `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 't')`)).To(BeTrue())

	// Admission: a bad file name and a changed databaseRef are refused.
	bad := mig.DeepCopy()
	bad.ObjectMeta = metav1.ObjectMeta{Name: "bad", Namespace: f.NS}
	bad.Spec.Files = []sqlv1.MigrationFile{{Name: "create_t.sql", SQL: "x"}}
	err := k8s.Create(f.Ctx, bad)
	f.G.Expect(err).To(HaveOccurred())
	f.G.Expect(err.Error()).To(ContainSubstring("spec.files[0].name"))
	err = kubetest.Update(f.Fixture, mig, func(m *sqlv1.SchemaMigration) { m.Spec.DatabaseRef.Name = "other" })
	f.G.Expect(err).To(HaveOccurred())
	f.G.Expect(strings.Contains(err.Error(), "databaseRef is immutable")).To(BeTrue(), err.Error())

	// A second SchemaMigration of the same Database is a Conflict.
	second := &sqlv1.SchemaMigration{ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: f.NS}, Spec: sqlv1.SchemaMigrationSpec{
		DatabaseRef: sqlv1.LocalReference{Name: "later"}}}
	f.Create(second)
	f.WaitReason(second, metav1.ConditionFalse, managed.ReasonConflict)
}
