package managed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/metrics"
)

// Finalizer holds a managed object until its backend object is handled.
const Finalizer = "backend-operator.dev/finalizer"

// ClaimIndex is the field index on ClaimKey that conflict detection lists by.
const ClaimIndex = ".status.claimKey"

// maxDriftLines bounds the drift listed in status.
const maxDriftLines = 20

// Options tune the loop. The zero value of a field means its default;
// NewReconciler fills them in once.
type Options struct {
	// PollInterval is how often an object is re-observed for drift, plus up to
	// 20% jitter (default 40s). Steady-state checks may read a server snapshot
	// up to snapshot.DefaultTTL old, so drift is seen within a minute.
	PollInterval time.Duration
	// WaitInterval is how often an object waiting on something else (a
	// server not ready, a dependency not created yet) is retried, plus up to
	// 20% jitter (default 5s). Servers that fail to connect retry at twice it.
	WaitInterval time.Duration
	// BackendTimeout bounds the backend work of one reconcile: resolving the
	// server, validating, observing, writing, deleting (default 60s).
	BackendTimeout time.Duration
	// StatusGrace is the time left after BackendTimeout to write the status
	// that explains the outcome, a hung backend included (default 10s).
	StatusGrace time.Duration
	// Shard is the shard this instance reconciles (internal/shard). The
	// cache already holds only its objects; a server loop uses it to write
	// only the status of its own shard's servers.
	Shard string
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	// 48 s with jitter, plus a 5 s snapshot: drift is seen within a minute.
	o.PollInterval = cmp.Or(o.PollInterval, 40*time.Second)
	o.WaitInterval = cmp.Or(o.WaitInterval, 5*time.Second)
	o.BackendTimeout = cmp.Or(o.BackendTimeout, 60*time.Second)
	o.StatusGrace = cmp.Or(o.StatusGrace, 10*time.Second)
	return o
}

// Kind describes a managed kind to the loop: its name (for logs, events and
// metrics), how to make empty objects and lists, and its Connector.
type Kind[T Object, L client.ObjectList] struct {
	// Name is the API kind, such as Database.
	Name      string
	NewObj    func() T
	NewList   func() L
	Connector Connector[T]
}

// Reconciler runs the managed loop for kind T; L is its list type. Build it
// with NewReconciler.
type Reconciler[T Object, L client.ObjectList] struct {
	client   client.Client
	reader   client.Reader
	recorder events.EventRecorder
	kind     Kind[T, L]
	opts     Options
	versions versions
	// observeRequests remembers each object's last observe annotation value,
	// so that a new one forces a live observation (see ObserveAnnotation).
	observeRequests sync.Map
	// pending holds, per object, the reasons it had its one quiet Pending
	// wait for (a server not connected yet, then a database not created yet).
	pending sync.Map
}

// NewReconciler returns the loop for kind k. c is the manager's (cached)
// client; reader reads from the API server itself (the manager's APIReader)
// when the cached copy may predate the loop's own last write; recorder may
// be nil. opts are defaulted here, once.
func NewReconciler[T Object, L client.ObjectList](c client.Client, reader client.Reader, recorder events.EventRecorder, k Kind[T, L], opts Options) *Reconciler[T, L] {
	return &Reconciler[T, L]{client: c, reader: reader, recorder: recorder, kind: k, opts: opts.WithDefaults()}
}

