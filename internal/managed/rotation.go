package managed

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/credentials"
)

// Rotation defaults.
const (
	DefaultGracePeriod  = 10 * time.Minute
	DefaultDrainMaxWait = 10 * time.Minute
)

// rotationStoreType is the type of the Secret that holds a login's
// credentials while they rotate.
const rotationStoreType corev1.SecretType = "backend-operator.dev/rotation"

// The two credential slots of a rotation.
const (
	slotA = "a"
	slotB = "b"
)

func otherSlot(s string) string {
	if s == slotA {
		return slotB
	}
	return slotA
}

// RotationStoreName is the name of the Secret holding the credentials of
// owner's rotation: the connection Secret's name plus "-rotation".
func RotationStoreName(connectionSecret string) string { return connectionSecret + "-rotation" }

// rotationState is a login's rotation as its store Secret records it. The
// store is written before the server hears of a new credential, and before
// a retired one is removed from the server, so a crash at any point resumes
// from it and never loses a password that works.
type rotationState struct {
	// Active is the slot of the credential the connection Secret holds.
	Active string
	// Staged is the slot of a new credential being set on the server, not
	// yet published; "" otherwise.
	Staged string
	// Creds are the credentials per slot; a slot without one is retired.
	Creds map[string]port.Credential
	// Strategy is the overlap of the rotation under way (or the last one).
	Strategy port.Overlap
	// PublishedAt is when Active was published; RolledOutAt when the
	// rollout that followed completed (zero until then).
	PublishedAt, RolledOutAt time.Time
	// StartedAt is when the rotation under way was triggered.
	StartedAt time.Time
	// Trigger is the last value of the rotate annotation acted on.
	Trigger string
	// Grace is the rotation's grace period as it was when it started, for
	// finishing it after spec.rotation is removed.
	Grace time.Duration
	// Generation counts changes to the set of credentials the server must
	// accept; Rotations counts completed rotations.
	Generation, Rotations int64
}

// previous is the slot of the credential the server still accepts besides
// the active one after a publication; "" when there is none.
func (s *rotationState) previous() string {
	o := otherSlot(s.Active)
	if _, ok := s.Creds[o]; ok && s.Staged == "" {
		return o
	}
	return ""
}

// phase names where the rotation stands; rolledOut says whether the
// workloads have restarted since the last publication.
func (s *rotationState) phase() common.RotationPhase {
	switch {
	case s.Staged != "":
		return common.RotationStaged
	case s.previous() == "":
		return common.RotationStable
	case s.RolledOutAt.IsZero():
		return common.RotationRollingOut
	}
	return common.RotationDraining
}

// accepted lists the credentials the server must accept: the active one
// first, then a staged or previous one. An in-place rotation never has two.
func (s *rotationState) accepted() []port.Credential {
	if s.Staged != "" && s.Strategy == port.OverlapInPlace {
		return []port.Credential{s.Creds[s.Staged]}
	}
	out := []port.Credential{s.Creds[s.Active]}
	if o := otherSlot(s.Active); o == s.Staged || o == s.previous() {
		out = append(out, s.Creds[o])
	}
	return out
}

// version identifies the set of accepted credentials, for engines that
// cannot compare passwords (status.passwordVersion).
func (s *rotationState) version(store *corev1.Secret) string {
	return fmt.Sprintf("rotation/%s/%d", store.UID, s.Generation)
}

const timeLayout = time.RFC3339Nano

func parseTime(b []byte) time.Time {
	t, _ := time.Parse(timeLayout, string(b))
	return t
}

func formatTime(t time.Time) []byte {
	if t.IsZero() {
		return nil
	}
	return []byte(t.UTC().Format(timeLayout))
}

// readState decodes a store Secret.
func readState(sec *corev1.Secret) rotationState {
	d := sec.Data
	st := rotationState{Active: cmp.Or(string(d["active"]), slotA), Staged: string(d["staged"]),
		Creds: map[string]port.Credential{}, Strategy: port.Overlap(d["strategy"]),
		PublishedAt: parseTime(d["published-at"]), RolledOutAt: parseTime(d["rolled-out-at"]),
		StartedAt: parseTime(d["started-at"]), Trigger: string(d["trigger"])}
	st.Grace, _ = time.ParseDuration(string(d["grace"]))
	st.Generation, _ = strconv.ParseInt(string(d["generation"]), 10, 64)
	st.Rotations, _ = strconv.ParseInt(string(d["rotations"]), 10, 64)
	for _, slot := range []string{slotA, slotB} {
		if pw := d["password-"+slot]; len(pw) > 0 {
			st.Creds[slot] = port.Credential{Username: string(d["username-"+slot]), Password: string(pw)}
		}
	}
	return st
}

// data encodes s as a store Secret's data.
func (s *rotationState) data() map[string][]byte {
	d := map[string][]byte{
		"active": []byte(s.Active), "staged": []byte(s.Staged), "strategy": []byte(s.Strategy),
		"published-at": formatTime(s.PublishedAt), "rolled-out-at": formatTime(s.RolledOutAt),
		"started-at": formatTime(s.StartedAt), "trigger": []byte(s.Trigger),
		"generation": []byte(strconv.FormatInt(s.Generation, 10)), "rotations": []byte(strconv.FormatInt(s.Rotations, 10)),
	}
	if s.Grace > 0 {
		d["grace"] = []byte(s.Grace.String())
	}
	for slot, c := range s.Creds {
		d["username-"+slot], d["password-"+slot] = []byte(c.Username), []byte(c.Password)
	}
	for k, v := range d {
		if len(v) == 0 {
			delete(d, k)
		}
	}
	return d
}

