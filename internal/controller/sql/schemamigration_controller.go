package sql

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/migrate"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=schemamigrations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=schemamigrations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sql.backend-operator.dev,resources=schemamigrations/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch

// Reasons of a SchemaMigration's Ready condition besides migrate's.
const (
	ReasonDatabaseNotFound  = "DatabaseNotFound"
	ReasonDatabaseNotReady  = "DatabaseNotReady"
	ReasonConfigMapNotFound = "ConfigMapNotFound"
)

// maxAppliedInStatus bounds status.applied to the most recent versions.
const maxAppliedInStatus = 256

// Field indexes that wake a SchemaMigration.
const (
	migrationDatabaseIndex  = ".spec.databaseRef"
	migrationConfigMapIndex = ".spec.configMaps"
)

// migrationConnector turns a SchemaMigration into a migration run on its
// Database's server.
type migrationConnector struct {
	client client.Client
	// reader reads ConfigMaps from the API server: the operator watches
	// only their metadata, so it never caches their contents.
	reader  client.Reader
	engines *Engines
}

// Connect follows databaseRef to the Database, which must be Ready, and the
// Database's server to the engine's migrate.Backend.
func (c migrationConnector) Connect(ctx context.Context, m *sqlv1.SchemaMigration) (managed.External, error) {
	db := &sqlv1.Database{}
	if err := c.client.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: m.Spec.DatabaseRef.Name}, db); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, managed.Wait(ReasonDatabaseNotFound, fmt.Sprintf("Database %q does not exist in namespace %q", m.Spec.DatabaseRef.Name, m.Namespace))
		}
		return nil, fmt.Errorf("get Database: %w", err)
	}
	if !meta.IsStatusConditionTrue(db.Status.Conditions, managed.ConditionReady) {
		return nil, managed.Wait(ReasonDatabaseNotReady, fmt.Sprintf("Database %q is not Ready yet", db.Name))
	}
	srv, err := resolveServer(ctx, c.client, c.engines, db.Namespace, db.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	engine := string(srv.spec.Engine)
	backend, err := port.For[migrate.Backend](migrate.Kind, engine, srv.engine)
	if err != nil {
		return nil, err
	}
	role := m.Spec.Role
	if role == "" && srv.spec.Engine == sqlv1.EnginePostgres && db.Spec.Postgres != nil {
		role = db.Spec.Postgres.Owner
	}
	spec := migrate.Spec{Database: db.BackendName(), Role: role, Manual: m.ApprovalMode() == sqlv1.ApprovalManual,
		ApprovedPlan: m.Spec.ApprovedPlan,
		Options: migrate.Options{Target: m.Spec.TargetVersion, AllowDown: m.Spec.AllowDown, Baseline: m.Spec.Baseline,
			AcceptChecksums: m.Spec.AcceptChecksums}}
	if r := m.Spec.Resolve; r != nil {
		spec.Resolve = &migrate.Resolve{Version: r.Version, Action: migrate.ResolveAction(r.Action)}
	}
	return &migrationExternal{engine: engine, reader: c.reader, obj: m, migrator: migrate.Migrator{Backend: backend}, spec: spec,
		mysqlRole: srv.spec.Engine == sqlv1.EngineMySQL && m.Spec.Role != ""}, nil
}

// migrationExternal is one SchemaMigration's External: Observe computes the
// plan, Apply runs it, both report it in status. Delete changes nothing.
type migrationExternal struct {
	engine    string
	reader    client.Reader
	obj       *sqlv1.SchemaMigration
	migrator  migrate.Migrator
	spec      migrate.Spec
	mysqlRole bool
}

// Engine names the backend for metrics.
func (e *migrationExternal) Engine() string { return e.engine }

// Validate loads the files from the ConfigMaps (in order) and the inline
// files, and checks their names and versions.
func (e *migrationExternal) Validate(ctx context.Context) error {
	if e.mysqlRole {
		return managed.Invalid("spec.role is set but MySQL and MariaDB run migrations as the admin login")
	}
	var sets [][]migrate.File
	for _, ref := range e.obj.Spec.ConfigMaps {
		cm := &corev1.ConfigMap{}
		if err := e.reader.Get(ctx, client.ObjectKey{Namespace: e.obj.Namespace, Name: ref.Name}, cm); err != nil {
			if apierrors.IsNotFound(err) {
				return managed.Wait(ReasonConfigMapNotFound, fmt.Sprintf("ConfigMap %q does not exist", ref.Name))
			}
			return fmt.Errorf("get ConfigMap %q: %w", ref.Name, err)
		}
		var set []migrate.File
		for name, content := range cm.Data {
			if strings.HasSuffix(name, ".sql") {
				set = append(set, migrate.File{Name: name, Content: content})
			}
		}
		sort.Slice(set, func(i, j int) bool { return set[i].Name < set[j].Name })
		sets = append(sets, set)
	}
	var inline []migrate.File
	for _, f := range e.obj.Spec.Files {
		inline = append(inline, migrate.File{Name: f.Name, Content: f.SQL})
	}
	e.spec.Files = migrate.Merge(append(sets, inline)...)
	if _, err := migrate.Sources(e.spec.Files); err != nil {
		return managed.Invalid(err.Error())
	}
	return nil
}

