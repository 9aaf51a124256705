package postgres

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

var shop = catalog{
	Database: "shop",
	Owner:    "owner",
	Schemas:  []string{"billing", "public"},
	Relations: []relation{
		{Schema: "billing", Name: "invoices"},
		{Schema: "public", Name: "items"},
		{Schema: "public", Name: "items_id_seq", Sequence: true},
	},
}

func statements(t *testing.T, role string, grants []sqlengine.Grant, have privSet) []string {
	t.Helper()
	want, err := desiredPrivileges(role, grants, shop)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range diffPrivileges(have, want) {
		out = append(out, privilegeStatement(role, c))
	}
	return out
}

func TestPrivilegeStatements(t *testing.T) {
	cases := []struct {
		reason string
		role   string
		grants []sqlengine.Grant
		have   privSet
		want   []string
	}{
		{
			reason: "ReadOnly on a fresh role covers database, schemas, tables, sequences and defaults",
			role:   "app",
			grants: []sqlengine.Grant{{Database: "shop", Access: "ReadOnly"}},
			want: []string{
				`GRANT CONNECT ON DATABASE "shop" TO "app"`,
				`ALTER DEFAULT PRIVILEGES FOR ROLE "owner" GRANT USAGE ON SCHEMAS TO "app"`,
				`ALTER DEFAULT PRIVILEGES FOR ROLE "owner" GRANT SELECT ON SEQUENCES TO "app"`,
				`ALTER DEFAULT PRIVILEGES FOR ROLE "owner" GRANT SELECT ON TABLES TO "app"`,
				`GRANT USAGE ON SCHEMA "billing", "public" TO "app"`,
				`GRANT SELECT ON SEQUENCE "public"."items_id_seq" TO "app"`,
				`GRANT SELECT ON TABLE "billing"."invoices", "public"."items" TO "app"`,
			},
		},
		{
			reason: "nothing to do when the role holds exactly the declared set",
			role:   "app",
			grants: []sqlengine.Grant{{Database: "shop", Privileges: []string{"CONNECT"}}},
			have:   privSet{{Kind: onDatabase, Name: "shop"}: {"CONNECT": true}},
		},
		{
			reason: "an undeclared privilege is revoked alone, never revoke-all",
			role:   "app",
			grants: []sqlengine.Grant{{Database: "shop", Privileges: []string{"CONNECT"}}},
			have: privSet{
				{Kind: onDatabase, Name: "shop"}:                      {"CONNECT": true, "TEMPORARY": true},
				{Kind: onTable, Schema: "public", Name: "items"}:      {"SELECT": true},
				{Kind: onDefaults, Name: "owner", DefType: defTables}: {"SELECT": true},
			},
			want: []string{
				`REVOKE TEMPORARY ON DATABASE "shop" FROM "app"`,
				`ALTER DEFAULT PRIVILEGES FOR ROLE "owner" REVOKE SELECT ON TABLES FROM "app"`,
				`REVOKE SELECT ON TABLE "public"."items" FROM "app"`,
			},
		},
		{
			reason: "named tables imply schema usage and database connect; TEMP is spelled TEMPORARY",
			role:   "app",
			grants: []sqlengine.Grant{
				{Database: "shop", Schema: "billing", Tables: []string{"invoices"}, Privileges: []string{"SELECT", "UPDATE"}},
				{Database: "shop", Privileges: []string{"TEMP"}},
			},
			want: []string{
				`GRANT CONNECT, TEMPORARY ON DATABASE "shop" TO "app"`,
				`GRANT USAGE ON SCHEMA "billing" TO "app"`,
				`GRANT SELECT, UPDATE ON TABLE "billing"."invoices" TO "app"`,
			},
		},
		{
			reason: "table privileges on a schema cover its tables now and later",
			role:   "app",
			grants: []sqlengine.Grant{{Database: "shop", Schema: "billing", Privileges: []string{"SELECT"}}},
			want: []string{
				`GRANT CONNECT ON DATABASE "shop" TO "app"`,
				`ALTER DEFAULT PRIVILEGES FOR ROLE "owner" IN SCHEMA "billing" GRANT SELECT ON TABLES TO "app"`,
				`GRANT USAGE ON SCHEMA "billing" TO "app"`,
				`GRANT SELECT ON TABLE "billing"."invoices" TO "app"`,
			},
		},
		{
			reason: "the database owner gets no default privileges for itself",
			role:   "owner",
			grants: []sqlengine.Grant{{Database: "shop", Access: "ReadOnly", Schema: "billing"}},
			want: []string{
				`GRANT CONNECT ON DATABASE "shop" TO "owner"`,
				`GRANT USAGE ON SCHEMA "billing" TO "owner"`,
				`GRANT SELECT ON TABLE "billing"."invoices" TO "owner"`,
			},
		},
		{
			reason: "grants on other databases are ignored here; all held privileges go",
			role:   "app",
			grants: []sqlengine.Grant{{Database: "other", Access: "All"}},
			have:   privSet{{Kind: onSchema, Schema: "public"}: {"USAGE": true, "CREATE": true}},
			want:   []string{`REVOKE CREATE, USAGE ON SCHEMA "public" FROM "app"`},
		},
		{
			reason: "hostile names are quoted",
			role:   `x"; DROP ROLE postgres; --`,
			grants: []sqlengine.Grant{{Database: "shop", Privileges: []string{"CONNECT"}}},
			want:   []string{`GRANT CONNECT ON DATABASE "shop" TO "x""; DROP ROLE postgres; --"`},
		},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			if diff := cmp.Diff(c.want, statements(t, c.role, c.grants, c.have)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.reason, diff)
			}
		})
	}
}

