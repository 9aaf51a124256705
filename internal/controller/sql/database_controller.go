package sql

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
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

func (c *databaseConnector) Connect(ctx context.Context, db *sqlv1.Database) (managed.External, error) {
	srv, err := resolveServer(ctx, c.client, c.engines, db.Namespace, db.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	spec := sqlengine.DatabaseSpec{Name: db.BackendName()}
	if p := db.Spec.Postgres; p != nil {
		if srv.spec.Engine != sqlv1.EnginePostgres {
			return nil, managed.Invalid("spec.postgres is set but server " + db.Spec.ServerRef.Name + " runs " + string(srv.spec.Engine))
		}
		spec.Owner, spec.Encoding, spec.Locale, spec.Template = p.Owner, p.Encoding, p.Locale, p.Template
		spec.Schemas, spec.Extensions = p.Schemas, p.Extensions
	}
	if m := db.Spec.MySQL; m != nil {
		if srv.spec.Engine != sqlv1.EngineMySQL {
			return nil, managed.Invalid("spec.mysql is set but server " + db.Spec.ServerRef.Name + " runs " + string(srv.spec.Engine))
		}
		spec.CharacterSet, spec.Collation = m.CharacterSet, m.Collation
	}
	if err := srv.engine.ValidateDatabase(spec); err != nil {
		return nil, err
	}
	return &databaseExternal{engine: srv.engine, engineName: string(srv.spec.Engine), spec: spec}, nil
}

type databaseExternal struct {
	engine     sqlengine.Engine
	engineName string
	spec       sqlengine.DatabaseSpec
}

func (e *databaseExternal) Engine() string { return e.engineName }

func (e *databaseExternal) Observe(ctx context.Context) (managed.Observation, error) {
	obs, err := e.engine.ObserveDatabase(ctx, e.spec)
	return managed.Observation(obs), err
}

func (e *databaseExternal) Apply(ctx context.Context) error {
	return e.engine.ApplyDatabase(ctx, e.spec)
}

func (e *databaseExternal) Delete(ctx context.Context) error {
	return e.engine.DeleteDatabase(ctx, e.spec.Name)
}

func (e *databaseExternal) Publish(context.Context) error { return nil }
