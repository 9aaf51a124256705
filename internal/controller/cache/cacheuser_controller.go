package cache

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheusers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheusers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheusers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete

// userConnector turns a CacheUser into an ACL user on every node of its server.
type userConnector struct {
	client client.Client
	// reader reads referenced Secrets uncached.
	reader  client.Reader
	scheme  *runtime.Scheme
	clients *Clients
}

func (c *userConnector) Connect(ctx context.Context, u *cachev1.CacheUser) (managed.External, error) {
	srv, err := resolveServer(ctx, c.client, c.clients, u.Namespace, u.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	ext := &userExternal{userConnector: c, user: u, redis: srv.client, provider: strings.ToLower(cmp.Or(srv.flavor, "Redis")), mode: observeMode(u)}
	ext.spec = redis.UserSpec{Name: u.BackendName()}
	// Problems with the spec or its Secrets are reported by Observe, before
	// anything is sent, and never block a deletion, which needs only the name.
	ext.invalid = ext.prepare(ctx)
	return ext, nil
}

// prepare loads the password, validates everything (command names against
// the server's own table) and renders the connection Secret.
func (e *userExternal) prepare(ctx context.Context) error {
	if err := e.loadPassword(ctx); err != nil {
		return err
	}
	e.spec = userSpec(e.user, e.password)
	if err := e.redis.Check(ctx, e.spec); err != nil {
		return err
	}
	return e.renderSecret()
}

// userSpec maps the API object to the adapter's spec.
func userSpec(u *cachev1.CacheUser, password string) redis.UserSpec {
	s := redis.UserSpec{Name: u.BackendName(), Enabled: u.Enabled(), Passwords: []string{password},
		Channels: u.Spec.Channels, AllowCommands: u.Spec.Commands.Allow, DenyCommands: u.Spec.Commands.Deny}
	for _, k := range u.Spec.Keys {
		s.Keys = append(s.Keys, redis.KeyPattern{Pattern: k.Pattern, Access: redis.Access(cmp.Or(k.Access, cachev1.KeyReadWrite))})
	}
	for _, c := range u.Spec.Commands.AllowCategories {
		s.AllowCategories = append(s.AllowCategories, string(c))
	}
	for _, c := range u.Spec.Commands.DenyCategories {
		s.DenyCategories = append(s.DenyCategories, string(c))
	}
	return s
}

// observeMode lets a steady object's drift check read a node snapshot.
func observeMode(obj managed.Object) snapshot.Mode {
	if managed.Steady(obj) {
		return snapshot.Cached
	}
	return snapshot.Live
}

type userExternal struct {
	*userConnector
	user     *cachev1.CacheUser
	redis    *redis.Client
	provider string
	spec     redis.UserSpec
	mode     snapshot.Mode
	password string
	// invalid is why the spec cannot be applied, if it cannot.
	invalid error
	// passwordVersion identifies the password source; "" for a password
	// generated in this reconcile and not stored yet.
	passwordVersion string
	// existing is the connection Secret as found, nil when absent.
	existing *corev1.Secret
	secret   *corev1.Secret
}

func (e *userExternal) Engine() string { return redis.Engine }

// loadPassword takes the password from passwordSecretRef, else from the
// connection Secret this object owns, else generates one.
func (e *userExternal) loadPassword(ctx context.Context) error {
	u := e.user
	p, err := managed.LoadPassword(ctx, e.client, e.reader, u, u.ConnectionSecretName(), u.Spec.PasswordSecretRef)
	if err != nil {
		return err
	}
	e.password, e.passwordVersion, e.existing = p.Value, p.Version, p.Existing
	return nil
}

// renderSecret builds the desired connection Secret.
func (e *userExternal) renderSecret() error {
	u := e.user
	first := e.redis.First()
	info := credentials.Values{Type: "redis", Provider: e.provider, Host: first.Host, Port: first.Port,
		Username: u.BackendName(), Password: e.password, URI: e.redis.URI(u.BackendName(), e.password)}
	data, err := credentials.Render(info, u.Spec.ConnectionSecret.Template)
	if err != nil {
		return managed.Invalid("spec.connectionSecret: " + err.Error())
	}
	lbls := map[string]string{}
	maps.Copy(lbls, u.Spec.ConnectionSecret.Labels)
	lbls[credentials.WatchLabel] = credentials.WatchOwned
	lbls["app.kubernetes.io/managed-by"] = "backend-operator"
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: u.ConnectionSecretName(), Namespace: u.Namespace, Labels: lbls,
			Annotations: u.Spec.ConnectionSecret.Annotations},
		Type: corev1.SecretType("servicebinding.io/redis"),
		Data: data,
	}
	if err := controllerutil.SetControllerReference(u, s, e.scheme); err != nil {
		return fmt.Errorf("owner reference: %w", err)
	}
	e.secret = s
	return nil
}

func (e *userExternal) Observe(ctx context.Context) (managed.Observation, error) {
	if e.invalid != nil {
		return managed.Observation{}, e.invalid
	}
	// Redis keeps password hashes, so a password changed in its Secret shows
	// up as a hash difference; no bookkeeping of Secret versions is needed.
	obs, err := e.redis.Observe(ctx, e.spec, e.mode)
	return managed.Observation(obs), err
}

// Apply stores a generated password in the connection Secret before the user
// gets it, so that a crash in between never loses it.
func (e *userExternal) Apply(ctx context.Context) error {
	if e.invalid != nil {
		return e.invalid
	}
	if err := e.writeSecret(ctx); err != nil {
		return err
	}
	return e.redis.Apply(ctx, e.spec)
}

func (e *userExternal) Delete(ctx context.Context) error {
	return e.redis.Delete(ctx, e.spec.Name)
}

// Publish keeps the connection Secret current and names it in status.
func (e *userExternal) Publish(ctx context.Context) error {
	if e.invalid != nil {
		return e.invalid
	}
	if err := e.writeSecret(ctx); err != nil {
		return err
	}
	e.user.Status.Binding = &common.Binding{Name: e.secret.Name}
	e.user.Status.PasswordVersion = e.passwordVersion
	return nil
}

// writeSecret creates or updates the connection Secret when it differs.
func (e *userExternal) writeSecret(ctx context.Context) error {
	stored, err := managed.WriteSecret(ctx, e.client, e.existing, e.secret)
	if err != nil {
		return err
	}
	e.existing = stored
	if e.passwordVersion == "" {
		e.passwordVersion = managed.GeneratedVersion(stored)
	}
	return nil
}
