package managed

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/internal/metrics"
)

// ConditionRotationOverlap is False while a login's rotation has no overlap
// (InPlace): clients holding the old password fail until they read the new.
const ConditionRotationOverlap = "RotationOverlap"

// RotationPoll is how often a rotation waiting on a rollout or on the
// previous user's sessions checks again.
var RotationPoll = 2 * time.Second

// Login is what WithLogin needs from a login kind's connector.
type Login[S any] struct {
	// Kind is the API kind, for events and metrics.
	Kind string
	// Name is the login's user name on the server.
	Name string
	// Set puts the credentials the server must accept into the spec: the
	// one the connection Secret holds first, then, during a rotation, the
	// next or the previous one (port.Credential names its user).
	Set func(spec *S, creds []port.Credential)
	// Values are the connection Secret's values for credential c.
	Values func(c port.Credential) credentials.Values
	// Rotator is the engine's overlap support; nil: InPlace only.
	Rotator port.Rotator
}

// WithLogin makes b a login's External.
//
// Without spec.rotation: Check loads the password (from
// spec.passwordSecretRef, the connection Secret, or generated) and renders
// the connection Secret; the Secret is stored before every Apply, so that a
// generated password is never lost; an engine that cannot compare passwords
// (port.PasswordUnknown) has the password reset when its source changed;
// OnReady writes the Secret and records it in status.
//
// With spec.rotation (or a rotation store left from one): the credentials
// live in the store Secret and rotate through Staged (the next credential
// stored, then set on the server beside the current one), RollingOut (the
// connection Secret switched in one write, workloads restarting), Draining
// (the previous credential works until the grace period ends) and back to
// Stable (the previous one retired, first in the store, then on the server).
func WithLogin[S any](b *Bound[S], d Secrets, u LoginObject, l Login[S]) {
	lg := &login[S]{Login: l, d: d, u: u, spec: &b.Spec, validate: b.Client.Validate}
	check := b.Check
	b.Check = func(ctx context.Context) error {
		if check != nil {
			if err := check(ctx); err != nil {
				return err
			}
		}
		return lg.load(ctx)
	}
	b.BeforeApply = func(ctx context.Context) error { return lg.conn.Write(ctx, d.Client) }
	b.Adjust = func(obs *Observation) {
		if obs.Password == port.PasswordUnknown && lg.conn.Version != u.Login().PasswordVersion {
			obs.Drift = append(obs.Drift, "password changed in its Secret")
		}
		// A rotation's own step is not drift.
		obs.Planned = lg.stepped || (lg.rot != nil && lg.rot.st.phase() == common.RotationStaged)
	}
	b.OnReady = lg.publish
	b.Next = func() time.Duration { return lg.wake }
}

// login is one reconcile of a login.
type login[S any] struct {
	Login[S]
	d    Secrets
	u    LoginObject
	spec *S
	conn Connection
	// rot is the rotation, nil when the login does not rotate.
	rot *rotation
	// wake is when the login needs a reconcile sooner than the poll; 0: no need.
	wake time.Duration
	// validate is the engine's own validation of a spec.
	validate func(ctx context.Context, spec S) error
	// stepped: this reconcile staged or retired a credential.
	stepped bool
	// waiting lists the workloads a rollout waits on.
	waiting []string
}

// rotation is a rotating login's state through one reconcile.
type rotation struct {
	store   rotationStore
	st      rotationState
	policy  rotationPolicy
	overlap port.Overlap
	now     time.Time
}

func (l *login[S]) soon(d time.Duration) {
	if d > 0 && (l.wake == 0 || d < l.wake) {
		l.wake = d
	}
}

