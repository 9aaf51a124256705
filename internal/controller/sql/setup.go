// Package sql wires the sql.backend-operator.dev kinds into the manager: one
// thin reconciler per kind on top of the shared managed loop, with the
// indexes and watches that keep dependents moving.
package sql

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/managed"
	"github.com/backend-operator/backend-operator/internal/servers"
)

// Field indexes.
const (
	serverIndex = ".spec.serverKey"
	secretIndex = ".spec.secretKeys"
	grantIndex  = ".spec.grantKeys"
)

// Options configure the SQL controllers.
type Options = managed.GroupOptions

// Setup registers the SQL controllers and their indexes with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, engines *Engines, opts Options) error {
	if err := setupIndexes(ctx, mgr); err != nil {
		return err
	}
	c := mgr.GetClient()
	ctrlOpts := opts.Controller()
	secretToServers := managed.MapByIndex(c, servers.SecretIndex, managed.NamespacedKey, &sqlv1.DatabaseServerList{}, &sqlv1.ClusterDatabaseServerList{})
	if err := (&servers.Reconciler[*sqlv1.DatabaseServer, sqlengine.Engine]{
		Client: c, Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("backend-operator"),
		Group: serverGroup[*sqlv1.DatabaseServer]{engines}, Clients: engines,
		NewObj: func() *sqlv1.DatabaseServer { return &sqlv1.DatabaseServer{} }, Options: opts.Options,
	}).SetupWithManager(ctx, mgr, "databaseserver", secretToServers, ctrlOpts); err != nil {
		return err
	}
	if err := (&servers.Reconciler[*sqlv1.ClusterDatabaseServer, sqlengine.Engine]{
		Client: c, Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("backend-operator"),
		Group: serverGroup[*sqlv1.ClusterDatabaseServer]{engines}, Clients: engines,
		NewObj: func() *sqlv1.ClusterDatabaseServer { return &sqlv1.ClusterDatabaseServer{} }, Options: opts.Options,
	}).SetupWithManager(ctx, mgr, "clusterdatabaseserver", secretToServers, ctrlOpts); err != nil {
		return err
	}

	serverToDependents := func(list client.ObjectList) handler.MapFunc {
		return managed.MapByIndex(c, serverIndex, func(o client.Object) string { return o.(servers.Object).ServerKey() }, list)
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("database").
		For(&sqlv1.Database{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&sqlv1.DatabaseServer{}, handler.EnqueueRequestsFromMapFunc(serverToDependents(&sqlv1.DatabaseList{}))).
		Watches(&sqlv1.ClusterDatabaseServer{}, handler.EnqueueRequestsFromMapFunc(serverToDependents(&sqlv1.DatabaseList{}))).
		WithOptions(ctrlOpts).
		Complete(&managed.Reconciler[*sqlv1.Database, *sqlv1.DatabaseList]{
			Client: c, Recorder: mgr.GetEventRecorder("backend-operator"), Kind: "Database",
			Connector: &databaseConnector{client: c, engines: engines},
			NewObj:    func() *sqlv1.Database { return &sqlv1.Database{} },
			NewList:   func() *sqlv1.DatabaseList { return &sqlv1.DatabaseList{} },
			Items:     func(l *sqlv1.DatabaseList) []*sqlv1.Database { return ptrs(l.Items) },
			Options:   opts.Options,
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("databaseuser").
		For(&sqlv1.DatabaseUser{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&corev1.Secret{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(managed.MapByIndex(c, secretIndex, managed.NamespacedKey, &sqlv1.DatabaseUserList{}))).
		Watches(&sqlv1.DatabaseServer{}, handler.EnqueueRequestsFromMapFunc(serverToDependents(&sqlv1.DatabaseUserList{}))).
		Watches(&sqlv1.ClusterDatabaseServer{}, handler.EnqueueRequestsFromMapFunc(serverToDependents(&sqlv1.DatabaseUserList{}))).
		Watches(&sqlv1.Database{}, handler.EnqueueRequestsFromMapFunc(
			managed.MapByIndex(c, grantIndex, func(o client.Object) string { return o.(*sqlv1.Database).ClaimKey() }, &sqlv1.DatabaseUserList{}))).
		WithOptions(ctrlOpts).
		Complete(&managed.Reconciler[*sqlv1.DatabaseUser, *sqlv1.DatabaseUserList]{
			Client: c, Recorder: mgr.GetEventRecorder("backend-operator"), Kind: "DatabaseUser",
			Connector: &userConnector{client: c, reader: mgr.GetAPIReader(), scheme: mgr.GetScheme(), engines: engines},
			NewObj:    func() *sqlv1.DatabaseUser { return &sqlv1.DatabaseUser{} },
			NewList:   func() *sqlv1.DatabaseUserList { return &sqlv1.DatabaseUserList{} },
			Items:     func(l *sqlv1.DatabaseUserList) []*sqlv1.DatabaseUser { return ptrs(l.Items) },
			Options:   opts.Options,
		})
}

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

func setupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	for _, reg := range []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&sqlv1.Database{}, managed.ClaimIndex, func(o client.Object) []string { return []string{o.(*sqlv1.Database).ClaimKey()} }},
		{&sqlv1.Database{}, serverIndex, func(o client.Object) []string {
			d := o.(*sqlv1.Database)
			return []string{d.Spec.ServerRef.Key(d.Namespace)}
		}},
		{&sqlv1.DatabaseUser{}, managed.ClaimIndex, func(o client.Object) []string { return []string{o.(*sqlv1.DatabaseUser).ClaimKey()} }},
		{&sqlv1.DatabaseUser{}, serverIndex, func(o client.Object) []string {
			u := o.(*sqlv1.DatabaseUser)
			return []string{u.Spec.ServerRef.Key(u.Namespace)}
		}},
		{&sqlv1.DatabaseUser{}, secretIndex, func(o client.Object) []string {
			u := o.(*sqlv1.DatabaseUser)
			if u.Spec.PasswordSecretRef == nil {
				return nil
			}
			return []string{u.Namespace + "/" + u.Spec.PasswordSecretRef.Name}
		}},
		{&sqlv1.DatabaseUser{}, grantIndex, func(o client.Object) []string {
			u := o.(*sqlv1.DatabaseUser)
			var keys []string
			for _, g := range u.Spec.Grants {
				keys = append(keys, u.Spec.ServerRef.Key(u.Namespace)+"/"+g.Database)
			}
			return keys
		}},
	} {
		if err := idx.IndexField(ctx, reg.obj, reg.field, reg.fn); err != nil {
			return err
		}
	}
	return nil
}
