package mysql

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// level is where a privilege is held: the whole server, a database or a table.
type level int

const (
	onGlobal level = iota
	onDatabase
	onTable
)

// privKey names one privilege target. For onDatabase, DB is the grant pattern
// as mysql.db stores it (see grantPattern); for onTable, DB is the literal
// database name.
type privKey struct {
	Level level
	DB    string
	Table string
}

func (k privKey) String() string {
	switch k.Level {
	case onGlobal:
		return "*.*"
	case onDatabase:
		name, wild := unescapePattern(k.DB)
		if wild {
			return "database pattern " + k.DB
		}
		return "database " + name
	default:
		return "table " + k.DB + "." + k.Table
	}
}

// on renders the ON clause target.
func (k privKey) on() string {
	switch k.Level {
	case onGlobal:
		return "*.*"
	case onDatabase:
		return ident(k.DB) + ".*"
	default:
		return ident(k.DB) + "." + ident(k.Table)
	}
}

// privSet maps targets to privilege names.
type privSet map[privKey]map[string]bool

func (s privSet) add(k privKey, privs ...string) {
	if s[k] == nil {
		s[k] = map[string]bool{}
	}
	for _, p := range privs {
		s[k][p] = true
	}
}

// Privilege names as GRANT spells them.
const grantOption = "GRANT OPTION"

var (
	// databasePrivs apply to db.* on both MySQL 8 and MariaDB.
	databasePrivs = []string{
		"ALTER", "ALTER ROUTINE", "CREATE", "CREATE ROUTINE", "CREATE TEMPORARY TABLES", "CREATE VIEW",
		"DELETE", "DROP", "EVENT", "EXECUTE", "INDEX", "INSERT", "LOCK TABLES", "REFERENCES", "SELECT",
		"SHOW VIEW", "TRIGGER", "UPDATE",
	}
	// tablePrivs apply to db.table.
	tablePrivs = []string{
		"ALTER", "CREATE", "CREATE VIEW", "DELETE", "DROP", "INDEX", "INSERT", "REFERENCES", "SELECT",
		"SHOW VIEW", "TRIGGER", "UPDATE",
	}
	// mariadbOnly are privileges only MariaDB has, on databases and tables.
	mariadbOnly = []string{"DELETE HISTORY"}
)

