package postgres

import (
	"slices"
	"strconv"
	"strings"

	"github.com/backend-operator/backend-operator/internal/backend/port"
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

// roleOptions renders the attributes shared by CREATE and ALTER ROLE of the
// login spec.Name: LOGIN unless the login is retired (see retired).
func roleOptions(spec sqlengine.UserSpec) string {
	opts := []string{flag(!retired(spec), "LOGIN")}
	opts = append(opts, flag(spec.CreateDB, "CREATEDB"), flag(spec.CreateRole, "CREATEROLE"))
	opts = append(opts, "CONNECTION LIMIT "+strconv.Itoa(spec.ConnectionLimit))
	return strings.Join(opts, " ")
}

// alternateOptions renders the attributes of the alternate login: it logs
// in, inherits from spec.Name and has no rights of its own.
func alternateOptions(spec sqlengine.UserSpec) string {
	return "LOGIN INHERIT NOCREATEDB NOCREATEROLE CONNECTION LIMIT " + strconv.Itoa(spec.ConnectionLimit)
}

func flag(on bool, name string) string {
	if on {
		return name
	}
	return "NO" + name
}

// retired reports whether spec retires the login spec.Name while its
// alternate login is in use: the role stays, holding the grants, but cannot
// log in.
func retired(spec sqlengine.UserSpec) bool { return spec.Password == "" && spec.Alternate != nil }

// createRoleSQL renders CREATE ROLE with a SCRAM verifier, never the
// plaintext; a retired login gets no password.
func createRoleSQL(spec sqlengine.UserSpec, verifier string) string {
	if retired(spec) {
		return "CREATE ROLE " + ident(spec.Name) + " WITH " + roleOptions(spec) + " PASSWORD NULL"
	}
	return "CREATE ROLE " + ident(spec.Name) + " WITH " + roleOptions(spec) + " PASSWORD " + literal(verifier)
}

// alterRoleSQL renders the ALTER ROLE statements that repair st. The password
// is reset when the stored verifier does not match, or cannot be read; a
// retired login's password is removed unless it is known to be absent.
func alterRoleSQL(spec sqlengine.UserSpec, st roleState) ([]string, error) {
	var stmts []string
	if attributesDiffer(spec, st) {
		stmts = append(stmts, "ALTER ROLE "+ident(spec.Name)+" WITH "+roleOptions(spec))
	}
	if retired(spec) {
		if !st.verifierKnown || st.verifier != nil {
			stmts = append(stmts, "ALTER ROLE "+ident(spec.Name)+" WITH PASSWORD NULL")
		}
		return stmts, nil
	}
	set, err := passwordSQL(spec.Name, spec.Password, st)
	return append(stmts, set...), err
}

// passwordSQL sets role's password to password unless st's verifier is
// known to match.
func passwordSQL(role, password string, st roleState) ([]string, error) {
	if st.verifier != nil && scramMatches(*st.verifier, password) {
		return nil, nil
	}
	v, err := scramVerifier(password)
	if err != nil {
		return nil, err
	}
	return []string{"ALTER ROLE " + ident(role) + " WITH PASSWORD " + literal(v)}, nil
}

func attributesDiffer(spec sqlengine.UserSpec, st roleState) bool {
	return st.login == retired(spec) || st.connLimit != spec.ConnectionLimit || st.createDB != spec.CreateDB || st.createRole != spec.CreateRole
}

// alternateSQL renders what brings the alternate login alt (nil: missing)
// to spec: with spec.Alternate set, a LOGIN role with that password, a
// member of spec.Name only, whose sessions run as spec.Name; without, a role
// that cannot log in. Its privileges are left to the caller.
func alternateSQL(spec sqlengine.UserSpec, alt *roleState) ([]string, error) {
	name := port.AlternateName(spec.Name)
	if spec.Alternate == nil {
		if alt == nil || (!alt.login && alt.verifierKnown && alt.verifier == nil) {
			return nil, nil
		}
		return []string{"ALTER ROLE " + ident(name) + " WITH NOLOGIN PASSWORD NULL"}, nil
	}
	runAs := "ALTER ROLE " + ident(name) + " SET role = " + literal(spec.Name)
	if alt == nil {
		v, err := scramVerifier(spec.Alternate.Password)
		if err != nil {
			return nil, err
		}
		return []string{
			"CREATE ROLE " + ident(name) + " WITH " + alternateOptions(spec) + " PASSWORD " + literal(v),
			"GRANT " + ident(spec.Name) + " TO " + ident(name),
			runAs,
		}, nil
	}
	var stmts []string
	if !alt.login || !alt.inherit || alt.createDB || alt.createRole || alt.connLimit != spec.ConnectionLimit {
		stmts = append(stmts, "ALTER ROLE "+ident(name)+" WITH "+alternateOptions(spec))
	}
	set, err := passwordSQL(name, spec.Alternate.Password, *alt)
	if err != nil {
		return nil, err
	}
	stmts = append(stmts, set...)
	if !slices.Contains(alt.memberOf, spec.Name) {
		stmts = append(stmts, "GRANT "+ident(spec.Name)+" TO "+ident(name))
	}
	for _, m := range alt.memberOf {
		if m != spec.Name {
			stmts = append(stmts, "REVOKE "+ident(m)+" FROM "+ident(name))
		}
	}
	if r, ok := roleSetting(alt.config); !ok || r != spec.Name {
		stmts = append(stmts, runAs)
	}
	return stmts, nil
}

// roleSetting is the role a session starts as, from a role's settings
// (rolconfig: "name=value" items); ok is false when none is set.
func roleSetting(config []string) (string, bool) {
	for _, c := range config {
		if v, ok := strings.CutPrefix(c, "role="); ok {
			return v, true
		}
	}
	return "", false
}
