package postgres

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxIdentBytes is NAMEDATALEN-1: PostgreSQL silently truncates longer names,
// which could make two different names collide, so they are refused instead.
const maxIdentBytes = 63

// checkIdent reports why s cannot be a PostgreSQL identifier, or nil.
func checkIdent(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", what)
	case len(s) > maxIdentBytes:
		return fmt.Errorf("%s %q is %d bytes; PostgreSQL allows at most %d", what, s, len(s), maxIdentBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%s contains a NUL byte", what)
	}
	return nil
}

// ident quotes s as an identifier: "s" with embedded quotes doubled. Callers
// validate with checkIdent first; ident never lets a NUL through.
func ident(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// qualified quotes schema.name.
func qualified(schema, name string) string { return ident(schema) + "." + ident(name) }

// literal quotes s as a string literal that means the same whatever
// standard_conforming_strings says: like libpq's PQescapeLiteral, a value with a
// backslash uses the E” form with backslashes doubled.
func literal(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return " E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}
