package mysql

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

func TestDatabaseStatements(t *testing.T) {
	cases := []struct {
		reason string
		spec   sqlengine.DatabaseSpec
		create string
		alter  string
	}{
		{"server defaults", sqlengine.DatabaseSpec{Name: "shop"}, "CREATE DATABASE `shop`", "ALTER DATABASE `shop`"},
		{"character set and collation", sqlengine.DatabaseSpec{Name: "shop", CharacterSet: "utf8mb4", Collation: "utf8mb4_bin"},
			"CREATE DATABASE `shop` CHARACTER SET `utf8mb4` COLLATE `utf8mb4_bin`", "ALTER DATABASE `shop` CHARACTER SET `utf8mb4` COLLATE `utf8mb4_bin`"},
		{"hostile name", sqlengine.DatabaseSpec{Name: "a`; DROP DATABASE b; --"},
			"CREATE DATABASE `a``; DROP DATABASE b; --`", "ALTER DATABASE `a``; DROP DATABASE b; --`"},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.create, createDatabaseSQL(c.spec)); diff != "" {
			t.Errorf("%s: create (-want +got)\n%s", c.reason, diff)
		}
		if diff := cmp.Diff(c.alter, alterDatabaseSQL(c.spec)); diff != "" {
			t.Errorf("%s: alter (-want +got)\n%s", c.reason, diff)
		}
	}
}

func TestNativeHash(t *testing.T) {
	// The value MariaDB's PASSWORD('password') returns.
	if got, want := nativeHash("password"), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"; got != want {
		t.Errorf("nativeHash = %s, want %s", got, want)
	}
}

func TestUserStatements(t *testing.T) {
	hash := nativeHash("p'w")
	cases := []struct {
		reason  string
		spec    sqlengine.UserSpec
		mariadb bool
		create  string
	}{
		{"MariaDB gets the hash, never the plaintext", sqlengine.UserSpec{Name: "app", Password: "p'w", ConnectionLimit: -1}, true,
			"CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '" + hash + "' REQUIRE NONE WITH MAX_USER_CONNECTIONS 0"},
		{"MySQL gets a quoted literal", sqlengine.UserSpec{Name: "app", Password: `p'w\`, ConnectionLimit: 7}, false,
			"CREATE USER `app`@`%` IDENTIFIED BY 'p''w\\' REQUIRE NONE WITH MAX_USER_CONNECTIONS 7"},
		{"host and REQUIRE SSL", sqlengine.UserSpec{Name: "a`b", Host: "10.0.%", Password: "p'w", ConnectionLimit: 3, RequireTLS: true}, true,
			"CREATE USER `a``b`@`10.0.%` IDENTIFIED BY PASSWORD '" + hash + "' REQUIRE SSL WITH MAX_USER_CONNECTIONS 3"},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.create, createUserSQL(c.spec, c.mariadb)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", c.reason, diff)
		}
	}
}

func TestAlterUser(t *testing.T) {
	spec := sqlengine.UserSpec{Name: "app", Password: "pw", ConnectionLimit: 5}
	good := accountState{exists: true, maxConns: 5, plugin: "mysql_native_password", authString: nativeHash("pw")}
	cases := []struct {
		reason  string
		st      accountState
		mariadb bool
		plain   []string
		secret  string
	}{
		{"up to date", good, true, nil, ""},
		{"limit and TLS changed", accountState{exists: true, maxConns: 1, sslType: "ANY", plugin: "mysql_native_password", authString: nativeHash("pw")}, true,
			[]string{"ALTER USER `app`@`%` REQUIRE NONE WITH MAX_USER_CONNECTIONS 5"}, ""},
		{"locked", accountState{exists: true, maxConns: 5, locked: true, plugin: "mysql_native_password", authString: nativeHash("pw")}, true,
			[]string{"ALTER USER `app`@`%` ACCOUNT UNLOCK"}, ""},
		{"password changed", accountState{exists: true, maxConns: 5, plugin: "mysql_native_password", authString: nativeHash("other")}, true,
			nil, "ALTER USER `app`@`%` IDENTIFIED BY PASSWORD '" + nativeHash("pw") + "'"},
		{"plugin switched out of band", accountState{exists: true, maxConns: 5, plugin: "unix_socket"}, true,
			nil, "ALTER USER `app`@`%` IDENTIFIED BY PASSWORD '" + nativeHash("pw") + "'"},
		{"MySQL 8 caching_sha2_password cannot be compared", accountState{exists: true, maxConns: 5, plugin: "caching_sha2_password", authString: "$A$005$salt"}, false,
			nil, ""},
	}
	for _, c := range cases {
		plain, secret := alterUserSQL(spec, c.st, c.mariadb)
		if diff := cmp.Diff(c.plain, plain); diff != "" {
			t.Errorf("%s: plain (-want +got)\n%s", c.reason, diff)
		}
		if diff := cmp.Diff(c.secret, secret); diff != "" {
			t.Errorf("%s: secret (-want +got)\n%s", c.reason, diff)
		}
	}
}
