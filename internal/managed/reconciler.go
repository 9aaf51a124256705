package managed

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/metrics"
)

// Finalizer holds a managed object until its backend object is handled.
const Finalizer = "backend-operator.dev/finalizer"

// ClaimIndex is the field index on ClaimKey that conflict detection lists by.
const ClaimIndex = ".status.claimKey"

// maxDriftLines bounds the drift listed in status.
const maxDriftLines = 20

// Options tune the loop.
type Options struct {
	// PollInterval is how often an object is re-observed for drift, plus up to
	// 20% jitter (default 40s). Steady-state checks may read a server snapshot
	// up to snapshot.DefaultTTL old, so drift is seen within a minute.
	PollInterval time.Duration
	// WaitInterval is how often an object waiting on something else is retried.
	WaitInterval time.Duration
	// Timeout bounds one reconcile, backend calls included.
	Timeout time.Duration
}

func (o *Options) defaults() {
	if o.PollInterval == 0 {
		// 48 s with jitter, plus a 5 s snapshot: drift is seen within a minute.
		o.PollInterval = 40 * time.Second
	}
	if o.WaitInterval == 0 {
		o.WaitInterval = 5 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
}

// Reconciler runs the managed loop for kind T; L is its list type.
type Reconciler[T Object, L client.ObjectList] struct {
	Client    client.Client
	Recorder  events.EventRecorder
	Connector Connector[T]
	// Kind names the kind in logs and metrics.
	Kind    string
	NewObj  func() T
	NewList func() L
	Items   func(L) []T
	Options Options
}

// Reconcile drives one object toward its spec.
func (r *Reconciler[T, L]) Reconcile(ctx context.Context, req reconcile.Request) (result reconcile.Result, err error) {
	r.Options.defaults()
	ctx, cancel := context.WithTimeout(ctx, r.Options.Timeout)
	defer cancel()

	obj := r.NewObj()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	before := obj.DeepCopyObject().(T)
	st := obj.ManagedStatus()
	// CEL keeps a set spec.name from changing; this catches setting one that
	// differs from the metadata.name default after the object was claimed.
	renamed := st.BackendName != "" && st.BackendName != obj.BackendName() && holds(obj)
	if !renamed {
		st.BackendName = obj.BackendName()
	}

	// One status patch at the end, diffed against what the server holds.
	defer func() {
		if perr := r.patchStatus(ctx, before, obj); perr != nil && err == nil {
			err = perr
		}
	}()

	if renamed {
		return r.report(ctx, obj, Invalid(fmt.Sprintf("spec.name cannot change the backend name from %q to %q; remove spec.name or set it back", st.BackendName, obj.BackendName())))
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return r.finalize(ctx, obj)
	}
	return r.reconcile(ctx, obj)
}

func (r *Reconciler[T, L]) reconcile(ctx context.Context, obj T) (reconcile.Result, error) {
	st := obj.ManagedStatus()
	if other, err := r.conflicting(ctx, obj); err != nil {
		return reconcile.Result{}, err
	} else if other != "" {
		return r.report(ctx, obj, Wait(ReasonConflict, fmt.Sprintf("%s %q is already claimed by %s; this object changes nothing", r.Kind, obj.BackendName(), other)))
	}

	ext, err := r.Connector.Connect(ctx, obj)
	if err != nil {
		return r.report(ctx, obj, err)
	}
	obs, err := r.observe(ctx, ext)
	if err != nil {
		return r.report(ctx, obj, err)
	}
	owned := holds(obj)
	if obs.Exists && !owned && !obj.AdoptExisting() {
		return r.report(ctx, obj, Wait(ReasonAlreadyExists, fmt.Sprintf(
			"%s %q already exists on the server and was not created by this object; set spec.adoptExisting: true to manage it", r.Kind, obj.BackendName())))
	}
	st.Drift = truncate(obs.Drift)
	if len(obs.Drift) > 0 {
		metrics.DriftDetected(r.Kind)
	}

	if obj.ManagementPolicy() == common.ManagementObserve {
		switch {
		case !obs.Exists:
			return r.report(ctx, obj, Wait(ReasonNotFound, fmt.Sprintf("%s %q does not exist; managementPolicy Observe does not create it", r.Kind, obj.BackendName())))
		case len(obs.Drift) > 0:
			return r.report(ctx, obj, Wait(ReasonDrifted, fmt.Sprintf("%s %q differs from the spec (see status.drift); managementPolicy Observe leaves it", r.Kind, obj.BackendName())))
		}
		return r.ready(ctx, obj, ext, "observed, matches the spec")
	}

	// The finalizer goes on before the first backend write. It also records
	// the intent to create: a crash after the create leaves an object this
	// one recognises as its own (see holds), never a duplicate or an orphan.
	if err := r.ensureFinalizer(ctx, obj); err != nil {
		return reconcile.Result{}, err
	}
	switch {
	case !obs.Exists:
		if err := r.apply(ctx, ext); err != nil {
			return r.report(ctx, obj, err)
		}
		r.event(obj, corev1.EventTypeNormal, "Created", "Create", fmt.Sprintf("created %s %q", r.Kind, obj.BackendName()))
	case len(obs.Drift) > 0:
		if err := r.apply(ctx, ext); err != nil {
			return r.report(ctx, obj, err)
		}
		verb := "updated"
		if owned {
			r.event(obj, corev1.EventTypeNormal, "Updated", "Update", fmt.Sprintf("%s %s %q: %s", verb, r.Kind, obj.BackendName(), summary(obs.Drift)))
		}
	}
	if !owned && obs.Exists {
		r.event(obj, corev1.EventTypeNormal, "Adopted", "Adopt", fmt.Sprintf("adopted existing %s %q", r.Kind, obj.BackendName()))
	}
	st.Managed, st.Drift = true, nil
	return r.ready(ctx, obj, ext, "")
}

// ready publishes, marks the object Ready and schedules the next drift check.
func (r *Reconciler[T, L]) ready(ctx context.Context, obj T, ext External, message string) (reconcile.Result, error) {
	if err := ext.Publish(ctx); err != nil {
		return r.report(ctx, obj, err)
	}
	if message == "" {
		message = fmt.Sprintf("%s %q matches the spec", r.Kind, obj.BackendName())
	}
	setReady(obj, metav1.ConditionTrue, ReasonAvailable, message)
	obj.ManagedStatus().ObservedGeneration = obj.GetGeneration()
	return reconcile.Result{RequeueAfter: wait.Jitter(r.Options.PollInterval, 0.2)}, nil
}

// finalize handles a deleted object according to its deletion policy.
func (r *Reconciler[T, L]) finalize(ctx context.Context, obj T) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return reconcile.Result{}, nil
	}
	// The finalizer is only ever added by an object that holds its backend
	// object (see holds), so nothing else is deleted.
	if obj.DeletionPolicy() == common.DeletionDelete && obj.ManagementPolicy() == common.ManagementManage {
		setReady(obj, metav1.ConditionFalse, ReasonDeleting, fmt.Sprintf("deleting %s %q", r.Kind, obj.BackendName()))
		ext, err := r.Connector.Connect(ctx, obj)
		if err != nil {
			return r.report(ctx, obj, err)
		}
		start := time.Now()
		err = ext.Delete(ctx)
		metrics.ObserveOperation(ext.Engine(), "delete", start, err)
		if err != nil {
			return r.report(ctx, obj, err)
		}
		r.event(obj, corev1.EventTypeNormal, "Deleted", "Delete", fmt.Sprintf("deleted %s %q", r.Kind, obj.BackendName()))
	}
	controllerutil.RemoveFinalizer(obj, Finalizer)
	if err := r.Client.Update(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("remove finalizer: %w", err)
	}
	return reconcile.Result{}, nil
}

