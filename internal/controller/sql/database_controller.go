package sql

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databases,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databases/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=databases/finalizers,verbs=update

// databaseConnector turns a Database into a database on its server.
type databaseConnector struct {
	client  client.Client
	engines *Engines
}

// Connect resolves the server and the engine's Database client.
func (c databaseConnector) Connect(ctx context.Context, db *sqlv1.Database) (managed.External, error) {
	srv, err := resolveServer(ctx, c.client, c.engines, db.Namespace, db.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	engine := string(srv.spec.Engine)
	dbs, err := port.For[sqlengine.Databases](sqlengine.KindDatabase, engine, srv.engine)
	if err != nil {
		return nil, err
	}
	b := &managed.Bound[sqlengine.DatabaseSpec]{EngineName: engine, Client: dbs, Mode: managed.ObserveMode(db),
		Spec: sqlengine.DatabaseSpec{Name: db.BackendName()}}
	if p := db.Spec.Postgres; p != nil {
		b.Spec.Owner, b.Spec.Encoding, b.Spec.Locale, b.Spec.Template = p.Owner, p.Encoding, p.Locale, p.Template
		b.Spec.Schemas, b.Spec.Extensions = p.Schemas, p.Extensions
	}
	if m := db.Spec.MySQL; m != nil {
		b.Spec.CharacterSet, b.Spec.Collation = m.CharacterSet, m.Collation
	}
	b.Check = func(context.Context) error {
		return engineBlocks(srv.spec.Engine, db.Spec.ServerRef.Name, db.Spec.Postgres != nil, db.Spec.MySQL != nil)
	}
	return b, nil
}

// engineBlocks refuses an engine-only block (spec.postgres, spec.mysql) on a
// server of another engine.
func engineBlocks(engine sqlv1.Engine, server string, postgres, mysql bool) error {
	switch {
	case postgres && engine != sqlv1.EnginePostgres:
		return managed.Invalid("spec.postgres is set but server " + server + " runs " + string(engine))
	case mysql && engine != sqlv1.EngineMySQL:
		return managed.Invalid("spec.mysql is set but server " + server + " runs " + string(engine))
	}
	return nil
}