// Observe reads the database's migration state and plans the run; the
// pending versions are the drift ("version 3 pending").
func (e *migrationExternal) Observe(ctx context.Context) (managed.Observation, error) {
	res, err := e.migrator.Observe(ctx, e.spec)
	e.report(res, err)
	if err != nil {
		return managed.Observation{}, err
	}
	return managed.Observation{Exists: res.State.VersionTable, Drift: res.Drift(e.spec)}, nil
}

// Apply runs the plan under the database's migration lock.
func (e *migrationExternal) Apply(ctx context.Context) error {
	res, err := e.migrator.Apply(ctx, e.spec)
	e.report(res, err)
	return err
}

// Delete changes nothing: deleting a SchemaMigration never drops anything.
func (e *migrationExternal) Delete(context.Context) error { return nil }

// Publish has nothing to publish.
func (e *migrationExternal) Publish(context.Context) error { return nil }

// report writes what a run found or did into status.
func (e *migrationExternal) report(res migrate.Result, err error) {
	st := &e.obj.Status
	if res.State.VersionTable {
		st.CurrentVersion = res.State.Current()
		applied := res.State.Applied
		if len(applied) > maxAppliedInStatus {
			applied = applied[len(applied)-maxAppliedInStatus:]
		}
		st.Applied = nil
		for _, a := range applied {
			am := sqlv1.AppliedMigration{Version: a.Version, Checksum: a.Checksum, DurationMs: a.DurationMs}
			if !a.AppliedAt.IsZero() {
				t := metav1.NewTime(a.AppliedAt)
				am.AppliedAt = &t
			}
			st.Applied = append(st.Applied, am)
		}
	}
	st.Plan = nil
	if p := res.Plan; !p.Empty() {
		st.Plan = &sqlv1.MigrationPlan{Hash: p.Hash, Baseline: p.Baseline}
		for _, s := range p.Steps {
			st.Plan.Migrations = append(st.Plan.Migrations, sqlv1.PlannedMigration{Version: s.Version, Name: s.Name, Checksum: s.Checksum, Direction: s.Direction()})
		}
	}
	switch be, ok := backenderr.As(err); {
	case err == nil:
		if st.Plan == nil {
			st.LastError = ""
		}
	case ok && be.Reason == migrate.ReasonAwaitingApproval:
	case ok:
		st.LastError = be.Message
	default:
		st.LastError = "unexpected error; see the operator log"
	}
}

// migrationWiring is the SchemaMigration kind's wiring: a change to its
// Database or to one of its ConfigMaps wakes it.
func migrationWiring(c client.Client, reader client.Reader, engines *Engines) managed.Wiring[*sqlv1.SchemaMigration, *sqlv1.SchemaMigrationList] {
	return managed.Wiring[*sqlv1.SchemaMigration, *sqlv1.SchemaMigrationList]{
		Kind: managed.Kind[*sqlv1.SchemaMigration, *sqlv1.SchemaMigrationList]{Name: migrate.Kind,
			NewObj:    func() *sqlv1.SchemaMigration { return &sqlv1.SchemaMigration{} },
			NewList:   func() *sqlv1.SchemaMigrationList { return &sqlv1.SchemaMigrationList{} },
			Connector: managed.ConnectorFunc[*sqlv1.SchemaMigration](migrationConnector{client: c, reader: reader, engines: engines}.Connect)},
		DependsOn: []managed.Dependency[*sqlv1.SchemaMigration]{
			{Watch: &sqlv1.Database{}, Index: migrationDatabaseIndex, Key: managed.NamespacedKey, Changed: managed.ReadyChanged,
				Keys: func(m *sqlv1.SchemaMigration) []string { return []string{m.Namespace + "/" + m.Spec.DatabaseRef.Name} }},
			{Watch: &corev1.ConfigMap{}, MetadataOnly: true, Index: migrationConfigMapIndex, Key: managed.NamespacedKey,
				Keys: func(m *sqlv1.SchemaMigration) []string {
					keys := make([]string, 0, len(m.Spec.ConfigMaps))
					for _, ref := range m.Spec.ConfigMaps {
						keys = append(keys, m.Namespace+"/"+ref.Name)
					}
					return keys
				}},
		},
	}
}