// conflicting returns a description of another object that wins the claim
// on the same backend object, or "".
func (r *Reconciler[T, L]) conflicting(ctx context.Context, obj T) (string, error) {
	list := r.NewList()
	if err := r.Client.List(ctx, list, client.MatchingFields{ClaimIndex: obj.ClaimKey()}); err != nil {
		return "", fmt.Errorf("list claimants: %w", err)
	}
	for _, o := range r.Items(list) {
		if o.GetUID() == obj.GetUID() {
			continue
		}
		if beats(o, obj) {
			return fmt.Sprintf("%s %s/%s", r.Kind, o.GetNamespace(), o.GetName()), nil
		}
	}
	return "", nil
}

// holds reports whether obj created or adopted its backend object, or set
// out to: the finalizer is added just before the first backend write (and
// only after the conflict and AlreadyExists checks), so it is the durable
// record of that intent.
func holds(obj Object) bool {
	return obj.ManagedStatus().Managed || controllerutil.ContainsFinalizer(obj, Finalizer)
}

// beats reports whether claimant a wins over b: one that already created or
// adopted the backend object wins; otherwise the older one (creation times
// have one-second resolution), then the lower UID.
func beats(a, b Object) bool {
	aHolds, bHolds := holds(a), holds(b)
	if aHolds != bHolds {
		return aHolds
	}
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.GetUID() < b.GetUID()
}

