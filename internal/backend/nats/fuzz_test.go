package nats_test

import (
	"context"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/backend-operator/backend-operator/internal/backend/nats"
	"github.com/backend-operator/backend-operator/internal/backend/port"
)

// offline is the adapter on a server it never reaches: Validate sends nothing.
func offline(t testing.TB) *nats.Client {
	c, err := nats.New(nats.Config{Servers: []string{"nats://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzStreamName: a stream name the adapter accepts is exactly one subject
// token of the JetStream API (no '.', wildcard, whitespace, path separator
// or control character) of at most 255 bytes of UTF-8, and every such name
// is accepted.
func FuzzStreamName(f *testing.F) {
	for _, s := range []string{"ORDERS", "a.b", "a*", ">", "a b", "a/b", `a\b`, "it's", "ünï", "\x00", "a\u2028b", "'; DROP", "$JS.API", strings.Repeat("x", 256)} {
		f.Add(s)
	}
	c := offline(f)
	s, err := port.For[nats.Streams](nats.KindStream, nats.EngineName, c)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := s.Validate(context.Background(), nats.StreamSpec{Name: name})
		token := name != "" && len(name) <= 255 && utf8.ValidString(name) && strings.IndexFunc(name, func(r rune) bool {
			return unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune(".*>/\\", r)
		}) < 0
		if token != (err == nil) {
			t.Fatalf("name %q: Validate = %v, want accepted %v", name, err, token)
		}
		if err == nil && len(strings.Split("$JS.API.STREAM.INFO."+name, ".")) != 5 {
			t.Fatalf("name %q is not one subject token", name)
		}
	})
}

// FuzzSubject: a subject the adapter accepts has non-empty tokens, no
// whitespace, and wildcards only as whole tokens ('>' last).
func FuzzSubject(f *testing.F) {
	for _, s := range []string{"orders.>", "a.*.b", "a..b", ".a", "a.", "a>", "*a", ">.a", "a b", "a\tb", "日本.語"} {
		f.Add(s)
	}
	c := offline(f)
	s, err := port.For[nats.Streams](nats.KindStream, nats.EngineName, c)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		if s.Validate(context.Background(), nats.StreamSpec{Name: "S", Subjects: []string{subject}}) != nil {
			return
		}
		tokens := strings.Split(subject, ".")
		for i, tok := range tokens {
			switch {
			case tok == "":
				t.Fatalf("%q accepted with an empty token", subject)
			case strings.IndexFunc(tok, unicode.IsSpace) >= 0:
				t.Fatalf("%q accepted with whitespace", subject)
			case strings.Contains(tok, "*") && tok != "*", strings.Contains(tok, ">") && (tok != ">" || i != len(tokens)-1):
				t.Fatalf("%q accepted with a wildcard inside a token", subject)
			}
		}
	})
}
