package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/cli/command"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// backendName is a name unique to the fixture, usable on the servers.
func backendName(f *kubetest.Fixture, base string) string {
	return base + "_" + strings.ReplaceAll(f.NS[len(f.NS)-5:], "-", "_")
}

// psql runs statements on the test PostgreSQL as its admin, in db.
func psql(t *testing.T, db string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx) //nolint:errcheck
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestStatus(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "cli-status-")
	pgServer(f, "pg")
	dbName, taken := backendName(f, "orders"), backendName(f, "taken")
	psql(t, "postgres", "CREATE DATABASE "+taken)
	ref := sqlv1.ServerReference{Name: "pg"}
	db := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "orders"}, Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: dbName}}
	user := &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: sqlv1.DatabaseUserSpec{ServerRef: ref,
		Name: backendName(f, "app"), Grants: []sqlv1.Grant{{Database: dbName, Access: sqlv1.AccessReadOnly}},
		ConnectionSecret: common.ConnectionSecret{Name: "app-db"}}}
	exists := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "taken"}, Spec: sqlv1.DatabaseSpec{ServerRef: ref, Name: taken}}
	lost := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "lost"}, Spec: sqlv1.DatabaseSpec{ServerRef: sqlv1.ServerReference{Name: "nowhere"}}}
	f.Create(db)
	f.WaitReady(db)
	f.Create(user)
	f.Create(exists)
	f.Create(lost)
	f.WaitReady(user)
	f.WaitReason(exists, metav1.ConditionFalse, "AlreadyExists")
	f.WaitReason(lost, metav1.ConditionFalse, "ServerNotFound")

	out, _, err := plugin(t, "status", "-n", f.NS)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "SERVER / OBJECT READY REASON AGE SECRET" {
		t.Errorf("header %q", got)
	}
	// Each line: object, Ready, reason, and the Secret (the last column).
	want := [][]string{
		// The server nobody created comes first: nothing on it is Ready.
		{f.NS + "/DatabaseServer/nowhere", "-", "NotFound", "-"},
		{"└─ " + f.NS + "/Database/lost", "False", "ServerNotFound", "-"},
		{f.NS + "/DatabaseServer/pg", "True", "Connected", "-"},
		// Not Ready first, then by kind and name.
		{"├─ " + f.NS + "/Database/taken", "False", "AlreadyExists", "-"},
		{"├─ " + f.NS + "/Database/orders", "True", "Available", "-"},
		{"└─ " + f.NS + "/DatabaseUser/app", "True", "Available", "app-db"},
	}
	if len(lines) != len(want)+1 {
		t.Fatalf("got %d lines, want %d", len(lines), len(want)+1)
	}
	for i, w := range want {
		line := lines[i+1]
		fields := strings.Fields(strings.NewReplacer("└─ ", "", "├─ ", "").Replace(line))
		got := []string{fields[0], fields[1], fields[2], fields[len(fields)-1]}
		w[0] = strings.NewReplacer("└─ ", "", "├─ ", "").Replace(w[0])
		if strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d is %q, want %q", i+1, line, w)
		}
	}
	if !strings.HasPrefix(lines[2], "└─ ") || !strings.HasPrefix(lines[4], "├─ ") || !strings.HasPrefix(lines[6], "└─ ") {
		t.Error("the tree is not drawn")
	}

	// -A shows other namespaces too; a namespace without objects shows nothing.
	all, _, err := plugin(t, "status", "-A")
	if err != nil || !strings.Contains(all, f.NS+"/DatabaseServer/pg") {
		t.Errorf("status -A: %v\n%s", err, all)
	}
	empty := kubetest.NewFixture(t, k8s, "cli-empty-")
	none, errOut, err := plugin(t, "status", "-n", empty.NS)
	if err != nil || none != "" || !strings.Contains(errOut, "no servers or objects") {
		t.Errorf("status in an empty namespace: %v %q %q", err, none, errOut)
	}
}

func TestDiff(t *testing.T) {
	f := kubetest.NewFixture(t, k8s, "cli-diff-")
	pgServer(f, "pg")
	role := backendName(f, "observed")
	psql(t, "postgres", "CREATE ROLE "+role+" LOGIN CONNECTION LIMIT 3")
	observed := &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: "observed"}, Spec: sqlv1.DatabaseUserSpec{
		ServerRef: sqlv1.ServerReference{Name: "pg"}, Name: role, ManagementPolicy: common.ManagementObserve, AdoptExisting: true, ConnectionLimit: 5}}
	f.Create(observed)
	f.WaitReason(observed, metav1.ConditionFalse, "Drifted")

	out, _, err := plugin(t, "diff", "dbuser/observed", "-n", f.NS)
	t.Log("\n" + out)
	if !errors.Is(err, command.ErrChanges) {
		t.Errorf("diff of a drifted object: error %v, want ErrChanges (exit status 1)", err)
	}
	for _, want := range []string{"managementPolicy: Observe", "Ready=False Drifted", "the operator would change on the server:",
		"~ connection limit is 3, want 5", "set spec.managementPolicy: Manage"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff output lacks %q", want)
		}
	}

	// In sync: no differences, exit status 0; --kind works as KIND/NAME.
	db := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: "clean"}, Spec: sqlv1.DatabaseSpec{
		ServerRef: sqlv1.ServerReference{Name: "pg"}, Name: backendName(f, "clean")}}
	f.Create(db)
	f.WaitReady(db)
	out, _, err = plugin(t, "diff", "clean", "--kind", "Database", "-n", f.NS)
	if err != nil || !strings.Contains(out, "no differences at the last observation") {
		t.Errorf("diff of an object in sync: %v\n%s", err, out)
	}
	// An object that does not exist, and a kind that is not ours.
	if _, _, err := plugin(t, "diff", "database/nothing", "-n", f.NS); err == nil || errors.Is(err, command.ErrChanges) {
		t.Errorf("diff of a missing object: %v", err)
	}
	if _, _, err := plugin(t, "diff", "pods/x", "-n", f.NS); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("diff of another kind: %v", err)
	}
}
