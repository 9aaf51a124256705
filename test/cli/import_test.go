package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// imported is one document of import's output.
type imported struct {
	comments []string
	obj      *unstructured.Unstructured
}

// parseImport splits import's output into documents.
func parseImport(t *testing.T, out string) []imported {
	t.Helper()
	var docs []imported
	for _, part := range strings.Split(out, "---\n")[1:] {
		var d imported
		var body []string
		for _, line := range strings.Split(part, "\n") {
			if c, ok := strings.CutPrefix(line, "# "); ok {
				d.comments = append(d.comments, c)
			} else {
				body = append(body, line)
			}
		}
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(strings.Join(body, "\n")), &m); err != nil {
			t.Fatalf("document %q: %v", part, err)
		}
		d.obj = &unstructured.Unstructured{Object: m}
		docs = append(docs, d)
	}
	return docs
}

// pgState is what must not change when a server is imported and adopted:
// the roles' attributes and memberships and every privilege in the
// database.
func pgState(t *testing.T, db string, roles ...string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, q := range []struct {
		db, sql string
		args    []any
	}{
		{"postgres", `SELECT rolname, rolcanlogin, rolconnlimit, rolcreatedb, rolcreaterole, rolsuper, rolinherit,
  coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '')
  FROM pg_roles r WHERE rolname = ANY($1) ORDER BY 1`, []any{roles}},
		{"postgres", `SELECT datname, pg_get_userbyid(datdba), coalesce(datacl::text, '') FROM pg_database WHERE datname = $1`, []any{db}},
		{db, `SELECT n.nspname, pg_get_userbyid(n.nspowner), coalesce(n.nspacl::text, '') FROM pg_namespace n WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' ORDER BY 1`, nil},
		{db, `SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner), coalesce(c.relacl::text, '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'S', 'v') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' ORDER BY 1, 2`, nil},
		{db, `SELECT pg_get_userbyid(defaclrole), defaclobjtype::text, coalesce(defaclacl::text, '') FROM pg_default_acl ORDER BY 1, 2`, nil},
	} {
		c, err := pgx.Connect(ctx, pg.URL(q.db))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := c.Query(ctx, q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		_ = c.Close(ctx)
	}
	return b.String()
}

// canLogin reports whether user logs in to db with password.
func canLogin(user, password, db string) error {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", user, password, pg.Host, pg.Port, db))
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

func TestImportPostgres(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "cli-import-pg-")
	pgServer(f, "pg")
	owner, app, readers, db := backendName(f, "imp_owner"), backendName(f, "imp_app"), backendName(f, "imp_readers"), backendName(f, "imp_db")
	// A privilege on a sequence has no explicit grant of its own: import
	// says what adopting that login would change.
	seq := backendName(f, "imp_seq")
	psql(t, "postgres",
		"CREATE ROLE "+owner+" LOGIN PASSWORD 'owner-pw'",
		"CREATE ROLE "+readers+" NOLOGIN",
		"CREATE ROLE "+seq+" LOGIN",
		"CREATE ROLE "+app+" LOGIN PASSWORD 'app-pw' CONNECTION LIMIT 7 CREATEDB IN ROLE "+readers,
		"CREATE DATABASE "+db+" OWNER "+owner,
		"GRANT CONNECT, TEMPORARY ON DATABASE "+db+" TO "+app)
	psql(t, db,
		"CREATE SCHEMA billing AUTHORIZATION "+owner,
		"CREATE TABLE billing.invoices (id int)",
		"CREATE TABLE billing.items (id int)",
		"CREATE TABLE billing.audit (id int)",
		"GRANT USAGE ON SCHEMA billing TO "+app,
		"GRANT SELECT, INSERT ON billing.invoices TO "+app,
		"GRANT SELECT ON billing.items TO "+app,
		"CREATE SEQUENCE billing.numbers",
		"GRANT USAGE ON SEQUENCE billing.numbers TO "+seq,
		"CREATE EXTENSION IF NOT EXISTS pgcrypto")
	before := pgState(t, db, owner, app, readers)

	out, errOut, err := plugin(t, "import", "--server", "pg", "-n", f.NS)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	for _, s := range []string{fmt.Sprintf("role %q: a group role without LOGIN", readers), fmt.Sprintf("role %q: the admin login", pg.AdminUser),
		"warning: " + objName(seq) + ": adopting would revoke USAGE on sequence billing.numbers in database " + db + "; keep it out of the import or grant it through a preset"} {
		if !strings.Contains(errOut, s) {
			t.Errorf("import does not report skipping %s:\n%s", s, errOut)
		}
	}
	if strings.Contains(out, "owner-pw") || strings.Contains(out, "app-pw") || strings.Contains(out, pg.AdminPassword) {
		t.Fatal("import printed a password")
	}
	// Only this test's objects: the server is shared with other tests.
	var mine []imported
	for _, d := range parseImport(t, out) {
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		if slices.Contains([]string{owner, app, db}, name) {
			mine = append(mine, d)
		}
		if name == seq {
			t.Logf("%s: %q", seq, d.comments)
		}
		if name == seq && !slices.ContainsFunc(d.comments, func(c string) bool { return strings.Contains(c, "numbers") }) {
			t.Errorf("import of %s does not say that adoption revokes its privilege on billing.numbers: %q", seq, d.comments)
		}
		// seq has no password: the comment must not promise that its
		// current one changes nothing.
		if name == seq && !slices.ContainsFunc(d.comments, func(c string) bool {
			return strings.Contains(c, seq+" has no password now, so adopting it sets the Secret's password")
		}) {
			t.Errorf("import of %s, a login without a password, does not say that adoption sets one: %q", seq, d.comments)
		}
		if name == app && slices.ContainsFunc(d.comments, func(c string) bool { return strings.Contains(c, "has no password") }) {
			t.Errorf("import of %s, a login with a password, says it has none: %q", app, d.comments)
		}
		if slices.Contains([]string{readers, pg.AdminUser, "postgres", "template1"}, name) {
			t.Errorf("import printed %s %s", d.obj.GetKind(), name)
		}
	}
	if len(mine) != 3 {
		t.Fatalf("import printed %d of this test's objects, want 3 (database, owner, app):\n%s", len(mine), out)
	}
	var block strings.Builder
	for _, d := range mine {
		for _, c := range d.comments {
			block.WriteString("# " + c + "\n")
			if strings.HasPrefix(c, "Adopting this object changes") {
				t.Errorf("%s %s: the adapter sees changes after adoption", d.obj.GetKind(), d.obj.GetName())
			}
		}
		y, _ := yaml.Marshal(d.obj.Object)
		block.WriteString(string(y) + "---\n")
	}
	t.Log("\n" + block.String())
	for _, d := range mine {
		if adopt, _, _ := unstructured.NestedBool(d.obj.Object, "spec", "adoptExisting"); !adopt {
			t.Errorf("%s %s: adoptExisting is not true", d.obj.GetKind(), d.obj.GetName())
		}
	}

	// Apply as a team would: the password Secrets with the current
	// passwords, then the manifests, with the operator running.
	passwords := map[string]string{owner: "owner-pw", app: "app-pw"}
	var objs []*unstructured.Unstructured
	for _, d := range mine {
		if d.obj.GetKind() == "DatabaseUser" {
			name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
			secret, _, _ := unstructured.NestedString(d.obj.Object, "spec", "passwordSecretRef", "name")
			f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret}, StringData: map[string]string{"password": passwords[name]}})
		}
		if d.obj.GetNamespace() != f.NS {
			t.Errorf("%s %s is in namespace %q, want %q", d.obj.GetKind(), d.obj.GetName(), d.obj.GetNamespace(), f.NS)
		}
		f.Create(d.obj)
		objs = append(objs, d.obj)
	}
	for _, o := range objs {
		f.WaitReason(o, metav1.ConditionTrue, "Available")
	}
	if after := pgState(t, db, owner, app, readers); after != before {
		t.Errorf("adoption changed the server:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if err := canLogin(app, "app-pw", db); err != nil {
		t.Errorf("the imported login no longer logs in with its password: %v", err)
	}

	// Imported again, the adopted objects are managed: import leaves them
	// out, whatever their metadata.name, and says so on stderr. A
	// DatabaseUser named otherwise claims seq's login.
	f.Create(&sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: "someone-else"}, Spec: sqlv1.DatabaseUserSpec{
		ServerRef: sqlv1.ServerReference{Name: "pg"}, Name: seq}})
	out, errOut, err = plugin(t, "import", "--server", "pg", "-n", f.NS)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	for _, d := range parseImport(t, out) {
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		if slices.Contains([]string{owner, app, db, seq}, name) {
			t.Errorf("import printed %s %s, which is already managed", d.obj.GetKind(), name)
		}
	}
	for _, o := range objs {
		kind, what := o.GetKind(), "login"
		if kind == "Database" {
			what = "database"
		}
		name, _, _ := unstructured.NestedString(o.Object, "spec", "name")
		want := fmt.Sprintf("skipped: %s %q: managed by %s %s/%s", what, name, kind, f.NS, o.GetName())
		if !strings.Contains(errOut, want) {
			t.Errorf("import does not report %q:\n%s", want, errOut)
		}
	}
	if want := fmt.Sprintf("skipped: login %q: managed by DatabaseUser %s/someone-else", seq, f.NS); !strings.Contains(errOut, want) {
		t.Errorf("import does not report %q:\n%s", want, errOut)
	}
}

// objName is the metadata.name import gives a backend name.
func objName(backend string) string { return strings.ReplaceAll(backend, "_", "-") }
