package importer

import (
	"context"
	"fmt"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// redisConfig is the adapter's configuration of a cache server.
func redisConfig(spec *cachev1.CacheServerSpec, l login) redis.Config {
	cfg := redis.Config{Username: l.values["username"], Password: l.values["password"], MaxConnections: 2,
		TLSMode: l.tlsMode, CAPEM: l.caPEM, CertPEM: l.certPEM, KeyPEM: l.keyPEM}
	for _, n := range spec.Nodes {
		cfg.Nodes = append(cfg.Nodes, redis.Node{Host: n.Host, Port: n.EffectivePort()})
	}
	return cfg
}

// redisACL reads ACL LIST from the first node, parsed by the adapter's own
// parser.
func redisACL(ctx context.Context, cfg redis.Config) (map[string]redis.Observed, []string, error) {
	if len(cfg.Nodes) == 0 {
		return nil, nil, fmt.Errorf("the server lists no nodes")
	}
	n := cfg.Nodes[0]
	tlsCfg, err := tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: n.Host, CAPEM: cfg.CAPEM, CertPEM: cfg.CertPEM, KeyPEM: cfg.KeyPEM})
	if err != nil {
		return nil, nil, err
	}
	c := goredis.NewClient(&goredis.Options{Addr: n.Address(), Username: cfg.Username, Password: cfg.Password, TLSConfig: tlsCfg,
		PoolSize: 1, DisableIdentity: true})
	defer c.Close() //nolint:errcheck
	lines, err := c.Do(ctx, "ACL", "LIST").StringSlice()
	if err != nil {
		return nil, nil, fmt.Errorf("ACL LIST on %s: %w", n.Address(), err)
	}
	users := map[string]redis.Observed{}
	var order []string
	for _, line := range lines {
		name, o, err := redis.ParseACLUser(line)
		if err != nil {
			return nil, nil, err
		}
		users[name] = o
		order = append(order, name)
	}
	return users, order, nil
}

// cacheUserSpec turns an observed ACL user into rules: key and channel
// patterns as they are, command rules sorted into allowed and denied
// categories and commands.
func cacheUserSpec(o redis.Observed) cachev1.CacheUserSpec {
	var s cachev1.CacheUserSpec
	if !o.Enabled {
		s.Enabled = new(bool)
	}
	for _, k := range o.Keys {
		switch {
		case strings.HasPrefix(k, "%R~"):
			s.Keys = append(s.Keys, cachev1.KeyPattern{Pattern: k[3:], Access: cachev1.KeyReadOnly})
		case strings.HasPrefix(k, "%W~"):
			s.Keys = append(s.Keys, cachev1.KeyPattern{Pattern: k[3:], Access: cachev1.KeyWriteOnly})
		case strings.HasPrefix(k, "~"):
			s.Keys = append(s.Keys, cachev1.KeyPattern{Pattern: k[1:]})
		}
	}
	for _, c := range o.Channels {
		s.Channels = append(s.Channels, strings.TrimPrefix(c, "&"))
	}
	for _, r := range strings.Fields(o.Commands) {
		switch {
		case r == "allcommands":
			s.Commands.AllowCategories = append(s.Commands.AllowCategories, "all")
		case r == "nocommands" || r == "-@all":
			// The base every user starts from.
		case strings.HasPrefix(r, "+@"):
			s.Commands.AllowCategories = append(s.Commands.AllowCategories, cachev1.Category(r[2:]))
		case strings.HasPrefix(r, "-@"):
			s.Commands.DenyCategories = append(s.Commands.DenyCategories, cachev1.Category(r[2:]))
		case strings.HasPrefix(r, "+"):
			s.Commands.Allow = append(s.Commands.Allow, r[1:])
		case strings.HasPrefix(r, "-"):
			s.Commands.Deny = append(s.Commands.Deny, r[1:])
		}
	}
	return s
}

// redisSpec is the adapter's view of u, as the CacheUser controller builds
// it, without a password.
func redisSpec(u *cachev1.CacheUser) redis.UserSpec {
	s := redis.UserSpec{Name: u.Spec.Name, Enabled: u.Spec.Enabled == nil || *u.Spec.Enabled}
	for _, k := range u.Spec.Keys {
		s.Keys = append(s.Keys, redis.KeyPattern{Pattern: k.Pattern, Access: redis.Access(k.Access)})
	}
	s.Channels = u.Spec.Channels
	for _, c := range u.Spec.Commands.AllowCategories {
		s.AllowCategories = append(s.AllowCategories, string(c))
	}
	for _, c := range u.Spec.Commands.DenyCategories {
		s.DenyCategories = append(s.DenyCategories, string(c))
	}
	s.AllowCommands, s.DenyCommands = u.Spec.Commands.Allow, u.Spec.Commands.Deny
	return s
}

// importRedis proposes a CacheUser per ACL user, each checked with the
// adapter on every node.
func importRedis(ctx context.Context, spec *cachev1.CacheServerSpec, l login, ref serverRef) ([]Doc, []string, error) {
	cfg := redisConfig(spec, l)
	users, order, err := redisACL(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	cl, err := redis.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	client, err := port.For[redis.Users](redis.KindCacheUser, redis.Engine, cl)
	if err != nil {
		return nil, nil, err
	}
	admin := cfg.Username
	if admin == "" {
		admin = "default"
	}
	var docs []Doc
	var skipped []string
	n := ref.names()
	for _, name := range order {
		switch name {
		case "default":
			skipped = append(skipped, `ACL user "default": the server's default user`)
			continue
		case admin:
			skipped = append(skipped, fmt.Sprintf("ACL user %q: the admin login", name))
			continue
		}
		u := &cachev1.CacheUser{ObjectMeta: metav1.ObjectMeta{Name: n.take("CacheUser", name)}, Spec: cacheUserSpec(users[name])}
		u.Spec.Name, u.Spec.AdoptExisting, u.Spec.DeletionPolicy = name, true, common.DeletionRetain
		u.Spec.ServerRef = cachev1.ServerReference{Kind: cachev1.ServerKind(ref.Kind), Name: ref.Name}
		obs, err := client.Observe(ctx, redisSpec(u), snapshot.Live)
		if err != nil {
			return nil, nil, fmt.Errorf("observe ACL user %q: %w", name, err)
		}
		secretRef, note := passwordSecret(u.Name, name)
		u.Spec.PasswordSecretRef = secretRef
		comments := []string{note}
		if users[name].NoPass {
			comments = append(comments, "It has nopass (any password is accepted): adoption sets the Secret's password instead.")
		}
		if len(users[name].PasswordHashes) > 1 {
			comments = append(comments, fmt.Sprintf("It has %d passwords: adoption keeps only the Secret's.", len(users[name].PasswordHashes)))
		}
		drift := slices.DeleteFunc(obs.Drift, func(d string) bool { return strings.HasPrefix(d, "nopass") })
		docs = append(docs, Doc{Comments: append(comments, driftComments(drift)...), Object: u})
	}
	return docs, skipped, nil
}
