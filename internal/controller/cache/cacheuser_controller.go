package cache

import (
	"cmp"
	"context"
	"strings"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheusers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheusers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cache.backend-operator.dev,resources=cacheusers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete

// userConnector turns a CacheUser into an ACL user on every node of its server.
type userConnector struct {
	secrets managed.Secrets
	clients *Clients
}

// Connect resolves the server and the engine's CacheUser client. Redis keeps
// password hashes, so a password changed in its Secret shows up as a hash
// difference; no bookkeeping of Secret versions is needed.
func (c userConnector) Connect(ctx context.Context, u *cachev1.CacheUser) (managed.External, error) {
	srv, cl, err := resolveServer(ctx, c.secrets.Client, c.clients, u.Namespace, u.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	users, err := port.For[redis.Users](redis.KindCacheUser, redis.Engine, cl)
	if err != nil {
		return nil, err
	}
	b := &managed.Bound[redis.UserSpec]{EngineName: redis.Engine, Client: users, Mode: managed.ObserveMode(u), Spec: userSpec(u, "")}
	provider := strings.ToLower(cmp.Or(srv.ServerStatus().Flavor, "Redis"))
	rot, _ := users.(port.Rotator)
	managed.WithLogin(b, c.secrets, u, managed.Login[redis.UserSpec]{Kind: redis.KindCacheUser, Name: u.BackendName(),
		Set: redis.SetCredentials, Rotator: rot,
		Values: func(cr port.Credential) credentials.Values {
			first := cl.First()
			return credentials.Values{Type: "redis", Provider: provider, Host: first.Host, Port: first.Port,
				Username: cr.Username, Password: cr.Password, URI: cl.URI(cr.Username, cr.Password)}
		}})
	return b, nil
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