// load reads the credentials, advances a rotation and renders the Secret.
func (l *login[S]) load(ctx context.Context) error {
	rot := &rotation{store: rotationStore{d: l.d, owner: l.u}, policy: policyOf(l.u.RotationSpec()), now: time.Now()}
	st, found, err := rot.store.load(ctx)
	if err != nil {
		return err
	}
	if !found && l.u.RotationSpec() == nil {
		p, err := LoadPassword(ctx, l.d.Client, l.d.Reader, l.u, l.u.ConnectionSecretName(), l.u.PasswordRef())
		if err != nil {
			return err
		}
		l.conn.Password = p
		l.Set(l.spec, []port.Credential{{Username: l.Name, Password: p.Value}})
		return l.render(port.Credential{Username: l.Name, Password: p.Value})
	}
	if rot.overlap, err = resolveOverlap(rot.policy.strategy, l.Rotator); err != nil {
		return err
	}
	if err := l.checkOverlap(ctx, rot.overlap); err != nil {
		return err
	}
	if !rot.policy.enabled && st.Grace > 0 {
		rot.policy.grace = st.Grace // finish with the grace period it started with
	}
	existing, err := OwnedSecret(ctx, l.d.Client, l.u, l.u.ConnectionSecretName())
	if err != nil {
		return err
	}
	l.conn.Existing = existing
	l.rot, rot.st = rot, st
	manage := l.u.ManagementPolicy() == common.ManagementManage
	switch {
	case !found:
		if r := l.u.Login().Rotation; r != nil && r.Phase != common.RotationStable {
			l.event(corev1.EventTypeWarning, "RotationStoreLost", fmt.Sprintf("the rotation store Secret %q was deleted during %s: "+
				"the previous credential is retired now and rotations start again from the current one", rot.store.name(), r.Phase))
		}
		if err := l.start(ctx, existing); err != nil {
			return err
		}
	case manage:
		if err := l.render(rot.st.Creds[rot.st.Active]); err != nil {
			return err
		}
		if err := l.advance(ctx); err != nil {
			return err
		}
	}
	l.Set(l.spec, rot.st.accepted())
	l.conn.Password = Password{Value: rot.st.Creds[rot.st.Active].Password, Version: rot.st.version(rot.store.secret), Existing: existing}
	return l.render(rot.st.Creds[rot.st.Active])
}

// checkOverlap has the engine validate the shape of a rotation before one
// starts: under AlternatingUsers, that the second user can exist (its name
// fits, say), so that no rotation is ever staged that cannot finish.
func (l *login[S]) checkOverlap(ctx context.Context, overlap port.Overlap) error {
	if overlap != port.OverlapAlternatingUsers || l.validate == nil {
		return nil
	}
	probe := *l.spec
	const pw = "probe-password-0123456789"
	l.Set(&probe, []port.Credential{{Username: l.Name, Password: pw}, {Username: port.AlternateName(l.Name), Password: pw}})
	if err := l.validate(ctx, probe); err != nil {
		return Invalid(fmt.Sprintf("spec.rotation: AlternatingUsers needs a second user %q: %s", port.AlternateName(l.Name), classify(err).Message))
	}
	return nil
}

func (l *login[S]) render(c port.Credential) error {
	return l.conn.Render(l.u, l.d.Scheme, l.u.ConnectionSecretName(), l.u.ConnectionSecretSpec(), l.Values(c))
}

// start creates the store of a login that begins to rotate, holding the
// credential it has now: the connection Secret's, the referenced Secret's,
// or a new one.
func (l *login[S]) start(ctx context.Context, existing *corev1.Secret) error {
	rot := l.rot
	c := port.Credential{Username: l.Name}
	switch {
	case l.u.PasswordRef() != nil:
		pw, err := l.refPassword(ctx)
		if err != nil {
			return err
		}
		c.Password = pw
	case existing != nil && len(existing.Data["password"]) > 0:
		c.Password = string(existing.Data["password"])
		if user := string(existing.Data["username"]); user == port.AlternateName(l.Name) {
			c.Username = user
		}
	default:
		pw, err := credentials.GeneratePassword()
		if err != nil {
			return err
		}
		c.Password = pw
	}
	rot.st = rotationState{Active: slotA, Creds: map[string]port.Credential{slotA: c}, Strategy: rot.overlap,
		PublishedAt: rot.now, RolledOutAt: rot.now, Trigger: l.u.GetAnnotations()[common.RotateAnnotation], Generation: 1}
	return rot.store.save(ctx, rot.st)
}

// refPassword reads spec.passwordSecretRef's password.
func (l *login[S]) refPassword(ctx context.Context) (string, error) {
	p, err := referencedPassword(ctx, l.d.Reader, l.u.GetNamespace(), l.u.PasswordRef())
	return p.Value, err
}

// advance takes the rotation one step when its time has come: a rollout
// completed, a previous credential retired, or a new rotation staged.
func (l *login[S]) advance(ctx context.Context) error {
	rot := l.rot
	st := &rot.st
	if st.phase() == common.RotationRollingOut {
		waiting, err := l.d.rolloutWaiting(ctx, l.u, SecretHash(l.conn.Secret))
		if err != nil {
			return err
		}
		if l.waiting = waiting; len(waiting) > 0 {
			l.soon(RotationPoll)
			return nil
		}
		st.RolledOutAt = rot.now
		if err := rot.store.save(ctx, *st); err != nil {
			return err
		}
	}
	if st.phase() == common.RotationDraining {
		retire, err := l.retireNow(ctx)
		if err != nil || !retire {
			return err
		}
		return l.retire(ctx)
	}
	if st.phase() != common.RotationStable || l.u.RotationSpec() == nil {
		return nil
	}
	why, next, err := l.due(ctx)
	if err != nil || why == "" {
		l.soon(next)
		return err
	}
	return l.stage(ctx, why)
}

