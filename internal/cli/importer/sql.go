package importer

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	"github.com/backend-operator/backend-operator/internal/backend/snapshot"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// sqlObject is a proposed Database or DatabaseUser.
type sqlObject struct {
	database *sqlv1.Database
	user     *sqlv1.DatabaseUser
	// password says whether the login has a password now.
	password passwordState
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
		if engine == string(sqlv1.EnginePostgres) {
			if obs, err = pgPresets(ctx, users, u, obs); err != nil {
				return nil, nil, err
			}
		}
		var warnings []string
		for _, line := range obs.Drift {
			if m := privLine.FindStringSubmatch(line); m != nil && m[1] == "extra" {
				warnings = append(warnings, fmt.Sprintf("adopting would revoke %s on %s in database %s; keep it out of the import or grant it through a preset", m[2], m[3], m[4]))
			}
		}
		ref, note := loginPasswordSecret(u.Name, u.Spec.Name, o.password)
		u.Spec.PasswordSecretRef = ref
		comments = append(append(comments, note), driftComments(obs.Drift)...)
		docs = append(docs, Doc{Comments: comments, Object: u, Warnings: warnings})
	}
	return docs, skipped, nil
}

// privLine is a privilege line of the PostgreSQL adapter's drift: "extra
// USAGE on sequence billing.ids in database orders" (held, would be
// revoked) or "missing ..." (would be granted).
var privLine = regexp.MustCompile(`^(extra|missing) (.+?) on (.+) in database (\S+)$`)

// pgPresets replaces a login's explicit grants on a database by an access
// preset (ReadOnly, ReadWrite, All, in that order) when the explicit grants
// would revoke something there (a privilege on a sequence, a default
// privilege: explicit grants cannot express them) and the preset keeps
// exactly what the login holds on every existing object in that database:
// it revokes nothing and grants nothing but default privileges (the same
// access on the objects created later). It returns the observation of the
// grants it settled on.
func pgPresets(ctx context.Context, users sqlengine.Users, u *sqlv1.DatabaseUser, obs port.Observation) (port.Observation, error) {
	var dbs []string
	for _, line := range obs.Drift {
		if m := privLine.FindStringSubmatch(line); m != nil && m[1] == "extra" && !slices.Contains(dbs, m[4]) {
			dbs = append(dbs, m[4])
		}
	}
	for _, db := range dbs {
		for _, preset := range []sqlv1.AccessPreset{"ReadOnly", "ReadWrite", "All"} {
			grants := slices.DeleteFunc(slices.Clone(u.Spec.Grants), func(g sqlv1.Grant) bool { return g.Database == db })
			grants = append(grants, sqlv1.Grant{Database: db, Access: preset})
			if len(grants) > 64 {
				break
			}
			try := u.DeepCopy()
			try.Spec.Grants = grants
			o, err := users.Observe(ctx, userSpec(try), snapshot.Live)
			if err != nil {
				return obs, fmt.Errorf("observe login %q with %s on %q: %w", u.Spec.Name, preset, db, err)
			}
			if presetKeeps(o.Drift, db) {
				u.Spec.Grants, obs = grants, o
				break
			}
		}
	}
	return obs, nil
}

// presetKeeps: in db, drift revokes nothing and grants only default
// privileges.
func presetKeeps(drift []string, db string) bool {
	for _, line := range drift {
		m := privLine.FindStringSubmatch(line)
		if m == nil || m[4] != db {
			continue
		}
		if m[1] == "extra" || !strings.HasPrefix(m[3], "default privileges ") {
			return false
		}
	}
	return true
}
