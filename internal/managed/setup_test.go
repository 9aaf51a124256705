package managed

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
)

// TestServerChanged: dependents wake for a new generation or a change of
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
		if got := serverChanged(base, tc.new); got != tc.want {
			t.Errorf("%s: serverChanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}