// rotationStore reads and writes one login's store Secret. Writes carry the
// resourceVersion read, so two writers (or a stale cache) conflict instead
// of one overwriting a password the other already gave the server.
type rotationStore struct {
	d      Secrets
	owner  LoginObject
	secret *corev1.Secret
}

func (r *rotationStore) name() string { return RotationStoreName(r.owner.ConnectionSecretName()) }

// load reads the store; found is false when there is none. A cached copy
// older than the store's own last write is read again from the API server.
func (r *rotationStore) load(ctx context.Context) (rotationState, bool, error) {
	key := client.ObjectKey{Namespace: r.owner.GetNamespace(), Name: r.name()}
	s := &corev1.Secret{}
	err := r.d.Client.Get(ctx, key, s)
	if err == nil && r.d.written != nil && !r.d.written.current(key, s.ResourceVersion) {
		err = r.d.Reader.Get(ctx, key, s)
	}
	switch {
	case apierrors.IsNotFound(err):
		return rotationState{}, false, nil
	case err != nil:
		return rotationState{}, false, fmt.Errorf("get rotation store: %w", err)
	case !metav1.IsControlledBy(s, r.owner) || s.Type != rotationStoreType:
		return rotationState{}, false, secretConflict(s.Name)
	}
	r.secret = s
	return readState(s), true, nil
}

// save writes st: it creates the store or updates the copy last read.
func (r *rotationStore) save(ctx context.Context, st rotationState) error {
	var err error
	if r.secret == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: r.name(), Namespace: r.owner.GetNamespace(),
				Labels: map[string]string{credentials.WatchLabel: credentials.WatchOwned, "app.kubernetes.io/managed-by": "backend-operator"}},
			Type: rotationStoreType, Data: st.data(),
		}
		if err = controllerutil.SetControllerReference(r.owner, s, r.d.Scheme); err != nil {
			return fmt.Errorf("owner reference: %w", err)
		}
		if err = r.d.Client.Create(ctx, s); apierrors.IsAlreadyExists(err) {
			return Wait(ReasonSecretConflict, fmt.Sprintf("Secret %q appeared while the rotation store was created; retrying", s.Name))
		}
		r.secret = s
	} else {
		upd := r.secret.DeepCopy()
		upd.Data = st.data()
		if err = r.d.Client.Update(ctx, upd); err == nil {
			r.secret = upd
		}
	}
	if err != nil {
		return fmt.Errorf("write rotation store: %w", err)
	}
	if r.d.written != nil {
		r.d.written.saw(client.ObjectKeyFromObject(r.secret), r.secret.ResourceVersion)
	}
	return nil
}

// rotationPolicy is spec.rotation with its defaults.
type rotationPolicy struct {
	// enabled: spec.rotation is set.
	enabled                bool
	every, grace, drainMax time.Duration
	drain                  bool
	strategy               common.RotationStrategy
}

func policyOf(r *common.Rotation) rotationPolicy {
	p := rotationPolicy{grace: DefaultGracePeriod, strategy: common.RotationAuto}
	if r == nil {
		return p
	}
	p.enabled = true
	if r.Every != nil {
		p.every = r.Every.Duration
	}
	if r.GracePeriod != nil {
		p.grace = r.GracePeriod.Duration
	}
	if r.Drain != nil {
		p.drain, p.drainMax = true, DefaultDrainMaxWait
		if r.Drain.MaxWait != nil {
			p.drainMax = r.Drain.MaxWait.Duration
		}
	}
	p.strategy = cmp.Or(r.Strategy, common.RotationAuto)
	return p
}

// resolveOverlap picks the overlap for strategy among what the engine has.
func resolveOverlap(strategy common.RotationStrategy, rot port.Rotator) (port.Overlap, error) {
	var have []port.Overlap
	if rot != nil {
		have = rot.Overlaps()
	}
	switch strategy {
	case common.RotationAuto, "":
		if len(have) > 0 {
			return have[0], nil
		}
		return port.OverlapInPlace, nil
	case common.RotationInPlace:
		return port.OverlapInPlace, nil
	}
	if slices.Contains(have, port.Overlap(strategy)) {
		return port.Overlap(strategy), nil
	}
	names := make([]string, 0, len(have)+1)
	for _, o := range have {
		names = append(names, string(o))
	}
	return "", Invalid(fmt.Sprintf("spec.rotation.strategy %s is not available on this engine; it has %s", strategy, strings.Join(append(names, "InPlace"), ", ")))
}

// stagedUsername is the user name of a new credential staged in slot next
// while active is in use: under AlternatingUsers the user not in use.
func stagedUsername(overlap port.Overlap, name string, active port.Credential) string {
	if overlap != port.OverlapAlternatingUsers {
		return name
	}
	if active.Username == name {
		return port.AlternateName(name)
	}
	return name
}

// rotationStatus is the status block st reports.
func (p rotationPolicy) status(st *rotationState, waiting []string) *common.RotationStatus {
	out := &common.RotationStatus{WaitingFor: waiting, Phase: st.phase(), Strategy: common.RotationStrategy(st.Strategy),
		ActiveUsername: st.Creds[st.Active].Username, Rotations: st.Rotations, LastTrigger: st.Trigger}
	if prev := st.previous(); prev != "" {
		out.PreviousUsername = st.Creds[prev].Username
	}
	if !st.PublishedAt.IsZero() {
		out.LastRotationTime = &metav1.Time{Time: st.PublishedAt}
		if p.every > 0 {
			out.NextRotationTime = &metav1.Time{Time: st.PublishedAt.Add(p.every)}
		}
	}
	if !st.RolledOutAt.IsZero() && st.previous() != "" {
		out.PreviousRetiresAt = &metav1.Time{Time: st.RolledOutAt.Add(p.grace)}
	}
	return out
}
