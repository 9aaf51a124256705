package cli

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/backend-operator/backend-operator/test/kubetest"
)

// mariaExec runs statements on the test MariaDB as its admin.
func mariaExec(t *testing.T, stmts ...string) {
	t.Helper()
	db, err := maria.Open("")
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

// mariaState is what adoption must not change: the accounts' limits, TLS
// requirement and grants.
func mariaState(t *testing.T, accounts ...[2]string) string {
	t.Helper()
	db, err := maria.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck
	var b strings.Builder
	for _, a := range accounts {
		var conns int
		var ssl string
		if err := db.QueryRow(`SELECT max_user_connections, ssl_type FROM mysql.user WHERE User = ? AND Host = ?`, a[0], a[1]).Scan(&conns, &ssl); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s@%s max=%d ssl=%q\n", a[0], a[1], conns, ssl)
		grants := query(t, db, "SHOW GRANTS FOR "+sqlString(a[0])+"@"+sqlString(a[1]))
		for _, g := range grants {
			// The password hash is the one thing adoption may set (to the
			// same password here); the grants are compared without it.
			if i := strings.Index(g, " IDENTIFIED BY"); i > 0 {
				g = g[:i]
			}
			fmt.Fprintln(&b, g)
		}
	}
	return b.String()
}

func query(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestImportMySQL(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "cli-import-my-")
	mariaServer(f, "maria")
	sfx := f.NS[len(f.NS)-5:]
	db, app, local := "impdb"+sfx, "impapp"+sfx, "implocal"+sfx
	mariaExec(t,
		"CREATE DATABASE "+db,
		"CREATE TABLE "+db+".invoices (id int)",
		"CREATE TABLE "+db+".items (id int)",
		"CREATE USER '"+app+"'@'%' IDENTIFIED BY 'app-pw' WITH MAX_USER_CONNECTIONS 4",
		"GRANT SELECT, INSERT ON "+db+".* TO '"+app+"'@'%'",
		"GRANT UPDATE, DELETE ON "+db+".invoices TO '"+app+"'@'%'",
		"CREATE USER '"+local+"'@'10.0.%' IDENTIFIED BY 'local-pw' REQUIRE SSL",
		"GRANT SELECT ON "+db+".items TO '"+local+"'@'10.0.%'")
	accounts := [][2]string{{app, "%"}, {local, "10.0.%"}}
	before := mariaState(t, accounts...)

	out, errOut, err := plugin(t, "import", "--server", "maria", "-n", f.NS)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, `account "root"@"localhost": a system account`) || !strings.Contains(errOut, "the admin login") {
		t.Errorf("import does not report skipping root and the admin login:\n%s", errOut)
	}
	if strings.Contains(out, "app-pw") || strings.Contains(out, maria.AdminPassword) {
		t.Fatal("import printed a password")
	}
	var mine []imported
	for _, d := range parseImport(t, out) {
		name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
		if slices.Contains([]string{db, app, local}, name) {
			mine = append(mine, d)
		}
		if slices.Contains([]string{"mysql", "sys", "root", "mariadb.sys", "information_schema", "performance_schema", maria.AdminUser}, name) {
			t.Errorf("import printed %s %s", d.obj.GetKind(), name)
		}
	}
	if len(mine) != 3 {
		t.Fatalf("import printed %d of this test's objects, want 3:\n%s", len(mine), out)
	}
	var block strings.Builder
	for _, d := range mine {
		for _, c := range d.comments {
			block.WriteString("# " + c + "\n")
			if strings.HasPrefix(c, "Adopting this object changes") {
				t.Errorf("%s %s: the adapter sees changes after adoption", d.obj.GetKind(), d.obj.GetName())
			}
		}
	}
	t.Log("\n" + block.String() + out[strings.Index(out, "---"):])

	passwords := map[string]string{app: "app-pw", local: "local-pw"}
	for _, d := range mine {
		if d.obj.GetKind() == "DatabaseUser" {
			name, _, _ := unstructured.NestedString(d.obj.Object, "spec", "name")
			secret, _, _ := unstructured.NestedString(d.obj.Object, "spec", "passwordSecretRef", "name")
			f.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret}, StringData: map[string]string{"password": passwords[name]}})
		}
		f.Create(d.obj)
	}
	for _, d := range mine {
		f.WaitReason(d.obj, metav1.ConditionTrue, "Available")
	}
	if after := mariaState(t, accounts...); after != before {
		t.Errorf("adoption changed the server:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// sqlString is s as a MySQL string literal: SHOW GRANTS takes no placeholders.
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
