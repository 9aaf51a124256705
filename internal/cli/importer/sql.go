package importer

import (
	"context"
	"fmt"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// sqlObject is a proposed Database or DatabaseUser.
type sqlObject struct {
	database *sqlv1.Database
	user     *sqlv1.DatabaseUser
}

// databaseSpec is the adapter's view of d, as the Database controller builds it.
func databaseSpec(d *sqlv1.Database) sqlengine.DatabaseSpec {
	s := sqlengine.DatabaseSpec{Name: d.Spec.Name}
	if p := d.Spec.Postgres; p != nil {
		s.Owner, s.Schemas, s.Extensions, s.Encoding, s.Locale = p.Owner, p.Schemas, p.Extensions, p.Encoding, p.Locale
	}
	if m := d.Spec.MySQL; m != nil {
		s.CharacterSet, s.Collation = m.CharacterSet, m.Collation
	}
	return s
}

// userSpec is the adapter's view of u, as the DatabaseUser controller
// builds it, without a password (it is not read).
func userSpec(u *sqlv1.DatabaseUser) sqlengine.UserSpec {
	s := sqlengine.UserSpec{Name: u.Spec.Name, ConnectionLimit: int(u.Spec.ConnectionLimit), MemberOf: u.Spec.MemberOf}
	if p := u.Spec.Postgres; p != nil {
		s.CreateDB, s.CreateRole = p.CreateDB, p.CreateRole
	}
	if m := u.Spec.MySQL; m != nil {
		s.Host, s.RequireTLS = m.Host, m.RequireTLS
	}
	for _, g := range u.Spec.Grants {
		s.Grants = append(s.Grants, sqlengine.Grant{Database: g.Database, Access: string(g.Access), Schema: g.Schema, Tables: g.Tables, Privileges: g.Privileges})
	}
	return s
}

// sqlDocs observes each proposed object through the engine's adapter, as
// the operator will after adoption, and turns it into a Doc whose comments
// say what would still change.
func sqlDocs(ctx context.Context, eng sqlengine.Engine, engine string, _ serverRef, objs []sqlObject, skipped []string) ([]Doc, []string, error) {
	dbs, err := port.For[sqlengine.Databases](sqlengine.KindDatabase, engine, eng)
	if err != nil {
		return nil, nil, err
	}
	users, err := port.For[sqlengine.Users](sqlengine.KindDatabaseUser, engine, eng)
	if err != nil {
		return nil, nil, err
	}
	docs := make([]Doc, 0, len(objs))
	for _, o := range objs {
		if o.database != nil {
			obs, err := dbs.Observe(ctx, databaseSpec(o.database), snapshot.Live)
			if err != nil {
				return nil, nil, fmt.Errorf("observe database %q: %w", o.database.Spec.Name, err)
			}
			docs = append(docs, Doc{Comments: driftComments(obs.Drift), Object: o.database})
			continue
		}
		u := o.user
		var comments []string
		if len(u.Spec.Grants) > 64 {
			comments = append(comments, fmt.Sprintf("%d grants found; a DatabaseUser holds 64: the rest were left out and would be revoked.", len(u.Spec.Grants)))
			u.Spec.Grants = u.Spec.Grants[:64]
		}
		if u.Spec.ConnectionLimit == 0 {
			comments = append(comments, "The connection limit is 0, which the API reads as its default (-1, no limit).")
		}
		obs, err := users.Observe(ctx, userSpec(u), snapshot.Live)
		if err != nil {
			return nil, nil, fmt.Errorf("observe login %q: %w", u.Spec.Name, err)
		}
		ref, note := passwordSecret(u.Name, u.Spec.Name)
		u.Spec.PasswordSecretRef = ref
		comments = append(append(comments, note), driftComments(obs.Drift)...)
		docs = append(docs, Doc{Comments: comments, Object: u})
	}
	return docs, skipped, nil
}
