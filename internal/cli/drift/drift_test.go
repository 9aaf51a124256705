package drift

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func user(policy, reason string, drift []string, gen, observed int64) *unstructured.Unstructured {
	d := make([]any, 0, len(drift))
	for _, l := range drift {
		d = append(d, l)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "sql.backend-operator.dev/v1alpha1", "kind": "DatabaseUser",
		"metadata": map[string]any{"name": "app", "namespace": "team", "generation": gen},
		"spec":     map[string]any{"serverRef": map[string]any{"kind": "DatabaseServer", "name": "pg"}, "managementPolicy": policy, "name": "app_login"},
		"status": map[string]any{"observedGeneration": observed, "drift": d, "conditions": []any{
			map[string]any{"type": "Ready", "status": "False", "reason": reason, "message": "m"}}},
	}}
	if policy == "" {
		delete(u.Object["spec"].(map[string]any), "managementPolicy")
	}
	return u
}

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		obj     *unstructured.Unstructured
		changes bool
		want    []string
		not     []string
	}{
		{name: "drift under Observe", obj: user("Observe", "Drifted", []string{"connection limit is 3, want 5"}, 1, 0), changes: true,
			want: []string{`team/DatabaseUser/app: "app_login" on DatabaseServer/pg`, "the operator would change", "~ connection limit is 3, want 5", "set spec.managementPolicy: Manage"},
			not:  []string{"note:"}},
		{name: "missing under Observe", obj: user("Observe", "NotFound", nil, 1, 0), changes: true,
			want: []string{`+ create DatabaseUser "app_login"`}},
		{name: "not adopted", obj: user("", "AlreadyExists", nil, 1, 0), changes: true,
			want: []string{"managementPolicy: Manage", "spec.adoptExisting is true"}},
		{name: "spec changed since the last sync", obj: user("Manage", "BackendUnavailable", nil, 3, 2),
			want: []string{"note: the spec changed (generation 3) since it was last in sync (generation 2)", "no differences at the last observation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			changes, err := FromObject(tc.obj).Write(&b)
			if err != nil || changes != tc.changes {
				t.Errorf("changes %t, %v; want %t", changes, err, tc.changes)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("output has %q:\n%s", n, b.String())
				}
			}
		})
	}
}
