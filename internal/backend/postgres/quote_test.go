package postgres

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// injection payloads seed both the table tests and the fuzz corpus.
var hostile = []string{
	"plain", `a"b`, `"; DROP ROLE postgres; --`, `a'b`, `'; DROP TABLE x; --`, `back\slash`, `\'`, `\\'`,
	"semi;colon", "/* comment */", "-- dash", "nul\x00byte", "ünïcödé", "日本語", "emoji🙂", "$$dollar$$", "$tag$x$tag$",
	"E'x'", strings.Repeat("x", 63), strings.Repeat("é", 32),
}

// unquoteIdent reverses ident: the text between the outer quotes with "" as ".
func unquoteIdent(q string) (string, bool) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", false
	}
	inner := q[1 : len(q)-1]
	if strings.Count(inner, `"`)%2 != 0 || strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
		return "", false
	}
	return strings.ReplaceAll(inner, `""`, `"`), true
}

// unquoteLiteral reverses literal under both settings of standard_conforming_strings.
func unquoteLiteral(q string) (string, bool) {
	escaped := strings.HasPrefix(q, " E'")
	if escaped {
		q = q[2:]
	}
	if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' {
		return "", false
	}
	inner := q[1 : len(q)-1]
	if strings.Contains(strings.ReplaceAll(inner, "''", ""), "'") {
		return "", false
	}
	s := strings.ReplaceAll(inner, "''", "'")
	if escaped {
		if strings.Contains(strings.ReplaceAll(s, `\\`, ""), `\`) {
			return "", false // a lone backslash would start an escape
		}
		s = strings.ReplaceAll(s, `\\`, `\`)
	} else if strings.Contains(s, `\`) {
		return "", false // without E'', a backslash changes meaning when standard_conforming_strings is off
	}
	return s, true
}

func TestIdentRoundTrip(t *testing.T) {
	for _, s := range hostile {
		got, ok := unquoteIdent(ident(s))
		want := strings.ReplaceAll(s, "\x00", "")
		if !ok || got != want {
			t.Errorf("ident(%q) = %s: round trip gave %q, %v", s, ident(s), got, ok)
		}
	}
}

func TestLiteralRoundTrip(t *testing.T) {
	for _, s := range hostile {
		got, ok := unquoteLiteral(literal(s))
		want := strings.ReplaceAll(s, "\x00", "")
		if !ok || got != want {
			t.Errorf("literal(%q) = %s: round trip gave %q, %v", s, literal(s), got, ok)
		}
	}
}

func TestCheckIdent(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"plain", "orders", true},
		{"quotes are fine, they are quoted", `a"b`, true},
		{"63 bytes is the limit", strings.Repeat("x", 63), true},
		{"64 bytes would be truncated", strings.Repeat("x", 64), false},
		{"32 two-byte runes are 64 bytes", strings.Repeat("é", 32), false},
		{"empty", "", false},
		{"NUL", "a\x00b", false},
		{"invalid UTF-8", "\xff", false},
	}
	for _, c := range cases {
		if err := checkIdent("name", c.in); (err == nil) != c.ok {
			t.Errorf("%s: checkIdent(%q) = %v, want ok=%v", c.name, c.in, err, c.ok)
		}
	}
}

func FuzzIdent(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := ident(s)
		got, ok := unquoteIdent(q)
		if !ok || got != strings.ReplaceAll(s, "\x00", "") {
			t.Fatalf("ident(%q) = %q does not round-trip", s, q)
		}
		if strings.ContainsRune(q, 0) {
			t.Fatalf("ident(%q) kept a NUL", s)
		}
	})
}

func FuzzLiteral(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // only valid UTF-8 reaches the server
		}
		q := literal(s)
		got, ok := unquoteLiteral(q)
		if !ok || got != strings.ReplaceAll(s, "\x00", "") {
			t.Fatalf("literal(%q) = %q does not round-trip", s, q)
		}
	})
}

func TestScramVerifier(t *testing.T) {
	v, err := scramVerifier("s3cret'\\")
	if err != nil {
		t.Fatal(err)
	}
	if !scramMatches(v, "s3cret'\\") {
		t.Error("verifier does not match its own password")
	}
	if scramMatches(v, "other") {
		t.Error("verifier matches another password")
	}
	for _, bad := range []string{"", "md5abc", "SCRAM-SHA-256$x:y$z:w", "SCRAM-SHA-256$4096:!!$a:b"} {
		if scramMatches(bad, "s3cret") {
			t.Errorf("malformed verifier %q matched", bad)
		}
	}
}
