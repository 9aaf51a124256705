package importer

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/port"
	_ "github.com/backend-operator/backend-operator/internal/backend/postgres" // registers the postgres engine
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// pgRole is a login role as the import sees it.
type pgRole struct {
	name                 string
	connLimit            int
	createDB, createRole bool
	memberOf             []string
	password             passwordState
}

// pgDatabase is a database as the import sees it.
type pgDatabase struct {
	name, owner string
	schemas     []string
	extensions  []string
}

// pgPriv is one privilege a role holds in one database.
type pgPriv struct {
	role, kind, schema, name, priv string
}

const pgSystemSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`

// pgPrivilegesQuery is the adapter's privilege query (postgres
// privilegesQuery) for every role at once: privileges on the database, its
// schemas, tables and sequences, and default privileges; none on objects
// the role owns. Each ACL item is exploded alone, as there (an explode of a
// whole ACL costs the square of its grantees).
const pgPrivilegesQuery = `
SELECT r.rolname, 'database', '', d.datname, a.privilege_type
  FROM pg_database d CROSS JOIN LATERAL unnest(d.datacl) i CROSS JOIN LATERAL aclexplode(ARRAY[i]) a JOIN pg_roles r ON r.oid = a.grantee
  WHERE d.datname = current_database() AND d.datdba <> r.oid
UNION ALL
SELECT r.rolname, 'schema', n.nspname, '', a.privilege_type
  FROM pg_namespace n CROSS JOIN LATERAL unnest(n.nspacl) i CROSS JOIN LATERAL aclexplode(ARRAY[i]) a JOIN pg_roles r ON r.oid = a.grantee
  WHERE n.nspowner <> r.oid
UNION ALL
SELECT r.rolname, CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname, a.privilege_type
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL unnest(c.relacl) i CROSS JOIN LATERAL aclexplode(ARRAY[i]) a JOIN pg_roles r ON r.oid = a.grantee
  WHERE c.relowner <> r.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
UNION ALL
SELECT r.rolname, 'defaults', coalesce(n.nspname, ''), pg_get_userbyid(d.defaclrole), a.privilege_type
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL unnest(d.defaclacl) i CROSS JOIN LATERAL aclexplode(ARRAY[i]) a JOIN pg_roles r ON r.oid = a.grantee
  WHERE d.defaclrole <> r.oid AND d.defaclobjtype IN ('r', 'S', 'n')
