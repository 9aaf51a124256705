package shard

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestSelectorAndOwns(t *testing.T) {
	objs := map[string]labels.Set{
		"unlabelled": nil,
		"a":          {Label: "a"},
		"b":          {Label: "b"},
		"empty":      {Label: ""},
	}
	for _, shard := range []string{"", "a", "b"} {
		for name, l := range objs {
			o := &corev1.ConfigMap{}
			o.SetLabels(l)
			owns := Owns(shard, o)
			selected := Selector(shard).Matches(l)
			// An empty label value is nobody's object.
			want := map[string]string{"unlabelled": "", "a": "a", "b": "b", "empty": "-"}[name] == shard
			if selected != want {
				t.Errorf("shard %q, object %s: selected %v, want %v", shard, name, selected, want)
			}
			if owns != want {
				t.Errorf("shard %q, object %s: owns %v, want %v", shard, name, owns, want)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for name, ok := range map[string]bool{"": true, "a": true, "payments-1": true, "A": false, "a_b": false, "-a": false,
		"x123456789012345678901234567890123456789012345678901234567890123": false} {
		if err := Validate(name); (err == nil) != ok {
			t.Errorf("Validate(%q) = %v, want ok %v", name, err, ok)
		}
	}
	if got := LeaseName("backend-operator.backend-operator.dev", "a"); got != "shard-a.backend-operator.backend-operator.dev" {
		t.Errorf("LeaseName = %q", got)
	}
}
