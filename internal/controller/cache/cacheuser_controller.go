package cache

import (
	"cmp"
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	ext := &userExternal{userConnector: c, user: u, redis: srv.client, provider: strings.ToLower(cmp.Or(srv.flavor, "Redis")), mode: managed.ObserveMode(u)}
	ext.spec = redis.UserSpec{Name: u.BackendName()}
	// Problems with the spec or its Secrets are reported by Observe, before
	// anything is sent, and never block a deletion, which needs only the name.
	ext.invalid = ext.prepare(ctx)
	return ext, nil
}

// prepare loads the password, validates everything (command names against
// the server's own table) and renders the connection Secret.
func (e *userExternal) prepare(ctx context.Context) error {
	p, err := managed.LoadPassword(ctx, e.client, e.reader, e.user, e.user.ConnectionSecretName(), e.user.Spec.PasswordSecretRef)
	if err != nil {
		return err
	}
	e.conn.Password, e.spec = p, userSpec(e.user, p.Value)
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

type userExternal struct {
	*userConnector
	user     *cachev1.CacheUser
	redis    *redis.Client
	provider string
	spec     redis.UserSpec
	mode     snapshot.Mode
	// conn is the connection Secret and the password it carries.
	conn managed.Connection
	// invalid is why the spec cannot be applied, if it cannot.
	invalid error
}

func (e *userExternal) Engine() string { return redis.Engine }

// renderSecret builds the desired connection Secret.
func (e *userExternal) renderSecret() error {
	u, first := e.user, e.redis.First()
	info := credentials.Values{Type: "redis", Provider: e.provider, Host: first.Host, Port: first.Port,
		Username: u.BackendName(), Password: e.conn.Value, URI: e.redis.URI(u.BackendName(), e.conn.Value)}
	return e.conn.Render(u, e.scheme, u.ConnectionSecretName(), u.Spec.ConnectionSecret, info)
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
	if err := e.conn.Write(ctx, e.client); err != nil {
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
	if err := e.conn.Write(ctx, e.client); err != nil {
		return err
	}
	e.user.Status.Binding = &common.Binding{Name: e.conn.Secret.Name}
	e.user.Status.PasswordVersion = e.conn.Version
	return nil
}
