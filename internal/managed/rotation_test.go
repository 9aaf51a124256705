package managed

import (
	"context"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
)

func cred(u, p string) port.Credential { return port.Credential{Username: u, Password: p} }

// TestAccepted: what the server must accept in each phase and strategy.
func TestAccepted(t *testing.T) {
	a, b := cred("app", "pa"), cred("app_b", "pb")
	same := cred("app", "pb")
	for _, tc := range []struct {
		name  string
		st    rotationState
		want  []port.Credential
		phase common.RotationPhase
	}{
		{"stable", rotationState{Active: slotA, Creds: map[string]port.Credential{slotA: a}}, []port.Credential{a}, common.RotationStable},
		{"staged alternating", rotationState{Active: slotA, Staged: slotB, Strategy: port.OverlapAlternatingUsers,
			Creds: map[string]port.Credential{slotA: a, slotB: b}}, []port.Credential{a, b}, common.RotationStaged},
		{"staged in place", rotationState{Active: slotA, Staged: slotB, Strategy: port.OverlapInPlace,
			Creds: map[string]port.Credential{slotA: a, slotB: same}}, []port.Credential{same}, common.RotationStaged},
		{"rolling out", rotationState{Active: slotB, Strategy: port.OverlapDualPassword,
			Creds: map[string]port.Credential{slotA: a, slotB: same}}, []port.Credential{same, a}, common.RotationRollingOut},
		{"draining", rotationState{Active: slotB, RolledOutAt: time.Unix(1, 0), Strategy: port.OverlapAlternatingUsers,
			Creds: map[string]port.Credential{slotA: a, slotB: b}}, []port.Credential{b, a}, common.RotationDraining},
		{"stable on b", rotationState{Active: slotB, Creds: map[string]port.Credential{slotB: b}}, []port.Credential{b}, common.RotationStable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.accepted(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("accepted() = %v, want %v", got, tc.want)
			}
			if got := tc.st.phase(); got != tc.phase {
				t.Errorf("phase() = %s, want %s", got, tc.phase)
			}
		})
	}
}

// TestStateRoundTrip: the store Secret's data decodes to what was encoded.
func TestStateRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 30, 1, 2, 3, 4, time.UTC)
	st := rotationState{Active: slotB, Staged: "", Strategy: port.OverlapDualPassword,
		Creds:       map[string]port.Credential{slotA: cred("app", "pa"), slotB: cred("app", "pb")},
		PublishedAt: now, StartedAt: now.Add(-time.Second), Trigger: "2026-11-30", Grace: 90 * time.Second, Generation: 7, Rotations: 3}
	got := readState(&corev1.Secret{Data: st.data()})
	if !reflect.DeepEqual(got, st) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, st)
	}
}

type fakeRotator []port.Overlap

func (f fakeRotator) Overlaps() []port.Overlap                    { return f }
func (fakeRotator) Sessions(context.Context, string) (int, error) { return 0, nil }

func TestResolveOverlap(t *testing.T) {
	pg := fakeRotator{port.OverlapAlternatingUsers}
	for _, tc := range []struct {
		strategy common.RotationStrategy
		rot      port.Rotator
		want     port.Overlap
		invalid  bool
	}{
		{common.RotationAuto, pg, port.OverlapAlternatingUsers, false},
		{common.RotationAuto, nil, port.OverlapInPlace, false},
		{common.RotationInPlace, pg, port.OverlapInPlace, false},
		{common.RotationAlternatingUsers, pg, port.OverlapAlternatingUsers, false},
		{common.RotationDualPassword, pg, "", true},
	} {
		got, err := resolveOverlap(tc.strategy, tc.rot)
		if (err != nil) != tc.invalid || got != tc.want {
			t.Errorf("resolveOverlap(%s) = %q, %v; want %q, invalid %v", tc.strategy, got, err, tc.want, tc.invalid)
		}
	}
}

func TestStagedUsername(t *testing.T) {
	for _, tc := range []struct {
		overlap port.Overlap
		active  string
		want    string
	}{
		{port.OverlapAlternatingUsers, "app", "app_b"},
		{port.OverlapAlternatingUsers, "app_b", "app"},
		{port.OverlapDualPassword, "app", "app"},
		{port.OverlapInPlace, "app_b", "app"},
	} {
		if got := stagedUsername(tc.overlap, "app", cred(tc.active, "x")); got != tc.want {
			t.Errorf("stagedUsername(%s, %s) = %s, want %s", tc.overlap, tc.active, got, tc.want)
		}
	}
}

func TestDataHash(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	if DataHash(key, map[string][]byte{"password": []byte("x")}) == DataHash([]byte("another key"), map[string][]byte{"password": []byte("x")}) {
		t.Error("the hash does not depend on the key")
	}
	a := DataHash(key, map[string][]byte{"username": []byte("app"), "password": []byte("x")})
	if a != DataHash(key, map[string][]byte{"password": []byte("x"), "username": []byte("app")}) {
		t.Error("the hash depends on map order")
	}
	if a == DataHash(key, map[string][]byte{"username": []byte("app"), "password": []byte("y")}) {
		t.Error("the hash ignores a changed value")
	}
	if DataHash(key, map[string][]byte{"ab": []byte("c")}) == DataHash(key, map[string][]byte{"a": []byte("bc")}) {
		t.Error("key and value boundaries are ambiguous")
	}
	if len(annotationName(string(make([]byte, 200)))) > 63 {
		t.Error("a long Secret name makes an annotation name over 63 characters")
	}
}