// Reconcile drives one object toward its spec. Backend work gets
// BackendTimeout; the status patch that reports the outcome always gets the
// StatusGrace after it.
func (r *Reconciler[T, L]) Reconcile(ctx context.Context, req reconcile.Request) (result reconcile.Result, err error) {
	// An error is retried at the default priority. Without one,
	// controller-runtime keeps the priority the request came with, low for
	// a poll, and freshFirst cannot raise it: the cache may still show the
	// object Ready. (Registered first, this runs after the status patch.)
	defer func() {
		if err != nil && result.Priority == nil {
			result.Priority = new(0)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, r.opts.BackendTimeout+r.opts.StatusGrace)
	defer cancel()

	obj, found, err := r.get(ctx, req.NamespacedName)
	if err != nil || !found {
		return reconcile.Result{}, err
	}
	before := obj.DeepCopyObject().(T)
	st := obj.ManagedStatus()
	// CEL keeps a set spec.name from changing; this catches setting one that
	// differs from the metadata.name default after the object was claimed.
	renamed := st.BackendName != "" && st.BackendName != obj.BackendName() && holds(obj)
	if !renamed {
		st.BackendName = obj.BackendName()
	}

	// One status patch at the end, diffed against what the server holds, on
	// the outer context: a hung backend cannot take its time.
	defer func() {
		if perr := r.patchStatus(ctx, before, obj); perr != nil && err == nil {
			result, err = r.apiError(ctx, perr)
		}
	}()

	bctx, bcancel := context.WithTimeout(ctx, r.opts.BackendTimeout)
	defer bcancel()
	if renamed {
		return r.report(bctx, obj, Invalid(fmt.Sprintf("the backend name cannot change from %q to %q: set spec.name back to %q", st.BackendName, obj.BackendName(), st.BackendName)))
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return r.finalize(bctx, obj)
	}
	return r.reconcile(bctx, obj)
}

// get reads the object from the cache, or from the API server when the
// cached copy may predate the loop's own last write (see versions). It
// reports false when the object is gone.
func (r *Reconciler[T, L]) get(ctx context.Context, key client.ObjectKey) (T, bool, error) {
	var none T
	obj := r.kind.NewObj()
	if err := r.client.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(key)
			return none, false, nil
		}
		return none, false, fmt.Errorf("get %s: %w", r.kind.Name, err)
	}
	if r.reader == nil || r.versions.current(key, obj.GetResourceVersion()) {
		return obj, true, nil
	}
	if err := r.reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(key)
			return none, false, nil
		}
		return none, false, fmt.Errorf("get %s: %w", r.kind.Name, err)
	}
	r.versions.saw(key, obj.GetResourceVersion())
	return obj, true, nil
}

// forget drops what the loop remembers of an object that is gone.
func (r *Reconciler[T, L]) forget(key client.ObjectKey) {
	r.versions.forget(key)
	r.observeRequests.Delete(key)
	r.pending.Delete(key)
}

// apiError turns a failed API write into a result: a conflict (someone else
// wrote the object first) is retried quietly, soon; anything else is an error.
func (r *Reconciler[T, L]) apiError(ctx context.Context, err error) (reconcile.Result, error) {
	if apierrors.IsConflict(err) {
		log.FromContext(ctx).V(1).Info("conflict writing the object; retrying")
		return retry(wait.Jitter(time.Second, 0.5)), nil
	}
	return reconcile.Result{}, err
}

// poll requeues a Ready object for its next drift check after d, at low
// priority: with thousands of Ready objects, their polls must not queue
// ahead of new objects, spec changes and retries. A watch event for the
// object raises it to the default priority (the queue keeps the higher).
func poll(d time.Duration) reconcile.Result {
	return reconcile.Result{RequeueAfter: d, Priority: new(handler.LowPriority)}
}

// retry requeues an object that is not done after d, at the default
// priority: without one, controller-runtime keeps the priority the request
// came with, which is low for a poll or an object of the initial list.
func retry(d time.Duration) reconcile.Result {
	return reconcile.Result{RequeueAfter: d, Priority: new(0)}
}

