package rabbitmq

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/backend-operator/backend-operator/internal/backend/backenderr"
)

// maxName is the longest queue, exchange or routing key name AMQP 0-9-1
// carries (a short string: 255 bytes).
const maxName = 255

// checkName refuses names the management API or AMQP cannot carry: empty,
// invalid UTF-8, control characters (they would also make a policy pattern
// ambiguous: "$" matches before a final newline), or longer than maxLen bytes
// (0: no limit).
func checkName(what, name string, maxLen int) error {
	switch {
	case name == "":
		return backenderr.Invalid("%s is empty", what)
	case !utf8.ValidString(name):
		return backenderr.Invalid("%s is not valid UTF-8", what)
	case maxLen > 0 && len(name) > maxLen:
		return backenderr.Invalid("%s is %d bytes long; RabbitMQ allows %d", what, len(name), maxLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return backenderr.Invalid("%s holds a control character", what)
	case dotSegment(name):
		return backenderr.Invalid("%s %q cannot be used: the management API resolves it in URL paths, escaped or not", what, name)
	}
	return nil
}

// dotSegment reports the names "." and "..", which the management API's
// HTTP server removes from paths as dot segments (also as %2E), so that
// /api/users/.. would address /api/.
func dotSegment(name string) bool { return name == "." || name == ".." }

// named refuses to address an object by a name that would make its URL
// path name something else: empty (DELETE /api/users/ is the collection),
// "." or "..". Delete checks only this, so that an object whose spec became
// invalid otherwise can still be removed.
func named(names ...string) error {
	for _, n := range names {
		if n == "" || dotSegment(n) {
			return backenderr.Invalid("the name %q cannot be addressed in the management API", n)
		}
	}
	return nil
}

// checkEntityName is checkName for exchanges and queues, which also may not
// use the amq. prefix RabbitMQ reserves.
func checkEntityName(what, name string) error {
	if err := checkName(what, name, maxName); err != nil {
		return err
	}
	if strings.HasPrefix(name, "amq.") {
		return backenderr.Invalid("%s %q uses the prefix amq., which RabbitMQ reserves", what, name)
	}
	return nil
}

// checkArguments refuses arguments that cannot be sent as JSON.
func checkArguments(what string, args map[string]any) error {
	if _, err := json.Marshal(args); err != nil {
		return backenderr.Invalid("%s cannot be encoded as JSON: %v", what, err)
	}
	return nil
}

// norm returns v as the management API would send it back: a JSON round
// trip turns ints into float64 and typed maps and slices into generic ones.
func norm(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// normMap is norm for argument and definition maps; nil and empty are equal.
func normMap(m map[string]any) map[string]any {
	if len(m) == 0 {
		return map[string]any{}
	}
	out, _ := norm(m).(map[string]any)
	if out == nil {
		return map[string]any{}
	}
	return out
}

// sameJSON reports whether two argument maps are equal as JSON values.
func sameJSON(a, b map[string]any) bool { return reflect.DeepEqual(normMap(a), normMap(b)) }

// show renders a value for a drift line, as JSON.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// mapDiff lists the keys whose values differ between want and got, sorted,
// as drift lines "<what> <key>: <got>, want <want>".
func mapDiff(what string, want, got map[string]any) []string {
	w, g := normMap(want), normMap(got)
	keys := map[string]bool{}
	for k := range w {
		keys[k] = true
	}
	for k := range g {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		wv, win := w[k]
		gv, gin := g[k]
		switch {
		case win && !gin:
			out = append(out, fmt.Sprintf("%s %s: not set, want %s", what, k, show(wv)))
		case !win && gin:
			out = append(out, fmt.Sprintf("%s %s: %s, not declared", what, k, show(gv)))
		case !reflect.DeepEqual(wv, gv):
			out = append(out, fmt.Sprintf("%s %s: %s, want %s", what, k, show(gv), show(wv)))
		}
	}
	return out
}

// sortedSet returns s without duplicates or empty strings, sorted; nil when
// empty.
func sortedSet(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// QueuePolicyPrefix starts the name of every policy the adapter owns for
// one queue's settings.
const QueuePolicyPrefix = "backend-operator.queue."

// maxPolicyName bounds the names of owned policies (bytes), so that they
// stay readable and fit any URL.
const maxPolicyName = 255

// QueuePolicy returns the name and pattern of the policy that carries the
// settings of queue name: QueuePolicyPrefix + name, or, when that is longer
// than 255 bytes, a prefix of name cut at a character boundary plus "~" and
// the first 16 hex digits of the name's SHA-256, so that two long names
// sharing a prefix get different policies. The pattern matches exactly
// name: names never hold control characters (checkName), so "$" cannot
// match before a trailing newline.
func QueuePolicy(name string) (policy, pattern string) {
	pattern = "^" + regexp.QuoteMeta(name) + "$"
	policy = QueuePolicyPrefix + name
	if len(policy) <= maxPolicyName {
		return policy, pattern
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "~" + hex.EncodeToString(sum[:8])
	keep := maxPolicyName - len(QueuePolicyPrefix) - len(suffix)
	for keep > 0 && !utf8.RuneStart(name[keep]) {
		keep--
	}
	return QueuePolicyPrefix + name[:keep] + suffix, pattern
}
