package redis

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// table is a small command table in the shape ACL CAT returns.
func table() *CommandTable {
	return NewCommandTable(map[string][]string{
		"read":      {"get", "mget", "keys", "sort_ro"},
		"write":     {"set", "del", "flushall"},
		"dangerous": {"keys", "flushall", "client|kill", "config|set", "sort_ro"},
		"admin":     {"client|kill", "config|set", "config|get"},
		"slow":      {"keys", "flushall", "client|kill", "client|id", "config|set", "config|get", "sort_ro"},
		"fast":      {"get", "mget", "set", "del"},
	})
}

func TestAllowed(t *testing.T) {
	cases := []struct {
		reason string
		rules  []string
		want   []string
	}{
		{"nothing", nil, []string{}},
		{"category then denied category", []string{"+@read", "-@dangerous"}, []string{"get", "mget"}},
		{"Redis 7.0 phrasing of the same", []string{"-@all", "+@read", "-keys", "-sort_ro"}, []string{"get", "mget"}},
		{"a command family covers its subcommands", []string{"+client"}, []string{"client|id", "client|kill"}},
		{"one subcommand", []string{"+@all", "-config", "+config|get"}, []string{"client|id", "client|kill", "config|get", "del", "flushall", "get", "keys", "mget", "set", "sort_ro"}},
		{"allcommands and nocommands", []string{"allcommands", "nocommands", "+get"}, []string{"get"}},
		{"unknown names are kept as such", []string{"+frobnicate"}, []string{"frobnicate"}},
	}
	for _, c := range cases {
		got := keys(table().Allowed(c.rules))
		if diff := cmp.Diff(c.want, got, cmpSorted); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.reason, diff)
		}
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string{}, in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestParseGetUser(t *testing.T) {
	h := HashPassword("pw")
	resp2 := []any{"flags", []any{"on", "sanitize-payload"}, "passwords", []any{h}, "commands", "-@all +@read -keys",
		"keys", "~app:* %R~ro:* %RW~rw:*", "channels", "&news.*", "selectors", []any{}}
	want := Observed{Enabled: true, PasswordHashes: []string{h}, Keys: []string{"~app:*", "%R~ro:*", "~rw:*"},
		Channels: []string{"&news.*"}, Commands: "-@all +@read -keys"}
	got, err := ParseGetUser(resp2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RESP2 (-want +got):\n%s", diff)
	}
	// Redis 6.2 lists keys; RESP3 is a map; allkeys and allchannels are spelled out.
	resp3 := map[any]any{"flags": []any{"off", "nopass"}, "passwords": []any{}, "commands": "+@all",
		"keys": []any{"allkeys"}, "channels": []any{"allchannels"}, "selectors": []any{[]any{"x"}}}
	got, err = ParseGetUser(resp3)
	if err != nil {
		t.Fatal(err)
	}
	want = Observed{NoPass: true, Keys: []string{"~*"}, Channels: []string{"&*"}, Commands: "+@all", Selectors: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RESP3 (-want +got):\n%s", diff)
	}
	if _, err := ParseGetUser([]any{"flags"}); err == nil {
		t.Error("odd reply accepted")
	}
}

func TestDiff(t *testing.T) {
	spec := UserSpec{Name: "u", Enabled: true, Passwords: []string{"pw"}, Keys: []KeyPattern{{Pattern: "app:*"}},
		Channels: []string{"news"}, AllowCategories: []string{"read"}, DenyCategories: []string{"dangerous"}}
	same := Observed{Enabled: true, PasswordHashes: []string{HashPassword("pw")}, Keys: []string{"~app:*"},
		Channels: []string{"&news"}, Commands: "-@all +@read -keys -sort_ro"}
	cases := []struct {
		reason string
		mutate func(*Observed)
		want   []string
	}{
		{"the server's own phrasing is no drift", func(*Observed) {}, nil},
		{"disabled", func(o *Observed) { o.Enabled = false }, []string{"enabled is false, want true"}},
		{"password changed", func(o *Observed) { o.PasswordHashes = []string{HashPassword("other")} }, []string{"password differs from the Secret"}},
		{"extra password", func(o *Observed) { o.PasswordHashes = append(o.PasswordHashes, HashPassword("x")) }, []string{"password differs from the Secret"}},
		{"nopass", func(o *Observed) { o.NoPass = true }, []string{"nopass is set: any password is accepted"}},
		{"keys widened", func(o *Observed) { o.Keys = []string{"~*"} }, []string{"key patterns missing: ~app:*", "key patterns not declared: ~*"}},
		{"channel dropped", func(o *Observed) { o.Channels = nil }, []string{"channel patterns missing: &news"}},
		{"command added", func(o *Observed) { o.Commands += " +flushall" }, []string{"commands not declared: flushall"}},
		{"category removed", func(o *Observed) { o.Commands = "-@all" }, []string{"commands missing: get mget"}},
		{"selector added", func(o *Observed) { o.Selectors = 2 }, []string{"2 extra selector(s)"}},
	}
	for _, c := range cases {
		o := same
		o.PasswordHashes = append([]string{}, same.PasswordHashes...)
		c.mutate(&o)
		if diff := cmp.Diff(c.want, Diff(spec, o, table())); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.reason, diff)
		}
	}
}

