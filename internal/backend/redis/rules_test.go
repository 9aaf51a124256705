package redis

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

func TestRules(t *testing.T) {
	hash := HashPassword("secret")
	cases := []struct {
		reason string
		spec   UserSpec
		want   []string
	}{
		{"disabled user without rules holds nothing", UserSpec{Name: "u"}, []string{"off"}},
		{"passwords are sent as hashes", UserSpec{Name: "u", Enabled: true, Passwords: []string{"secret"}}, []string{"on", "#" + hash}},
		{"key access maps to ~, %R~ and %W~", UserSpec{Name: "u", Enabled: true, Keys: []KeyPattern{
			{Pattern: "app:*", Access: ReadWrite}, {Pattern: "ro:*", Access: ReadOnly}, {Pattern: "wo:*", Access: WriteOnly}, {Pattern: "x"}}},
			[]string{"on", "~app:*", "%R~ro:*", "%W~wo:*", "~x"}},
		{"channels and commands in their order", UserSpec{Name: "u", Enabled: true, Channels: []string{"news.*"},
			AllowCategories: []string{"read"}, DenyCategories: []string{"dangerous"}, AllowCommands: []string{"set", "client|id"}, DenyCommands: []string{"keys"}},
			[]string{"on", "&news.*", "+@read", "-@dangerous", "+set", "+client|id", "-keys"}},
	}
	for _, c := range cases {
		if err := Validate(c.spec); err != nil {
			t.Errorf("%s: Validate: %v", c.reason, err)
		}
		if diff := cmp.Diff(c.want, Rules(c.spec)); diff != "" {
			t.Errorf("%s: Rules (-want +got):\n%s", c.reason, diff)
		}
	}
}

func TestSetUserArgsIsOneResettingCommand(t *testing.T) {
	args := SetUserArgs(UserSpec{Name: "app", Enabled: true, Passwords: []string{"pw"}, Keys: []KeyPattern{{Pattern: "a"}}})
	want := []any{"ACL", "SETUSER", "app", "reset", "on", "#" + HashPassword("pw"), "~a"}
	if diff := cmp.Diff(want, args); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if r := Redacted(args); strings.Contains(r, HashPassword("pw")) || !strings.Contains(r, "#<redacted>") {
		t.Errorf("Redacted leaks the hash: %s", r)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		reason string
		spec   UserSpec
		want   string
	}{
		{"space in a key pattern would add a token", UserSpec{Name: "u", Keys: []KeyPattern{{Pattern: "a +@all"}}}, "key pattern"},
		{"empty key pattern", UserSpec{Name: "u", Keys: []KeyPattern{{Pattern: ""}}}, "key pattern"},
		{"unknown access", UserSpec{Name: "u", Keys: []KeyPattern{{Pattern: "a", Access: "All"}}}, "access"},
		{"space in a channel", UserSpec{Name: "u", Channels: []string{"a b"}}, "channel"},
		{"unknown category", UserSpec{Name: "u", AllowCategories: []string{"everything"}}, "ACL category"},
		{"command with a sigil", UserSpec{Name: "u", AllowCommands: []string{"+@all"}}, "command name"},
		{"upper-case command", UserSpec{Name: "u", DenyCommands: []string{"FLUSHALL"}}, "command name"},
		{"name with a space", UserSpec{Name: "a b"}, "user name"},
		{"name starting with a rule sigil", UserSpec{Name: ">x"}, "user name"},
		{"empty password", UserSpec{Name: "u", Passwords: []string{""}}, "password"},
	}
	for _, c := range cases {
		err := Validate(c.spec)
		be, ok := backenderr.As(err)
		if !ok || be.Reason != backenderr.ReasonInvalidSpec || !strings.Contains(be.Message, c.want) {
			t.Errorf("%s: got %v, want InvalidSpec mentioning %q", c.reason, err, c.want)
		}
	}
}

// FuzzRules checks that a spec that passes Validate always yields exactly one
// token per field value, none with whitespace, so no value can add a rule.
func FuzzRules(f *testing.F) {
	for _, s := range []string{"app:*", "a +@all", "~*", ">pw", "nopass", "a\tb", "%R~x", "on reset"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, key, channel, command string) {
		s := UserSpec{Name: "u", Enabled: true, Passwords: []string{key + channel}, Keys: []KeyPattern{{Pattern: key, Access: ReadOnly}},
			Channels: []string{channel}, AllowCommands: []string{command}}
		if Validate(s) != nil {
			return
		}
		r := Rules(s)
		if len(r) != 5 {
			t.Fatalf("%d tokens for one value per field: %q", len(r), r)
		}
		for _, tok := range r {
			if strings.ContainsAny(tok, " \t\r\n\x00") {
				t.Fatalf("token with whitespace: %q", tok)
			}
		}
		if r[2] != "%R~"+key || r[3] != "&"+channel || r[4] != "+"+command {
			t.Fatalf("tokens do not carry the values verbatim: %q", r)
		}
	})
}

// classify cuts password rules out of a server's error, and leaves a
// network error's addresses whole.
func TestClassifyRedacts(t *testing.T) {
	for _, tc := range []struct{ in, want, gone string }{
		{in: "ERR Error in ACL SETUSER modifier '>s3cret': Syntax error", want: "'<redacted>'", gone: "s3cret"},
		{in: "ERR bad rule #" + HashPassword("pw"), want: " <redacted>", gone: HashPassword("pw")},
		{in: "read tcp 127.0.0.1:39312->127.0.0.1:34783: i/o timeout", want: "127.0.0.1:39312->127.0.0.1:34783"},
	} {
		got := classify("n:1", "ACL", errors.New(tc.in)).Error()
		if !strings.Contains(got, tc.want) || (tc.gone != "" && strings.Contains(got, tc.gone)) {
			t.Errorf("classify(%q) = %q; want it to hold %q and not %q", tc.in, got, tc.want, tc.gone)
		}
	}
}
