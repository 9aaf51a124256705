// Package redis manages ACL users on Redis 7+ and Valkey. Rules are built from
// structured, validated fields by pure functions (no raw rule text from users)
// and compared after normalisation; Client applies them to every node. It has
// no Kubernetes imports.
package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

// Access says what a key pattern allows.
type Access string

const (
	ReadWrite Access = "ReadWrite"
	ReadOnly  Access = "ReadOnly"
	WriteOnly Access = "WriteOnly"
)

// KeyPattern is a key glob and its access.
type KeyPattern struct {
	Pattern string
	Access  Access
}

// UserSpec is the whole desired state of one ACL user.
type UserSpec struct {
	Name    string
	Enabled bool
	// Passwords are plaintext; only their SHA-256 ever reaches the server.
	// Several are allowed (for rotation); none means the user cannot log in.
	Passwords       []string
	Keys            []KeyPattern
	Channels        []string
	AllowCategories []string
	DenyCategories  []string
	AllowCommands   []string
	DenyCommands    []string
}

// Categories are the ACL categories of Redis 7 (ACL CAT), plus all.
var Categories = []string{"all", "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
	"bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
	"connection", "transaction", "scripting"}

var (
	userNameRe = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9._:@]{0,127}$`)
	patternRe  = regexp.MustCompile(`^[!-~]{1,256}$`)
	commandRe  = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}(\|[a-z][a-z0-9_.-]{0,63})?$`)
)

// Validate checks every field that becomes a rule token, so that no value can
// smuggle a second token (spaces) or a different rule (a leading sigil).
func Validate(s UserSpec) error {
	if !userNameRe.MatchString(s.Name) {
		return backenderr.Invalid("user name %q must be 1-128 characters of letters, digits and -._:@, starting with a letter or digit", s.Name)
	}
	for i, p := range s.Passwords {
		if p == "" {
			return backenderr.Invalid("password %d is empty", i+1)
		}
	}
	for _, k := range s.Keys {
		if !patternRe.MatchString(k.Pattern) {
			return backenderr.Invalid("key pattern %q must be 1-256 printable characters without spaces", k.Pattern)
		}
		switch k.Access {
		case ReadWrite, ReadOnly, WriteOnly, "":
		default:
			return backenderr.Invalid("key pattern %q: access %q is not ReadWrite, ReadOnly or WriteOnly", k.Pattern, k.Access)
		}
	}
	for _, c := range s.Channels {
		if !patternRe.MatchString(c) {
			return backenderr.Invalid("channel pattern %q must be 1-256 printable characters without spaces", c)
		}
	}
	for _, c := range slices.Concat(s.AllowCategories, s.DenyCategories) {
		if !slices.Contains(Categories, c) {
			return backenderr.Invalid("%q is not an ACL category", c)
		}
	}
	for _, c := range slices.Concat(s.AllowCommands, s.DenyCommands) {
		if !commandRe.MatchString(c) {
			return backenderr.Invalid("%q is not a command name (lower case, optionally command|subcommand)", c)
		}
	}
	return nil
}

// HashPassword is the form the server stores and the operator sends: the
// hex SHA-256 of the password.
func HashPassword(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:])
}

// Rules returns the rule tokens for s after reset, in the order they apply.
// The spec must have passed Validate.
func Rules(s UserSpec) []string {
	var r []string
	if s.Enabled {
		r = append(r, "on")
	} else {
		r = append(r, "off")
	}
	for _, p := range s.Passwords {
		r = append(r, "#"+HashPassword(p))
	}
	for _, k := range s.Keys {
		r = append(r, keyToken(k))
	}
	for _, c := range s.Channels {
		r = append(r, "&"+c)
	}
	r = append(r, commandRules(s)...)
	return r
}

func commandRules(s UserSpec) []string {
	var r []string
	for _, c := range s.AllowCategories {
		r = append(r, "+@"+c)
	}
	for _, c := range s.DenyCategories {
		r = append(r, "-@"+c)
	}
	for _, c := range s.AllowCommands {
		r = append(r, "+"+c)
	}
	for _, c := range s.DenyCommands {
		r = append(r, "-"+c)
	}
	return r
}

func keyToken(k KeyPattern) string {
	switch k.Access {
	case ReadOnly:
		return "%R~" + k.Pattern
	case WriteOnly:
		return "%W~" + k.Pattern
	}
	return "~" + k.Pattern
}

// SetUserArgs is the one command that replaces every rule of the user:
// ACL SETUSER name reset <rules...>. Reset and the new rules apply atomically,
// so the user never holds more than declared.
func SetUserArgs(s UserSpec) []any {
	args := []any{"ACL", "SETUSER", s.Name, "reset"}
	for _, t := range Rules(s) {
		args = append(args, t)
	}
	return args
}

// Redacted renders ACL arguments for logs with password hashes hidden.
func Redacted(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		s := fmt.Sprint(a)
		if strings.HasPrefix(s, "#") || strings.HasPrefix(s, ">") {
			s = s[:1] + "<redacted>"
		}
		parts[i] = s
	}
	return strings.Join(parts, " ")
}