// FuzzParseGetUser feeds arbitrary field values: parsing never panics, and
// what it returns diffs without panicking either.
func FuzzParseGetUser(f *testing.F) {
	f.Add("on nopass", "-@all +@read", "~a %R~b %RW~c allkeys", "&x allchannels")
	f.Fuzz(func(t *testing.T, flags, commands, keys, channels string) {
		o, err := ParseGetUser([]any{"flags", flags, "passwords", []any{}, "commands", commands, "keys", keys, "channels", channels})
		if err != nil {
			t.Fatal(err)
		}
		_ = Diff(UserSpec{Name: "u"}, o, table())
	})
}

func TestParseACLUser(t *testing.T) {
	h1, h2 := HashPassword("pw1"), HashPassword("pw2")
	cases := []struct {
		reason string
		line   string
		name   string
		want   Observed
	}{
		{"Redis 7.0 rewrites the rules the operator sends",
			"user app on sanitize-payload #" + h1 + " #" + h2 + " ~app:* %R~ro:* %W~wo:* ~rw:* resetchannels &news.* -@all +@read -keys +client|id",
			"app", Observed{Enabled: true, PasswordHashes: []string{h1, h2}, Keys: []string{"~app:*", "%R~ro:*", "%W~wo:*", "~rw:*"},
				Channels: []string{"&news.*"}, Commands: "-@all +@read -keys +client|id"}},
		{"the default user", "user default on nopass ~* &* +@all", "default",
			Observed{Enabled: true, NoPass: true, Keys: []string{"~*"}, Channels: []string{"&*"}, Commands: "+@all"}},
		{"disabled, nothing allowed", "user off1 off sanitize-payload resetchannels -@all", "off1", Observed{Commands: "-@all"}},
		{"older spellings are normalised", "user old on allkeys %RW~rw:* allchannels allcommands", "old",
			Observed{Enabled: true, Keys: []string{"~*", "~rw:*"}, Channels: []string{"&*"}, Commands: "allcommands"}},
		{"selectors are counted, their rules are not the user's",
			"user sel on sanitize-payload ~a resetchannels -@all +get (~b resetchannels -@all +set) (%R~c resetchannels -@all +@read)",
			"sel", Observed{Enabled: true, Keys: []string{"~a"}, Commands: "-@all +get", Selectors: 2}},
		{"a selector pattern ending in ) does not end the selector",
			"user par on sanitize-payload resetchannels -@all (~c) resetchannels -@all +get)", "par",
			Observed{Enabled: true, Commands: "-@all", Selectors: 1}},
		{"a pattern opening with ( is not a selector", "user par2 on ~(x &(y -@all", "par2",
			Observed{Enabled: true, Keys: []string{"~(x"}, Channels: []string{"&(y"}, Commands: "-@all"}},
		{"patterns that look like rules stay patterns",
			"user hashy on sanitize-payload ~#abc ~nopass ~on resetchannels &off &+@all -@all", "hashy",
			Observed{Enabled: true, Keys: []string{"~#abc", "~nopass", "~on"}, Channels: []string{"&off", "&+@all"}, Commands: "-@all"}},
		{"odd names and quotes are taken verbatim",
			`user a:b@c.d-e_f on sanitize-payload ~"quoted" ~x\y ~{a} resetchannels &a"b -@all`, "a:b@c.d-e_f",
			Observed{Enabled: true, Keys: []string{`~"quoted"`, `~x\y`, "~{a}"}, Channels: []string{`&a"b`}, Commands: "-@all"}},
		{"a name that looks like a rule or a selector", "user (on) off #" + h1 + " -@all", "(on)",
			Observed{PasswordHashes: []string{h1}, Commands: "-@all"}},
	}
	for _, c := range cases {
		name, got, err := ParseACLUser(c.line)
		if err != nil {
			t.Errorf("%s: %v", c.reason, err)
			continue
		}
		if name != c.name {
			t.Errorf("%s: name %q, want %q", c.reason, name, c.name)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.reason, diff)
		}
	}
}