ORDER BY 1, 2, 3, 4, 5`

func pgConfig(spec *sqlv1.DatabaseServerSpec, l login) sqlengine.Config {
	cfg := sqlengine.Config{Host: spec.Host, Port: spec.EffectivePort(), Username: l.values["username"], Password: l.values["password"],
		MaxConnections: 2, TLSMode: l.tlsMode, CAPEM: l.caPEM, CertPEM: l.certPEM, KeyPEM: l.keyPEM}
	if spec.Postgres != nil {
		cfg.AdminDatabase = spec.Postgres.AdminDatabase
	}
	cfg.AdminDatabase = cmp.Or(cfg.AdminDatabase, "postgres")
	return cfg
}

// pgConnect opens one read-only session on db.
func pgConnect(ctx context.Context, cfg sqlengine.Config, db string) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=%s sslmode=disable connect_timeout=10",
		pgQuote(cfg.Host), cfg.Port, pgQuote(db)))
	if err != nil {
		return nil, err
	}
	cc.User, cc.Password, cc.Fallbacks = cfg.Username, cfg.Password, nil
	cc.RuntimeParams["application_name"] = "kubectl-backend-import"
	cc.RuntimeParams["default_transaction_read_only"] = "on"
	if cc.TLSConfig, err = tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: cfg.Host, CAPEM: cfg.CAPEM, CertPEM: cfg.CertPEM, KeyPEM: cfg.KeyPEM}); err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cc)
}

func pgQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// pgSkipRole says why a role is not imported, or "".
func pgSkipRole(name, admin string, super, login bool, all map[string]bool) string {
	switch {
	case name == admin:
		return "the admin login"
	case name == "postgres" || strings.HasPrefix(name, "pg_"):
		return "a system role"
	case super:
		return "a superuser"
	case !login:
		return "a group role without LOGIN (DatabaseUser manages logins; memberships in it are kept)"
	case strings.HasSuffix(name, port.AlternateSuffix) && all[strings.TrimSuffix(name, port.AlternateSuffix)]:
		return "the alternate login of a rotation"
	}
	return ""
}

// pgInventory reads the logins, databases and privileges of a server.
func pgInventory(ctx context.Context, cfg sqlengine.Config) (roles []pgRole, dbs []pgDatabase, privs map[string][]pgPriv, skipped []string, err error) {
	c, err := pgConnect(ctx, cfg, cfg.AdminDatabase)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	defer c.Close(ctx) //nolint:errcheck
	type row struct {
		name                               string
		super, login, createDB, createRole bool
		connLimit                          int
	}
	var all []row
	rows, err := c.Query(ctx, `SELECT rolname, rolsuper, rolcanlogin, rolcreatedb, rolcreaterole, rolconnlimit FROM pg_roles ORDER BY 1`)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var r row
	if _, err = pgx.ForEachRow(rows, []any{&r.name, &r.super, &r.login, &r.createDB, &r.createRole, &r.connLimit}, func() error {
		all = append(all, r)
		return nil
	}); err != nil {
		return nil, nil, nil, nil, err
	}
	exists := map[string]bool{}
	for _, r := range all {
		exists[r.name] = true
	}
	member := map[string][]string{}
	rows, err = c.Query(ctx, `SELECT u.rolname, g.rolname FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member JOIN pg_roles g ON g.oid = m.roleid ORDER BY 1, 2`)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var u, g string
	if _, err = pgx.ForEachRow(rows, []any{&u, &g}, func() error { member[u] = append(member[u], g); return nil }); err != nil {
		return nil, nil, nil, nil, err
	}
	// A role without a password (PASSWORD NULL) is told apart only in
	// pg_authid, which a superuser alone reads; otherwise it is unknown.
	noPassword := map[string]bool{}
	pwKnown := true
	rows, err = c.Query(ctx, `SELECT rolname FROM pg_authid WHERE rolpassword IS NULL`)
	if err == nil {
		var n string
		_, err = pgx.ForEachRow(rows, []any{&n}, func() error { noPassword[n] = true; return nil })
	}
	if err != nil {
		pwKnown = false
	}
	for _, r := range all {
		if why := pgSkipRole(r.name, cfg.Username, r.super, r.login, exists); why != "" {
			if !strings.HasPrefix(r.name, "pg_") {
				skipped = append(skipped, fmt.Sprintf("role %q: %s", r.name, why))
			}
			continue
		}
		pw := passwordSet
		switch {
		case !pwKnown:
			pw = passwordUnknown
		case noPassword[r.name]:
			pw = passwordNone
		}
		roles = append(roles, pgRole{name: r.name, connLimit: r.connLimit, createDB: r.createDB, createRole: r.createRole, memberOf: member[r.name], password: pw})
	}

	rows, err = c.Query(ctx, `SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1`)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var d pgDatabase
	var allDBs []pgDatabase
	if _, err = pgx.ForEachRow(rows, []any{&d.name, &d.owner}, func() error { allDBs = append(allDBs, d); return nil }); err != nil {
		return nil, nil, nil, nil, err
	}
	privs = map[string][]pgPriv{}
	for _, d := range allDBs {
		system := d.name == "postgres" || d.name == cfg.AdminDatabase
		if system {
			skipped = append(skipped, fmt.Sprintf("database %q: the admin database (grants in it are still imported)", d.name))
		}
		if err := pgReadDatabase(ctx, cfg, &d, privs); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("database %q: %w", d.name, err)
		}
		if !system {
			dbs = append(dbs, d)
		}
	}
	return roles, dbs, privs, skipped, nil
}

// pgReadDatabase reads a database's schemas owned by its owner, its
// extensions, and every role's privileges in it (into privs, by database).
func pgReadDatabase(ctx context.Context, cfg sqlengine.Config, d *pgDatabase, privs map[string][]pgPriv) error {
	c, err := pgConnect(ctx, cfg, d.name)
	if err != nil {
		return err
	}
	defer c.Close(ctx) //nolint:errcheck
	b := &pgx.Batch{}
	b.Queue(`SELECT n.nspname FROM pg_namespace n WHERE `+pgSystemSchemas+` AND n.nspname <> 'public' AND pg_get_userbyid(n.nspowner) = $1 ORDER BY 1`, d.owner).Query(func(rows pgx.Rows) error {
		d.schemas, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	b.Queue(`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`).Query(func(rows pgx.Rows) error {
		d.extensions, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	b.Queue(pgPrivilegesQuery).Query(func(rows pgx.Rows) error {
		var p pgPriv
		_, err := pgx.ForEachRow(rows, []any{&p.role, &p.kind, &p.schema, &p.name, &p.priv}, func() error {
			privs[d.name] = append(privs[d.name], p)
			return nil
		})
		return err
	})
	return c.SendBatch(ctx, b).Close()
}

// pgGrants expresses a role's privileges as grants: the database's
// privileges, each schema's, and the tables that share a set of privileges.
// Privileges on sequences and default privileges have no explicit grant of
// their own (only the access presets cover them): the adapter's observation
// then reports them.
func pgGrants(role string, privs map[string][]pgPriv) []sqlv1.Grant {
	var grants []sqlv1.Grant
	dbs := make([]string, 0, len(privs))
	for db := range privs {
		dbs = append(dbs, db)
	}
	sort.Strings(dbs)
	for _, db := range dbs {
		onDB := []string{}
		onSchema := map[string][]string{}
		onTable := map[[2]string][]string{} // (schema, table) -> privileges
		for _, p := range privs[db] {
			if p.role != role {
				continue
			}
			switch p.kind {
			case "database":
				onDB = append(onDB, p.priv)
			case "schema":
				onSchema[p.schema] = append(onSchema[p.schema], p.priv)
			case "table":
				onTable[[2]string{p.schema, p.name}] = append(onTable[[2]string{p.schema, p.name}], p.priv)
			}
		}
		if len(onDB)+len(onSchema)+len(onTable) == 0 {
			continue
		}
		if len(onDB) > 0 {
			grants = append(grants, sqlv1.Grant{Database: db, Privileges: sorted(onDB)})
		}
		for _, s := range sortedKeys(onSchema) {
			grants = append(grants, sqlv1.Grant{Database: db, Schema: s, Privileges: sorted(onSchema[s])})
		}
		// Tables with the same privileges in the same schema share a grant.
		byPrivs := map[[2]string][]string{} // (schema, privileges) -> tables
		for k, ps := range onTable {
			key := [2]string{k[0], strings.Join(sorted(ps), ",")}
			byPrivs[key] = append(byPrivs[key], k[1])
		}
		keys := make([][2]string, 0, len(byPrivs))
		for k := range byPrivs {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1])) })
		for _, k := range keys {
			tables := sorted(byPrivs[k])
			for len(tables) > 0 {
				n := min(len(tables), 256)
				grants = append(grants, sqlv1.Grant{Database: db, Schema: k[0], Tables: tables[:n], Privileges: strings.Split(k[1], ",")})
				tables = tables[n:]
			}
		}
	}
	return grants
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// importPostgres reads a PostgreSQL server and proposes a Database per
// database and a DatabaseUser per login, each checked with the adapter.
func importPostgres(ctx context.Context, spec *sqlv1.DatabaseServerSpec, l login, ref serverRef) ([]Doc, []string, error) {
	cfg := pgConfig(spec, l)
	roles, dbs, privs, skipped, err := pgInventory(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	eng, err := sqlengine.Open(string(sqlv1.EnginePostgres), cfg)
	if err != nil {
		return nil, nil, err
	}
	defer eng.Close()
	return sqlDocs(ctx, eng, string(sqlv1.EnginePostgres), ref, pgObjects(roles, dbs, privs, cfg.Username, ref), skipped)
}

// pgObjects turns the inventory into API objects.
func pgObjects(roles []pgRole, dbs []pgDatabase, privs map[string][]pgPriv, admin string, ref serverRef) []sqlObject {
	n := ref.names()
	var out []sqlObject
	sref := sqlv1.ServerReference{Kind: sqlv1.ServerKind(ref.Kind), Name: ref.Name}
	for _, d := range dbs {
		db := &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: n.take("Database", d.name)}, Spec: sqlv1.DatabaseSpec{
			ServerRef: sref, Name: d.name, AdoptExisting: true, DeletionPolicy: common.DeletionRetain}}
		if d.owner != admin || len(d.schemas)+len(d.extensions) > 0 {
			db.Spec.Postgres = &sqlv1.PostgresDatabaseSpec{Schemas: d.schemas, Extensions: d.extensions}
			if d.owner != admin {
				db.Spec.Postgres.Owner = d.owner
			}
		}
		out = append(out, sqlObject{database: db})
	}
	for _, r := range roles {
		u := &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: n.take("DatabaseUser", r.name)}, Spec: sqlv1.DatabaseUserSpec{
			ServerRef: sref, Name: r.name, AdoptExisting: true, DeletionPolicy: common.DeletionRetain, ConnectionLimit: int32(r.connLimit), MemberOf: r.memberOf,
			Grants: pgGrants(r.name, privs)}}
		if r.createDB || r.createRole {
			u.Spec.Postgres = &sqlv1.PostgresUserSpec{CreateDB: r.createDB, CreateRole: r.createRole}
		}
		out = append(out, sqlObject{user: u, password: r.password})
	}
	return out
}
