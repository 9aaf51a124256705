package managed

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
)

func claimant(uid string, created time.Time, holds bool) *sqlv1.DatabaseUser {
	u := &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), CreationTimestamp: metav1.NewTime(created)}}
	u.Status.ManagedStatus = common.ManagedStatus{Managed: holds}
	return u
}

func TestBeats(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		reason string
		a, b   Object
		want   bool
	}{
		{"the holder wins even when younger", claimant("b", t0.Add(time.Hour), true), claimant("a", t0, false), true},
		{"the older wins between non-holders", claimant("b", t0, false), claimant("a", t0.Add(time.Second), false), true},
		{"the younger loses", claimant("a", t0.Add(time.Second), false), claimant("b", t0, false), false},
		{"same second: the lower UID wins", claimant("a", t0, false), claimant("b", t0, false), true},
		{"same second: the higher UID loses", claimant("b", t0, false), claimant("a", t0, false), false},
	}
	for _, c := range cases {
		if got := beats(c.a, c.b); got != c.want {
			t.Errorf("%s: beats = %v, want %v", c.reason, got, c.want)
		}
	}
}
