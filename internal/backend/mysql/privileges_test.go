package mysql

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

func dbKey(name string) privKey   { return privKey{Level: onDatabase, DB: grantPattern(name)} }
func tblKey(db, t string) privKey { return privKey{Level: onTable, DB: db, Table: t} }
func set(k privKey, p ...string) privSet {
	s := privSet{}
	s.add(k, p...)
	return s
}

func TestDesiredPrivileges(t *testing.T) {
	cases := []struct {
		reason string
		grants []sqlengine.Grant
		want   privSet
	}{
		{"no grants, nothing wanted", nil, privSet{}},
		{"ReadOnly is SELECT and SHOW VIEW on db.*", []sqlengine.Grant{{Database: "shop", Access: "ReadOnly"}},
			set(dbKey("shop"), "SELECT", "SHOW VIEW")},
		{"ReadWrite adds writes, temporary tables, locks and EXECUTE", []sqlengine.Grant{{Database: "shop", Access: "ReadWrite"}},
			set(dbKey("shop"), "SELECT", "SHOW VIEW", "INSERT", "UPDATE", "DELETE", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE")},
		{"All is every shared database privilege", []sqlengine.Grant{{Database: "shop", Access: "All"}},
			set(dbKey("shop"), databasePrivs...)},
		{"the database name is a literal grant pattern", []sqlengine.Grant{{Database: "my_db", Access: "ReadOnly"}},
			set(privKey{Level: onDatabase, DB: `my\_db`}, "SELECT", "SHOW VIEW")},
		{"explicit privileges are normalised", []sqlengine.Grant{{Database: "shop", Privileges: []string{"select", "Create  Temporary Tables"}}},
			set(dbKey("shop"), "SELECT", "CREATE TEMPORARY TABLES")},
		{"ALL on a database expands", []sqlengine.Grant{{Database: "shop", Privileges: []string{"ALL PRIVILEGES"}}},
			set(dbKey("shop"), databasePrivs...)},
		{"table grants name the literal database", []sqlengine.Grant{{Database: "my_db", Tables: []string{"a", "b"}, Privileges: []string{"SELECT"}}},
			privSet{tblKey("my_db", "a"): {"SELECT": true}, tblKey("my_db", "b"): {"SELECT": true}}},
		{"ALL on tables expands to table privileges", []sqlengine.Grant{{Database: "d", Tables: []string{"a"}, Privileges: []string{"ALL"}}},
			set(tblKey("d", "a"), tablePrivs...)},
		{"two grants on one database merge", []sqlengine.Grant{{Database: "d", Access: "ReadOnly"}, {Database: "d", Privileges: []string{"INSERT"}}},
			set(dbKey("d"), "SELECT", "SHOW VIEW", "INSERT")},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, desiredPrivileges(c.grants)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", c.reason, diff)
		}
	}
}

func TestDiffPrivileges(t *testing.T) {
	cases := []struct {
		reason     string
		have, want privSet
		changes    []privChange
		statements []string
	}{
		{"equal sets need nothing", set(dbKey("d"), "SELECT"), set(dbKey("d"), "SELECT"), nil, nil},
		{"a missing privilege is granted alone, never revoke-all",
			set(dbKey("d"), "SELECT"), set(dbKey("d"), "SELECT", "INSERT"),
			[]privChange{{Grant: true, Target: dbKey("d"), Privs: []string{"INSERT"}}},
			[]string{"GRANT INSERT ON `d`.* TO `u`@`%`"}},
		{"an extra privilege is revoked alone",
			set(dbKey("d"), "SELECT", "DROP"), set(dbKey("d"), "SELECT"),
			[]privChange{{Target: dbKey("d"), Privs: []string{"DROP"}}},
			[]string{"REVOKE DROP ON `d`.* FROM `u`@`%`"}},
		{"global privileges and GRANT OPTION found are revoked; revokes come first",
			privSet{{Level: onGlobal}: {"PROCESS": true, "GRANT OPTION": true}, dbKey("d"): {"SELECT": true}},
			set(tblKey("d", "t"), "UPDATE").merge(set(dbKey("d"), "SELECT")),
			[]privChange{
				{Target: privKey{Level: onGlobal}, Privs: []string{"GRANT OPTION", "PROCESS"}},
				{Grant: true, Target: tblKey("d", "t"), Privs: []string{"UPDATE"}},
			},
			[]string{"REVOKE GRANT OPTION, PROCESS ON *.* FROM `u`@`%`", "GRANT UPDATE ON `d`.`t` TO `u`@`%`"}},
		{"a wildcard pattern set out of band is revoked by its pattern",
			set(privKey{Level: onDatabase, DB: "app_%"}, "SELECT"), privSet{},
			[]privChange{{Target: privKey{Level: onDatabase, DB: "app_%"}, Privs: []string{"SELECT"}}},
			[]string{"REVOKE SELECT ON `app_%`.* FROM `u`@`%`"}},
		{"hostile names stay quoted",
			privSet{}, set(tblKey("a`b", "c`d"), "SELECT"),
			[]privChange{{Grant: true, Target: tblKey("a`b", "c`d"), Privs: []string{"SELECT"}}},
			[]string{"GRANT SELECT ON `a``b`.`c``d` TO `u`@`%`"}},
	}
	for _, c := range cases {
		got := diffPrivileges(c.have, c.want)
		if diff := cmp.Diff(c.changes, got); diff != "" {
			t.Errorf("%s: changes (-want +got)\n%s", c.reason, diff)
		}
		var stmts []string
		for _, ch := range got {
			stmts = append(stmts, privilegeStatement(account("u", "%"), ch))
		}
		if diff := cmp.Diff(c.statements, stmts); diff != "" {
			t.Errorf("%s: statements (-want +got)\n%s", c.reason, diff)
		}
	}
}

func (s privSet) merge(o privSet) privSet {
	for k, ps := range o {
		for p := range ps {
			s.add(k, p)
		}
	}
	return s
}

func TestPrivilegeNames(t *testing.T) {
	cols := []struct{ col, want string }{
		{"Select_priv", "SELECT"}, {"Create_tmp_table_priv", "CREATE TEMPORARY TABLES"}, {"Grant_priv", "GRANT OPTION"},
		{"Lock_tables_priv", "LOCK TABLES"}, {"Show_view_priv", "SHOW VIEW"}, {"Create_routine_priv", "CREATE ROUTINE"},
		{"Delete_history_priv", "DELETE HISTORY"}, {"Repl_slave_priv", "REPLICATION SLAVE"}, {"Show_db_priv", "SHOW DATABASES"},
	}
	for _, c := range cols {
		if got, ok := privColumn(c.col); !ok || got != c.want {
			t.Errorf("privColumn(%q) = %q, %v; want %q", c.col, got, ok, c.want)
		}
	}
	if _, ok := privColumn("max_user_connections"); ok {
		t.Error("max_user_connections read as a privilege")
	}
	got := tablePrivNames("Select,Show view,Grant,Delete versioning rows,Create View")
	want := []string{"SELECT", "SHOW VIEW", "GRANT OPTION", "DELETE HISTORY", "CREATE VIEW"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tablePrivNames (-want +got)\n%s", diff)
	}
}

func TestParseVersion(t *testing.T) {
	cases := []struct {
		reason, version, comment, flavor, want string
	}{
		{"Debian MariaDB", "10.11.19-MariaDB-0+deb12u1", "Debian 12", FlavorMariaDB, "10.11.19"},
		{"MariaDB behind the replication prefix", "5.5.5-10.6.16-MariaDB", "mariadb.org binary distribution", FlavorMariaDB, "10.6.16"},
		{"MySQL 8", "8.0.36", "MySQL Community Server - GPL", FlavorMySQL, "8.0.36"},
		{"MySQL 8.4 with a suffix", "8.4.0-commercial", "MySQL Enterprise Server", FlavorMySQL, "8.4.0"},
	}
	for _, c := range cases {
		f, v := parseVersion(c.version, c.comment)
		if f != c.flavor || v != c.want {
			t.Errorf("%s: parseVersion(%q) = %q, %q; want %q, %q", c.reason, c.version, f, v, c.flavor, c.want)
		}
	}
}
