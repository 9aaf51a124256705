package nats

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

// maxName is the longest stream or consumer name the server accepts (bytes).
const maxName = 255

// checkName refuses stream and consumer names NATS forbids: empty, longer
// than maxName bytes, invalid UTF-8, or holding whitespace, ".", "*", ">",
// a path separator or a non-printable character (names become subject
// tokens and file names on the server).
func checkName(what, name string) error {
	switch {
	case name == "":
		return backenderr.Invalid("%s is empty", what)
	case len(name) > maxName:
		return backenderr.Invalid("%s is %d bytes long; NATS allows %d", what, len(name), maxName)
	case !utf8.ValidString(name):
		return backenderr.Invalid("%s is not valid UTF-8", what)
	case strings.IndexFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune(".*>/\\", r)
	}) >= 0:
		return backenderr.Invalid("%s %q holds a character NATS forbids in names (whitespace, '.', '*', '>', '/', '\\' or a non-printable one)", what, name)
	}
	return nil
}

// bucketName is what KeyValue and ObjectStore buckets may be called.
var bucketName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// checkBucket refuses bucket names outside [a-zA-Z0-9_-]+ (the stream is
// KV_<bucket> or OBJ_<bucket>, so the bucket may be 4 bytes shorter).
func checkBucket(what, name string) error {
	if !bucketName.MatchString(name) {
		return backenderr.Invalid("%s %q must be letters, digits, '_' and '-' only", what, name)
	}
	if len(name) > maxName-4 {
		return backenderr.Invalid("%s is %d bytes long; NATS allows %d", what, len(name), maxName-4)
	}
	return nil
}

// checkSubject refuses a subject that is not dot-separated non-empty
// tokens without whitespace; wildcards ("*" a whole token, ">" the last
// token) only where a filter is allowed.
func checkSubject(what, subject string, wildcards bool) error {
	if subject == "" || !utf8.ValidString(subject) || strings.IndexFunc(subject, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) >= 0 {
		return backenderr.Invalid("%s %q is empty or holds whitespace or a non-printable character", what, subject)
	}
	tokens := strings.Split(subject, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return backenderr.Invalid("%s %q has an empty token", what, subject)
		case t == ">" && i != len(tokens)-1, strings.Contains(t, ">") && t != ">", strings.Contains(t, "*") && t != "*":
			return backenderr.Invalid("%s %q: '*' must be a whole token and '>' the whole last token", what, subject)
		case !wildcards && (t == "*" || t == ">"):
			return backenderr.Invalid("%s %q may not hold wildcards", what, subject)
		}
	}
	return nil
}

// metadataDiff compares user metadata, ignoring the keys the server adds
// itself (prefix "_nats.").
func metadataDiff(want, got map[string]string) bool {
	clean := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if !strings.HasPrefix(k, "_nats.") {
				out[k] = v
			}
		}
		return out
	}
	return !maps.Equal(clean(want), clean(got))
}

// checkMetadata refuses keys the server reserves.
func checkMetadata(m map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if strings.HasPrefix(k, "_nats.") || k == "" {
			return backenderr.Invalid("metadata key %q is empty or reserved by the server (_nats.)", k)
		}
	}
	return nil
}

// sameSet compares string lists as sets (nil and empty are equal).
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