func (r *Reconciler[T, L]) observe(ctx context.Context, ext External) (Observation, error) {
	start := time.Now()
	obs, err := ext.Observe(ctx)
	metrics.ObserveOperation(ext.Engine(), "observe", start, err)
	return obs, err
}

func (r *Reconciler[T, L]) apply(ctx context.Context, ext External) error {
	start := time.Now()
	err := ext.Apply(ctx)
	metrics.ObserveOperation(ext.Engine(), "apply", start, err)
	return err
}

func (r *Reconciler[T, L]) ensureFinalizer(ctx context.Context, obj T) error {
	if controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	// Patch a copy: the response would overwrite the status built so far.
	cp := obj.DeepCopyObject().(T)
	patch := client.MergeFromWithOptions(obj.DeepCopyObject().(T), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(cp, Finalizer)
	if err := r.Client.Patch(ctx, cp, patch); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	obj.SetFinalizers(cp.GetFinalizers())
	obj.SetResourceVersion(cp.GetResourceVersion())
	return nil
}

// report records a failure in the Ready condition and decides how to retry.
func (r *Reconciler[T, L]) report(ctx context.Context, obj T, err error) (reconcile.Result, error) {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = errors.Join(err, ctx.Err())
	}
	c := classify(err)
	prev := meta.FindStatusCondition(obj.ManagedStatus().Conditions, ConditionReady)
	changed := prev == nil || prev.Reason != c.Reason || prev.Message != c.Message
	setReady(obj, metav1.ConditionFalse, c.Reason, c.Message)
	if changed && !c.Wait {
		r.event(obj, corev1.EventTypeWarning, c.Reason, "Reconcile", c.Message)
	}
	switch {
	case c.Terminal:
		return reconcile.Result{}, reconcile.TerminalError(err)
	case c.Wait:
		if c.Err != nil {
			log.FromContext(ctx).V(1).Info("waiting", "reason", c.Reason, "detail", c.Err.Error())
		}
		return reconcile.Result{RequeueAfter: wait.Jitter(r.Options.WaitInterval, 0.2)}, nil
	}
	return reconcile.Result{}, err
}

func (r *Reconciler[T, L]) event(obj T, eventType, reason, action, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, eventType, reason, action, "%s", note)
	}
}

// patchStatus writes the status once, and only when it changed.
func (r *Reconciler[T, L]) patchStatus(ctx context.Context, before, obj T) error {
	if !obj.GetDeletionTimestamp().IsZero() && !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil // gone, or about to be
	}
	// Diff against the old status on the current metadata, so that the patch
	// holds only status changes.
	base := before.DeepCopyObject().(T)
	base.SetFinalizers(obj.GetFinalizers())
	base.SetResourceVersion(obj.GetResourceVersion())
	patch := client.MergeFrom(base)
	data, err := patch.Data(obj)
	if err != nil {
		return fmt.Errorf("status patch: %w", err)
	}
	if string(data) == "{}" {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, obj, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}

// Steady reports whether obj was Ready at its current generation and is
// managed, so a drift check may read a server snapshot (snapshot.Cached)
// rather than the server itself.
func Steady(obj Object) bool {
	st := obj.ManagedStatus()
	if !st.Managed || st.ObservedGeneration != obj.GetGeneration() || !obj.GetDeletionTimestamp().IsZero() {
		return false
	}
	return meta.IsStatusConditionTrue(st.Conditions, ConditionReady)
}

// ObserveMode is snapshot.Cached for a Steady object, whose drift check may
// read a server snapshot, and snapshot.Live otherwise.
func ObserveMode(obj Object) snapshot.Mode {
	if Steady(obj) {
		return snapshot.Cached
	}
	return snapshot.Live
}

func setReady(obj Object, status metav1.ConditionStatus, reason, message string) {
	SetReady(&obj.ManagedStatus().Conditions, obj.GetGeneration(), status, reason, message)
}

func truncate(drift []string) []string {
	if len(drift) <= maxDriftLines {
		return drift
	}
	out := append([]string(nil), drift[:maxDriftLines-1]...)
	return append(out, fmt.Sprintf("... and %d more", len(drift)-maxDriftLines+1))
}

// summary shortens drift for an event note.
func summary(drift []string) string {
	d := append([]string(nil), drift...)
	sort.Strings(d)
	if len(d) > 3 {
		d = append(d[:3], fmt.Sprintf("and %d more", len(drift)-3))
	}
	return "repaired " + strings.Join(d, "; ")
}
