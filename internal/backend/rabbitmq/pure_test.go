package rabbitmq

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
	"github.com/backend-operator/backend-operator/internal/backend/port"
)

func ptr(v int64) *int64 { return &v }

func TestHashPassword(t *testing.T) {
	for _, tc := range []struct {
		reason   string
		password string
		salt     [4]byte
		want     string
	}{
		{"the example of rabbitmq.com/docs/passwords (salt 908DC60A, password test12)",
			"test12", [4]byte{0x90, 0x8d, 0xc6, 0x0a}, "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"},
		{"an empty password still hashes the salt",
			"", [4]byte{}, "AAAAAN8/YZgEqS/bQFcZLcQ910jqd4rcUrxJjOgFJMAUuBEZ"},
		{"non-ASCII passwords hash as UTF-8 (checked with Python's hashlib)",
			"pässwörd ☃", [4]byte{0xca, 0xd5, 0x08, 0x9b}, "ytUIm/fFmV7FSSwQlHulm+zdLwOqqkgw+6FGHhCjFWj/knyo"},
	} {
		if got := HashPassword(tc.password, tc.salt); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.reason, got, tc.want)
		}
	}
}

func TestNewPasswordHashSaltsEachTime(t *testing.T) {
	a, err := NewPasswordHash("pw")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewPasswordHash("pw")
	if a == b {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, h := range []string{a, b} {
		if ok, err := CheckPassword("pw", h, HashSHA256); !ok || err != nil {
			t.Fatalf("CheckPassword(%s) = %v, %v", h, ok, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		reason           string
		password, stored string
		algorithm        string
		want             bool
		wantErr          bool
	}{
		{"docs vector matches", "test12", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", HashSHA256, true, false},
		{"empty algorithm means SHA-256", "test12", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", "", true, false},
		{"another password differs", "test13", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", HashSHA256, false, false},
		{"SHA-512 hashes (rabbit_password_hashing_sha512) are checked", "test12",
			"kI3GChuNuIYf8lRbCCxZjgjKwsY19ns6+uFO0zcXRBGA/XGJPYD8OWMy7EB8TaOmAzjP2azv84GbINYwX2cDWb4DHnc=", HashSHA512, true, false},
		{"MD5 hashes of users from before 3.6 are checked", "test12", "kI3GChNpte2FApYFXScl+0dIluk=", HashMD5, true, false},
		{"a passwordless user matches no password", "", "", HashSHA256, false, false},
		{"a hash that is not base64 cannot be checked", "x", "not base64!", HashSHA256, false, true},
		{"a hash shorter than its salt cannot be checked", "x", "AAAA", HashSHA256, false, true},
		{"an unknown algorithm (a plugin's) cannot be checked", "x", "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", "rabbit_password_hashing_bcrypt", false, true},
	} {
		got, err := CheckPassword(tc.password, tc.stored, tc.algorithm)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: got %v, %v", tc.reason, got, err)
		}
	}
}

func TestQueuePolicy(t *testing.T) {
	long := strings.Repeat("q", 300)
	longU := strings.Repeat("ü", 200) // 400 bytes, 2 per rune
	for _, tc := range []struct {
		reason      string
		name        string
		wantPolicy  string
		wantPattern string
	}{
		{"a plain name is prefixed", "orders", "backend-operator.queue.orders", "^orders$"},
		{"regexp metacharacters are escaped so the pattern matches the name alone", "a.b*c+(d)|[e]",
			"backend-operator.queue.a.b*c+(d)|[e]", `^a\.b\*c\+\(d\)\|\[e\]$`},
		{"slashes, spaces, % and # are literal in patterns", "a/b %#ü", "backend-operator.queue.a/b %#ü", "^a/b %#ü$"},
		{"a name that would make the policy name longer than 255 bytes is cut and suffixed with its SHA-256 (from Python's hashlib)",
			long, "backend-operator.queue." + strings.Repeat("q", 255-len("backend-operator.queue.")-17) + "~2dbf557691355eab", "^" + long + "$"},
	} {
		p, pat := QueuePolicy(tc.name)
		if p != tc.wantPolicy || pat != tc.wantPattern {
			t.Errorf("%s: QueuePolicy(%q) = %q, %q; want %q, %q", tc.reason, tc.name, p, pat, tc.wantPolicy, tc.wantPattern)
		}
	}
	p, _ := QueuePolicy(longU)
	if len(p) > 255 || !utf8.ValidString(p) {
		t.Errorf("a long non-ASCII name must be cut at a character boundary: %q (%d bytes)", p, len(p))
	}
	a, _ := QueuePolicy(long + "a")
	b, _ := QueuePolicy(long + "b")
	if a == b {
		t.Error("two long names sharing a 300-byte prefix must get different policies")
	}
}

// FuzzQueuePolicy checks, for any name the adapter accepts, that the owned
// policy's name is deterministic, bounded, valid UTF-8 and prefixed, and
// that its pattern matches exactly that name.
func FuzzQueuePolicy(f *testing.F) {
	for _, s := range []string{"orders", "a/b %#ü", `^.*$`, `a\`, "(?i)x", strings.Repeat("é", 200), "[", "a$b^c", "\\Q.\\E"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkEntityName("queue name", name) != nil {
			return
		}
		p, pat := QueuePolicy(name)
		p2, pat2 := QueuePolicy(name)
		if p != p2 || pat != pat2 {
			t.Fatal("not deterministic")
		}
		if len(p) > maxPolicyName || !utf8.ValidString(p) || !strings.HasPrefix(p, QueuePolicyPrefix) {
			t.Fatalf("policy name %q", p)
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			t.Fatalf("pattern %q: %v", pat, err)
		}
		if !re.MatchString(name) {
			t.Fatalf("pattern %q does not match %q", pat, name)
		}
		for _, other := range []string{name + "x", "x" + name, name[:len(name)-1], name + "\n"} {
			if other != name && re.MatchString(other) {
				t.Fatalf("pattern %q also matches %q", pat, other)
			}
		}
	})
}

func TestPermissionDiff(t *testing.T) {
	rw := Permission{Vhost: "a", Configure: "^app\\.", Write: ".*", Read: ".*"}
	for _, tc := range []struct {
		reason     string
		want, have []Permission
		grant      []Permission
		clear      []string
	}{
		{"nothing wanted, nothing held", nil, nil, nil, nil},
		{"a missing vhost is granted", []Permission{rw}, nil, []Permission{rw}, nil},
		{"an equal entry is left alone", []Permission{rw}, []Permission{rw}, nil, nil},
		{"a different pattern is granted again", []Permission{rw}, []Permission{{Vhost: "a", Configure: ".*", Write: ".*", Read: ".*"}}, []Permission{rw}, nil},
		{"a vhost the spec does not list is cleared, like a SQL revoke", nil, []Permission{rw, {Vhost: "/"}}, nil, []string{"/", "a"}},
		{"grants and clears come sorted by vhost", []Permission{{Vhost: "z"}, {Vhost: "b"}}, []Permission{{Vhost: "y"}, {Vhost: "c"}},
			[]Permission{{Vhost: "b"}, {Vhost: "z"}}, []string{"c", "y"}},
	} {
		grant, clear := PermissionDiff(tc.want, tc.have)
		if diff := cmp.Diff(tc.grant, grant); diff != "" {
			t.Errorf("%s: grant (-want +got):\n%s", tc.reason, diff)
		}
		if diff := cmp.Diff(tc.clear, clear); diff != "" {
			t.Errorf("%s: clear (-want +got):\n%s", tc.reason, diff)
		}
	}
}

func TestTopicPermissionDiff(t *testing.T) {
	p := TopicPermission{Vhost: "a", Exchange: "amq.topic", Write: "^app\\.", Read: ".*"}
	for _, tc := range []struct {
		reason       string
		want, have   []TopicPermission
		grant, clear []TopicPermission
	}{
		{"a missing exchange entry is granted", []TopicPermission{p}, nil, []TopicPermission{p}, nil},
		{"equal entries are left alone", []TopicPermission{p}, []TopicPermission{p}, nil, nil},
		{"entries are keyed by vhost and exchange: another exchange is cleared",
			[]TopicPermission{p}, []TopicPermission{p, {Vhost: "a", Exchange: "events"}}, nil, []TopicPermission{{Vhost: "a", Exchange: "events"}}},
		{"a changed read pattern is granted again", []TopicPermission{p}, []TopicPermission{{Vhost: "a", Exchange: "amq.topic", Write: "^app\\."}},
			[]TopicPermission{p}, nil},
	} {
		grant, clear := TopicPermissionDiff(tc.want, tc.have)
		if diff := cmp.Diff(tc.grant, grant); diff != "" {
			t.Errorf("%s: grant (-want +got):\n%s", tc.reason, diff)
		}
		if diff := cmp.Diff(tc.clear, clear); diff != "" {
			t.Errorf("%s: clear (-want +got):\n%s", tc.reason, diff)
		}
	}
}

func TestExchangeDrift(t *testing.T) {
	spec := ExchangeSpec{Vhost: "v", Name: "e", Type: "topic", Durable: true, Arguments: map[string]any{"alternate-exchange": "ae", "x-n": 3}}
	for _, tc := range []struct {
		reason string
		got    exchangeState
		want   []string
	}{
		{"what the server sends back, numbers as float64, is up to date",
			exchangeState{Type: "topic", Durable: true, Arguments: map[string]any{"alternate-exchange": "ae", "x-n": 3.0}}, nil},
		{"every difference needs a new exchange",
			exchangeState{Type: "fanout", Durable: false, Internal: true, Arguments: map[string]any{"x-n": 4.0, "x-other": true}},
			[]string{
				"type is fanout, want topic (the exchange must be recreated)",
				"durable is false, want true (the exchange must be recreated)",
				"internal is true, want false (the exchange must be recreated)",
				`argument alternate-exchange: not set, want "ae" (the exchange must be recreated)`,
				"argument x-n: 4, want 3 (the exchange must be recreated)",
				"argument x-other: true, not declared (the exchange must be recreated)",
			}},
	} {
		if diff := cmp.Diff(tc.want, exchangeDrift(spec, &tc.got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
		}
	}
}

func TestQueueDrift(t *testing.T) {
	policy, pattern := QueuePolicy("q")
	spec := QueueSpec{Vhost: "v", Name: "q", Type: "quorum", Durable: true, Arguments: map[string]any{"x-max-priority": 5},
		Settings: QueueSettings{MessageTTL: ptr(1000), DeadLetterExchange: "dlx"}}
	own := func(def map[string]any) *policyState {
		return &policyState{Pattern: pattern, ApplyTo: "queues", Priority: QueuePolicyPriority, Definition: def}
	}
	upToDate := queueView{queue: &queueState{Type: "quorum", Durable: true, Arguments: map[string]any{"x-max-priority": 5.0}},
		operator: own(map[string]any{"message-ttl": 1000.0}), user: own(map[string]any{"dead-letter-exchange": "dlx"})}
	for _, tc := range []struct {
		reason             string
		spec               QueueSpec
		got                queueView
		recreate, settings []string
	}{
		{"as applied: up to date", spec, upToDate, nil, nil},
		{"type and arguments cannot change in place",
			spec, queueView{queue: &queueState{Type: "classic", Durable: true}, operator: upToDate.operator, user: upToDate.user},
			[]string{"type is classic, want quorum (the queue must be recreated)",
				"argument x-max-priority: not set, want 5 (the queue must be recreated)"}, nil},
		{"an empty type takes the vhost default and is not compared",
			func() QueueSpec { s := spec; s.Type = ""; return s }(),
			queueView{queue: &queueState{Type: "classic", Durable: true, Arguments: map[string]any{"x-max-priority": 5.0}}, operator: upToDate.operator, user: upToDate.user},
			nil, nil},
		{"settings changed out of band are drift, repaired in place",
			spec, queueView{queue: upToDate.queue, operator: own(map[string]any{"message-ttl": 5.0, "max-length": 1.0}), user: nil},
			nil, []string{
				`operator policy "` + policy + `" setting max-length: 1, not declared`,
				`operator policy "` + policy + `" setting message-ttl: 5, want 1000`,
				`policy "` + policy + `" missing`,
			}},
		{"a policy left over after settings were removed is drift",
			func() QueueSpec { s := spec; s.Settings = QueueSettings{}; return s }(), upToDate,
			nil, []string{`operator policy "` + policy + `" exists, want none`, `policy "` + policy + `" exists, want none`}},
		{"an owned policy whose pattern was edited no longer covers the queue alone",
			spec, queueView{queue: upToDate.queue, operator: &policyState{Pattern: ".*", ApplyTo: "all", Priority: 1, Definition: map[string]any{"message-ttl": 1000.0}}, user: upToDate.user},
			nil, []string{
				`operator policy "` + policy + `" pattern is ".*", want "^q$"`,
				`operator policy "` + policy + `" applies to all, want queues`,
				`operator policy "` + policy + `" priority is 1, want 1000000`,
			}},
	} {
		recreate, settings := queueDrift(tc.spec, tc.got)
		if diff := cmp.Diff(tc.recreate, recreate); diff != "" {
			t.Errorf("%s: recreate (-want +got):\n%s", tc.reason, diff)
		}
		if diff := cmp.Diff(tc.settings, settings); diff != "" {
			t.Errorf("%s: settings (-want +got):\n%s", tc.reason, diff)
		}
	}
}

func TestVhostDrift(t *testing.T) {
	for _, tc := range []struct {
		reason string
		spec   VhostSpec
		got    vhostState
		want   []string
	}{
		{"an unset default queue type and no limits match a bare vhost", VhostSpec{Name: "v"}, vhostState{Name: "v"}, nil},
		{"tags compare as sets", VhostSpec{Name: "v", Tags: []string{"b", "a", "a"}}, vhostState{Tags: []string{"a", "b"}}, nil},
		{"a negative limit means none", VhostSpec{Name: "v", MaxQueues: ptr(-1)}, vhostState{}, nil},
		{"every difference is listed",
			VhostSpec{Name: "v", Description: "d", Tags: []string{"t"}, DefaultQueueType: "quorum", MaxConnections: ptr(10)},
			vhostState{Description: "old", DefaultQueueType: "classic", Limits: map[string]int64{"max-connections": 5, "max-queues": 3}},
			[]string{`description is "old", want "d"`, `tags are [], want ["t"]`, "default queue type is classic, want quorum",
				"max-connections: 5, want 10", "max-queues: 3, want no limit"}},
	} {
		if diff := cmp.Diff(tc.want, vhostDrift(tc.spec, &tc.got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
		}
	}
}

func TestPolicySpecDrift(t *testing.T) {
	spec := PolicySpec{Vhost: "v", Name: "p", Pattern: "^a", Definition: map[string]any{"max-length": 10, "ha-params": []string{"x"}}}
	for _, tc := range []struct {
		reason string
		got    policyState
		want   []string
	}{
		{"an empty applyTo is the server's default, all", policyState{Pattern: "^a", ApplyTo: "all", Definition: map[string]any{"max-length": 10.0, "ha-params": []any{"x"}}}, nil},
		{"differences are listed", policyState{Pattern: "^b", ApplyTo: "queues", Priority: 2, Definition: map[string]any{"max-length": 11.0}},
			[]string{`pattern is "^b", want "^a"`, "applies to queues, want all", "priority is 2, want 0",
				`definition ha-params: not set, want ["x"]`, "definition max-length: 11, want 10"}},
	} {
		if diff := cmp.Diff(tc.want, policySpecDrift(spec, &tc.got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
		}
	}
}

func TestUserDrift(t *testing.T) {
	hash := HashPassword("pw", [4]byte{1, 2, 3, 4})
	spec := UserSpec{Name: "u", Password: "pw", Tags: []string{"management"}, Permissions: []Permission{{Vhost: "v", Configure: "^u\\.", Write: ".*", Read: ".*"}}}
	for _, tc := range []struct {
		reason string
		got    userState
		want   []string
		pw     port.PasswordState
	}{
		{"as applied: up to date, password matches", userState{PasswordHash: hash, HashingAlgorithm: HashSHA256, Tags: []string{"management"},
			Permissions: spec.Permissions}, nil, port.PasswordMatches},
		{"another password and a surplus vhost",
			userState{PasswordHash: HashPassword("other", [4]byte{}), HashingAlgorithm: HashSHA256, Tags: []string{"management"},
				Permissions: append([]Permission{{Vhost: "/", Configure: ".*"}}, spec.Permissions...)},
			[]string{"password differs", `permissions in vhost "/" not declared`}, port.PasswordDiffers},
		{"a hash the adapter cannot check is unknown, not drift",
			userState{PasswordHash: hash, HashingAlgorithm: "rabbit_password_hashing_bcrypt", Tags: []string{"management"}, Permissions: spec.Permissions},
			nil, port.PasswordUnknown},
		{"changed patterns and tags",
			userState{PasswordHash: hash, Tags: []string{"administrator"}, Permissions: []Permission{{Vhost: "v", Configure: ".*", Write: ".*", Read: ".*"}}},
			[]string{`tags are ["administrator"], want ["management"]`,
				`permissions in vhost "v": configure ".*" write ".*" read ".*", want configure "^u\\." write ".*" read ".*"`}, port.PasswordMatches},
	} {
		d, pw := userDrift(spec, &tc.got)
		if diff := cmp.Diff(tc.want, d); diff != "" || pw != tc.pw {
			t.Errorf("%s: password %v, want %v; drift (-want +got):\n%s", tc.reason, pw, tc.pw, diff)
		}
		for _, line := range d {
			if strings.Contains(line, tc.got.PasswordHash) && tc.got.PasswordHash != "" {
				t.Errorf("%s: drift line holds the hash: %s", tc.reason, line)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	ok := func(err error) bool {
		be, is := backenderr.As(err)
		return is && be.Reason == backenderr.ReasonInvalidSpec && be.Terminal
	}
	for _, tc := range []struct {
		reason string
		err    error
	}{
		{"a vhost needs a name", vhosts{}.Validate(ctx, VhostSpec{})},
		{"a vhost name with a newline would make patterns ambiguous", vhosts{}.Validate(ctx, VhostSpec{Name: "a\nb"})},
		{"an unknown default queue type", vhosts{}.Validate(ctx, VhostSpec{Name: "v", DefaultQueueType: "lazy"})},
		{"tags travel comma-separated", vhosts{}.Validate(ctx, VhostSpec{Name: "v", Tags: []string{"a,b"}})},
		{"amq. exchanges are reserved", exchanges{}.Validate(ctx, ExchangeSpec{Vhost: "v", Name: "amq.mine", Type: "topic"})},
		{"an unknown exchange type", exchanges{}.Validate(ctx, ExchangeSpec{Vhost: "v", Name: "e", Type: "x"})},
		{"exchange names are AMQP short strings", exchanges{}.Validate(ctx, ExchangeSpec{Vhost: "v", Name: strings.Repeat("e", 256), Type: "topic"})},
		{"arguments must encode as JSON", exchanges{}.Validate(ctx, ExchangeSpec{Vhost: "v", Name: "e", Type: "topic", Arguments: map[string]any{"f": func() {}}})},
		{"quorum queues are durable", queues{}.Validate(ctx, QueueSpec{Vhost: "v", Name: "q", Type: "quorum"})},
		{"x-queue-type is set with Type", queues{}.Validate(ctx, QueueSpec{Vhost: "v", Name: "q", Arguments: map[string]any{"x-queue-type": "quorum"}})},
		{"an unknown overflow mode", queues{}.Validate(ctx, QueueSpec{Vhost: "v", Name: "q", Settings: QueueSettings{Overflow: "drop-tail"}})},
		{"delivery limits are for quorum queues", queues{}.Validate(ctx, QueueSpec{Vhost: "v", Name: "q", Type: "classic", Settings: QueueSettings{DeliveryLimit: ptr(3)}})},
		{"negative TTL", queues{}.Validate(ctx, QueueSpec{Vhost: "v", Name: "q", Settings: QueueSettings{MessageTTL: ptr(-1)}})},
		{"a dead-letter routing key without exchange", queues{}.Validate(ctx, QueueSpec{Vhost: "v", Name: "q", Settings: QueueSettings{DeadLetterRoutingKey: "k"}})},
		{"a user called .. would address /api/ (dot segments are resolved even as %2E)", users{}.Validate(ctx, UserSpec{Name: "..", Password: "p"})},
		{"a binding with routing key . is deleted by the properties key .", bindings{}.Validate(ctx, BindingSpec{Vhost: "v", Source: "e", Destination: "q", RoutingKey: "."})},
		{"the default exchange takes no explicit bindings", bindings{}.Validate(ctx, BindingSpec{Vhost: "v", Destination: "q"})},
		{"3.10's management API cannot list a binding with ~ in its key and arguments",
			bindings{}.Validate(ctx, BindingSpec{Vhost: "v", Source: "e", Destination: "q", RoutingKey: "a~b", Arguments: map[string]any{"x": 1}})},
		{"destination type", bindings{}.Validate(ctx, BindingSpec{Vhost: "v", Source: "e", Destination: "q", DestinationType: "stream"})},
		{"queue-settings policy names are reserved", policies{}.Validate(ctx, PolicySpec{Vhost: "v", Name: QueuePolicyPrefix + "x", Pattern: ".*", Definition: map[string]any{"a": 1}})},
		{"a policy needs a definition", policies{}.Validate(ctx, PolicySpec{Vhost: "v", Name: "p", Pattern: ".*"})},
		{"unknown apply-to", policies{}.Validate(ctx, PolicySpec{Vhost: "v", Name: "p", Pattern: ".*", ApplyTo: "bindings", Definition: map[string]any{"a": 1}})},
		{"a user needs a password", users{}.Validate(ctx, UserSpec{Name: "u"})},
		{"one permission entry per vhost", users{}.Validate(ctx, UserSpec{Name: "u", Password: "p", Permissions: []Permission{{Vhost: "v"}, {Vhost: "v"}}})},
		{"one topic permission per exchange", users{}.Validate(ctx, UserSpec{Name: "u", Password: "p",
			TopicPermissions: []TopicPermission{{Vhost: "v", Exchange: "e"}, {Vhost: "v", Exchange: "e"}}})},
	} {
		if !ok(tc.err) {
			t.Errorf("%s: got %v, want a terminal InvalidSpec", tc.reason, tc.err)
		}
	}
	for _, err := range []error{
		vhosts{}.Validate(ctx, VhostSpec{Name: "a/b %#ü", DefaultQueueType: "quorum", MaxQueues: ptr(-1)}),
		exchanges{}.Validate(ctx, ExchangeSpec{Vhost: "/", Name: "e", Type: "x-delayed-message"}),
		queues{}.Validate(ctx, QueueSpec{Vhost: "/", Name: "q", Type: "quorum", Durable: true, Settings: QueueSettings{DeliveryLimit: ptr(3)}}),
		bindings{}.Validate(ctx, BindingSpec{Vhost: "/", Source: "amq.topic", Destination: "q", RoutingKey: "a~b"}),
		policies{}.Validate(ctx, PolicySpec{Vhost: "/", Name: "p", Pattern: "^a", ApplyTo: "quorum_queues", Definition: map[string]any{"a": 1}}),
		users{}.Validate(ctx, UserSpec{Name: "ü ser", Password: "p", Tags: []string{"management"}}),
	} {
		if err != nil {
			t.Errorf("valid spec refused: %v", err)
		}
	}
}

func TestClassify(t *testing.T) {
	c := &Client{endpoint: "http://mgmt:15672"}
	for _, tc := range []struct {
		reason   string
		status   int
		srv      string
		notFound string
		err      error
		want     string
		terminal bool
	}{
		{"no HTTP answer: unavailable", 0, "", "", errors.New("dial tcp: connection refused"), backenderr.ReasonUnavailable, false},
		{"a wrong admin password", http.StatusUnauthorized, "Login failed", "", errors.New("401"), backenderr.ReasonAuthFailed, false},
		{"a 404 where the caller knows what is missing", http.StatusNotFound, "no exchange 'e' in vhost 'v'", "the source exchange does not exist", errors.New("404"), backenderr.ReasonDependencyMissing, false},
		{"permissions on a missing vhost come back as 400", http.StatusBadRequest, "vhost_or_user_not_found", "", errors.New("400"), backenderr.ReasonDependencyMissing, false},
		{"a refused declaration will fail again until the spec changes", http.StatusBadRequest, "inequivalent arg 'durable'", "", errors.New("400"), backenderr.ReasonBackendError, true},
		{"a server error may pass", http.StatusInternalServerError, "boom", "", errors.New("500"), backenderr.ReasonBackendError, false},
	} {
		err := c.classify("op", tc.notFound, tc.status, tc.srv, tc.err)
		be, ok := backenderr.As(err)
		if !ok || be.Reason != tc.want || be.Terminal != tc.terminal {
			t.Errorf("%s: got %#v", tc.reason, err)
		}
	}
	if got := oneLine("Validation failed\n\nx\n"); got != "Validation failed x" {
		t.Errorf("oneLine: %q", got)
	}
	if !slices.Equal(stringList([]byte(`"a,,b"`)), []string{"a", "b"}) || stringList([]byte(`""`)) != nil {
		t.Error("stringList must read comma-separated tags without empty entries")
	}
}