func TestDesiredPrivilegesMissingObjects(t *testing.T) {
	for _, g := range []sqlengine.Grant{
		{Database: "shop", Schema: "nope", Access: "ReadOnly"},
		{Database: "shop", Tables: []string{"nope"}, Privileges: []string{"SELECT"}},
	} {
		if _, err := desiredPrivileges("app", []sqlengine.Grant{g}, shop); err == nil {
			t.Errorf("grant %+v on a missing object: no error", g)
		}
	}
}

func TestValidateGrant(t *testing.T) {
	cases := []struct {
		reason string
		grant  sqlengine.Grant
		ok     bool
	}{
		{"preset", sqlengine.Grant{Database: "d", Access: "ReadWrite"}, true},
		{"preset on a schema", sqlengine.Grant{Database: "d", Access: "ReadOnly", Schema: "s"}, true},
		{"database privileges", sqlengine.Grant{Database: "d", Privileges: []string{"CONNECT", "TEMP"}}, true},
		{"SELECT on a database makes no sense", sqlengine.Grant{Database: "d", Privileges: []string{"SELECT"}}, false},
		{"table privileges on tables", sqlengine.Grant{Database: "d", Tables: []string{"t"}, Privileges: []string{"SELECT", "ALL"}}, true},
		{"CONNECT on tables makes no sense", sqlengine.Grant{Database: "d", Tables: []string{"t"}, Privileges: []string{"CONNECT"}}, false},
		{"MySQL-only privilege", sqlengine.Grant{Database: "d", Schema: "s", Privileges: []string{"SHOW VIEW"}}, false},
		{"unknown preset", sqlengine.Grant{Database: "d", Access: "Admin"}, false},
		{"neither preset nor privileges", sqlengine.Grant{Database: "d"}, false},
		{"over-long database", sqlengine.Grant{Database: string(make([]byte, 64)), Access: "All"}, false},
	}
	for _, c := range cases {
		if err := validateGrant(c.grant); (err == nil) != c.ok {
			t.Errorf("%s: validateGrant = %v, want ok=%v", c.reason, err, c.ok)
		}
	}
}

func TestCreateDatabaseSQL(t *testing.T) {
	got := createDatabaseSQL(sqlengine.DatabaseSpec{Name: `we"ird`, Owner: "o", Encoding: "UTF8", Locale: "C.UTF-8"})
	want := `CREATE DATABASE "we""ird" OWNER "o" TEMPLATE "template0" ENCODING 'UTF8' LOCALE 'C.UTF-8'`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
