// Package servers runs the server kinds of every API group (DatabaseServer,
// CacheServer, MessagingServer and their cluster-scoped twins): read the
// login its engine declares from the admin Secret, connect, ask the server
// who it is, keep its client in a Registry and report Ready. Objects that
// live on a server find its client with Resolve. A group plugs in one
// Connect function per server kind family.
package servers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/shard"
)

// ReasonConnected: the server answered and the admin login authenticated.
const ReasonConnected = "Connected"

// SecretIndex is the field index on the "<namespace>/<name>" keys of the
// Secrets a server references.
const SecretIndex = ".spec.secretKeys"

// Object is a server kind.
type Object interface {
	client.Object
	// ServerKey names the server as references to it do; it keys the
	// server's client in a Registry.
	ServerKey() string
	// Access is the engine, login, TLS and tenancy of the server.
	Access() common.ServerAccess
	// CommonStatus is the status every server kind shares.
	CommonStatus() *common.ServerStatus
}

// Kind describes one server kind of a group to the loop.
type Kind[T Object, C port.Server] struct {
	// Name is the API kind, such as DatabaseServer.
	Name   string
	NewObj func() T
	// Login lists the Secret keys the group's engines read from the admin
	// Secret.
	Login []LoginKey
	// Logins, when it has an entry for the server's engine, replaces Login
	// for that engine (a group whose engines log in differently).
	Logins map[string][]LoginKey
	// Connect opens or reuses obj's client in clients with login and asks
	// the server who it is. On success it records what it found in obj's
	// status (such as version and flavor) and returns the Ready message.
	Connect func(ctx context.Context, obj T, login Login) (string, error)
	// HideErrors reports unclassified connect errors as "unexpected error;
	// see the operator log" rather than by their text, for drivers whose
	// errors may quote what they were sent.
	HideErrors bool
}

// Reconciler connects to the servers of one kind, keeps their clients in a
// Registry and reports Ready when the admin login authenticated. Build it
// with NewReconciler.
type Reconciler[T Object, C port.Server] struct {
	client   client.Client
	reader   client.Reader
	recorder events.EventRecorder
	kind     Kind[T, C]
	clients  *Registry[C]
	opts     managed.Options
}

// NewReconciler returns the server loop for kind k. reader reads referenced
// Secrets directly, so that the manager caches none of them. opts are
// defaulted here, once: a server that fails to connect, for whatever reason,
// is tried again every 2×WaitInterval, and a Ready one every PollInterval.
func NewReconciler[T Object, C port.Server](c client.Client, reader client.Reader, recorder events.EventRecorder, k Kind[T, C], clients *Registry[C], opts managed.Options) *Reconciler[T, C] {
	return &Reconciler[T, C]{client: c, reader: reader, recorder: recorder, kind: k, clients: clients, opts: opts.WithDefaults()}
}

// Setup registers kind k's server loop with mgr: an index of the Secrets
// each server references, and a watch that wakes a server when one changes.
func Setup[T Object, C port.Server](ctx context.Context, mgr ctrl.Manager, k Kind[T, C], clients *Registry[C], opts managed.GroupOptions, list client.ObjectList) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, k.NewObj(), SecretIndex, func(o client.Object) []string {
		return secretKeys(o.(T))
	}); err != nil {
		return err
	}
	r := NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), mgr.GetEventRecorder("backend-operator"), k, clients, opts.Options)
	return ctrl.NewControllerManagedBy(mgr).Named(strings.ToLower(k.Name)).
		// A label change can move the server to another shard's report.
		For(k.NewObj(), builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(managed.MapByIndex(mgr.GetClient(), SecretIndex, managed.NamespacedKey, list))).
		WithOptions(opts.Controller()).
		Complete(r)
}

// secretKeys are the "<namespace>/<name>" of every Secret obj references.
func secretKeys(obj Object) []string {
	a := obj.Access()
	keys := []string{cmp.Or(obj.GetNamespace(), a.Credentials.SecretRef.Namespace) + "/" + a.Credentials.SecretRef.Name}
	if a.TLS != nil {
		if ref := a.TLS.CASecretRef; ref != nil {
			keys = append(keys, cmp.Or(obj.GetNamespace(), ref.Namespace)+"/"+ref.Name)
		}
		if ref := a.TLS.ClientCertSecretRef; ref != nil {
			keys = append(keys, cmp.Or(obj.GetNamespace(), ref.Namespace)+"/"+ref.Name)
		}
	}
	return keys
}

