package sql

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
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
	secrets managed.Secrets
	engines *Engines
}

// Connect resolves the server and the engine's DatabaseUser client. The
// password and the connection Secret are loaded by Validate, so that they
// never block a deletion, which needs only the name.
func (c userConnector) Connect(ctx context.Context, u *sqlv1.DatabaseUser) (managed.External, error) {
	srv, err := resolveServer(ctx, c.secrets.Client, c.engines, u.Namespace, u.Spec.ServerRef)
	if err != nil {
		return nil, err
	}
	engine := string(srv.spec.Engine)
	users, err := port.For[sqlengine.Users](sqlengine.KindDatabaseUser, engine, srv.engine)
	if err != nil {
		return nil, err
	}
	b := &managed.Bound[sqlengine.UserSpec]{EngineName: engine, Client: users, Mode: managed.ObserveMode(u),
		Spec: sqlengine.UserSpec{Name: u.BackendName(), ConnectionLimit: int(u.Spec.ConnectionLimit), MemberOf: u.Spec.MemberOf}}
	if p := u.Spec.Postgres; p != nil {
		b.Spec.CreateDB, b.Spec.CreateRole = p.CreateDB, p.CreateRole
	}
	if m := u.Spec.MySQL; m != nil {
		b.Spec.Host, b.Spec.RequireTLS = m.Host, m.RequireTLS
	}
	for _, g := range u.Spec.Grants {
		b.Spec.Grants = append(b.Spec.Grants, sqlengine.Grant{Database: g.Database, Access: string(g.Access),
			Schema: g.Schema, Tables: g.Tables, Privileges: g.Privileges})
	}
	b.Check = func(ctx context.Context) error {
		if err := engineBlocks(srv.spec.Engine, u.Spec.ServerRef.Name, u.Spec.Postgres != nil, u.Spec.MySQL != nil); err != nil {
			return err
		}
		// The spec alone first: a bad grant is reported before any Secret is read.
		if err := users.Validate(ctx, b.Spec); err != nil {
			return err
		}
		return databasesPending(ctx, c.secrets.Client, u)
	}
	db := ""
	if len(u.Spec.Grants) > 0 {
		db = u.Spec.Grants[0].Database
	}
	rot, _ := users.(port.Rotator)
	managed.WithLogin(b, c.secrets, u, managed.Login[sqlengine.UserSpec]{Kind: sqlengine.KindDatabaseUser, Name: u.BackendName(),
		Set: sqlengine.SetCredentials, Rotator: rot,
		Values: func(cr port.Credential) credentials.Values {
			c := srv.engine.Connection(cr.Username, cr.Password, db)
			return credentials.Values{Type: c.Type, Provider: c.Provider, Host: c.Host, Port: c.Port, Username: c.Username,
				Password: c.Password, Database: c.Database, URI: c.URI, JDBCURL: c.JDBCURL}
		}})
	return b, nil
}

// databasesPending returns a managed.Pending error when a database u's
// grants name is claimed by a Database object not reconciled yet (one the
// operator is about to create: an install over existing manifests, an apply
// of a directory), so that u waits for it instead of failing its grant
// against the server first. The Database's Ready change wakes u.
func databasesPending(ctx context.Context, c client.Reader, u *sqlv1.DatabaseUser) error {
	for _, g := range u.Spec.Grants {
		var dbs sqlv1.DatabaseList
		if err := c.List(ctx, &dbs, client.MatchingFields{managed.ClaimIndex: u.Spec.ServerRef.Key(u.Namespace) + "/" + g.Database}); err != nil {
			return fmt.Errorf("list databases: %w", err)
		}
		for _, d := range dbs.Items {
			if meta.FindStatusCondition(d.Status.Conditions, managed.ConditionReady) == nil && d.DeletionTimestamp.IsZero() {
				return managed.Pending(backenderr.ReasonDependencyMissing, fmt.Sprintf(
					"waiting for Database %s/%s to create database %q", d.Namespace, d.Name, g.Database))
			}
		}
	}
	return nil
}
