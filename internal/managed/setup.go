package managed

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// Wiring says how a managed kind is watched: its Kind, and what else wakes
// an object of it.
type Wiring[T Object, L client.ObjectList] struct {
	Kind[T, L]
	// OwnsSecrets: the kind publishes connection Secrets it controls; a
	// change to one (an edit, a deletion) wakes its owner.
	OwnsSecrets bool
	// DependsOn lists the objects whose changes wake an object of the kind:
	// its server, referenced Secrets, a database its grants name.
	DependsOn []Dependency[T]
}

// Dependency is one kind of object that objects of kind T depend on, found
// through a field index: Index holds Keys(obj) of every obj, and a change to
// a watched object o wakes the objects whose keys include Key(o).
type Dependency[T Object] struct {
	// Watch is the kind watched, such as &corev1.Secret{}.
	Watch client.Object
	// MetadataOnly watches (and caches) only the objects' metadata: for kinds
	// whose contents the connector reads itself, such as ConfigMaps, so that
	// the operator never holds every one of them in memory.
	MetadataOnly bool
	// Index names the field index; dependencies that share keys (the two
	// server kinds of a group) share it.
	Index string
	Keys  func(obj T) []string
	Key   func(o client.Object) string
	// Changed filters the watched objects' updates that wake dependents;
	// nil passes every update.
	Changed func(old, new client.Object) bool
}

// OnServers wakes objects when one of the server kinds they reference
// changes (becomes Ready, say). serverKey is the key of obj's reference.
func OnServers[T Object](serverKey func(obj T) string, kinds ...client.Object) []Dependency[T] {
	var deps []Dependency[T]
	for _, k := range kinds {
		deps = append(deps, Dependency[T]{Watch: k, Index: ".spec.serverKey",
			Keys:    func(obj T) []string { return []string{serverKey(obj)} },
			Key:     func(o client.Object) string { return o.(interface{ ServerKey() string }).ServerKey() },
			Changed: ReadyChanged})
	}
	return deps
}

// OnPasswordSecret wakes a login when the Secret its spec.passwordSecretRef
// names changes (when that Secret carries the watch label).
func OnPasswordSecret[T LoginObject]() Dependency[T] {
	return Dependency[T]{Watch: &corev1.Secret{}, Index: ".spec.secretKeys",
		Keys: func(obj T) []string {
			if ref := obj.PasswordRef(); ref != nil {
				return []string{obj.GetNamespace() + "/" + ref.Name}
			}
			return nil
		},
		Key: NamespacedKey}
}

// Setup registers kind w's controller with mgr: the claim index conflict
// detection lists by, one index and watch per dependency, and the loop
// built once with opts.
func Setup[T Object, L client.ObjectList](ctx context.Context, mgr ctrl.Manager, w Wiring[T, L], opts GroupOptions) error {
	idx, c := mgr.GetFieldIndexer(), mgr.GetClient()
	if err := idx.IndexField(ctx, w.NewObj(), ClaimIndex, func(o client.Object) []string { return []string{o.(T).ClaimKey()} }); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).Named(strings.ToLower(w.Name)).
		For(w.NewObj(), builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, onDemand)))
	if w.OwnsSecrets {
		// An edit or a deletion of a Secret an object controls wakes it; its
		// creation does not: the object itself just created it (or, at
		// start-up, is listed itself), so that reconcile would find nothing.
		b = b.Owns(&corev1.Secret{}, builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}))
	}
	indexed := map[string]bool{}
	for _, d := range w.DependsOn {
		if !indexed[d.Index] {
			indexed[d.Index] = true
			keys := d.Keys
			if err := idx.IndexField(ctx, w.NewObj(), d.Index, func(o client.Object) []string { return keys(o.(T)) }); err != nil {
				return err
			}
		}
		var opts []builder.WatchesOption
		if d.MetadataOnly {
			opts = append(opts, builder.OnlyMetadata)
		}
		if changed := d.Changed; changed != nil {
			opts = append(opts, builder.WithPredicates(predicate.Funcs{
				UpdateFunc: func(e event.UpdateEvent) bool { return changed(e.ObjectOld, e.ObjectNew) }}))
		}
		b = b.Watches(d.Watch, handler.EnqueueRequestsFromMapFunc(MapByIndex(c, d.Index, d.Key, w.NewList())), opts...)
	}
	r := NewReconciler(c, mgr.GetAPIReader(), mgr.GetEventRecorder("backend-operator"), w.Kind, opts.Options)
	copts := opts.Controller()
	copts.NewQueue = newFreshFirstQueue(mgr, w.NewObj)
	return b.WithOptions(copts).Complete(r)
}

// onDemand passes an update that changes the rotate annotation (a
// rotation on demand) or the observe annotation (a fresh look now), which
// change no generation.
var onDemand = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	oldA, newA := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
	return oldA[common.RotateAnnotation] != newA[common.RotateAnnotation] || oldA[common.ObserveAnnotation] != newA[common.ObserveAnnotation]
}, CreateFunc: func(event.CreateEvent) bool { return false }, DeleteFunc: func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false }}

// ReadyChanged passes an update of a server or managed object that its
// dependents care about: a new generation, or a Ready condition whose status
// or reason changed. A finalizer added, a status refresh that changes
// neither (usage figures, a version string, a drift check) wakes nobody.
// Use it as a Dependency's Changed.
func ReadyChanged(old, new client.Object) bool {
	if old.GetGeneration() != new.GetGeneration() {
		return true
	}
	ready := func(o client.Object) string {
		var conds []metav1.Condition
		switch s := o.(type) {
		case interface{ CommonStatus() *common.ServerStatus }:
			conds = s.CommonStatus().Conditions
		case Object:
			conds = s.ManagedStatus().Conditions
		default:
			return "?"
		}
		c := meta.FindStatusCondition(conds, ConditionReady)
		if c == nil {
			return ""
		}
		return string(c.Status) + "/" + c.Reason
	}
	return ready(old) != ready(new)
}
