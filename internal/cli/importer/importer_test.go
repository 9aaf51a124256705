package importer

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cachev1 "github.com/backend-operator/backend-operator/api/cache/v1alpha1"
	msgv1 "github.com/backend-operator/backend-operator/api/messaging/v1alpha1"
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

func TestPresetKeeps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		drift []string
		want  bool
	}{
		{"nothing", nil, true},
		{"defaults only", []string{"missing SELECT, INSERT on default privileges on tables for role owner in database db"}, true},
		{"other database", []string{"extra USAGE on sequence s.ids in database other"}, true},
		{"membership", []string{`extra membership in "readers"`}, true},
		{"revokes", []string{"extra USAGE on sequence billing.ids in database db"}, false},
		{"revokes a default", []string{"extra SELECT on default privileges on tables for role owner in schema s in database db"}, false},
		{"widens", []string{"missing UPDATE, DELETE on table billing.items in database db"}, false},
	} {
		if got := presetKeeps(tc.drift, "db"); got != tc.want {
			t.Errorf("%s: presetKeeps(%q) = %t, want %t", tc.name, tc.drift, got, tc.want)
		}
	}
}

func TestLoginPasswordSecret(t *testing.T) {
	for pw, want := range map[passwordState]string{
		passwordSet:     "with app's current password nothing changes",
		passwordNone:    "app has no password now, so adopting it sets the Secret's password",
		passwordUnknown: "If app has no password (only a superuser can tell), adopting sets the Secret's.",
	} {
		ref, note := loginPasswordSecret("app-x", "app", pw)
		if ref.Name != "app-x-password" || !strings.Contains(note, want) {
			t.Errorf("password state %d: %s, %q; want app-x-password, %q", pw, ref.Name, note, want)
		}
		if pw == passwordNone && strings.Contains(note, "nothing changes") {
			t.Errorf("a login without a password: %q", note)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		obj  claimer
		want string
	}{
		{&sqlv1.Database{Spec: sqlv1.DatabaseSpec{Name: "orders"}}, `database "orders"`},
		{&sqlv1.DatabaseUser{ObjectMeta: metav1.ObjectMeta{Name: "orders-app"}}, `login "orders-app"`},
		{&msgv1.Queue{Spec: msgv1.QueueSpec{Name: "jobs"}}, `queue "jobs" in vhost "/"`},
		{&msgv1.Consumer{Spec: msgv1.ConsumerSpec{StreamName: "ORDERS", DurableName: "proc"}}, `consumer "proc" on stream "ORDERS"`},
	} {
		if got := describe(tc.obj); got != tc.want {
			t.Errorf("describe = %q, want %q", got, tc.want)
		}
	}
}