// retireNow decides whether the previous credential goes now.
func (l *login[S]) retireNow(ctx context.Context) (bool, error) {
	rot := l.rot
	st := &rot.st
	retireAt := st.RolledOutAt.Add(rot.policy.grace)
	prev := st.Creds[st.previous()]
	if rot.policy.drain && l.Rotator != nil && prev.Username != st.Creds[st.Active].Username {
		n, err := l.Rotator.Sessions(ctx, prev.Username)
		if err != nil {
			return false, fmt.Errorf("count the sessions of %q: %w", prev.Username, err)
		}
		if n == 0 {
			return true, nil
		}
		if rot.now.After(retireAt.Add(rot.policy.drainMax)) {
			l.event(corev1.EventTypeWarning, "DrainTimedOut", fmt.Sprintf("retiring %q with %d open sessions: drain.maxWait passed", prev.Username, n))
			return true, nil
		}
		l.soon(RotationPoll)
		return false, nil
	}
	if !rot.now.Before(retireAt) {
		return true, nil
	}
	l.soon(retireAt.Sub(rot.now))
	return false, nil
}

// retire drops the previous credential from the store; the Apply that
// follows removes it from the server.
func (l *login[S]) retire(ctx context.Context) error {
	rot := l.rot
	st := &rot.st
	prev := st.Creds[st.previous()]
	delete(st.Creds, st.previous())
	st.Generation++
	st.Rotations++
	l.stepped = true
	if err := rot.store.save(ctx, *st); err != nil {
		return err
	}
	if !st.StartedAt.IsZero() {
		metrics.RotationCompleted(l.Kind, string(st.Strategy), rot.now.Sub(st.StartedAt))
	}
	l.event(corev1.EventTypeNormal, "CredentialRetired", fmt.Sprintf("retired the previous credential of %q", prev.Username))
	return nil
}

// due says why a rotation starts now ("" when it does not) and otherwise
// when the schedule next calls for one.
func (l *login[S]) due(ctx context.Context) (string, time.Duration, error) {
	rot := l.rot
	st := &rot.st
	if v := l.u.GetAnnotations()[common.RotateAnnotation]; v != st.Trigger {
		return "requested by the " + common.RotateAnnotation + " annotation", 0, nil
	}
	if l.u.PasswordRef() != nil {
		pw, err := l.refPassword(ctx)
		if err != nil {
			return "", 0, err
		}
		if pw != st.Creds[st.Active].Password {
			return "the password Secret changed", 0, nil
		}
	}
	if every := rot.policy.every; every > 0 {
		at := st.PublishedAt.Add(every)
		if !rot.now.Before(at) {
			return "scheduled every " + every.String(), 0, nil
		}
		return "", at.Sub(rot.now), nil
	}
	return "", 0, nil
}

// stage stores the next credential; the Apply that follows sets it on the
// server beside the current one.
func (l *login[S]) stage(ctx context.Context, why string) error {
	rot := l.rot
	st := &rot.st
	next := otherSlot(st.Active)
	var pw string
	var err error
	if l.u.PasswordRef() != nil {
		pw, err = l.refPassword(ctx)
	} else {
		pw, err = credentials.GeneratePassword()
	}
	if err != nil {
		return err
	}
	st.Creds[next] = port.Credential{Username: stagedUsername(rot.overlap, l.Name, st.Creds[st.Active]), Password: pw}
	st.Staged, st.Strategy, st.StartedAt, st.Grace = next, rot.overlap, rot.now, rot.policy.grace
	l.stepped = true
	st.Trigger = l.u.GetAnnotations()[common.RotateAnnotation]
	st.Generation++
	if err := rot.store.save(ctx, *st); err != nil {
		return err
	}
	l.event(corev1.EventTypeNormal, "RotationStarted", fmt.Sprintf("rotating (%s) with %s: the next credential is for %q", why, st.Strategy, st.Creds[next].Username))
	return nil
}