func TestParseACLUserRefuses(t *testing.T) {
	cases := []struct {
		reason string
		line   string
		name   string
	}{
		{"empty", "", ""},
		{"no name", "user", ""},
		{"not a user line", "users app on", ""},
		{"an unknown rule", "user u on >secret-plaintext -@all", "u"},
		{"a selector never closed", "user u on -@all (~a -@all +get", "u"},
		{"rules after a closed selector", "user u on -@all (~a -@all) +get", "u"},
		{"a selector opened before the last closed", "user u on -@all (~a -@all (~b -@all)", "u"},
	}
	for _, c := range cases {
		name, _, err := ParseACLUser(c.line)
		if err == nil || name != c.name {
			t.Errorf("%s: got name %q, error %v; want name %q and an error", c.reason, name, err, c.name)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error quotes a rule: %v", c.reason, err)
		}
	}
}

func TestACLSnapshotLookup(t *testing.T) {
	snap, err := parseACLList([]any{"user a on -@all", "user b on >x", "garbage"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		exists, ok bool
	}{
		{"a", true, true},
		{"b", false, false}, // unreadable line: ask the server
		{"c", false, false}, // a line named nobody: absence proves nothing
	}
	for _, c := range cases {
		if _, exists, ok := snap.lookup(c.name); exists != c.exists || ok != c.ok {
			t.Errorf("lookup(%q) = exists %t, ok %t; want %t, %t", c.name, exists, ok, c.exists, c.ok)
		}
	}
	snap, _ = parseACLList([]any{"user a on -@all"})
	if _, exists, ok := snap.lookup("c"); exists || !ok {
		t.Errorf("a complete snapshot must answer for a missing user: exists %t, ok %t", exists, ok)
	}
	if _, err := parseACLList("user a on"); err == nil {
		t.Error("a reply that is not a list was accepted")
	}
}

// FuzzParseACLUser reads lines built around values that try to pass for
// other rules, selectors or users. Parsing never panics, errors never quote
// a hash or a password, and a user the operator could have written (the spec
// passes Validate) always reads back as exactly that spec.
func FuzzParseACLUser(f *testing.F) {
	for _, s := range []string{"app:*", "a +@all", "(~* +@all)", "~*) (+@all", "x)", "(x", ">pw", "#" + HashPassword("x"),
		"nopass", "allkeys", "%RW~*", "on\nuser admin on nopass ~* +@all", "resetkeys", "a\x00b", "((", "))", "user"} {
		f.Add("app", s, s, "get")
	}
	f.Fuzz(func(t *testing.T, name, key, channel, command string) {
		s := UserSpec{Name: name, Enabled: true, Passwords: []string{key}, Keys: []KeyPattern{{Pattern: key, Access: ReadOnly}},
			Channels: []string{channel}, AllowCommands: []string{command}}
		rules := Rules(s)
		line := "user " + name + " " + strings.Join(rules, " ")
		got, o, err := ParseACLUser(line)
		if err != nil {
			for _, secret := range []string{HashPassword(key), key} {
				if len(secret) >= 8 && strings.Contains(err.Error(), secret) && !strings.Contains(name, secret) {
					t.Fatalf("the error quotes a secret: %v", err)
				}
			}
		} else {
			_ = Diff(s, o, table())
		}
		if Validate(s) != nil {
			return
		}
		if err != nil || got != name {
			t.Fatalf("a valid user does not read back: name %q, %v", got, err)
		}
		if d := Diff(s, o, nil); len(d) > 0 {
			t.Fatalf("a valid user reads back as drift %q from %q", d, line)
		}
	})
}
