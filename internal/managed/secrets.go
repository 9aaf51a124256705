package managed

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/credentials"
)

// ReasonSecretConflict: the connection Secret's name is taken by a Secret the
// object does not own.
const ReasonSecretConflict = "SecretConflict"

// ReadSecret reads a referenced Secret straight from the API server (r is the
// manager's APIReader), so that the operator caches no Secret it does not own.
func ReadSecret(ctx context.Context, r client.Reader, namespace, name string) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, Fail(ReasonSecretNotFound, fmt.Sprintf("Secret %s/%s not found", namespace, name), nil)
		}
		return nil, fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
	}
	return secret, nil
}

// OwnedSecret reads the connection Secret owner publishes; nil when absent. A
// Secret of that name that owner does not control is a conflict.
func OwnedSecret(ctx context.Context, c client.Client, owner client.Object, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: owner.GetNamespace(), Name: name}, s)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get connection Secret: %w", err)
	case !metav1.IsControlledBy(s, owner):
		return nil, secretConflict(name)
	}
	return s, nil
}

// WriteSecret makes the stored connection Secret equal to want: it creates it
// when existing is nil and updates it when data, labels or annotations differ.
// It returns the Secret as stored.
func WriteSecret(ctx context.Context, c client.Client, existing, want *corev1.Secret) (*corev1.Secret, error) {
	if existing == nil {
		if err := c.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return nil, secretConflict(want.Name)
			}
			return nil, fmt.Errorf("create connection Secret: %w", err)
		}
		return want, nil
	}
	if secretMatches(existing, want) {
		return existing, nil
	}
	if existing.Type != want.Type {
		return nil, Fail(ReasonSecretInvalid, fmt.Sprintf("Secret %q has type %q; delete it to have it recreated", existing.Name, existing.Type), nil)
	}
	upd := existing.DeepCopy()
	upd.Labels, upd.Annotations, upd.Data = want.Labels, want.Annotations, want.Data
	if err := c.Update(ctx, upd); err != nil {
		return nil, fmt.Errorf("update connection Secret: %w", err)
	}
	return upd, nil
}

func secretConflict(name string) error {
	return Wait(ReasonSecretConflict, fmt.Sprintf("Secret %q exists and is not owned by this object; choose another spec.connectionSecret.name", name))
}

func secretMatches(have, want *corev1.Secret) bool {
	if len(have.Data) != len(want.Data) {
		return false
	}
	for k, v := range want.Data {
		if string(have.Data[k]) != string(v) {
			return false
		}
	}
	for k, v := range want.Labels {
		if have.Labels[k] != v {
			return false
		}
	}
	for k, v := range want.Annotations {
		if have.Annotations[k] != v {
			return false
		}
	}
	return true
}

// Password is a login's password and where it came from.
type Password struct {
	Value string
	// Version identifies the source, so that a change can be noticed: the
	// referenced Secret's resourceVersion, or the UID of the connection Secret
	// holding a generated one; "" for one generated now and not stored yet.
	Version string
	// Existing is the owner's connection Secret as found, nil when absent.
	Existing *corev1.Secret
}

// LoadPassword takes the password from ref (a Secret in the owner's
// namespace), else from the owner's connection Secret, else generates one.
func LoadPassword(ctx context.Context, c client.Client, r client.Reader, owner client.Object, connSecret string, ref *common.SecretKeyReference) (Password, error) {
	existing, err := OwnedSecret(ctx, c, owner, connSecret)
	if err != nil {
		return Password{}, err
	}
	if ref != nil {
		p, err := referencedPassword(ctx, r, owner.GetNamespace(), ref)
		p.Existing = existing
		return p, err
	}
	p := Password{Existing: existing}
	if existing != nil && len(existing.Data["password"]) > 0 {
		p.Value, p.Version = string(existing.Data["password"]), GeneratedVersion(existing)
		return p, nil
	}
	if p.Value, err = credentials.GeneratePassword(); err != nil {
		return Password{}, err
	}
	return p, nil
}

// referencedPassword reads the password ref names (default key password)
// from a Secret in namespace ns, with the Secret's version.
func referencedPassword(ctx context.Context, r client.Reader, ns string, ref *common.SecretKeyReference) (Password, error) {
	src, err := ReadSecret(ctx, r, ns, ref.Name)
	if err != nil {
		return Password{}, err
	}
	key := ref.Key
	if key == "" {
		key = "password"
	}
	if len(src.Data[key]) == 0 {
		return Password{}, Wait(ReasonSecretInvalid, fmt.Sprintf("password Secret %q has no key %q", ref.Name, key))
	}
	return Password{Value: string(src.Data[key]), Version: "secret/" + ref.Name + "@" + src.ResourceVersion}, nil
}

// GeneratedVersion is the password version of a generated password stored in s.
func GeneratedVersion(s *corev1.Secret) string { return "generated/" + string(s.UID) }
