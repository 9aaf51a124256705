package mysql

import (
	"strings"
	"testing"
)

// hostile injection payloads seed both the table tests and the fuzz corpus.
var hostile = []string{
	"plain", "a`b", "`; DROP DATABASE mysql; --", `a'b`, `'; DROP TABLE x; --`, `back\slash`, `\'`, `\\'`, `\`,
	`a"b`, `"; DROP USER root; --`, "semi;colon", "/* comment */", "-- dash", "#hash", "nul\x00byte", "ünïcödé",
	"日本語", "_%", `\_\%`, "0x41", "x'41'", "@@version", strings.Repeat("x", 64), strings.Repeat("é", 32),
}

// unquoteIdent reverses ident: the text between the outer backquotes with “
// read as `. ok is false when a lone backquote would end the identifier early.
func unquoteIdent(q string) (string, bool) {
	if len(q) < 2 || q[0] != '`' || q[len(q)-1] != '`' {
		return "", false
	}
	inner := q[1 : len(q)-1]
	if strings.Contains(strings.ReplaceAll(inner, "``", ""), "`") {
		return "", false
	}
	return strings.ReplaceAll(inner, "``", "`"), true
}

// unquoteLiteral reads a string literal the way the server does under
// NO_BACKSLASH_ESCAPES (the session mode): ” is ', a backslash is itself.
func unquoteLiteral(q string) (string, bool) {
	if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' {
		return "", false
	}
	inner := q[1 : len(q)-1]
	if strings.Contains(strings.ReplaceAll(inner, "''", ""), "'") {
		return "", false
	}
	return strings.ReplaceAll(inner, "''", "'"), true
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

func TestGrantPattern(t *testing.T) {
	cases := []struct {
		reason, in, want string
	}{
		{"plain names pass", "shop", "shop"},
		{"_ is a wildcard and is escaped", "my_db", `my\_db`},
		{"% is a wildcard and is escaped", "100%", `100\%`},
		{"a backslash escapes, so it is doubled", `a\b`, `a\\b`},
		{"all at once", `a\_%`, `a\\\_\%`},
	}
	for _, c := range cases {
		got := grantPattern(c.in)
		if got != c.want {
			t.Errorf("%s: grantPattern(%q) = %q, want %q", c.reason, c.in, got, c.want)
		}
		back, wild := unescapePattern(got)
		if back != c.in || wild {
			t.Errorf("%s: unescapePattern(%q) = %q, %v; want %q, false", c.reason, got, back, wild, c.in)
		}
	}
	if _, wild := unescapePattern("app_%"); !wild {
		t.Error("unescapePattern(app_%) is not a wildcard")
	}
}

func TestCheckName(t *testing.T) {
	cases := []struct {
		reason string
		in     string
		ok     bool
	}{
		{"plain", "shop", true},
		{"hostile but valid", "`; DROP DATABASE x; --", true},
		{"64 characters", strings.Repeat("é", 64), true},
		{"65 characters", strings.Repeat("x", 65), false},
		{"empty", "", false},
		{"NUL", "a\x00b", false},
		{"trailing space", "a ", false},
		{"outside the BMP", "emoji🙂", false},
		{"invalid UTF-8", "\xff", false},
	}
	for _, c := range cases {
		if err := checkName("name", c.in, maxDatabaseChars); (err == nil) != c.ok {
			t.Errorf("%s: checkName(%q) = %v, want ok=%v", c.reason, c.in, err, c.ok)
		}
	}
}

func FuzzIdent(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := unquoteIdent(ident(s))
		if !ok || got != strings.ReplaceAll(s, "\x00", "") {
			t.Fatalf("ident(%q) = %s does not round trip (%q, %v)", s, ident(s), got, ok)
		}
	})
}

func FuzzLiteral(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := unquoteLiteral(literal(s))
		if !ok || got != strings.ReplaceAll(s, "\x00", "") {
			t.Fatalf("literal(%q) = %s does not round trip (%q, %v)", s, literal(s), got, ok)
		}
	})
}

func FuzzGrantPattern(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, wild := unescapePattern(grantPattern(s))
		if got != s || wild {
			t.Fatalf("grantPattern(%q) = %q does not round trip (%q, wildcard %v)", s, grantPattern(s), got, wild)
		}
	})
}
