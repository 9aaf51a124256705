package mysql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Name limits, in characters.
const (
	maxDatabaseChars = 64
	// maxUserCharsMySQL is MySQL 8's limit; MariaDB allows 80.
	maxUserCharsMySQL   = 32
	maxUserCharsMariaDB = 80
	// maxHostChars is MariaDB's limit (MySQL 8.0.17+ allows 255).
	maxHostChars = 60
)

// sessionSQLMode is set on every connection, so that quoting means the same
// whatever the server's global sql_mode says: with NO_BACKSLASH_ESCAPES a
// backslash in a string literal is an ordinary character, and without
// ANSI_QUOTES a double quote is not an identifier quote (identifiers are
// backquoted anyway, which works under every mode).
const sessionSQLMode = "NO_BACKSLASH_ESCAPES,NO_ENGINE_SUBSTITUTION,STRICT_ALL_TABLES"

// checkName reports why s cannot be a MySQL name of at most maxChars
// characters, or nil. MySQL identifiers are utf8mb3: characters beyond the
// Basic Multilingual Plane are refused, as are NUL and a trailing space.
func checkName(what, s string, maxChars int) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", what)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	case utf8.RuneCountInString(s) > maxChars:
		return fmt.Errorf("%s %q is %d characters; MySQL allows at most %d", what, s, utf8.RuneCountInString(s), maxChars)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%s contains a NUL byte", what)
	case strings.HasSuffix(s, " "):
		return fmt.Errorf("%s %q ends with a space, which MySQL does not allow", what, s)
	}
	for _, r := range s {
		if r > 0xFFFF {
			return fmt.Errorf("%s %q has a character outside the Basic Multilingual Plane, which MySQL identifiers cannot hold", what, s)
		}
	}
	return nil
}

// ident quotes s as an identifier: `s` with embedded backquotes doubled. A
// backquoted identifier means the same under every sql_mode (ANSI_QUOTES only
// adds " as a second identifier quote). Callers validate with checkName first;
// ident never lets a NUL through.
func ident(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// literal quotes s as a string literal: 's' with embedded quotes doubled and
// backslashes left as they are. That is exact only under NO_BACKSLASH_ESCAPES,
// which every connection of this adapter sets (sessionSQLMode).
func literal(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// account renders 'user'@'host' with both parts backquoted.
func account(user, host string) string { return ident(user) + "@" + ident(host) }

// grantPattern escapes a database name for GRANT ... ON db.*, where _ and %
// are wildcards: a backslash makes them (and itself) literal. mysql.db stores
// the escaped form.
func grantPattern(db string) string {
	return strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`).Replace(db)
}

// unescapePattern reverses grantPattern. wildcard is true when the pattern
// holds an unescaped _ or %, so that it names more than one database.
func unescapePattern(p string) (name string, wildcard bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteByte(p[i])
		case c == '_' || c == '%':
			wildcard = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), wildcard
}
