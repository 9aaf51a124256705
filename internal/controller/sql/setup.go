// Package sql wires the sql.backend-operator.dev kinds into the manager: the
// server kinds on the shared server loop, and one thin connector per managed
// kind on the shared managed loop.
package sql

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// Setup registers the SQL controllers and their indexes with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, engines *Engines, opts managed.GroupOptions) error {
	if err := servers.SetupGroup(ctx, mgr, engines, opts,
		serverKind("DatabaseServer", func() *sqlv1.DatabaseServer { return &sqlv1.DatabaseServer{} }, engines), &sqlv1.DatabaseServerList{},
		serverKind("ClusterDatabaseServer", func() *sqlv1.ClusterDatabaseServer { return &sqlv1.ClusterDatabaseServer{} }, engines), &sqlv1.ClusterDatabaseServerList{},
	); err != nil {
		return err
	}
	if err := managed.Setup(ctx, mgr, managed.Wiring[*sqlv1.Database, *sqlv1.DatabaseList]{
		Kind: managed.Kind[*sqlv1.Database, *sqlv1.DatabaseList]{Name: sqlengine.KindDatabase,
			NewObj:    func() *sqlv1.Database { return &sqlv1.Database{} },
			NewList:   func() *sqlv1.DatabaseList { return &sqlv1.DatabaseList{} },
			Connector: managed.ConnectorFunc[*sqlv1.Database](databaseConnector{client: mgr.GetClient(), engines: engines}.Connect)},
		DependsOn: managed.OnServers(func(d *sqlv1.Database) string { return d.Spec.ServerRef.Key(d.Namespace) }, serverKinds()...),
	}, opts); err != nil {
		return err
	}
	if err := managed.Setup(ctx, mgr, migrationWiring(mgr.GetClient(), mgr.GetAPIReader(), engines), opts); err != nil {
		return err
	}
	return managed.Setup(ctx, mgr, managed.Wiring[*sqlv1.DatabaseUser, *sqlv1.DatabaseUserList]{
		Kind: managed.Kind[*sqlv1.DatabaseUser, *sqlv1.DatabaseUserList]{Name: sqlengine.KindDatabaseUser,
			NewObj:    func() *sqlv1.DatabaseUser { return &sqlv1.DatabaseUser{} },
			NewList:   func() *sqlv1.DatabaseUserList { return &sqlv1.DatabaseUserList{} },
			Connector: managed.ConnectorFunc[*sqlv1.DatabaseUser](userConnector{secrets: managed.SecretsOf(mgr), engines: engines}.Connect)},
		OwnsSecrets: true,
		DependsOn: append(managed.OnServers(func(u *sqlv1.DatabaseUser) string { return u.Spec.ServerRef.Key(u.Namespace) }, serverKinds()...),
			managed.OnPasswordSecret[*sqlv1.DatabaseUser](),
			// A user waiting for a database its grants name proceeds when it appears.
			managed.Dependency[*sqlv1.DatabaseUser]{Watch: &sqlv1.Database{}, Index: ".spec.grantKeys",
				Keys: func(u *sqlv1.DatabaseUser) []string {
					var keys []string
					for _, g := range u.Spec.Grants {
						keys = append(keys, u.Spec.ServerRef.Key(u.Namespace)+"/"+g.Database)
					}
					return keys
				},
				Key:     func(o client.Object) string { return o.(*sqlv1.Database).ClaimKey() },
				Changed: managed.ReadyChanged}),
	}, opts)
}

func serverKinds() []client.Object {
	return []client.Object{&sqlv1.DatabaseServer{}, &sqlv1.ClusterDatabaseServer{}}
}
