package sql

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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/metrics"
)

// Server reasons, beyond those of managed and backenderr.
const (
	ReasonConnected         = "Connected"
	ReasonEngineUnsupported = "EngineUnsupported"
)

// serverObject is what DatabaseServer and ClusterDatabaseServer share.
type serverObject interface {
	client.Object
	ServerKey() string
	ServerSpec() *sqlv1.DatabaseServerSpec
	ServerStatus() *sqlv1.DatabaseServerStatus
}

// ServerReconciler connects to a DatabaseServer or ClusterDatabaseServer,
// keeps its engine in Engines and reports Ready when it authenticated.
type ServerReconciler[T serverObject] struct {
	Client client.Client
	// Reader reads referenced Secrets directly, so the manager caches none of them.
	Reader   client.Reader
	Recorder events.EventRecorder
	Engines  *Engines
	NewObj   func() T
	// KeyFor gives the server key for a request, to drop the engine of a deleted server.
	KeyFor  func(types.NamespacedName) string
	Options managed.Options
}

// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databaseservers;clusterdatabaseservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databaseservers/status;clusterdatabaseservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile connects to the server and records what it found.
func (r *ServerReconciler[T]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	obj := r.NewObj()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Engines.Drop(r.KeyFor(req.NamespacedName))
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		r.Engines.Drop(obj.ServerKey())
		return reconcile.Result{}, nil
	}
	before := obj.DeepCopyObject().(T)
	info, credVersion, err := r.connect(ctx, obj)
	st := obj.ServerStatus()
	prev := meta.FindStatusCondition(st.Conditions, managed.ConditionReady)
	var result reconcile.Result
	if err != nil {
		reason, message := backenderr.ReasonBackendError, err.Error()
		var rs *managed.Reasoned
		if errors.As(err, &rs) {
			reason, message = rs.Reason, rs.Message
		} else if be, ok := backenderr.As(err); ok {
			reason, message = be.Reason, be.Message
		}
		setServerReady(obj, metav1.ConditionFalse, reason, message)
		if prev == nil || prev.Reason != reason {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Connect", "%s", message)
		}
		log.FromContext(ctx).Info("server not ready", "reason", reason, "error", err.Error())
		// Poll rather than hot-loop: dependents report ServerNotReady meanwhile.
		result = reconcile.Result{RequeueAfter: wait.Jitter(r.Options.WaitInterval*2, 0.2)}
	} else {
		msg := fmt.Sprintf("connected to %s %s", info.Flavor, info.Version)
		if prev == nil || prev.Status != metav1.ConditionTrue {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, ReasonConnected, "Connect", "%s", msg)
		}
		setServerReady(obj, metav1.ConditionTrue, ReasonConnected, msg)
		st.Version, st.Flavor, st.CredentialsVersion = info.Version, info.Flavor, credVersion
		st.ObservedGeneration = obj.GetGeneration()
		result = reconcile.Result{RequeueAfter: wait.Jitter(r.Options.PollInterval, 0.2)}
	}
	if err := managed.PatchStatusIfChanged(ctx, r.Client, before, obj); err != nil {
		return reconcile.Result{}, err
	}
	return result, nil
}

// connect builds the engine config from the spec and Secrets and asks the server who it is.
func (r *ServerReconciler[T]) connect(ctx context.Context, obj T) (sqlengine.ServerInfo, string, error) {
	spec := obj.ServerSpec()
	ns := obj.GetNamespace()
	creds := spec.AdminCredentials
	secret, err := r.readSecret(ctx, ns, creds.SecretRef)
	if err != nil {
		return sqlengine.ServerInfo{}, "", err
	}
	user := string(secret.Data[cmp.Or(creds.UsernameKey, "username")])
	pass := string(secret.Data[cmp.Or(creds.PasswordKey, "password")])
	if user == "" || pass == "" {
		return sqlengine.ServerInfo{}, "", managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf(
			"Secret %q must hold the keys %q and %q", secret.Name, cmp.Or(creds.UsernameKey, "username"), cmp.Or(creds.PasswordKey, "password")), nil)
	}
	cfg := sqlengine.Config{Host: spec.Host, Port: spec.EffectivePort(), Username: user, Password: pass,
		MaxConnections: int(spec.MaxConnections), TLSMode: string(common.TLSDisable)}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = 5
	}
	if spec.Postgres != nil {
		cfg.AdminDatabase = spec.Postgres.AdminDatabase
	}
	if spec.TLS != nil {
		cfg.TLSMode = string(cmp.Or(spec.TLS.Mode, common.TLSDisable))
		if ref := spec.TLS.CASecretRef; ref != nil {
			ca, err := r.readSecret(ctx, ns, ref.SecretReference)
			if err != nil {
				return sqlengine.ServerInfo{}, "", err
			}
			key := cmp.Or(ref.Key, "ca.crt")
			if cfg.CAPEM = ca.Data[key]; len(cfg.CAPEM) == 0 {
				return sqlengine.ServerInfo{}, "", managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf("Secret %q has no key %q", ca.Name, key), nil)
			}
		}
	}
	eng, err := r.Engines.Ensure(obj.ServerKey(), string(spec.Engine), cfg)
	if err != nil {
		if _, ok := backenderr.As(err); ok {
			return sqlengine.ServerInfo{}, "", err
		}
		return sqlengine.ServerInfo{}, "", managed.Fail(ReasonEngineUnsupported, err.Error(), nil)
	}
	start := time.Now()
	info, err := eng.Info(ctx)
	metrics.ObserveOperation(string(spec.Engine), "connect", start, err)
	return info, secret.ResourceVersion, err
}

// readSecret reads a referenced Secret straight from the API server. A
// namespaced server reads from its own namespace only.
func (r *ServerReconciler[T]) readSecret(ctx context.Context, ns string, ref common.SecretReference) (*corev1.Secret, error) {
	if ns == "" {
		ns = ref.Namespace
	}
	return managed.ReadSecret(ctx, r.Reader, ns, ref.Name)
}

func setServerReady(obj serverObject, status metav1.ConditionStatus, reason, message string) {
	managed.SetReady(&obj.ServerStatus().Conditions, obj.GetGeneration(), status, reason, message)
}