func (r *Reconciler[T, L]) reconcile(ctx context.Context, obj T) (reconcile.Result, error) {
	st := obj.ManagedStatus()
	if other, err := r.conflicting(ctx, obj); err != nil {
		return reconcile.Result{}, err
	} else if other != "" {
		return r.report(ctx, obj, Wait(ReasonConflict, fmt.Sprintf("%s %q is already claimed by %s; this object changes nothing", r.kind.Name, obj.BackendName(), other)))
	}

	ext, err := r.kind.Connector.Connect(ctx, obj)
	if err != nil {
		return r.report(ctx, obj, err)
	}
	r.honourObserveRequest(obj, ext)
	// Validation comes before anything reaches the backend, in one place.
	if err := ext.Validate(ctx); err != nil {
		return r.report(ctx, obj, err)
	}
	obs, err := r.observe(ctx, ext)
	if err == nil && (!obs.Exists || len(obs.Drift) > 0) && fromSnapshot(ext) {
		// A snapshot finds drift; the server itself decides the write. The
		// snapshot may predate another instance's write (a shard the object
		// just left) as well as the drift.
		ext.(interface{ ObserveLive() }).ObserveLive()
		obs, err = r.observe(ctx, ext)
	}
	if err != nil {
		return r.report(ctx, obj, err)
	}
	owned := holds(obj)
	if obs.Exists && !owned && !obj.AdoptExisting() {
		return r.report(ctx, obj, Wait(ReasonAlreadyExists, fmt.Sprintf(
			"%s %q already exists on the server and was not created by this object; set spec.adoptExisting: true to manage it", r.kind.Name, obj.BackendName())))
	}
	st.Drift = truncate(obs.Drift)
	if len(obs.Drift) > 0 && !obs.Planned {
		metrics.DriftDetected(r.kind.Name)
		if Steady(obj) { // the backend changed under an unchanged spec
			metrics.ObjectDrifted(r.kind.Name, obj.GetNamespace(), obj.GetName())
		}
	}

	if obj.ManagementPolicy() == common.ManagementObserve {
		switch {
		case !obs.Exists:
			return r.report(ctx, obj, Wait(ReasonNotFound, fmt.Sprintf("%s %q does not exist; managementPolicy Observe does not create it", r.kind.Name, obj.BackendName())))
		case len(obs.Drift) > 0:
			return r.report(ctx, obj, Wait(ReasonDrifted, fmt.Sprintf("%s %q differs from the spec (see status.drift); managementPolicy Observe leaves it", r.kind.Name, obj.BackendName())))
		}
		return r.ready(ctx, obj, ext, "observed, matches the spec")
	}

	// The finalizer goes on before the first backend write. It also records
	// the intent to create: a crash after the create leaves an object this
	// one recognises as its own (see holds), never a duplicate or an orphan.
	if err := r.ensureFinalizer(ctx, obj); err != nil {
		return r.apiError(ctx, err)
	}
	switch {
	case !obs.Exists:
		if err := r.apply(ctx, ext); err != nil {
			return r.report(ctx, obj, err)
		}
		r.event(obj, corev1.EventTypeNormal, "Created", "Create", fmt.Sprintf("created %s %q", r.kind.Name, obj.BackendName()))
	case len(obs.Drift) > 0:
		if err := r.apply(ctx, ext); err != nil {
			return r.report(ctx, obj, err)
		}
		verb := "updated"
		if owned && !obs.Planned {
			r.event(obj, corev1.EventTypeNormal, "Updated", "Update", fmt.Sprintf("%s %s %q: %s", verb, r.kind.Name, obj.BackendName(), summary(obs.Drift)))
		}
	}
	if !owned && obs.Exists {
		r.event(obj, corev1.EventTypeNormal, "Adopted", "Adopt", fmt.Sprintf("adopted existing %s %q", r.kind.Name, obj.BackendName()))
	}
	st.Managed, st.Drift = true, nil
	return r.ready(ctx, obj, ext, "")
}

// honourObserveRequest makes ext observe the server itself, not a
// snapshot, when obj's observe annotation has a new value since the last
// reconcile this process saw (not on the first one after a start).
func (r *Reconciler[T, L]) honourObserveRequest(obj T, ext External) {
	v := obj.GetAnnotations()[common.ObserveAnnotation]
	prev, seen := r.observeRequests.Swap(client.ObjectKeyFromObject(obj), v)
	if l, ok := ext.(interface{ ObserveLive() }); ok && seen && prev != v {
		l.ObserveLive()
	}
}

// ready publishes, marks the object Ready and schedules the next drift check.
func (r *Reconciler[T, L]) ready(ctx context.Context, obj T, ext External, message string) (reconcile.Result, error) {
	if err := ext.Publish(ctx); err != nil {
		return r.report(ctx, obj, err)
	}
	if message == "" {
		message = fmt.Sprintf("%s %q matches the spec", r.kind.Name, obj.BackendName())
	}
	setReady(obj, metav1.ConditionTrue, ReasonAvailable, message)
	meta.RemoveStatusCondition(&obj.ManagedStatus().Conditions, ConditionStalled)
	r.pending.Delete(client.ObjectKeyFromObject(obj))
	obj.ManagedStatus().ObservedGeneration = obj.GetGeneration()
	after := wait.Jitter(r.opts.PollInterval, 0.2)
	if n, ok := ext.(interface{ NextCheck() time.Duration }); ok {
		if d := n.NextCheck(); d > 0 && d < after {
			// The object's own next step, such as a rotation's: not a poll.
			return retry(d), nil
		}
	}
	return poll(after), nil
}

// finalize handles a deleted object according to its deletion policy.
func (r *Reconciler[T, L]) finalize(ctx context.Context, obj T) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return reconcile.Result{}, nil
	}
	// The finalizer is only ever added by an object that holds its backend
	// object (see holds), so nothing else is deleted.
	if obj.DeletionPolicy() == common.DeletionDelete && obj.ManagementPolicy() == common.ManagementManage {
		setReady(obj, metav1.ConditionFalse, ReasonDeleting, fmt.Sprintf("deleting %s %q", r.kind.Name, obj.BackendName()))
		ext, err := r.kind.Connector.Connect(ctx, obj)
		if err != nil {
			return r.report(ctx, obj, err)
		}
		start := time.Now()
		err = ext.Delete(ctx)
		metrics.ObserveOperation(ext.Engine(), "delete", start, err)
		if err != nil {
			return r.report(ctx, obj, err)
		}
		r.event(obj, corev1.EventTypeNormal, "Deleted", "Delete", fmt.Sprintf("deleted %s %q", r.kind.Name, obj.BackendName()))
	}
	controllerutil.RemoveFinalizer(obj, Finalizer)
	if err := r.client.Update(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return r.apiError(ctx, fmt.Errorf("remove finalizer: %w", err))
	}
	r.forget(client.ObjectKeyFromObject(obj))
	return reconcile.Result{}, nil
}

