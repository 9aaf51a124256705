package kinds

import "testing"

func TestLookup(t *testing.T) {
	for in, want := range map[string]string{
		"Database": "Database", "databases": "Database", "db": "Database", "DBUSER": "DatabaseUser",
		"databaseusers.sql.backend-operator.dev": "DatabaseUser", "cacheuser": "CacheUser", "mqqueue": "Queue",
		"jsstream": "Stream", "policies": "Policy", "cdbsrv": "ClusterDatabaseServer",
	} {
		k, err := Lookup(in)
		if err != nil || k.Name != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", in, k.Name, err, want)
		}
	}
	for _, in := range []string{"pods", "databases.cache.backend-operator.dev", ""} {
		if k, err := Lookup(in); err == nil {
			t.Errorf("Lookup(%q) = %q, want an error", in, k.Name)
		}
	}
}

func TestAliasesAreUnique(t *testing.T) {
	seen := map[string]string{}
	for _, k := range All() {
		for _, a := range append([]string{k.Name}, k.Aliases...) {
			if other, ok := seen[a]; ok {
				t.Errorf("%q names both %s and %s", a, other, k.Name)
			}
			seen[a] = k.Name
		}
	}
}
