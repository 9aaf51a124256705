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

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// TestImportPostgresPresets: explicit grants cannot express privileges on
// sequences. A login whose privileges an access preset reproduces on every
// existing object is imported with the preset, and adopting it keeps its
// sequence privileges (INSERT into a serial column still works). A login
// no preset fits keeps its explicit grants, and import warns on stderr
// that adopting it would revoke its privilege on the serial's sequence.
func TestImportPostgresPresets(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "cli-import-preset-")
	pgServer(f, "pg")
	owner, rw, narrow, db := backendName(f, "pre_owner"), backendName(f, "pre_rw"), backendName(f, "pre_narrow"), backendName(f, "pre_db")
	psql(t, "postgres",
		"CREATE ROLE "+owner+" LOGIN PASSWORD 'owner-pw'",
		"CREATE ROLE "+rw+" LOGIN PASSWORD 'rw-pw'",
		"CREATE ROLE "+narrow+" LOGIN PASSWORD 'narrow-pw'",
		"CREATE DATABASE "+db+" OWNER "+owner,
		"GRANT CONNECT, TEMPORARY ON DATABASE "+db+" TO "+rw,
		"GRANT CONNECT ON DATABASE "+db+" TO "+narrow)
	psql(t, db,
		"CREATE SCHEMA billing AUTHORIZATION "+owner,
		"CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount int)",
		"CREATE TABLE billing.items (id int)",
		// rw holds what ReadWrite grants, on every schema, table and
		// sequence there is.
		"GRANT USAGE ON SCHEMA billing, public TO "+rw,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA billing TO "+rw,
		"GRANT SELECT, USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA billing TO "+rw,
		// narrow inserts into one table: it needs USAGE on its sequence,
		// which no explicit grant expresses and no preset gives alone.
		"GRANT USAGE ON SCHEMA billing TO "+narrow,
		"GRANT SELECT, INSERT ON billing.invoices TO "+narrow,
		"GRANT USAGE ON SEQUENCE billing.invoices_id_seq TO "+narrow)
	relACLs := func() string {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, pg.URL(db))
		check(t, err)
		defer c.Close(ctx) //nolint:errcheck
		var acl string
		check(t, c.QueryRow(ctx, `SELECT string_agg(n.nspname || '.' || c.relname || '=' || coalesce(c.relacl::text, ''), ' ' ORDER BY 1)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'S') AND n.nspname = 'billing'`).Scan(&acl))
		return acl
	}
	before := relACLs()
	// A DatabaseUser of another server holds narrow's metadata.name: the
	// printed one takes another, so applying it rewrites no live object.
	f.Create(&sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: objName(narrow)}, Spec: sqlv1.DatabaseUserSpec{
		ServerRef: sqlv1.ServerReference{Name: "elsewhere"}, Name: narrow}})

	out, errOut, err := plugin(t, "import", "--server", "pg", "-n", f.NS)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	docs := map[string]imported{}
	for _, d := range parseImport(t, out) {
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		if slices.Contains([]string{rw, narrow}, name) {
			docs[name] = d
		}
	}
	if len(docs) != 2 {
		t.Fatalf("import printed %d of this test's logins, want 2:\n%s", len(docs), out)
	}
	grants, _, _ := unstructured.NestedSlice(docs[rw].obj.Object, "spec", "grants")
	if want := []any{map[string]any{"database": db, "access": "ReadWrite"}}; fmt.Sprint(grants) != fmt.Sprint(want) {
		t.Errorf("%s: grants %v, want %v\n%s", rw, grants, want, out)
	}
	for _, c := range docs[rw].comments {
		if strings.HasPrefix(c, "  ~ extra") {
			t.Errorf("%s: adopting with the preset would revoke: %q", rw, docs[rw].comments)
		}
	}
	if got := docs[narrow].obj.GetName(); got != objName(narrow)+"-2" {
		t.Errorf("%s is printed as %s, the name of a live DatabaseUser; want %s-2", narrow, got, objName(narrow))
	}
	grants, _, _ = unstructured.NestedSlice(docs[narrow].obj.Object, "spec", "grants")
	if strings.Contains(fmt.Sprint(grants), "access") {
		t.Errorf("%s: a preset replaces grants it widens: %v", narrow, grants)
	}
	warn := fmt.Sprintf("warning: %s: adopting would revoke USAGE on sequence billing.invoices_id_seq in database %s; keep it out of the import or grant it through a preset", objName(narrow)+"-2", db)
	if !strings.Contains(errOut, warn) {
		t.Errorf("import does not warn %q:\n%s", warn, errOut)
	}
	if strings.Contains(errOut, "warning: "+objName(rw)+":") {
		t.Errorf("import warns about %s, which loses nothing:\n%s", rw, errOut)
	}

	// Adopt rw as printed: its privileges on the existing tables and
	// sequences are unchanged, and it still inserts into the serial column.
	f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: objName(rw) + "-password"}, StringData: map[string]string{"password": "rw-pw"}})
	f.Create(docs[rw].obj)
	f.WaitReason(docs[rw].obj, metav1.ConditionTrue, "Available")
	if after := relACLs(); after != before {
		t.Errorf("adopting %s with its preset changed the privileges:\nbefore: %s\nafter:  %s", rw, before, after)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:rw-pw@%s:%d/%s?sslmode=disable", rw, pg.Host, pg.Port, db))
	check(t, err)
	defer c.Close(ctx) //nolint:errcheck
	if _, err := c.Exec(ctx, "INSERT INTO billing.invoices (amount) VALUES (1)"); err != nil {
		t.Errorf("%s, adopted, no longer inserts into a serial column: %v", rw, err)
	}
}