// presets map an access preset to database-level privileges. All is every
// database-level privilege both flavors share, without GRANT OPTION: the
// explicit form of ALL PRIVILEGES, so that the diff compares like with like.
var presets = map[string][]string{
	"ReadOnly":  {"SELECT", "SHOW VIEW"},
	"ReadWrite": {"SELECT", "SHOW VIEW", "INSERT", "UPDATE", "DELETE", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE"},
	"All":       databasePrivs,
}

// normalizePriv maps accepted spellings to the names GRANT uses.
func normalizePriv(p string) string {
	p = strings.Join(strings.Fields(strings.ToUpper(p)), " ")
	if p == "ALL PRIVILEGES" {
		return "ALL"
	}
	return p
}

// validateGrant checks a grant's shape and privilege names for MySQL.
func validateGrant(g sqlengine.Grant, mariadb bool) error {
	if err := checkName("grant database", g.Database, maxDatabaseChars); err != nil {
		return err
	}
	if g.Schema != "" {
		return fmt.Errorf("grant on %q: MySQL has no schemas inside a database; drop schema and grant on the database or on tables", g.Database)
	}
	for _, t := range g.Tables {
		if err := checkName("grant table", t, maxDatabaseChars); err != nil {
			return err
		}
	}
	if g.Access != "" {
		if _, ok := presets[g.Access]; !ok {
			return fmt.Errorf("unknown access preset %q", g.Access)
		}
		if len(g.Privileges) > 0 || len(g.Tables) > 0 {
			return fmt.Errorf("grant on %q: access presets take neither privileges nor tables", g.Database)
		}
		return nil
	}
	if len(g.Privileges) == 0 {
		return fmt.Errorf("grant on %q: set access or privileges", g.Database)
	}
	allowed, target := slices.Clone(databasePrivs), "a database"
	if len(g.Tables) > 0 {
		allowed, target = slices.Clone(tablePrivs), "tables"
	}
	if mariadb {
		allowed = append(allowed, mariadbOnly...)
	}
	allowed = append(allowed, "ALL")
	for _, raw := range g.Privileges {
		if !slices.Contains(allowed, normalizePriv(raw)) {
			sort.Strings(allowed)
			return fmt.Errorf("grant on %q: privilege %q does not apply to %s on %s (allowed: %s)",
				g.Database, raw, target, flavorName(mariadb), strings.Join(allowed, ", "))
		}
	}
	return nil
}

func flavorName(mariadb bool) string {
	if mariadb {
		return "MariaDB"
	}
	return "MySQL"
}

// desiredPrivileges expands grants into concrete privileges. Nothing is held
// globally: every global privilege found is extra.
func desiredPrivileges(grants []sqlengine.Grant) privSet {
	want := privSet{}
	for _, g := range grants {
		if g.Access != "" {
			want.add(privKey{Level: onDatabase, DB: grantPattern(g.Database)}, presets[g.Access]...)
			continue
		}
		privs := make([]string, 0, len(g.Privileges))
		for _, p := range g.Privileges {
			privs = append(privs, normalizePriv(p))
		}
		if len(g.Tables) == 0 {
			if slices.Contains(privs, "ALL") {
				privs = slices.DeleteFunc(append(privs, databasePrivs...), func(p string) bool { return p == "ALL" })
			}
			want.add(privKey{Level: onDatabase, DB: grantPattern(g.Database)}, privs...)
			continue
		}
		if slices.Contains(privs, "ALL") {
			privs = slices.DeleteFunc(append(privs, tablePrivs...), func(p string) bool { return p == "ALL" })
		}
		for _, t := range g.Tables {
			want.add(privKey{Level: onTable, DB: g.Database, Table: t}, privs...)
		}
	}
	return want
}

// privChange grants or revokes privileges on one target.
type privChange struct {
	Grant  bool
	Target privKey
	Privs  []string
}

// diffPrivileges returns the revokes and grants that turn have into want:
// revokes first, then grants, each sorted by target.
func diffPrivileges(have, want privSet) []privChange {
	var changes []privChange
	collect := func(from, other privSet, grant bool) {
		for k, privs := range from {
			var missing []string
			for p := range privs {
				if !other[k][p] {
					missing = append(missing, p)
				}
			}
			if len(missing) > 0 {
				sort.Strings(missing)
				changes = append(changes, privChange{Grant: grant, Target: k, Privs: missing})
			}
		}
	}
	collect(have, want, false)
	collect(want, have, true)
	sort.Slice(changes, func(i, j int) bool {
		a, b := changes[i], changes[j]
		if a.Grant != b.Grant {
			return !a.Grant
		}
		if a.Target.Level != b.Target.Level {
			return a.Target.Level < b.Target.Level
		}
		return a.Target.String() < b.Target.String()
	})
	return changes
}

// describeDiff renders changes as drift lines for status.
func describeDiff(changes []privChange) []string {
	out := make([]string, 0, len(changes))
	for _, c := range changes {
		verb := "extra"
		if c.Grant {
			verb = "missing"
		}
		out = append(out, fmt.Sprintf("%s %s on %s", verb, strings.Join(c.Privs, ", "), c.Target))
	}
	return out
}

// privilegeStatement renders one change as GRANT or REVOKE, quoting every name.
func privilegeStatement(acct string, c privChange) string {
	if c.Grant {
		return "GRANT " + strings.Join(c.Privs, ", ") + " ON " + c.Target.on() + " TO " + acct
	}
	return "REVOKE " + strings.Join(c.Privs, ", ") + " ON " + c.Target.on() + " FROM " + acct
}

// privColumn maps a mysql.user or mysql.db column such as Create_tmp_table_priv
// to the privilege name GRANT uses. ok is false for columns that are not
// privileges.
func privColumn(col string) (string, bool) {
	if !strings.HasSuffix(col, "_priv") {
		return "", false
	}
	switch col {
	case "Grant_priv":
		return grantOption, true
	case "Create_tmp_table_priv":
		return "CREATE TEMPORARY TABLES", true
	case "Repl_slave_priv":
		return "REPLICATION SLAVE", true
	case "Repl_client_priv":
		return "REPLICATION CLIENT", true
	case "Show_db_priv":
		return "SHOW DATABASES", true
	case "Super_priv":
		return "SUPER", true
	case "Create_tablespace_priv":
		return "CREATE TABLESPACE", true
	case "Delete_history_priv":
		return "DELETE HISTORY", true
	case "Create_user_priv":
		return "CREATE USER", true
	}
	name := strings.TrimSuffix(col, "_priv")
	return strings.ToUpper(strings.ReplaceAll(name, "_", " ")), true
}

// tablePrivNames maps mysql.tables_priv.Table_priv set members to GRANT names.
func tablePrivNames(set string) []string {
	if set == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(set, ",") {
		switch strings.ToLower(p) {
		case "grant":
			out = append(out, grantOption)
		case "delete versioning rows":
			out = append(out, "DELETE HISTORY")
		default:
			out = append(out, strings.ToUpper(p))
		}
	}
	return out
}
