// Package sql wires the sql.backend-operator.dev kinds into the manager: one
// thin reconciler per kind on top of the shared managed loop, with the
// indexes and watches that keep dependents moving.
package sql

import (
	"cmp"
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/managed"
)

// Field indexes.
const (
	serverIndex = ".spec.serverKey"
	secretIndex = ".spec.secretKeys"
	grantIndex  = ".spec.grantKeys"
)

// Options configure the SQL controllers.
type Options struct {
	managed.Options
	// Concurrency is the number of objects of each kind reconciled at once.
	Concurrency int
}

// Setup registers the SQL controllers and their indexes with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, engines *Engines, opts Options) error {
	if opts.Concurrency == 0 {
		opts.Concurrency = 8
	}
	if err := setupIndexes(ctx, mgr); err != nil {
		return err
	}
	c := mgr.GetClient()
	ctrlOpts := controller.Options{
		MaxConcurrentReconciles: opts.Concurrency,
		RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, time.Minute),
			&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: newLimiter()},
		),
	}
	secretToServers := managed.MapByIndex(c, secretIndex, managed.NamespacedKey, &sqlv1.DatabaseServerList{}, &sqlv1.ClusterDatabaseServerList{})

	if err := ctrl.NewControllerManagedBy(mgr).Named("databaseserver").
		For(&sqlv1.DatabaseServer{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretToServers)).
		WithOptions(ctrlOpts).
		Complete(&ServerReconciler[*sqlv1.DatabaseServer]{
			Client: c, Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("backend-operator"), Engines: engines,
			NewObj: func() *sqlv1.DatabaseServer { return &sqlv1.DatabaseServer{} },
			KeyFor: func(n types.NamespacedName) string {
				return sqlv1.ServerReference{Kind: sqlv1.KindDatabaseServer, Name: n.Name}.Key(n.Namespace)
			},
			Options: opts.Options,
		}); err != nil {
		return err
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("clusterdatabaseserver").
		For(&sqlv1.ClusterDatabaseServer{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(secretToServers)).
		WithOptions(ctrlOpts).
		Complete(&ServerReconciler[*sqlv1.ClusterDatabaseServer]{
			Client: c, Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("backend-operator"), Engines: engines,
			NewObj: func() *sqlv1.ClusterDatabaseServer { return &sqlv1.ClusterDatabaseServer{} },
			KeyFor: func(n types.NamespacedName) string {
				return sqlv1.ServerReference{Kind: sqlv1.KindClusterDatabaseServer, Name: n.Name}.Key("")
			},
			Options: opts.Options,
		}); err != nil {
		return err
	}

	serverToDependents := func(list client.ObjectList) handler.MapFunc {
		return managed.MapByIndex(c, serverIndex, func(o client.Object) string { return o.(serverObject).ServerKey() }, list)
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
	adminSecret := func(s *sqlv1.DatabaseServerSpec, ns string) []string {
		keys := []string{cmp.Or(ns, s.AdminCredentials.SecretRef.Namespace) + "/" + s.AdminCredentials.SecretRef.Name}
		if s.TLS != nil && s.TLS.CASecretRef != nil {
			keys = append(keys, cmp.Or(ns, s.TLS.CASecretRef.Namespace)+"/"+s.TLS.CASecretRef.Name)
		}
		return keys
	}
	for _, reg := range []struct {
		obj   client.Object
		field string
		fn    client.IndexerFunc
	}{
		{&sqlv1.DatabaseServer{}, secretIndex, func(o client.Object) []string {
			s := o.(*sqlv1.DatabaseServer)
			return adminSecret(&s.Spec, s.Namespace)
		}},
		{&sqlv1.ClusterDatabaseServer{}, secretIndex, func(o client.Object) []string {
			return adminSecret(&o.(*sqlv1.ClusterDatabaseServer).Spec.DatabaseServerSpec, "")
		}},
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