// conflicting returns a description of another object that wins the claim
// on the same backend object, or "".
func (r *Reconciler[T, L]) conflicting(ctx context.Context, obj T) (string, error) {
	list := r.kind.NewList()
	if err := r.client.List(ctx, list, client.MatchingFields{ClaimIndex: obj.ClaimKey()}); err != nil {
		return "", fmt.Errorf("list claimants: %w", err)
	}
	winner := ""
	err := meta.EachListItem(list, func(item runtime.Object) error {
		o, ok := item.(T)
		if ok && winner == "" && o.GetUID() != obj.GetUID() && beats(o, obj) {
			winner = fmt.Sprintf("%s %s/%s", r.kind.Name, o.GetNamespace(), o.GetName())
		}
		return nil
	})
	return winner, err
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

// fromSnapshot reports whether ext observes from a server snapshot and can
// be made to read the server itself.
func fromSnapshot(ext External) bool {
	s, ok := ext.(interface {
		FromSnapshot() bool
		ObserveLive()
	})
	return ok && s.FromSnapshot()
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
	if err := r.client.Patch(ctx, cp, patch); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	obj.SetFinalizers(cp.GetFinalizers())
	obj.SetResourceVersion(cp.GetResourceVersion())
	r.versions.saw(client.ObjectKeyFromObject(obj), cp.GetResourceVersion())
	return nil
}

// report records a failure in the Ready condition and decides how to retry.
func (r *Reconciler[T, L]) report(ctx context.Context, obj T, err error) (reconcile.Result, error) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The backend hung: say so, whatever error the driver made of it.
		err = backenderr.New(backenderr.ReasonUnavailable, fmt.Sprintf(
			"the backend did not answer within %s", r.opts.BackendTimeout), errors.Join(err, ctx.Err()))
	}
	c := classify(err)
	st := obj.ManagedStatus()
	prev := meta.FindStatusCondition(st.Conditions, ConditionReady)
	if c.Pending && prev == nil {
		reasons, _ := r.pending.LoadOrStore(client.ObjectKeyFromObject(obj), &sync.Map{})
		if _, waited := reasons.(*sync.Map).LoadOrStore(c.Reason, true); !waited {
			// Without a Ready condition no reconcile has written the status
			// yet: leave it as found, so that nothing is written.
			st.BackendName = ""
			log.FromContext(ctx).V(1).Info("waiting for another object", "reason", c.Reason, "detail", c.Message)
			return retry(wait.Jitter(r.opts.WaitInterval, 0.2)), nil
		}
	}
	changed := prev == nil || prev.Reason != c.Reason || (prev.Message != c.Message && !c.Announce)
	setReady(obj, metav1.ConditionFalse, c.Reason, c.Message)
	if stalled(c) {
		// This generation was reconciled as far as it can be: kstatus reads
		// Failed, not InProgress, and waits end instead of timing out.
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: ConditionStalled, Status: metav1.ConditionTrue,
			Reason: c.Reason, Message: c.Message, ObservedGeneration: obj.GetGeneration()})
		st.ObservedGeneration = obj.GetGeneration()
	} else {
		meta.RemoveStatusCondition(&st.Conditions, ConditionStalled)
	}
	if changed && (!c.Wait || c.Announce) {
		r.event(obj, corev1.EventTypeWarning, c.Reason, "Reconcile", c.Message)
	}
	switch {
	case c.Terminal:
		return reconcile.Result{}, reconcile.TerminalError(err)
	case c.Wait:
		if c.Err != nil {
			log.FromContext(ctx).V(1).Info("waiting", "reason", c.Reason, "detail", c.Err.Error())
		}
		return retry(wait.Jitter(r.opts.WaitInterval, 0.2)), nil
	}
	return reconcile.Result{}, err
}

func (r *Reconciler[T, L]) event(obj T, eventType, reason, action, note string) {
	if r.recorder != nil {
		r.recorder.Eventf(obj, nil, eventType, reason, action, "%s", note)
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
	if err := r.client.Status().Patch(ctx, obj, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	r.versions.saw(client.ObjectKeyFromObject(obj), obj.GetResourceVersion())
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
