package managed

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
)

// TestServerChanged (ReadyChanged on a server): dependents wake for a new generation or a change of
// Ready, not for a status refresh that changes neither.
func TestServerChanged(t *testing.T) {
	server := func(gen int64, status metav1.ConditionStatus, reason, message, version string) *sqlv1.DatabaseServer {
		s := &sqlv1.DatabaseServer{ObjectMeta: metav1.ObjectMeta{Generation: gen}}
		s.Status.Conditions = []metav1.Condition{{Type: ConditionReady, Status: status, Reason: reason, Message: message}}
		s.Status.Version = version
		return s
	}
	base := server(1, metav1.ConditionTrue, "Connected", "connected", "15.1")
	for _, tc := range []struct {
		name string
		new  *sqlv1.DatabaseServer
		want bool
	}{
		{"new generation", server(2, metav1.ConditionTrue, "Connected", "connected", "15.1"), true},
		{"not Ready any more", server(1, metav1.ConditionFalse, "Unreachable", "down", "15.1"), true},
		{"another reason", server(1, metav1.ConditionTrue, "Reconnected", "connected", "15.1"), true},
		{"a new message", server(1, metav1.ConditionTrue, "Connected", "connected again", "15.1"), false},
		{"a new version string", server(1, metav1.ConditionTrue, "Connected", "connected", "15.2"), false},
	} {
		if got := ReadyChanged(base, tc.new); got != tc.want {
			t.Errorf("%s: ReadyChanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDependencyChanged: a managed object's dependents wake when it becomes
// Ready (a database a grant names was created), not when its finalizer is
// added or a drift check rewrites the same condition.
func TestDependencyChanged(t *testing.T) {
	db := func(finalizers []string, status metav1.ConditionStatus, reason string) *sqlv1.Database {
		d := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Generation: 1, Finalizers: finalizers}}
		if reason != "" {
			d.Status.Conditions = []metav1.Condition{{Type: ConditionReady, Status: status, Reason: reason}}
		}
		return d
	}
	created := db(nil, "", "")
	if ReadyChanged(created, db([]string{Finalizer}, "", "")) {
		t.Error("a finalizer woke dependents")
	}
	if !ReadyChanged(db([]string{Finalizer}, "", ""), db([]string{Finalizer}, metav1.ConditionTrue, ReasonAvailable)) {
		t.Error("becoming Ready did not wake dependents")
	}
	ready := db([]string{Finalizer}, metav1.ConditionTrue, ReasonAvailable)
	if ReadyChanged(ready, ready.DeepCopy()) {
		t.Error("an unchanged Ready woke dependents")
	}
}
