package importer

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	common "github.com/backend-operator/backend-operator/api/common/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	_ "github.com/backend-operator/backend-operator/internal/backend/mysql" // registers the mysql engine
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
	"github.com/backend-operator/backend-operator/internal/backend/tlsconfig"
)

// mysqlSystem are the databases and accounts that come with the server.
var (
	mysqlSystemDatabases = []string{"mysql", "sys", "information_schema", "performance_schema"}
	mysqlSystemUsers     = []string{"root", "mariadb.sys", "mysql.sys", "mysql.session", "mysql.infoschema", "PUBLIC", ""}
)

// myAccount is an account as the import sees it.
type myAccount struct {
	user, host string
	maxConns   int
	sslType    string
	// db and table privileges: database -> privileges; (database, table) -> privileges.
	onDB    map[string][]string
	onTable map[[2]string][]string
}

func mysqlConfig(spec *sqlv1.DatabaseServerSpec, l login) sqlengine.Config {
	return sqlengine.Config{Host: spec.Host, Port: spec.EffectivePort(), Username: l.values["username"], Password: l.values["password"],
		MaxConnections: 2, TLSMode: l.tlsMode, CAPEM: l.caPEM, CertPEM: l.certPEM, KeyPEM: l.keyPEM}
}

func mysqlOpen(cfg sqlengine.Config) (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd = cfg.Username, cfg.Password
	c.Net, c.Addr = "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	c.Timeout, c.ReadTimeout = 10*time.Second, 60*time.Second
	tlsCfg, err := tlsconfig.Build(tlsconfig.Material{Mode: cfg.TLSMode, Host: cfg.Host, CAPEM: cfg.CAPEM, CertPEM: cfg.CertPEM, KeyPEM: cfg.KeyPEM})
	if err != nil {
		return nil, err
	}
	c.TLS = tlsCfg
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, nil
}

// parseGrantee splits information_schema's 'user'@'host'.
func parseGrantee(g string) (user, host string, ok bool) {
	i := strings.LastIndex(g, "'@'")
	if i < 1 || !strings.HasPrefix(g, "'") || !strings.HasSuffix(g, "'") {
		return "", "", false
	}
	return strings.ReplaceAll(g[1:i], "''", "'"), strings.ReplaceAll(g[i+3:len(g)-1], "''", "'"), true
}

// unpattern turns a grant's database pattern into a name, or reports a
// wildcard pattern (which no grant of ours expresses).
func unpattern(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			b.WriteByte(p[i])
		case p[i] == '_' || p[i] == '%':
			return "", false
		default:
			b.WriteByte(p[i])
		}
	}
	return b.String(), true
}

