package managed

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
)

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;patch

// Annotation prefixes of a rollout. The pod template carries
// TemplateHashPrefix+<Secret name> = the data hash, which restarts the
// pods when it changes; the workload itself carries RestartedAtPrefix+<Secret
// name> = the time of the last restart, for minInterval.
const (
	TemplateHashPrefix = "secret-hash.backend-operator.dev/"
	RestartedAtPrefix  = "restarted-at.backend-operator.dev/"
)

// RolloutKeyAnnotation holds, on a connection Secret with a rollout, the
// random key of its data hash (hex). Only those who can read the Secret can
// read the key, so the hash on workloads and in status reveals nothing of a
// password, even a guessable one.
const RolloutKeyAnnotation = "backend-operator.dev/rollout-key"

// DataHash identifies a Secret's data: the first 16 hex digits of an
// HMAC-SHA256 keyed with key over its sorted keys and values.
func DataHash(key []byte, data map[string][]byte) string {
	h := hmac.New(sha256.New, key)
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s%d:", len(k), k, len(data[k]))
		h.Write(data[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// SecretHash is DataHash of a connection Secret, keyed by its
// RolloutKeyAnnotation.
func SecretHash(s *corev1.Secret) string {
	key, _ := hex.DecodeString(s.Annotations[RolloutKeyAnnotation])
	return DataHash(key, s.Data)
}

// rolloutKey is existing's rollout key, or a new random one.
func rolloutKey(existing *corev1.Secret) (string, error) {
	if existing != nil {
		if k := existing.Annotations[RolloutKeyAnnotation]; len(k) == 64 {
			return k, nil
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("rollout key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// annotationName is the name part of an annotation key for a Secret: its
// name, or a hash of it when longer than the 63 characters a name part takes.
func annotationName(secret string) string {
	if len(secret) <= 63 {
		return secret
	}
	sum := sha256.Sum256([]byte(secret))
	return "h-" + hex.EncodeToString(sum[:])[:40]
}

// workload is one rollout target found on the API server.
type workload struct {
	obj  client.Object
	tmpl *corev1.PodTemplateSpec
}

func (w workload) name() string {
	return fmt.Sprintf("%s/%s", w.obj.GetObjectKind().GroupVersionKind().Kind, w.obj.GetName())
}

// workloads reads the targets of ro in namespace ns with the APIReader, so
// that the operator never caches workloads. A target named and not found is
// listed in missing: nothing uses the Secret there yet (or its name is wrong).
func (d Secrets) workloads(ctx context.Context, ns string, ro *common.Rollout) (out []workload, missing []string, err error) {
	for _, t := range ro.Targets {
		var list client.ObjectList
		var one client.Object
		switch t.Kind {
		case "Deployment":
			list, one = &appsv1.DeploymentList{}, &appsv1.Deployment{}
		case "StatefulSet":
			list, one = &appsv1.StatefulSetList{}, &appsv1.StatefulSet{}
		case "DaemonSet":
			list, one = &appsv1.DaemonSetList{}, &appsv1.DaemonSet{}
		default:
			return nil, nil, Invalid(fmt.Sprintf("rollout target kind %q is not Deployment, StatefulSet or DaemonSet", t.Kind))
		}
		var objs []client.Object
		if t.Name != "" {
			if err := d.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: t.Name}, one); err != nil {
				if apierrors.IsNotFound(err) {
					missing = append(missing, fmt.Sprintf("%s/%s", t.Kind, t.Name))
					continue
				}
				return nil, nil, fmt.Errorf("get %s %s: %w", t.Kind, t.Name, err)
			}
			objs = append(objs, one)
		} else {
			sel, err := metav1.LabelSelectorAsSelector(t.Selector)
			if err != nil {
				return nil, nil, Invalid(fmt.Sprintf("rollout selector: %v", err))
			}
			if err := d.Reader.List(ctx, list, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
				return nil, nil, fmt.Errorf("list %s: %w", t.Kind, err)
			}
			switch l := list.(type) {
			case *appsv1.DeploymentList:
				for i := range l.Items {
					objs = append(objs, &l.Items[i])
				}
			case *appsv1.StatefulSetList:
				for i := range l.Items {
					objs = append(objs, &l.Items[i])
				}
			case *appsv1.DaemonSetList:
				for i := range l.Items {
					objs = append(objs, &l.Items[i])
				}
			}
		}
		for _, o := range objs {
			o.GetObjectKind().SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(string(t.Kind)))
			out = append(out, workload{obj: o, tmpl: podTemplate(o)})
		}
	}
	return out, missing, nil
}

func podTemplate(o client.Object) *corev1.PodTemplateSpec {
	switch w := o.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template
	case *appsv1.StatefulSet:
		return &w.Spec.Template
	case *appsv1.DaemonSet:
		return &w.Spec.Template
	}
	return nil
}

// restartResult is what restart did.
type restartResult struct {
	restarted, pending, missing []string
	// wait is when the first pending workload may restart.
	wait time.Duration
}

// restart sets hash on the pod template of every target of u's rollout
// that lacks it, except those restarted less than minInterval ago: those
// are pending.
func (d Secrets) restart(ctx context.Context, u LoginObject, hash string, now time.Time) (restartResult, error) {
	var res restartResult
	ro := u.ConnectionSecretSpec().Rollout
	ws, missing, err := d.workloads(ctx, u.GetNamespace(), ro)
	if err != nil {
		return res, err
	}
	res.missing = missing
	key := annotationName(u.ConnectionSecretName())
	var minInterval time.Duration
	if ro.MinInterval != nil {
		minInterval = ro.MinInterval.Duration
	}
	for _, w := range ws {
		if w.tmpl.Annotations[TemplateHashPrefix+key] == hash {
			continue
		}
		if last, perr := time.Parse(time.RFC3339, w.obj.GetAnnotations()[RestartedAtPrefix+key]); perr == nil && now.Sub(last) < minInterval {
			res.pending = append(res.pending, w.name())
			if left := minInterval - now.Sub(last); res.wait == 0 || left < res.wait {
				res.wait = left
			}
			continue
		}
		patch := client.MergeFrom(w.obj.DeepCopyObject().(client.Object))
		if w.tmpl.Annotations == nil {
			w.tmpl.Annotations = map[string]string{}
		}
		w.tmpl.Annotations[TemplateHashPrefix+key] = hash
		ann := w.obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[RestartedAtPrefix+key] = now.UTC().Format(time.RFC3339)
		w.obj.SetAnnotations(ann)
		if err := d.Client.Patch(ctx, w.obj, patch); err != nil {
			return res, fmt.Errorf("restart %s: %w", w.name(), err)
		}
		res.restarted = append(res.restarted, w.name())
	}
	return res, nil
}

// rolloutWaiting lists the targets of u's rollout that do not yet run pods
// made from a template carrying the connection Secret's current data hash,
// the way `kubectl rollout status` decides. Without a rollout it is empty.
func (d Secrets) rolloutWaiting(ctx context.Context, u LoginObject, hash string) ([]string, error) {
	ro := u.ConnectionSecretSpec().Rollout
	if ro == nil {
		return nil, nil
	}
	ws, _, err := d.workloads(ctx, u.GetNamespace(), ro)
	if err != nil {
		return nil, err
	}
	key := TemplateHashPrefix + annotationName(u.ConnectionSecretName())
	var waiting []string
	for _, w := range ws {
		if w.tmpl.Annotations[key] != hash || !rolledOut(w.obj) {
			waiting = append(waiting, w.name())
		}
	}
	return waiting, nil
}

// rolledOut reports whether a workload's controller finished rolling out
// its current template.
func rolledOut(o client.Object) bool {
	switch w := o.(type) {
	case *appsv1.Deployment:
		want := int32(1)
		if w.Spec.Replicas != nil {
			want = *w.Spec.Replicas
		}
		s := w.Status
		return s.ObservedGeneration >= w.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
	case *appsv1.StatefulSet:
		want := int32(1)
		if w.Spec.Replicas != nil {
			want = *w.Spec.Replicas
		}
		s := w.Status
		return s.ObservedGeneration >= w.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want &&
			(s.UpdateRevision == "" || s.CurrentRevision == s.UpdateRevision)
	case *appsv1.DaemonSet:
		s := w.Status
		return s.ObservedGeneration >= w.Generation && s.UpdatedNumberScheduled == s.DesiredNumberScheduled && s.NumberAvailable == s.DesiredNumberScheduled
	}
	return true
}
