package redis

import (
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
