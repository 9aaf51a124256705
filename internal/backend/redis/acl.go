package redis

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Observed is an ACL user as ACL GETUSER reports it.
type Observed struct {
	Enabled bool
	NoPass  bool
	// PasswordHashes are hex SHA-256 hashes.
	PasswordHashes []string
	// Keys and Channels are rule tokens (~p, %R~p, %W~p; &p).
	Keys     []string
	Channels []string
	// Commands is the server's description of the command rules.
	Commands  string
	Selectors int
}

// ParseGetUser reads an ACL GETUSER reply: a flat list of field/value pairs
// (RESP2) or a map (RESP3). Keys and channels may be a string (Redis 7) or a
// list (Redis 6.2).
func ParseGetUser(reply any) (Observed, error) {
	fields := map[string]any{}
	switch r := reply.(type) {
	case []any:
		if len(r)%2 != 0 {
			return Observed{}, fmt.Errorf("ACL GETUSER: odd reply length %d", len(r))
		}
		for i := 0; i < len(r); i += 2 {
			k, ok := r[i].(string)
			if !ok {
				return Observed{}, fmt.Errorf("ACL GETUSER: field %d is %T, not a string", i, r[i])
			}
			fields[k] = r[i+1]
		}
	case map[any]any:
		for k, v := range r {
			ks, ok := k.(string)
			if !ok {
				return Observed{}, fmt.Errorf("ACL GETUSER: field is %T, not a string", k)
			}
			fields[ks] = v
		}
	default:
		return Observed{}, fmt.Errorf("ACL GETUSER: unexpected reply type %T", reply)
	}
	var o Observed
	for _, f := range words(fields["flags"]) {
		switch f {
		case "on":
			o.Enabled = true
		case "nopass":
			o.NoPass = true
		}
	}
	o.PasswordHashes = words(fields["passwords"])
	for _, k := range words(fields["keys"]) {
		o.Keys = append(o.Keys, normalKey(k))
	}
	for _, c := range words(fields["channels"]) {
		o.Channels = append(o.Channels, normalChannel(c))
	}
	o.Commands = strings.Join(words(fields["commands"]), " ")
	if sel, ok := fields["selectors"].([]any); ok {
		o.Selectors = len(sel)
	}
	return o, nil
}

// ParseACLUser reads one line of ACL LIST ("user <name> <rules...>") into
// the user's name and what ParseGetUser yields for the same user, so that
// Diff finds the same drift either way. A rule it does not know is an error
// rather than a guess; a line without a name returns "". Errors never quote a
// rule: it may be a password hash.
func ParseACLUser(line string) (string, Observed, error) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "user" {
		return "", Observed{}, errors.New("ACL LIST: a line does not start with user <name>")
	}
	name, rules := f[1], f[2:]
	var o Observed
	var cmds []string
	for i, r := range rules {
		if strings.HasPrefix(r, "(") {
			n, err := countSelectors(rules[i:])
			if err != nil {
				return name, Observed{}, fmt.Errorf("ACL LIST: user %q: %w", name, err)
			}
			o.Selectors = n
			break
		}
		switch {
		case r == "on":
			o.Enabled = true
		case r == "nopass":
			o.NoPass = true
		case r == "off", r == "sanitize-payload", r == "skip-sanitize-payload", r == "resetchannels":
			// Nothing Observed holds.
		case strings.HasPrefix(r, "#"):
			o.PasswordHashes = append(o.PasswordHashes, r[1:])
		case r == "allkeys", strings.HasPrefix(r, "~"), strings.HasPrefix(r, "%"):
			o.Keys = append(o.Keys, normalKey(r))
		case r == "allchannels", strings.HasPrefix(r, "&"):
			o.Channels = append(o.Channels, normalChannel(r))
		case r == "allcommands", r == "nocommands", strings.HasPrefix(r, "+"), strings.HasPrefix(r, "-"):
			cmds = append(cmds, r)
		default:
			return name, Observed{}, fmt.Errorf("ACL LIST: user %q: rule %d is not understood", name, i+1)
		}
	}
	o.Commands = strings.Join(cmds, " ")
	return name, o, nil
}

