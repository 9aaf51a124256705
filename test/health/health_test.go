// Package health checks that the health of every kind, in every state the
// operator reports, reads as intended by the two health checks GitOps tools
// use: kstatus (Flux, kpt, cli-utils) and the Argo CD Lua check that
// README.md ships.
package health

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/backend-operator/backend-operator/internal/cli/kinds"
)

// state is one situation of an object, as the managed and server loops
// write it.
type state struct {
	name string
	// generation and observed are metadata.generation and
	// status.observedGeneration (0: not set; the loops stamp it when
	// the object is Ready or Stalled).
	generation, observed int64
	// ready, reason: the Ready condition; ready "" means none yet.
	ready, reason string
	// stalled: the loop found that the object cannot progress without a
	// person: it adds Stalled=True and stamps observedGeneration.
	stalled  bool
	deleting bool
	// kstatus is what kstatus computes; argo what the README's Lua returns.
	kstatus status.Status
	argo    string
}

var states = []state{
	{name: "new, not reconciled yet", generation: 1,
		kstatus: status.InProgressStatus, argo: "Progressing"},
	{name: "waiting for its server", generation: 1, ready: "False", reason: "ServerNotReady",
		kstatus: status.InProgressStatus, argo: "Progressing"},
	{name: "backend unavailable", generation: 1, ready: "False", reason: "BackendUnavailable",
		kstatus: status.InProgressStatus, argo: "Progressing"},
	{name: "ready at its generation", generation: 2, observed: 2, ready: "True", reason: "Available",
		kstatus: status.CurrentStatus, argo: "Healthy"},
	{name: "ready, spec changed since", generation: 3, observed: 2, ready: "True", reason: "Available",
		kstatus: status.InProgressStatus, argo: "Progressing"},
	{name: "invalid spec at creation", generation: 1, observed: 1, ready: "False", reason: "InvalidSpec", stalled: true,
		kstatus: status.FailedStatus, argo: "Degraded"},
	{name: "invalid spec change", generation: 3, observed: 3, ready: "False", reason: "InvalidSpec", stalled: true,
		kstatus: status.FailedStatus, argo: "Degraded"},
	{name: "conflict with another object", generation: 1, observed: 1, ready: "False", reason: "Conflict", stalled: true,
		kstatus: status.FailedStatus, argo: "Degraded"},
	{name: "exists, not adopted", generation: 1, observed: 1, ready: "False", reason: "AlreadyExists", stalled: true,
		kstatus: status.FailedStatus, argo: "Degraded"},
	{name: "server does not admit the namespace", generation: 1, observed: 1, ready: "False", reason: "ServerNotAllowed", stalled: true,
		kstatus: status.FailedStatus, argo: "Degraded"},
	{name: "change refused by the server", generation: 2, observed: 2, ready: "False", reason: "Refused", stalled: true,
		kstatus: status.FailedStatus, argo: "Degraded"},
	{name: "drifted under Observe", generation: 1, ready: "False", reason: "Drifted",
		kstatus: status.InProgressStatus, argo: "Progressing"},
	{name: "deleting", generation: 2, observed: 2, ready: "False", reason: "Deleting", deleting: true,
		kstatus: status.TerminatingStatus, argo: "Progressing"},
}

func object(k kinds.Kind, s state) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(k.GVK())
	u.SetName("example")
	if !k.Cluster {
		u.SetNamespace("team")
	}
	u.SetGeneration(s.generation)
	if s.deleting {
		u.Object["metadata"].(map[string]any)["deletionTimestamp"] = "2026-01-01T00:00:00Z"
	}
	if s.ready == "" {
		// As the API server returns it: the CRDs default the status.
		u.Object["status"] = map[string]any{"observedGeneration": int64(0)}
		return u
	}
	conds := []any{map[string]any{
		"type": "Ready", "status": s.ready, "reason": s.reason, "message": "a message",
		"lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": s.generation,
	}}
	if s.stalled {
		conds = append(conds, map[string]any{"type": "Stalled", "status": "True", "reason": s.reason, "message": "a message",
			"lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": s.generation})
	}
	st := map[string]any{"conditions": conds}
	if s.observed > 0 {
		st["observedGeneration"] = s.observed
	}
	u.Object["status"] = st
	return u
}

func TestKstatus(t *testing.T) {
	for _, k := range kinds.All() {
		for _, s := range states {
			t.Run(k.Name+"/"+s.name, func(t *testing.T) {
				res, err := status.Compute(object(k, s))
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != s.kstatus {
					t.Errorf("kstatus says %s (%s), want %s", res.Status, res.Message, s.kstatus)
				}
			})
		}
	}
}

// argoLua is the README's Argo CD health check: the Lua of its first
// resource.customizations.health entry, and the kinds it is set for.
func argoLua(t *testing.T) (script string, configured []string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck
	entry := regexp.MustCompile(`^\s+resource\.customizations\.health\.([a-z.-]+)_([A-Za-z]+):`)
	var lines []string
	inSection, inScript, indent := false, false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### Argo CD health check"):
			inSection = true
			continue
		case inSection && (strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### ")):
			inSection = false
		case !inSection:
			continue
		}
		if m := entry.FindStringSubmatch(line); m != nil {
			inScript = strings.HasSuffix(strings.TrimSpace(line), "|") && script == "" && len(lines) == 0
			configured = append(configured, m[1]+"/"+m[2])
			continue
		}
		if inScript {
			if indent == "" {
				indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			}
			if !strings.HasPrefix(line, indent) {
				inScript = false
				continue
			}
			lines = append(lines, strings.TrimPrefix(line, indent))
		}
	}
	if len(lines) == 0 {
		t.Fatal(`README.md has no Lua under "### Argo CD health check"`)
	}
	return strings.Join(lines, "\n"), configured
}

// toLua converts a decoded JSON value as Argo CD does: objects and arrays
// become tables (arrays 1-based), numbers Lua numbers.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	panic(fmt.Sprintf("toLua: %T", v))
}

func evalArgo(t *testing.T, script string, u *unstructured.Unstructured) (string, string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, u.Object))
	if err := L.DoString(script); err != nil {
		t.Fatalf("Lua: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("Lua returned %s, want a table", L.Get(-1).Type())
	}
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

func TestArgoCDHealth(t *testing.T) {
	script, configured := argoLua(t)
	for _, k := range kinds.All() {
		if !slices.Contains(configured, k.Group+"/"+k.Name) {
			t.Errorf("README's Argo CD health check does not list %s (%s)", k.Name, k.Group)
		}
		for _, s := range states {
			t.Run(k.Name+"/"+s.name, func(t *testing.T) {
				got, msg := evalArgo(t, script, object(k, s))
				if got != s.argo {
					t.Errorf("Argo CD health %s (%s), want %s", got, msg, s.argo)
				}
				if s.ready != "" && !strings.HasPrefix(msg, s.reason+": ") {
					t.Errorf("message %q does not start with the reason %s", msg, s.reason)
				}
			})
		}
	}
}
