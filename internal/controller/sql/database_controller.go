package sql

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databases,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databases/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databases/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// databaseConnector turns a Database into a database on its server.
type databaseConnector struct {
	client  client.Client
	engines *Engines
}

// Connect resolves the server and prepares the database. Spec problems are
// kept in the External and returned by Observe and Apply, never by Delete.
func (c *databaseConnector) Connect(ctx context.Context, db *sqlv1.Database) (managed.External, error) {
	srv, err := resolveServer(ctx, c.client, c.engines, db.Namespace, db.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	ext := &databaseExternal{engine: srv.engine, engineName: string(srv.spec.Engine), spec: sqlengine.DatabaseSpec{Name: db.BackendName()}, mode: managed.ObserveMode(db)}
	if p := db.Spec.Postgres; p != nil {
		if srv.spec.Engine != sqlv1.EnginePostgres {
			ext.err = managed.Invalid("spec.postgres is set but server " + db.Spec.ServerRef.Name + " runs " + string(srv.spec.Engine))
		}
		ext.spec.Owner, ext.spec.Encoding, ext.spec.Locale, ext.spec.Template = p.Owner, p.Encoding, p.Locale, p.Template
		ext.spec.Schemas, ext.spec.Extensions = p.Schemas, p.Extensions
	}
	if m := db.Spec.MySQL; m != nil {
		if srv.spec.Engine != sqlv1.EngineMySQL {
			ext.err = managed.Invalid("spec.mysql is set but server " + db.Spec.ServerRef.Name + " runs " + string(srv.spec.Engine))
		}
		ext.spec.CharacterSet, ext.spec.Collation = m.CharacterSet, m.Collation
	}
	if ext.err == nil {
		ext.err = srv.engine.ValidateDatabase(ext.spec)
	}
	return ext, nil
}

type databaseExternal struct {
	engine     sqlengine.Engine
	engineName string
	spec       sqlengine.DatabaseSpec
	mode       snapshot.Mode
	// err is what Connect found wrong with the spec; it blocks all but Delete.
	err error
}

func (e *databaseExternal) Engine() string { return e.engineName }

func (e *databaseExternal) Observe(ctx context.Context) (managed.Observation, error) {
	if e.err != nil {
		return managed.Observation{}, e.err
	}
	obs, err := e.engine.ObserveDatabase(ctx, e.spec, e.mode)
	return managed.Observation(obs), err
}

func (e *databaseExternal) Apply(ctx context.Context) error {
	if e.err != nil {
		return e.err
	}
	return e.engine.ApplyDatabase(ctx, e.spec)
}

func (e *databaseExternal) Delete(ctx context.Context) error {
	return e.engine.DeleteDatabase(ctx, e.spec.Name)
}

func (e *databaseExternal) Publish(context.Context) error { return nil }