// aclSnapshot is one node's ACL LIST, parsed.
type aclSnapshot struct {
	users map[string]Observed
	// unread names users whose line did not parse; partial is set when a line
	// named no user. Either way the snapshot cannot answer for them.
	unread  map[string]bool
	partial bool
}

// parseACLList reads an ACL LIST reply: one line per user.
func parseACLList(reply any) (aclSnapshot, error) {
	lines, ok := reply.([]any)
	if !ok {
		return aclSnapshot{}, fmt.Errorf("ACL LIST: unexpected reply type %T", reply)
	}
	s := aclSnapshot{users: make(map[string]Observed, len(lines)), unread: map[string]bool{}}
	for _, l := range lines {
		line, _ := l.(string)
		name, o, err := ParseACLUser(line)
		switch {
		case name == "":
			s.partial = true
		case err != nil:
			s.unread[name] = true
		default:
			s.users[name] = o
		}
	}
	return s, nil
}

// lookup returns the user as the snapshot holds it, and whether it exists;
// ok is false when the snapshot cannot tell and ACL GETUSER must.
func (s aclSnapshot) lookup(name string) (o Observed, exists, ok bool) {
	if o, exists := s.users[name]; exists {
		return o, true, true
	}
	if s.unread[name] || s.partial {
		return Observed{}, false, false
	}
	return Observed{}, false, true
}

// countSelectors counts the selectors that end an ACL LIST line, each printed
// as "(<rules>)". No rule starts with "(", so every token that does opens a
// selector, whatever its patterns hold; each must close before the next.
func countSelectors(toks []string) (int, error) {
	n := 0
	for i, t := range toks {
		if !strings.HasPrefix(t, "(") {
			continue
		}
		if i > 0 && !strings.HasSuffix(toks[i-1], ")") {
			return 0, errors.New("a selector is not closed")
		}
		n++
	}
	if !strings.HasSuffix(toks[len(toks)-1], ")") {
		return 0, errors.New("a selector is not closed")
	}
	return n, nil
}

// words flattens a string (space separated) or a list of strings.
func words(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, words(e)...)
		}
		return out
	case []string:
		var out []string
		for _, e := range x {
			out = append(out, strings.Fields(e)...)
		}
		return out
	}
	return nil
}

// normalKey rewrites a key rule to the operator's canonical token.
func normalKey(k string) string {
	switch {
	case k == "allkeys":
		return "~*"
	case strings.HasPrefix(k, "%RW~"), strings.HasPrefix(k, "%WR~"):
		return "~" + k[4:]
	}
	return k
}

func normalChannel(c string) string {
	if c == "allchannels" {
		return "&*"
	}
	return c
}

// Diff lists how o differs from s, without secrets. table evaluates command
// rules; the comparison is on the commands each side allows, so differences
// in how a server phrases its rules are not drift.
func Diff(s UserSpec, o Observed, table *CommandTable) []string {
	var d []string
	if s.Enabled != o.Enabled {
		d = append(d, fmt.Sprintf("enabled is %t, want %t", o.Enabled, s.Enabled))
	}
	if o.NoPass {
		d = append(d, "nopass is set: any password is accepted")
	}
	if !PasswordsMatch(s, o) {
		d = append(d, "password differs from the Secret")
	}
	var wantKeys, wantChannels []string
	for _, k := range s.Keys {
		wantKeys = append(wantKeys, keyToken(k))
	}
	for _, c := range s.Channels {
		wantChannels = append(wantChannels, "&"+c)
	}
	d = append(d, setDiff("key patterns", wantKeys, o.Keys)...)
	d = append(d, setDiff("channel patterns", wantChannels, o.Channels)...)
	if o.Selectors > 0 {
		d = append(d, fmt.Sprintf("%d extra selector(s)", o.Selectors))
	}
	if table != nil {
		have := table.Allowed(strings.Fields(o.Commands))
		wantCmds := table.Allowed(commandRules(s))
		d = append(d, setDiff("commands", keys(wantCmds), keys(have))...)
	} else if canonicalRules(commandRules(s)) != canonicalRules(strings.Fields(o.Commands)) {
		d = append(d, "command rules differ")
	}
	return d
}

