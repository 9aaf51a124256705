package status

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(kind, ns, name string, gen int64, ready, reason string, observed int64, spec map[string]any) unstructured.Unstructured {
	group := "sql.backend-operator.dev"
	if strings.Contains(kind, "Cache") {
		group = "cache.backend-operator.dev"
	}
	u := unstructured.Unstructured{Object: map[string]any{"apiVersion": group + "/v1alpha1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns, "generation": gen}}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	if ready != "" {
		st := map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": ready, "reason": reason, "message": "m"}}}
		if observed > 0 {
			st["observedGeneration"] = observed
		}
		u.Object["status"] = st
	}
	return u
}

func ref(name string, kind ...string) map[string]any {
	r := map[string]any{"name": name}
	if len(kind) > 0 {
		r["kind"] = kind[0]
	}
	return map[string]any{"serverRef": r}
}

func TestBuild(t *testing.T) {
	servers := []unstructured.Unstructured{
		obj("DatabaseServer", "a", "ok", 1, "True", "Connected", 1, nil),
		obj("ClusterDatabaseServer", "", "shared", 1, "True", "Connected", 1, nil),
		obj("CacheServer", "a", "down", 1, "False", "BackendUnavailable", 0, nil),
	}
	objects := []unstructured.Unstructured{
		obj("Database", "a", "orders", 1, "True", "Available", 1, ref("ok")),
		obj("DatabaseUser", "a", "stale", 2, "True", "Available", 1, ref("ok")),
		obj("DatabaseUser", "a", "app", 1, "True", "Available", 1, ref("ok")),
		obj("Database", "b", "new", 1, "", "", 0, ref("shared", "ClusterDatabaseServer")),
		obj("SchemaMigration", "a", "m1", 1, "True", "Available", 1, map[string]any{"databaseRef": map[string]any{"name": "orders"}}),
		obj("Database", "a", "lost", 1, "False", "ServerNotFound", 0, ref("gone")),
	}
	var got []string
	for _, s := range Build(servers, objects) {
		line := s.Ref() + " ok=" + map[bool]string{true: "y", false: "n"}[s.OK()] + ":"
		for _, o := range s.Objects {
			line += " " + o.Kind + "/" + o.Name
		}
		got = append(got, line)
	}
	want := []string{
		// Servers with anything not Ready first; in each, not-Ready objects first.
		"a/CacheServer/down ok=n:",
		"ClusterDatabaseServer/shared ok=n: Database/new",
		"a/DatabaseServer/gone ok=n: Database/lost",
		"a/DatabaseServer/ok ok=n: DatabaseUser/stale Database/orders DatabaseUser/app SchemaMigration/m1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build (-want +got):\n%s", diff)
	}
}

func TestWrite(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tree := Tree{{Item: Item{Kind: "DatabaseServer", Namespace: "a", Name: "pg", Ready: "True", Reason: "Connected", Created: now.Add(-90 * time.Minute)},
		Objects: []Item{
			{Kind: "DatabaseUser", Namespace: "a", Name: "app", Ready: "True", Reason: "Available", Stale: true, Secret: "app-db", Created: now.Add(-3 * time.Hour)},
			{Kind: "Database", Namespace: "a", Name: "orders"},
		}}}
	var b strings.Builder
	if err := tree.Write(&b, now); err != nil {
		t.Fatal(err)
	}
	// tabwriter counts runes: the tree's box characters take one column.
	want := "" +
		"SERVER / OBJECT        READY         REASON     AGE  SECRET\n" +
		"a/DatabaseServer/pg    True          Connected  90m  -\n" +
		"├─ a/DatabaseUser/app  True (stale)  Available  3h   app-db\n" +
		"└─ a/Database/orders   -             -          -    -\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Write (-want +got):\n%s", diff)
	}
}
