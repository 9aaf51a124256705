package sql

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/credentials"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databaseusers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databaseusers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databaseusers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete

// userConnector turns a DatabaseUser into a login on its server.
type userConnector struct {
	client client.Client
	// reader reads referenced Secrets uncached.
	reader  client.Reader
	scheme  *runtime.Scheme
	engines *Engines
}

// Connect resolves the server and prepares the login. Problems with the spec
// or its Secrets are kept in the External and returned by Observe and Apply,
// so that they never block a deletion, which needs only the name.
func (c *userConnector) Connect(ctx context.Context, u *sqlv1.DatabaseUser) (managed.External, error) {
	srv, err := resolveServer(ctx, c.client, c.engines, u.Namespace, u.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	ext := &userExternal{userConnector: c, user: u, engine: srv.engine, engineName: string(srv.spec.Engine), mode: managed.ObserveMode(u)}
	ext.spec = sqlengine.UserSpec{Name: u.BackendName(), ConnectionLimit: int(u.Spec.ConnectionLimit), MemberOf: u.Spec.MemberOf}
	if u.Spec.Postgres != nil {
		ext.spec.CreateDB, ext.spec.CreateRole = u.Spec.Postgres.CreateDB, u.Spec.Postgres.CreateRole
	}
	if m := u.Spec.MySQL; m != nil {
		ext.spec.Host, ext.spec.RequireTLS = m.Host, m.RequireTLS
	}
	for _, g := range u.Spec.Grants {
		ext.spec.Grants = append(ext.spec.Grants, sqlengine.Grant{Database: g.Database, Access: string(g.Access),
			Schema: g.Schema, Tables: g.Tables, Privileges: g.Privileges})
	}
	ext.err = ext.prepare(ctx, srv.spec.Engine)
	return ext, nil
}

// prepare checks the spec against the engine, loads the password and renders
// the connection Secret.
func (e *userExternal) prepare(ctx context.Context, engine sqlv1.Engine) error {
	u := e.user
	if u.Spec.Postgres != nil && engine != sqlv1.EnginePostgres {
		return managed.Invalid("spec.postgres is set but server " + u.Spec.ServerRef.Name + " runs " + string(engine))
	}
	if u.Spec.MySQL != nil && engine != sqlv1.EngineMySQL {
		return managed.Invalid("spec.mysql is set but server " + u.Spec.ServerRef.Name + " runs " + string(engine))
	}
	if err := e.engine.ValidateUser(e.spec); err != nil {
		return err
	}
	p, err := managed.LoadPassword(ctx, e.client, e.reader, e.user, e.user.ConnectionSecretName(), e.user.Spec.PasswordSecretRef)
	if err != nil {
		return err
	}
	e.conn.Password, e.spec.Password = p, p.Value
	if err := e.engine.ValidateUser(e.spec); err != nil {
		return err
	}
	return e.renderSecret()
}

type userExternal struct {
	*userConnector
	user       *sqlv1.DatabaseUser
	engine     sqlengine.Engine
	engineName string
	spec       sqlengine.UserSpec
	mode       snapshot.Mode
	// conn is the connection Secret and the password it carries.
	conn managed.Connection
	// err is what prepare found wrong; it blocks everything but Delete.
	err error
}

func (e *userExternal) Engine() string { return e.engineName }

// renderSecret builds the desired connection Secret.
func (e *userExternal) renderSecret() error {
	u := e.user
	db := ""
	if len(u.Spec.Grants) > 0 {
		db = u.Spec.Grants[0].Database
	}
	info := e.engine.Connection(u.BackendName(), e.conn.Value, db)
	return e.conn.Render(u, e.scheme, u.ConnectionSecretName(), u.Spec.ConnectionSecret, credentials.Values(info))
}

func (e *userExternal) Observe(ctx context.Context) (managed.Observation, error) {
	if e.err != nil {
		return managed.Observation{}, e.err
	}
	obs, err := e.engine.ObserveUser(ctx, e.spec, e.mode)
	if err != nil || !obs.Exists {
		return managed.Observation(obs), err
	}
	if e.conn.Version != e.user.Status.PasswordVersion && !slices.Contains(obs.Drift, "password differs from the Secret") {
		obs.Drift = append(obs.Drift, "password changed in its Secret")
	}
	return managed.Observation(obs), nil
}

// Apply stores a generated password in the connection Secret before the login
// uses it, so that a crash in between never loses it.
func (e *userExternal) Apply(ctx context.Context) error {
	if e.err != nil {
		return e.err
	}
	if err := e.conn.Write(ctx, e.client); err != nil {
		return err
	}
	return e.engine.ApplyUser(ctx, e.spec)
}

func (e *userExternal) Delete(ctx context.Context) error {
	return e.engine.DeleteUser(ctx, e.spec)
}

// Publish keeps the connection Secret current and names it in status.
func (e *userExternal) Publish(ctx context.Context) error {
	if e.err != nil {
		return e.err
	}
	if err := e.conn.Write(ctx, e.client); err != nil {
		return err
	}
	e.user.Status.Binding = &common.Binding{Name: e.conn.Secret.Name}
	e.user.Status.PasswordVersion = e.conn.Version
	return nil
}
