package cache

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

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/metrics"
)

// ReasonConnected: every node answered and authenticated.
const ReasonConnected = "Connected"

// serverObject is what CacheServer and ClusterCacheServer share.
type serverObject interface {
	client.Object
	ServerKey() string
	ServerSpec() *cachev1.CacheServerSpec
	ServerStatus() *cachev1.CacheServerStatus
}

// ServerReconciler connects to every node of a CacheServer or
// ClusterCacheServer, keeps the client in Clients and reports Ready when all
// of them authenticated.
type ServerReconciler[T serverObject] struct {
	Client client.Client
	// Reader reads referenced Secrets directly, so the manager caches none of them.
	Reader   client.Reader
	Recorder events.EventRecorder
	Clients  *Clients
	NewObj   func() T
	// KeyFor gives the server key for a request, to drop the client of a deleted server.
	KeyFor  func(types.NamespacedName) string
	Options managed.Options
}

// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheservers;clustercacheservers,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheservers/status;clustercacheservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile connects to the nodes and records what it found.
func (r *ServerReconciler[T]) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	obj := r.NewObj()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Clients.Drop(r.KeyFor(req.NamespacedName))
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		r.Clients.Drop(obj.ServerKey())
		return reconcile.Result{}, nil
	}
	before := obj.DeepCopyObject().(T)
	nodes, credVersion, err := r.connect(ctx, obj)
	st := obj.ServerStatus()
	prev := meta.FindStatusCondition(st.Conditions, managed.ConditionReady)
	var result reconcile.Result
	if err != nil {
		reason, message := backenderr.ReasonBackendError, "unexpected error; see the operator log"
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
		result = reconcile.Result{RequeueAfter: wait.Jitter(r.Options.WaitInterval*2, 0.2)}
	} else {
		msg := fmt.Sprintf("connected to %d node(s), %s %s", len(nodes), nodes[0].Flavor, nodes[0].Version)
		if prev == nil || prev.Status != metav1.ConditionTrue {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, ReasonConnected, "Connect", "%s", msg)
		}
		setServerReady(obj, metav1.ConditionTrue, ReasonConnected, msg)
		st.Version, st.Flavor, st.CredentialsVersion = nodes[0].Version, nodes[0].Flavor, credVersion
		st.Nodes = nil
		for _, n := range nodes {
			st.Nodes = append(st.Nodes, cachev1.NodeStatus{Address: n.Address, Version: n.Version, ACLFile: n.ACLFile})
		}
		st.ObservedGeneration = obj.GetGeneration()
		result = reconcile.Result{RequeueAfter: wait.Jitter(r.Options.PollInterval, 0.2)}
	}
	if err := managed.PatchStatusIfChanged(ctx, r.Client, before, obj); err != nil {
		return reconcile.Result{}, err
	}
	return result, nil
}

// connect builds the client config from the spec and Secrets and asks every node who it is.
func (r *ServerReconciler[T]) connect(ctx context.Context, obj T) ([]redis.NodeInfo, string, error) {
	spec := obj.ServerSpec()
	ns := obj.GetNamespace()
	creds := spec.AdminCredentials
	secret, err := r.readSecret(ctx, ns, creds.SecretRef)
	if err != nil {
		return nil, "", err
	}
	// The username is optional: without it the password is the default user's.
	user := string(secret.Data[cmp.Or(creds.UsernameKey, "username")])
	pass := string(secret.Data[cmp.Or(creds.PasswordKey, "password")])
	if pass == "" {
		return nil, "", managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf(
			"Secret %q must hold the key %q (and %q unless the default user is meant)", secret.Name, cmp.Or(creds.PasswordKey, "password"), cmp.Or(creds.UsernameKey, "username")), nil)
	}
	cfg := redis.Config{Username: user, Password: pass, MaxConnections: int(spec.MaxConnections), TLSMode: string(common.TLSDisable)}
	for _, n := range spec.Nodes {
		cfg.Nodes = append(cfg.Nodes, redis.Node{Host: n.Host, Port: n.EffectivePort()})
	}
	if spec.TLS != nil {
		cfg.TLSMode = string(cmp.Or(spec.TLS.Mode, common.TLSDisable))
		if ref := spec.TLS.CASecretRef; ref != nil {
			ca, err := r.readSecret(ctx, ns, ref.SecretReference)
			if err != nil {
				return nil, "", err
			}
			key := cmp.Or(ref.Key, "ca.crt")
			if cfg.CAPEM = ca.Data[key]; len(cfg.CAPEM) == 0 {
				return nil, "", managed.Fail(managed.ReasonSecretInvalid, fmt.Sprintf("Secret %q has no key %q", ca.Name, key), nil)
			}
		}
	}
	cl, err := r.Clients.Ensure(obj.ServerKey(), cfg)
	if err != nil {
		return nil, "", err
	}
	start := time.Now()
	info, err := cl.Info(ctx)
	metrics.ObserveOperation(redis.Engine, "connect", start, err)
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
