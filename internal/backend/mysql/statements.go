package mysql

import (
	"crypto/sha1" //nolint:gosec // mysql_native_password is defined with SHA-1.
	"encoding/hex"
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

// createUserSQL renders CREATE USER; it holds a secret and is never logged.
func createUserSQL(spec sqlengine.UserSpec, mariadb bool) string {
	return "CREATE USER " + account(spec.Name, hostOf(spec)) + " " + authClause(spec.Password, mariadb) + accountOptions(spec)
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
	if !passwordMatches(st, spec.Password, mariadb) {
		secret = "ALTER USER " + acct + " " + authClause(spec.Password, mariadb)
	}
	return plain, secret
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
