package postgres

import (
	"strconv"
	"strings"

	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// createDatabaseSQL renders CREATE DATABASE. A database with its own encoding
// or locale is copied from template0 unless a template is named, since
// template1 may hold another encoding.
func createDatabaseSQL(spec sqlengine.DatabaseSpec) string {
	var b strings.Builder
	b.WriteString("CREATE DATABASE " + ident(spec.Name))
	if spec.Owner != "" {
		b.WriteString(" OWNER " + ident(spec.Owner))
	}
	tmpl := spec.Template
	if tmpl == "" && (spec.Encoding != "" || spec.Locale != "") {
		tmpl = "template0"
	}
	if tmpl != "" {
		b.WriteString(" TEMPLATE " + ident(tmpl))
	}
	if spec.Encoding != "" {
		b.WriteString(" ENCODING " + literal(spec.Encoding))
	}
	if spec.Locale != "" {
		b.WriteString(" LOCALE " + literal(spec.Locale))
	}
	return b.String()
}

// roleOptions renders the attributes shared by CREATE and ALTER ROLE.
func roleOptions(spec sqlengine.UserSpec) string {
	opts := []string{"LOGIN"}
	opts = append(opts, flag(spec.CreateDB, "CREATEDB"), flag(spec.CreateRole, "CREATEROLE"))
	opts = append(opts, "CONNECTION LIMIT "+strconv.Itoa(spec.ConnectionLimit))
	return strings.Join(opts, " ")
}

func flag(on bool, name string) string {
	if on {
		return name
	}
	return "NO" + name
}

// createRoleSQL renders CREATE ROLE with a SCRAM verifier, never the plaintext.
func createRoleSQL(spec sqlengine.UserSpec, verifier string) string {
	return "CREATE ROLE " + ident(spec.Name) + " WITH " + roleOptions(spec) + " PASSWORD " + literal(verifier)
}

// alterRoleSQL renders the ALTER ROLE statements that repair st. The password
// is reset when the stored verifier does not match, or cannot be read.
func alterRoleSQL(spec sqlengine.UserSpec, st roleState) ([]string, error) {
	var stmts []string
	if attributesDiffer(spec, st) {
		stmts = append(stmts, "ALTER ROLE "+ident(spec.Name)+" WITH "+roleOptions(spec))
	}
	if st.verifier == nil || !scramMatches(*st.verifier, spec.Password) {
		v, err := scramVerifier(spec.Password)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, "ALTER ROLE "+ident(spec.Name)+" WITH PASSWORD "+literal(v))
	}
	return stmts, nil
}

func attributesDiffer(spec sqlengine.UserSpec, st roleState) bool {
	return !st.login || st.connLimit != spec.ConnectionLimit || st.createDB != spec.CreateDB || st.createRole != spec.CreateRole
}