// Reconcile connects to the server and records what it found, in status
// and events when the server belongs to this instance's shard (every shard
// connects; one reports). The connect
// gets the backend timeout; the status write always gets its grace after it.
func (r *Reconciler[T, C]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.BackendTimeout+r.opts.StatusGrace)
	defer cancel()
	obj := r.kind.NewObj()
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			gone := r.kind.NewObj()
			gone.SetNamespace(req.Namespace)
			gone.SetName(req.Name)
			r.clients.Drop(gone.ServerKey())
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		r.clients.Drop(obj.ServerKey())
		return reconcile.Result{}, nil
	}
	before := obj.DeepCopyObject().(T)
	bctx, bcancel := context.WithTimeout(ctx, r.opts.BackendTimeout)
	msg, credVersion, err := r.connect(bctx, obj)
	if err != nil && bctx.Err() != nil {
		err = backenderr.New(backenderr.ReasonUnavailable, fmt.Sprintf("the server did not answer within %s", r.opts.BackendTimeout), err)
	}
	bcancel()
	if !shard.Owns(r.opts.Shard, obj) {
		// Another shard reports this server; this one only needs its client.
		if err != nil {
			log.FromContext(ctx).Info("server not connected in this shard", "error", err.Error())
			return reconcile.Result{RequeueAfter: wait.Jitter(r.opts.WaitInterval*2, 0.2)}, nil
		}
		return reconcile.Result{RequeueAfter: wait.Jitter(r.opts.PollInterval, 0.2)}, nil
	}
	st := obj.CommonStatus()
	prev := meta.FindStatusCondition(st.Conditions, managed.ConditionReady)
	var result reconcile.Result
	if err != nil {
		reason, message := r.describe(err)
		// prev points into the conditions: compare before SetReady changes it.
		if prev == nil || prev.Reason != reason {
			r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Connect", "%s", message)
		}
		managed.SetReady(&st.Conditions, obj.GetGeneration(), metav1.ConditionFalse, reason, message)
		log.FromContext(ctx).Info("server not ready", "reason", reason, "error", err.Error())
		// Poll rather than hot-loop: dependents report ServerNotReady meanwhile.
		result = reconcile.Result{RequeueAfter: wait.Jitter(r.opts.WaitInterval*2, 0.2)}
	} else {
		if prev == nil || prev.Status != metav1.ConditionTrue {
			r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, ReasonConnected, "Connect", "%s", msg)
		}
		managed.SetReady(&st.Conditions, obj.GetGeneration(), metav1.ConditionTrue, ReasonConnected, msg)
		st.CredentialsVersion, st.ObservedGeneration = credVersion, obj.GetGeneration()
		result = reconcile.Result{RequeueAfter: wait.Jitter(r.opts.PollInterval, 0.2)}
	}
	if err := managed.PatchStatusIfChanged(ctx, r.client, before, obj); err != nil {
		if apierrors.IsConflict(err) {
			return reconcile.Result{RequeueAfter: wait.Jitter(time.Second, 0.5)}, nil
		}
		return reconcile.Result{}, err
	}
	return result, nil
}

// describe gives the reason and message of a failed connect.
func (r *Reconciler[T, C]) describe(err error) (string, string) {
	if be, ok := backenderr.As(err); ok {
		return be.Reason, be.Message
	}
	var rs *managed.Reasoned
	if errors.As(err, &rs) {
		return rs.Reason, rs.Message
	}
	if r.kind.HideErrors {
		return backenderr.ReasonBackendError, "unexpected error; see the operator log"
	}
	return backenderr.ReasonBackendError, err.Error()
}

// connect reads the login (and the TLS material) and lets the kind connect
// with it. It returns the Ready message and the admin Secret's resourceVersion.
func (r *Reconciler[T, C]) connect(ctx context.Context, obj T) (string, string, error) {
	a := obj.Access()
	keys := r.kind.Login
	if k, ok := r.kind.Logins[a.Engine]; ok {
		keys = k
	}
	login, version, err := readLogin(ctx, r.reader, obj, a, keys)
	if err != nil {
		return "", "", err
	}
	msg, err := r.kind.Connect(ctx, obj, login)
	return msg, version, err
}

// SetupGroup registers a group's two server kinds, namespaced and
// cluster-scoped, sharing one Registry.
func SetupGroup[N, CS Object, C port.Server](ctx context.Context, mgr ctrl.Manager, clients *Registry[C], opts managed.GroupOptions,
	namespaced Kind[N, C], namespacedList client.ObjectList, cluster Kind[CS, C], clusterList client.ObjectList) error {
	if err := Setup(ctx, mgr, namespaced, clients, opts, namespacedList); err != nil {
		return err
	}
	return Setup(ctx, mgr, cluster, clients, opts, clusterList)
}
