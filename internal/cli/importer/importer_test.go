package importer

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	sqlv1 "github.com/backend-operator/backend-operator/api/sql/v1alpha1"
	"github.com/backend-operator/backend-operator/internal/backend/redis"
)

func TestParseGrantee(t *testing.T) {
	for _, tc := range []struct {
		in, user, host string
		ok             bool
	}{
		{in: "'app'@'%'", user: "app", host: "%", ok: true},
		{in: "'o''brien'@'10.0.%'", user: "o'brien", host: "10.0.%", ok: true},
		{in: "'a@b'@'host'", user: "a@b", host: "host", ok: true},
		{in: "app@%", ok: false},
		{in: "''", ok: false},
	} {
		u, h, ok := parseGrantee(tc.in)
		if ok != tc.ok || ok && (u != tc.user || h != tc.host) {
			t.Errorf("parseGrantee(%q) = %q, %q, %t; want %q, %q, %t", tc.in, u, h, ok, tc.user, tc.host, tc.ok)
		}
	}
}

func TestUnpattern(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		ok       bool
	}{
		{in: `orders`, name: "orders", ok: true},
		{in: `orders\_db`, name: "orders_db", ok: true},
		{in: `100\%`, name: "100%", ok: true},
		{in: `orders_db`, ok: false}, // an unescaped _ matches any character
		{in: `app%`, ok: false},
	} {
		name, ok := unpattern(tc.in)
		if ok != tc.ok || ok && name != tc.name {
			t.Errorf("unpattern(%q) = %q, %t; want %q, %t", tc.in, name, ok, tc.name, tc.ok)
		}
	}
}

func TestNames(t *testing.T) {
	n := names{}
	for _, tc := range []struct {
		kind  string
		parts []string
		want  string
	}{
		{"DatabaseUser", []string{"Orders_App"}, "orders-app"},
		{"DatabaseUser", []string{"orders-app"}, "orders-app-2"}, // taken by the first
		{"Database", []string{"orders-app"}, "orders-app"},       // names are per kind
		{"Queue", []string{"default", "orders.created"}, "default-orders-created"},
		{"CacheUser", []string{"@@@"}, "cacheuser"},
	} {
		if got := n.take(tc.kind, tc.parts...); got != tc.want {
			t.Errorf("take(%s, %q) = %q, want %q", tc.kind, tc.parts, got, tc.want)
		}
	}
}

func TestPgGrants(t *testing.T) {
	privs := map[string][]pgPriv{
		"orders": {
			{role: "app", kind: "database", name: "orders", priv: "TEMPORARY"},
			{role: "app", kind: "database", name: "orders", priv: "CONNECT"},
			{role: "app", kind: "schema", schema: "billing", priv: "USAGE"},
			{role: "app", kind: "table", schema: "billing", name: "b", priv: "SELECT"},
			{role: "app", kind: "table", schema: "billing", name: "a", priv: "SELECT"},
			{role: "app", kind: "table", schema: "billing", name: "a", priv: "INSERT"},
			{role: "app", kind: "sequence", schema: "billing", name: "s", priv: "USAGE"}, // no explicit grant: left to the adapter's check
			{role: "other", kind: "database", name: "orders", priv: "CONNECT"},
		},
		"empty": {{role: "other", kind: "database", name: "empty", priv: "CONNECT"}},
	}
	want := []sqlv1.Grant{
		{Database: "orders", Privileges: []string{"CONNECT", "TEMPORARY"}},
		{Database: "orders", Schema: "billing", Privileges: []string{"USAGE"}},
		{Database: "orders", Schema: "billing", Tables: []string{"a"}, Privileges: []string{"INSERT", "SELECT"}},
		{Database: "orders", Schema: "billing", Tables: []string{"b"}, Privileges: []string{"SELECT"}},
	}
	if diff := cmp.Diff(want, pgGrants("app", privs)); diff != "" {
		t.Errorf("pgGrants (-want +got):\n%s", diff)
	}
}

func TestCacheUserSpec(t *testing.T) {
	got := cacheUserSpec(redis.Observed{Enabled: false, Keys: []string{"~app:*", "%R~shared:*", "%W~out:*"}, Channels: []string{"&events:*"},
		Commands: "-@all +@read +@string -keys +ping"})
	want := cachev1.CacheUserSpec{Enabled: new(false),
		Keys:     []cachev1.KeyPattern{{Pattern: "app:*"}, {Pattern: "shared:*", Access: cachev1.KeyReadOnly}, {Pattern: "out:*", Access: cachev1.KeyWriteOnly}},
		Channels: []string{"events:*"},
		Commands: cachev1.CommandRules{AllowCategories: []cachev1.Category{"read", "string"}, Allow: []string{"ping"}, Deny: []string{"keys"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cacheUserSpec (-want +got):\n%s", diff)
	}
}

func TestDriftComments(t *testing.T) {
	if got := driftComments([]string{"password differs from the Secret"}); got != nil {
		t.Errorf("a password difference alone is expected, got %q", got)
	}
	got := driftComments([]string{"password differs", "nopass is set: any password is accepted", "connection limit is 3, want 5"})
	want := []string{"Adopting this object changes on the server (as observed by the operator's adapter):",
		"  ~ nopass is set: any password is accepted", "  ~ connection limit is 3, want 5"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("driftComments (-want +got):\n%s", diff)
	}
}
