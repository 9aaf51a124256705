package managed

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/credentials"
)

// Connection is a login's connection Secret through one reconcile: the
// password it carries (see LoadPassword) and the Secret as it should be.
type Connection struct {
	Password
	// Secret is the connection Secret as rendered; nil until Render.
	Secret *corev1.Secret
}

// Render builds the connection Secret called name of owner: the Service
// Binding keys of v plus the template keys, labels and annotations of spec.
func (c *Connection) Render(owner client.Object, scheme *runtime.Scheme, name string, spec common.ConnectionSecret, v credentials.Values) error {
	data, err := credentials.Render(v, spec.Template)
	if err != nil {
		return Invalid("spec.connectionSecret: " + err.Error())
	}
	lbls := map[string]string{}
	maps.Copy(lbls, spec.Labels)
	lbls[credentials.WatchLabel] = credentials.WatchOwned
	lbls["app.kubernetes.io/managed-by"] = "backend-operator"
	ann := spec.Annotations
	if spec.Rollout != nil {
		key, err := rolloutKey(c.Existing)
		if err != nil {
			return err
		}
		ann = maps.Clone(spec.Annotations)
		if ann == nil {
			ann = map[string]string{}
		}
		ann[RolloutKeyAnnotation] = key
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: owner.GetNamespace(), Labels: lbls, Annotations: ann},
		Type:       corev1.SecretType("servicebinding.io/" + v.Type),
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(owner, s, scheme); err != nil {
		return fmt.Errorf("owner reference: %w", err)
	}
	c.Secret = s
	return nil
}

// Write creates or updates the connection Secret when it differs. A
// generated password has a version once it is stored.
func (c *Connection) Write(ctx context.Context, cl client.Client) error {
	stored, err := WriteSecret(ctx, cl, c.Existing, c.Secret)
	if err != nil {
		return err
	}
	c.Existing = stored
	if c.Version == "" {
		c.Version = GeneratedVersion(stored)
	}
	return nil
}
