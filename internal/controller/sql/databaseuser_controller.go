package sql

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

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
	ext := &userExternal{userConnector: c, user: u, engine: srv.engine, engineName: string(srv.spec.Engine), mode: observeMode(u)}
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
	if err := e.loadPassword(ctx); err != nil {
		return err
	}
	e.spec.Password = e.password
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
	password   string
	// passwordVersion identifies the password source; "" for a password
	// generated in this reconcile and not stored yet.
	passwordVersion string
	// existing is the connection Secret as found, nil when absent.
	existing *corev1.Secret
	secret   *corev1.Secret
	// err is what prepare found wrong; it blocks everything but Delete.
	err error
}

func (e *userExternal) Engine() string { return e.engineName }

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
	db := ""
	if len(u.Spec.Grants) > 0 {
		db = u.Spec.Grants[0].Database
	}
	info := e.engine.Connection(u.BackendName(), e.password, db)
	data, err := credentials.Render(credentials.Values(info), u.Spec.ConnectionSecret.Template)
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
		Type: corev1.SecretType("servicebinding.io/" + info.Type),
		Data: data,
	}
	if err := controllerutil.SetControllerReference(u, s, e.scheme); err != nil {
		return fmt.Errorf("owner reference: %w", err)
	}
	e.secret = s
	return nil
}

func (e *userExternal) Observe(ctx context.Context) (managed.Observation, error) {
	if e.err != nil {
		return managed.Observation{}, e.err
	}
	obs, err := e.engine.ObserveUser(ctx, e.spec, e.mode)
	if err != nil || !obs.Exists {
		return managed.Observation(obs), err
	}
	if e.passwordVersion != e.user.Status.PasswordVersion && !slices.Contains(obs.Drift, "password differs from the Secret") {
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
	if err := e.writeSecret(ctx); err != nil {
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
