package postgres

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/migrate"
	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// objKind is the kind of object a privilege is held on.
type objKind string

const (
	onDatabase objKind = "database"
	onSchema   objKind = "schema"
	onTable    objKind = "table"
	onSequence objKind = "sequence"
	// onDefaults is a default privilege: what a role's future objects grant.
	onDefaults objKind = "defaults"
)

// Default privilege object types as pg_default_acl.defaclobjtype spells them.
const (
	defTables    = "r"
	defSequences = "S"
	defSchemas   = "n"
)

// privKey names one object in one database. For onDefaults, Name is the role
// whose future objects are covered, Schema the schema ("" for every schema) and
// DefType the object type.
type privKey struct {
	Kind    objKind
	Schema  string
	Name    string
	DefType string
}

func (k privKey) String() string {
	switch k.Kind {
	case onDatabase:
		return "database " + k.Name
	case onSchema:
		return "schema " + k.Schema
	case onDefaults:
		s := "default privileges on " + map[string]string{defTables: "tables", defSequences: "sequences", defSchemas: "schemas"}[k.DefType] + " for role " + k.Name
		if k.Schema != "" {
			s += " in schema " + k.Schema
		}
		return s
	default:
		return string(k.Kind) + " " + k.Schema + "." + k.Name
	}
}

// privSet maps objects to privilege names.
type privSet map[privKey]map[string]bool

func (s privSet) add(k privKey, privs ...string) {
	if s[k] == nil {
		s[k] = map[string]bool{}
	}
	for _, p := range privs {
		s[k][p] = true
	}
}

// relation is a table-like object or sequence in a database.
type relation struct {
	Schema, Name string
	Sequence     bool
}

// catalog is what desiredPrivileges needs to know about one database.
type catalog struct {
	Database string
	Owner    string
	// Schemas are the non-system schemas.
	Schemas   []string
	Relations []relation
}

var (
	databasePrivs = []string{"CONNECT", "CREATE", "TEMPORARY"}
	schemaPrivs   = []string{"CREATE", "USAGE"}
	tablePrivs    = []string{"DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"}
	sequencePrivs = []string{"SELECT", "UPDATE", "USAGE"}
)

// preset is what an access preset grants on each kind of object.
type preset struct {
	database, schema, table, sequence []string
}

var presets = map[string]preset{
	"ReadOnly":  {database: []string{"CONNECT"}, schema: []string{"USAGE"}, table: []string{"SELECT"}, sequence: []string{"SELECT"}},
	"ReadWrite": {database: []string{"CONNECT", "TEMPORARY"}, schema: []string{"USAGE"}, table: []string{"SELECT", "INSERT", "UPDATE", "DELETE"}, sequence: []string{"SELECT", "USAGE", "UPDATE"}},
	"All":       {database: databasePrivs, schema: schemaPrivs, table: tablePrivs, sequence: sequencePrivs},
}

// normalizePriv maps accepted spellings to the names aclexplode reports.
func normalizePriv(p string) string {
	p = strings.ToUpper(strings.TrimSpace(p))
	if p == "TEMP" {
		return "TEMPORARY"
	}
	return p
}