func canonicalRules(r []string) string {
	if len(r) == 0 || (r[0] != "-@all" && r[0] != "nocommands") {
		r = append([]string{"-@all"}, r...)
	}
	return strings.Join(r, " ")
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	return len(setDiff("", a, b)) == 0
}

// setDiff reports what want lacks in have and what have holds beyond want.
func setDiff(what string, want, have []string) []string {
	w, h := toSet(want), toSet(have)
	var missing, extra []string
	for k := range w {
		if !h[k] {
			missing = append(missing, k)
		}
	}
	for k := range h {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	var d []string
	if len(missing) > 0 {
		d = append(d, fmt.Sprintf("%s missing: %s", what, listShort(missing)))
	}
	if len(extra) > 0 {
		d = append(d, fmt.Sprintf("%s not declared: %s", what, listShort(extra)))
	}
	return d
}

func toSet(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, x := range l {
		m[x] = true
	}
	return m
}

func listShort(l []string) string {
	sort.Strings(l)
	if len(l) > 5 {
		return strings.Join(l[:5], " ") + fmt.Sprintf(" and %d more", len(l)-5)
	}
	return strings.Join(l, " ")
}

// CommandTable knows which commands and subcommands each ACL category holds
// on one server, to evaluate command rules into the set they allow.
type CommandTable struct {
	categories map[string][]string
	all        []string
	// family maps a command to itself (when it has no subcommands) or to its
	// subcommands (command|sub).
	family map[string][]string
	units  map[string]bool
}

// NewCommandTable builds a table from ACL CAT <category> listings.
func NewCommandTable(categories map[string][]string) *CommandTable {
	t := &CommandTable{categories: map[string][]string{}, family: map[string][]string{}, units: map[string]bool{}}
	for cat, cmds := range categories {
		for _, c := range cmds {
			c = strings.ToLower(c)
			t.categories[cat] = append(t.categories[cat], c)
			if !t.units[c] {
				t.units[c] = true
				parent, _, _ := strings.Cut(c, "|")
				t.family[parent] = append(t.family[parent], c)
			}
		}
	}
	for u := range t.units {
		t.all = append(t.all, u)
	}
	sort.Strings(t.all)
	return t
}

// Known reports whether name is a command, a command family or a subcommand.
func (t *CommandTable) Known(name string) bool {
	return t.units[name] || len(t.family[name]) > 0
}

// Allowed evaluates command rule tokens in order, starting from nothing.
func (t *CommandTable) Allowed(rules []string) map[string]bool {
	set := map[string]bool{}
	for _, r := range rules {
		var allow bool
		switch r {
		case "allcommands":
			r = "+@all"
		case "nocommands":
			r = "-@all"
		}
		switch {
		case strings.HasPrefix(r, "+"):
			allow = true
		case strings.HasPrefix(r, "-"):
		default:
			continue
		}
		name := r[1:]
		var targets []string
		switch {
		case name == "@all":
			targets = t.all
		case strings.HasPrefix(name, "@"):
			targets = t.categories[name[1:]]
		case strings.Contains(name, "|"):
			targets = []string{name}
		case len(t.family[name]) > 0:
			targets = t.family[name]
		default:
			targets = []string{name}
		}
		for _, u := range targets {
			if allow {
				set[u] = true
			} else {
				delete(set, u)
			}
		}
	}
	return set
}

// Unknown returns the commands of s the table does not know.
func (t *CommandTable) Unknown(s UserSpec) []string {
	var out []string
	for _, c := range slices.Concat(s.AllowCommands, s.DenyCommands) {
		if !t.Known(c) {
			out = append(out, c)
		}
	}
	return out
}

// PasswordsMatch reports whether the user's stored password hashes are
// exactly those of s's passwords.
func PasswordsMatch(s UserSpec, o Observed) bool {
	want := make([]string, 0, len(s.Passwords))
	for _, p := range s.Passwords {
		want = append(want, HashPassword(p))
	}
	return sameSet(want, o.PasswordHashes)
}
