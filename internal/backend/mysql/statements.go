package mysql

import (
	"crypto/sha1" //nolint:gosec // mysql_native_password is defined with SHA-1.
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/backend-operator/backend-operator/internal/backend/sqlengine"
)

// createDatabaseSQL renders CREATE DATABASE with the declared defaults.
func createDatabaseSQL(spec sqlengine.DatabaseSpec) string {
	return "CREATE DATABASE " + ident(spec.Name) + databaseOptions(spec)
}

// alterDatabaseSQL renders ALTER DATABASE that restores the declared defaults.
func alterDatabaseSQL(spec sqlengine.DatabaseSpec) string {
	return "ALTER DATABASE " + ident(spec.Name) + databaseOptions(spec)
}

func databaseOptions(spec sqlengine.DatabaseSpec) string {
	var b strings.Builder
	if spec.CharacterSet != "" {
		b.WriteString(" CHARACTER SET " + ident(spec.CharacterSet))
	}
	if spec.Collation != "" {
		b.WriteString(" COLLATE " + ident(spec.Collation))
	}
	return b.String()
}

// nativeHash is the mysql_native_password hash of password: '*' and the upper
// hex SHA1(SHA1(password)), as MariaDB stores it in authentication_string.
func nativeHash(password string) string {
	h1 := sha1.Sum([]byte(password)) //nolint:gosec // the format is defined with SHA-1.
	h2 := sha1.Sum(h1[:])            //nolint:gosec // the format is defined with SHA-1.
	return "*" + strings.ToUpper(hex.EncodeToString(h2[:]))
}

// authClause renders how the account authenticates. On MariaDB the statement
// carries the mysql_native_password hash, never the plaintext, so the password
// reaches neither the statement text nor the server's logs. MySQL 8 derives
// its caching_sha2_password verifier from a random salt on the server, so the
// plaintext goes in a literal there (the session sets NO_BACKSLASH_ESCAPES).
func authClause(password string, mariadb bool) string {
	if mariadb {
		return "IDENTIFIED BY PASSWORD " + literal(nativeHash(password))
	}
	return "IDENTIFIED BY " + literal(password)
}

// maxUserConnections maps connectionLimit to MAX_USER_CONNECTIONS, where 0
// means unlimited: -1 becomes 0. (0 itself is refused by ValidateUser.)
func maxUserConnections(limit int) int {
	if limit < 0 {
		return 0
	}
	return limit
}

// accountOptions renders REQUIRE and WITH, shared by CREATE and ALTER USER.
func accountOptions(spec sqlengine.UserSpec) string {
	req := "NONE"
	if spec.RequireTLS {
		req = "SSL"
	}
	return " REQUIRE " + req + " WITH MAX_USER_CONNECTIONS " + strconv.Itoa(maxUserConnections(spec.ConnectionLimit))
}

// accountAuthClause is authClause for spec: with a previous password (a
// DualPassword rotation, MariaDB only), two mysql_native_password rules
// joined by OR, the new password first, each given as its hash.
func accountAuthClause(spec sqlengine.UserSpec, mariadb bool) string {
	if spec.OldPassword == "" {
		return authClause(spec.Password, mariadb)
	}
	return "IDENTIFIED VIA mysql_native_password USING " + literal(nativeHash(spec.Password)) +
		" OR mysql_native_password USING " + literal(nativeHash(spec.OldPassword))
}

// createUserSQL renders CREATE USER; it holds a secret and is never logged.
func createUserSQL(spec sqlengine.UserSpec, mariadb bool) string {
	return "CREATE USER " + account(spec.Name, hostOf(spec)) + " " + accountAuthClause(spec, mariadb) + accountOptions(spec)
}

// alterUserSQL renders the ALTER USER statements that repair st. The first
// return value holds no secret; the second, when not empty, sets the password.
func alterUserSQL(spec sqlengine.UserSpec, st accountState, mariadb bool) (plain []string, secret string) {
	acct := account(spec.Name, hostOf(spec))
	if st.maxConns != maxUserConnections(spec.ConnectionLimit) || st.sslType != wantSSLType(spec) {
		plain = append(plain, "ALTER USER "+acct+accountOptions(spec))
	}
	if st.locked {
		plain = append(plain, "ALTER USER "+acct+" ACCOUNT UNLOCK")
	}
	if !passwordsMatch(spec, st, mariadb) {
		secret = "ALTER USER " + acct + " " + accountAuthClause(spec, mariadb)
	}
	return plain, secret
}

// passwordsMatch reports whether the account accepts exactly spec's
// passwords (Password, and OldPassword when set), where that can be told.
func passwordsMatch(spec sqlengine.UserSpec, st accountState, mariadb bool) bool {
	return len(passwordDrift(spec, st, mariadb)) == 0
}

// passwordDrift lists how the account's authentication rules differ from
// spec's passwords: the password, the previous one during a DualPassword
// rotation, and no other.
func passwordDrift(spec sqlengine.UserSpec, st accountState, mariadb bool) []string {
	rules := st.authRules()
	if len(rules) == 1 {
		if r := rules[0]; !passwordMatches(accountState{plugin: r.plugin, authString: r.authString}, spec.Password, mariadb) {
			return []string{"password differs from the Secret"}
		} else if spec.OldPassword == "" {
			return nil
		}
	}
	accepts := func(password string) bool {
		for _, r := range rules {
			if r.plugin == "mysql_native_password" && r.authString == nativeHash(password) {
				return true
			}
		}
		return false
	}
	var d []string
	if !accepts(spec.Password) {
		d = append(d, "password differs from the Secret")
	}
	if spec.OldPassword != "" && !accepts(spec.OldPassword) {
		d = append(d, "previous password is not accepted")
	}
	extra := 0
	for _, r := range rules {
		if r.plugin != "mysql_native_password" || (r.authString != nativeHash(spec.Password) &&
			(spec.OldPassword == "" || r.authString != nativeHash(spec.OldPassword))) {
			extra++
		}
	}
	switch {
	case extra == 0 || len(d) > 0:
	case spec.OldPassword == "":
		d = append(d, "previous password still accepted")
	default:
		d = append(d, fmt.Sprintf("%d password(s) besides the new and the previous one are accepted", extra))
	}
	return d
}

// passwordMatches compares the stored verifier with password where the
// format allows it: mysql_native_password hashes have no salt. Other plugins
// (MySQL 8's caching_sha2_password) cannot be compared and count as matching;
// a changed Secret still resets them (the controller tracks its version).
func passwordMatches(st accountState, password string, mariadb bool) bool {
	switch {
	case st.plugin == "mysql_native_password" || (mariadb && st.plugin == ""):
		// MariaDB reports an empty plugin for accounts with an old-style hash.
		return st.authString == nativeHash(password)
	case !mariadb && (st.plugin == "caching_sha2_password" || st.plugin == "sha256_password"):
		return true
	}
	// Any other plugin (unix_socket, ed25519, ...) was set out of band.
	return false
}

// wantSSLType is mysql.user.ssl_type for the spec: ANY for REQUIRE SSL.
func wantSSLType(spec sqlengine.UserSpec) string {
	if spec.RequireTLS {
		return "ANY"
	}
	return ""
}

func hostOf(spec sqlengine.UserSpec) string {
	if spec.Host == "" {
		return "%"
	}
	return spec.Host
}