// validateGrant checks a grant's shape and privilege names for PostgreSQL.
func validateGrant(g sqlengine.Grant) error {
	if err := checkIdent("grant database", g.Database); err != nil {
		return err
	}
	if g.Schema != "" {
		if err := checkIdent("grant schema", g.Schema); err != nil {
			return err
		}
	}
	for _, t := range g.Tables {
		if err := checkIdent("grant table", t); err != nil {
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
	for _, raw := range g.Privileges {
		p := normalizePriv(raw)
		var allowed []string
		var target string
		switch {
		case len(g.Tables) > 0:
			allowed, target = append(slices.Clone(tablePrivs), "ALL"), "tables"
		case g.Schema != "":
			allowed, target = append(slices.Clone(schemaPrivs), tablePrivs...), "a schema"
		default:
			allowed, target = append(slices.Clone(databasePrivs), "ALL"), "a database"
		}
		if !slices.Contains(allowed, p) {
			sort.Strings(allowed)
			return fmt.Errorf("grant on %q: privilege %q does not apply to %s on PostgreSQL (allowed: %s)",
				g.Database, raw, target, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// desiredPrivileges expands the grants on one database into concrete
// privileges, given what the database holds now. role is the grantee: objects
// it owns and default privileges of its own are left out, since an owner holds
// every privilege already.
func desiredPrivileges(role string, grants []sqlengine.Grant, cat catalog) (privSet, error) {
	want := privSet{}
	withDefaults := cat.Owner != role
	for _, g := range grants {
		if g.Database != cat.Database {
			continue
		}
		want.add(privKey{Kind: onDatabase, Name: cat.Database}, "CONNECT")
		if g.Schema != "" && !slices.Contains(cat.Schemas, g.Schema) {
			return nil, backenderr.New(backenderr.ReasonDependencyMissing,
				fmt.Sprintf("schema %q does not exist in database %q", g.Schema, cat.Database), nil)
		}
		schemas := cat.Schemas
		if g.Schema != "" {
			schemas = []string{g.Schema}
		}
		if g.Access != "" {
			p := presets[g.Access]
			want.add(privKey{Kind: onDatabase, Name: cat.Database}, p.database...)
			for _, s := range schemas {
				want.add(privKey{Kind: onSchema, Schema: s}, p.schema...)
			}
			for _, r := range cat.Relations {
				if !slices.Contains(schemas, r.Schema) || slices.Contains(migrate.Bookkeeping, r.Name) {
					continue
				}
				if r.Sequence {
					want.add(privKey{Kind: onSequence, Schema: r.Schema, Name: r.Name}, p.sequence...)
				} else {
					want.add(privKey{Kind: onTable, Schema: r.Schema, Name: r.Name}, p.table...)
				}
			}
			if withDefaults {
				inSchema := g.Schema // "" covers every schema, present and future
				want.add(privKey{Kind: onDefaults, Name: cat.Owner, Schema: inSchema, DefType: defTables}, p.table...)
				want.add(privKey{Kind: onDefaults, Name: cat.Owner, Schema: inSchema, DefType: defSequences}, p.sequence...)
				if inSchema == "" {
					want.add(privKey{Kind: onDefaults, Name: cat.Owner, DefType: defSchemas}, p.schema...)
				}
			}
			continue
		}
		privs := make([]string, 0, len(g.Privileges))
		for _, p := range g.Privileges {
			privs = append(privs, normalizePriv(p))
		}
		switch {
		case len(g.Tables) > 0:
			schema := g.Schema
			if schema == "" {
				schema = "public"
			}
			want.add(privKey{Kind: onSchema, Schema: schema}, "USAGE")
			if slices.Contains(privs, "ALL") {
				privs = tablePrivs
			}
			for _, t := range g.Tables {
				if !slices.Contains(cat.Relations, relation{Schema: schema, Name: t}) {
					return nil, backenderr.New(backenderr.ReasonDependencyMissing,
						fmt.Sprintf("table %q.%q does not exist in database %q", schema, t, cat.Database), nil)
				}
				want.add(privKey{Kind: onTable, Schema: schema, Name: t}, privs...)
			}
		case g.Schema != "":
			var onTables []string
			for _, p := range privs {
				if slices.Contains(schemaPrivs, p) {
					want.add(privKey{Kind: onSchema, Schema: g.Schema}, p)
				} else {
					onTables = append(onTables, p)
				}
			}
			if len(onTables) > 0 {
				want.add(privKey{Kind: onSchema, Schema: g.Schema}, "USAGE")
				for _, r := range cat.Relations {
					if r.Schema == g.Schema && !r.Sequence && !slices.Contains(migrate.Bookkeeping, r.Name) {
						want.add(privKey{Kind: onTable, Schema: r.Schema, Name: r.Name}, onTables...)
					}
				}
				if withDefaults {
					want.add(privKey{Kind: onDefaults, Name: cat.Owner, Schema: g.Schema, DefType: defTables}, onTables...)
				}
			}
		default:
			if slices.Contains(privs, "ALL") {
				privs = databasePrivs
			}
			want.add(privKey{Kind: onDatabase, Name: cat.Database}, privs...)
		}
	}
	return want, nil
}

// privChange is a set of privileges to grant or revoke on some objects.
type privChange struct {
	Grant bool
	Kind  objKind
	// Objects share Kind and, for defaults, Name, Schema and DefType.
	Objects []privKey
	Privs   []string
}

// diffPrivileges returns the grants and revokes that turn have into want,
// grouped so that objects needing the same change share one statement. The
// order is deterministic: revokes first, then grants, each sorted.
func diffPrivileges(have, want privSet) []privChange {
	type group struct {
		grant bool
		kind  objKind
		// defaults cannot share a statement across roles, schemas or types.
		def   privKey
		privs string
	}
	groups := map[group][]privKey{}
	collect := func(from, other privSet, grant bool) {
		for k, privs := range from {
			var missing []string
			for p := range privs {
				if !other[k][p] {
					missing = append(missing, p)
				}
			}
			if len(missing) == 0 {
				continue
			}
			sort.Strings(missing)
			g := group{grant: grant, kind: k.Kind, privs: strings.Join(missing, ",")}
			if k.Kind == onDefaults {
				g.def = k
			}
			groups[g] = append(groups[g], k)
		}
	}
	collect(have, want, false)
	collect(want, have, true)

	changes := make([]privChange, 0, len(groups))
	for g, objs := range groups {
		sort.Slice(objs, func(i, j int) bool { return objs[i].String() < objs[j].String() })
		changes = append(changes, privChange{Grant: g.grant, Kind: g.kind, Objects: objs, Privs: strings.Split(g.privs, ",")})
	}
	sort.Slice(changes, func(i, j int) bool {
		a, b := changes[i], changes[j]
		if a.Grant != b.Grant {
			return !a.Grant
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Objects[0].String()+strings.Join(a.Privs, ",") < b.Objects[0].String()+strings.Join(b.Privs, ",")
	})
	return changes
}

// describeDiff renders changes as drift lines for status.
func describeDiff(db string, changes []privChange) []string {
	var out []string
	for _, c := range changes {
		verb := "extra"
		if c.Grant {
			verb = "missing"
		}
		for _, o := range c.Objects {
			out = append(out, fmt.Sprintf("%s %s on %s in database %s", verb, strings.Join(c.Privs, ", "), o, db))
		}
	}
	return out
}

// privilegeStatement renders one change as SQL, quoting every name.
func privilegeStatement(role string, c privChange) string {
	privs := strings.Join(c.Privs, ", ")
	grantee := ident(role)
	verb, prep := "REVOKE", "FROM"
	if c.Grant {
		verb, prep = "GRANT", "TO"
	}
	if c.Kind == onDefaults {
		k := c.Objects[0]
		scope := ""
		if k.Schema != "" {
			scope = " IN SCHEMA " + ident(k.Schema)
		}
		objType := map[string]string{defTables: "TABLES", defSequences: "SEQUENCES", defSchemas: "SCHEMAS"}[k.DefType]
		return "ALTER DEFAULT PRIVILEGES FOR ROLE " + ident(k.Name) + scope + " " + verb + " " + privs + " ON " + objType + " " + prep + " " + grantee
	}
	names := make([]string, len(c.Objects))
	for i, o := range c.Objects {
		switch c.Kind {
		case onDatabase:
			names[i] = ident(o.Name)
		case onSchema:
			names[i] = ident(o.Schema)
		default:
			names[i] = qualified(o.Schema, o.Name)
		}
	}
	return verb + " " + privs + " ON " + strings.ToUpper(string(c.Kind)) + " " + strings.Join(names, ", ") + " " + prep + " " + grantee
}