// eachRow runs q and calls scan for every row.
func eachRow(ctx context.Context, db *sql.DB, q string, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close() //nolint:errcheck
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// mysqlInventory reads the accounts, their privileges and the databases.
func mysqlInventory(ctx context.Context, db *sql.DB, admin string) (accts []*myAccount, dbs []string, skipped []string, err error) {
	err = eachRow(ctx, db, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1`, func(rows *sql.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		if !slices.Contains(mysqlSystemDatabases, name) {
			dbs = append(dbs, name)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	isRole := "'N'"
	var n int
	if db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user' AND COLUMN_NAME = 'is_role'`).Scan(&n) == nil && n > 0 {
		isRole = "is_role"
	}
	byGrantee := map[[2]string]*myAccount{}
	err = eachRow(ctx, db, `SELECT User, Host, max_user_connections, ssl_type, `+isRole+` FROM mysql.user ORDER BY 1, 2`, func(rows *sql.Rows) error {
		a := &myAccount{onDB: map[string][]string{}, onTable: map[[2]string][]string{}}
		var role string
		if err := rows.Scan(&a.user, &a.host, &a.maxConns, &a.sslType, &role); err != nil {
			return err
		}
		switch {
		case slices.Contains(mysqlSystemUsers, a.user):
			skipped = append(skipped, fmt.Sprintf("account %q@%q: a system account", a.user, a.host))
		case a.user == admin:
			skipped = append(skipped, fmt.Sprintf("account %q@%q: the admin login", a.user, a.host))
		case role == "Y":
			skipped = append(skipped, fmt.Sprintf("role %q: a role, not a login", a.user))
		default:
			accts = append(accts, a)
			byGrantee[[2]string{a.user, a.host}] = a
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, q := range []string{
		`SELECT GRANTEE, TABLE_SCHEMA, '', PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES`,
		`SELECT GRANTEE, TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES`,
	} {
		err := eachRow(ctx, db, q, func(rows *sql.Rows) error {
			var grantee, schema, table, priv string
			if err := rows.Scan(&grantee, &schema, &table, &priv); err != nil {
				return err
			}
			user, host, ok := parseGrantee(grantee)
			a := byGrantee[[2]string{user, host}]
			switch {
			case !ok || a == nil:
			case table != "":
				a.onTable[[2]string{schema, table}] = append(a.onTable[[2]string{schema, table}], priv)
			default:
				// A wildcard pattern has no grant of ours: the adapter's
				// observation reports it.
				if name, ok := unpattern(schema); ok {
					a.onDB[name] = append(a.onDB[name], priv)
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, nil, err
		}
	}
	return accts, dbs, skipped, nil
}

// mysqlGrants expresses an account's privileges as grants.
func mysqlGrants(a *myAccount) []sqlv1.Grant {
	var grants []sqlv1.Grant
	for _, db := range sortedKeys(a.onDB) {
		grants = append(grants, sqlv1.Grant{Database: db, Privileges: sorted(a.onDB[db])})
	}
	byPrivs := map[[2]string][]string{} // (database, privileges) -> tables
	for k, ps := range a.onTable {
		key := [2]string{k[0], strings.Join(sorted(ps), ",")}
		byPrivs[key] = append(byPrivs[key], k[1])
	}
	keys := make([][2]string, 0, len(byPrivs))
	for k := range byPrivs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		tables := sorted(byPrivs[k])
		for len(tables) > 0 {
			n := min(len(tables), 256)
			grants = append(grants, sqlv1.Grant{Database: k[0], Tables: tables[:n], Privileges: strings.Split(k[1], ",")})
			tables = tables[n:]
		}
	}
	return grants
}

// importMySQL reads a MySQL or MariaDB server and proposes a Database per
// database and a DatabaseUser per account, each checked with the adapter.
func importMySQL(ctx context.Context, spec *sqlv1.DatabaseServerSpec, l login, ref serverRef) ([]Doc, []string, error) {
	cfg := mysqlConfig(spec, l)
	db, err := mysqlOpen(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close() //nolint:errcheck
	accts, dbs, skipped, err := mysqlInventory(ctx, db, cfg.Username)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	n := ref.names()
	sref := sqlv1.ServerReference{Kind: sqlv1.ServerKind(ref.Kind), Name: ref.Name}
	var objs []sqlObject
	for _, d := range dbs {
		objs = append(objs, sqlObject{database: &sqlv1.Database{ObjectMeta: metav1.ObjectMeta{Name: n.take("Database", d)},
			Spec: sqlv1.DatabaseSpec{ServerRef: sref, Name: d, AdoptExisting: true, DeletionPolicy: common.DeletionRetain}}})
	}
	for _, a := range accts {
		parts := []string{a.user}
		if a.host != "%" {
			parts = append(parts, a.host)
		}
		u := &sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: n.take("DatabaseUser", parts...)}, Spec: sqlv1.DatabaseUserSpec{
			ServerRef: sref, Name: a.user, AdoptExisting: true, DeletionPolicy: common.DeletionRetain, ConnectionLimit: -1, Grants: mysqlGrants(a)}}
		if a.maxConns > 0 {
			u.Spec.ConnectionLimit = int32(a.maxConns)
		}
		if a.host != "%" || a.sslType != "" {
			u.Spec.MySQL = &sqlv1.MySQLUserSpec{RequireTLS: a.sslType != ""}
			if a.host != "%" {
				u.Spec.MySQL.Host = a.host
			}
		}
		objs = append(objs, sqlObject{user: u})
	}
	eng, err := sqlengine.Open(string(sqlv1.EngineMySQL), cfg)
	if err != nil {
		return nil, nil, err
	}
	defer eng.Close()
	return sqlDocs(ctx, eng, string(sqlv1.EngineMySQL), ref, objs, skipped)
}