// publish runs once the server accepts every credential of the store: a
// staged credential becomes the active one, the connection Secret is
// written in one write, the workloads restart, and status reports it.
func (l *login[S]) publish(ctx context.Context) error {
	if rot := l.rot; rot != nil && rot.st.Staged != "" && l.u.ManagementPolicy() == common.ManagementManage {
		st := &rot.st
		prev := st.Active
		st.Active, st.Staged = st.Staged, ""
		st.PublishedAt, st.RolledOutAt = rot.now, time.Time{}
		if st.Strategy == port.OverlapInPlace {
			delete(st.Creds, prev)
			st.Rotations++
		}
		ro := l.u.ConnectionSecretSpec().Rollout
		if ro == nil && st.previous() != "" {
			st.RolledOutAt = rot.now // nothing to wait for
		}
		if err := rot.store.save(ctx, *st); err != nil {
			return err
		}
		l.conn.Value = st.Creds[st.Active].Password
		l.conn.Version = st.version(rot.store.secret)
		if err := l.render(st.Creds[st.Active]); err != nil {
			return err
		}
		l.event(corev1.EventTypeNormal, "CredentialPublished", fmt.Sprintf("the connection Secret now holds the credential of %q", st.Creds[st.Active].Username))
		if st.Strategy == port.OverlapInPlace && !st.StartedAt.IsZero() {
			metrics.RotationCompleted(l.Kind, string(st.Strategy), rot.now.Sub(st.StartedAt))
		}
		l.soon(RotationPoll)
	}
	if err := l.conn.Write(ctx, l.d.Client); err != nil {
		return err
	}
	if err := l.rollout(ctx); err != nil {
		return err
	}
	ls := l.u.Login()
	ls.Binding = &common.Binding{Name: l.conn.Secret.Name}
	ls.PasswordVersion = l.conn.Version
	ls.Rotation = nil
	conds := &l.u.ManagedStatus().Conditions
	if rot := l.rot; rot != nil {
		ls.Rotation = rot.policy.status(&rot.st, l.waiting)
		if rot.st.phase() != common.RotationStable {
			l.soon(RotationPoll)
		}
		if rot.overlap == port.OverlapInPlace {
			meta.SetStatusCondition(conds, metav1.Condition{Type: ConditionRotationOverlap, Status: metav1.ConditionFalse,
				Reason: "InPlace", ObservedGeneration: l.u.GetGeneration(),
				Message: "rotations change the password in place: clients holding the old one fail to log in until they read the new one"})
			return nil
		}
	}
	meta.RemoveStatusCondition(conds, ConditionRotationOverlap)
	return nil
}

// rollout restarts connectionSecret.rollout's workloads when the Secret's
// data changed since they were last restarted for it. The first time a
// rollout is seen, the current data is recorded without a restart.
func (l *login[S]) rollout(ctx context.Context) error {
	ro := l.u.ConnectionSecretSpec().Rollout
	ls := l.u.Login()
	if ro == nil {
		ls.Rollout = nil
		return nil
	}
	hash := SecretHash(l.conn.Secret)
	// A rotation waiting on its rollout restarts whatever lacks the new
	// data, even a target (or a rollout) added since it was published.
	rolling := l.rot != nil && l.rot.st.phase() == common.RotationRollingOut
	if !rolling && (ls.Rollout == nil || ls.Rollout.DataHash == "") {
		ls.Rollout = &common.RolloutStatus{DataHash: hash}
		return nil
	}
	if ls.Rollout == nil {
		ls.Rollout = &common.RolloutStatus{}
	}
	if !rolling && ls.Rollout.DataHash == hash && len(ls.Rollout.Pending) == 0 {
		return nil
	}
	now := time.Now()
	res, err := l.d.restart(ctx, l.u, hash, now)
	if err != nil {
		return err
	}
	if len(res.restarted) > 0 {
		metrics.WorkloadsRestarted(l.Kind, len(res.restarted))
		l.event(corev1.EventTypeNormal, "WorkloadsRestarted", fmt.Sprintf("restarted %v for the new data of Secret %q", res.restarted, l.conn.Secret.Name))
		ls.Rollout.RestartedAt = &metav1.Time{Time: now}
	}
	if len(res.missing) > 0 && !slices.Equal(res.missing, ls.Rollout.Missing) {
		l.event(corev1.EventTypeWarning, "RolloutTargetMissing", fmt.Sprintf("rollout targets %v do not exist; nothing restarts there", res.missing))
	}
	ls.Rollout.Pending, ls.Rollout.Missing = res.pending, res.missing
	if len(res.pending) == 0 {
		ls.Rollout.DataHash = hash
	} else {
		l.soon(res.wait)
	}
	return nil
}

func (l *login[S]) event(eventType, reason, note string) {
	if l.d.Recorder != nil {
		l.d.Recorder.Eventf(l.u, nil, eventType, reason, "Rotate", "%s", note)
	}
}
