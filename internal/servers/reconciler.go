// Package servers runs the server kinds of every API group (DatabaseServer,
// CacheServer and their cluster-scoped twins): read the admin Secret,
// connect, ask the server who it is, keep its client in a Registry and report
// Ready. Objects that live on a server find its client with Resolve. A group
// plugs in a Group: where its kinds keep login and status, and how to connect.
package servers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/managed"
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
}

// Status points into the status of a server.
type Status struct {
	Conditions         *[]metav1.Condition
	ObservedGeneration *int64
	// CredentialsVersion is the resourceVersion of the admin Secret last used.
	CredentialsVersion *string
}

// Login is what a server's Secrets hold.
type Login struct {
	Username, Password string
	// TLSMode is spec.tls.mode, disable when unset.
	TLSMode string
	// CAPEM is the CA bundle spec.tls.caSecretRef names, if any.
	CAPEM []byte
}

// Group is what differs between the server kinds of the API groups.
type Group[T Object] interface {
	// Login returns obj's spec.adminCredentials and spec.tls.
	Login(obj T) (common.AdminCredentials, *common.TLS)
	// Status points into obj's status.
	Status(obj T) Status
	// Cluster reports whether obj's kind is cluster-scoped and, if so, its
	// spec.allowedNamespaces.
	Cluster(obj T) (bool, *common.AllowedNamespaces)
	// Connect opens or reuses obj's client with login and asks the server
	// who it is. On success it records what it found in obj's status (such
	// as version and flavor) and returns the message of the Ready condition.
	Connect(ctx context.Context, obj T, login Login) (string, error)
}

// Reconciler connects to the servers of kind T, keeps their clients in
// Clients and reports Ready when the admin login authenticated.
type Reconciler[T Object, C interface{ Close() }] struct {
	Client client.Client
	// Reader reads referenced Secrets directly, so the manager caches none of them.
	Reader   client.Reader
	Recorder events.EventRecorder
	Group    Group[T]
	Clients  *Registry[C]
	NewObj   func() T
	Options  managed.Options
	// UsernameOptional accepts an admin Secret without a username (Redis's
	// default user).
	UsernameOptional bool
	// HideErrors reports errors without a reason as "unexpected error; see
	// the operator log" rather than by their text.
	HideErrors bool
}

// SetupWithManager indexes the Secrets the servers of kind T reference
// under SecretIndex and registers r as the controller called name: it runs
// when a server's spec changes and when secretToServers maps a Secret to it.
func (r *Reconciler[T, C]) SetupWithManager(ctx context.Context, mgr ctrl.Manager, name string, secretToServers handler.MapFunc, opts controller.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, r.NewObj(), SecretIndex, func(o client.Object) []string {
		creds, tls := r.Group.Login(o.(T))
		keys := []string{cmp.Or(o.GetNamespace(), creds.SecretRef.Namespace) + "/" + creds.SecretRef.Name}
		if tls != nil && tls.CASecretRef != nil {
			keys = append(keys, cmp.Or(o.GetNamespace(), tls.CASecretRef.Namespace)+"/"+tls.CASecretRef.Name)
		}
		return keys
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named(name).
		For(r.NewObj(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretToServers)).
		WithOptions(opts).
		Complete(r)
}

// Reconcile connects to the server and records what it found.
func (r *Reconciler[T, C]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	obj := r.NewObj()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			gone := r.NewObj()
			gone.SetNamespace(req.Namespace)
			gone.SetName(req.Name)
			r.Clients.Drop(gone.ServerKey())
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		r.Clients.Drop(obj.ServerKey())
		return reconcile.Result{}, nil
	}
	before := obj.DeepCopyObject().(T)
	msg, credVersion, err := r.connect(ctx, obj)
	st := r.Group.Status(obj)
	prev := meta.FindStatusCondition(*st.Conditions, managed.ConditionReady)
	var result reconcile.Result
	if err != nil {
		reason, message := backenderr.ReasonBackendError, err.Error()
		if r.HideErrors {
			message = "unexpected error; see the operator log"
		}
		var rs *managed.Reasoned
		if errors.As(err, &rs) {
			reason, message = rs.Reason, rs.Message
		} else if be, ok := backenderr.As(err); ok {
			reason, message = be.Reason, be.Message
		}
		// prev points into the conditions: compare before SetReady changes it.
		if prev == nil || prev.Reason != reason {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Connect", "%s", message)
		}
		managed.SetReady(st.Conditions, obj.GetGeneration(), metav1.ConditionFalse, reason, message)
		log.FromContext(ctx).Info("server not ready", "reason", reason, "error", err.Error())
		// Poll rather than hot-loop: dependents report ServerNotReady meanwhile.
		result = reconcile.Result{RequeueAfter: wait.Jitter(r.Options.WaitInterval*2, 0.2)}
	} else {
		if prev == nil || prev.Status != metav1.ConditionTrue {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, ReasonConnected, "Connect", "%s", msg)
		}
		managed.SetReady(st.Conditions, obj.GetGeneration(), metav1.ConditionTrue, ReasonConnected, msg)
		*st.CredentialsVersion, *st.ObservedGeneration = credVersion, obj.GetGeneration()
		result = reconcile.Result{RequeueAfter: wait.Jitter(r.Options.PollInterval, 0.2)}
	}
	if err := managed.PatchStatusIfChanged(ctx, r.Client, before, obj); err != nil {
		return reconcile.Result{}, err
	}
	return result, nil
}

// connect reads the login from the admin Secret (and the CA bundle) and lets
// the group connect with it. It returns the Ready message and the admin
// Secret's resourceVersion.
func (r *Reconciler[T, C]) connect(ctx context.Context, obj T) (string, string, error) {
	creds, tls := r.Group.Login(obj)
	secret, err := r.readSecret(ctx, obj, creds.SecretRef)
	if err != nil {
		return "", "", err
	}
	userKey, passKey := cmp.Or(creds.UsernameKey, "username"), cmp.Or(creds.PasswordKey, "password")
	login := Login{Username: string(secret.Data[userKey]), Password: string(secret.Data[passKey]), TLSMode: string(common.TLSDisable)}
	switch {
	case r.UsernameOptional && login.Password == "":
		return "", "", managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf(
			"Secret %q must hold the key %q (and %q unless the default user is meant)", secret.Name, passKey, userKey), nil)
	case !r.UsernameOptional && (login.Username == "" || login.Password == ""):
		return "", "", managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf(
			"Secret %q must hold the keys %q and %q", secret.Name, userKey, passKey), nil)
	}
	if tls != nil {
		login.TLSMode = string(cmp.Or(tls.Mode, common.TLSDisable))
		if ref := tls.CASecretRef; ref != nil {
			ca, err := r.readSecret(ctx, obj, ref.SecretReference)
			if err != nil {
				return "", "", err
			}
			key := cmp.Or(ref.Key, "ca.crt")
			if login.CAPEM = ca.Data[key]; len(login.CAPEM) == 0 {
				return "", "", managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf("Secret %q has no key %q", ca.Name, key), nil)
			}
		}
	}
	msg, err := r.Group.Connect(ctx, obj, login)
	return msg, secret.ResourceVersion, err
}

// readSecret reads a referenced Secret straight from the API server. A
// namespaced server reads from its own namespace only.
func (r *Reconciler[T, C]) readSecret(ctx context.Context, obj T, ref common.SecretReference) (*corev1.Secret, error) {
	return managed.ReadSecret(ctx, r.Reader, cmp.Or(obj.GetNamespace(), ref.Namespace), ref.Name)
}
