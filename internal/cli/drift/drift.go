// Package drift builds `kubectl backend diff`: what the operator would
// change on the server for one object, in the engine's own terms.
//
// It prints status.drift, the differences the operator found at its last
// observation of the server (about once a minute, and at every change of
// the object), rather than observing the server itself: the plugin then
// needs read access to the object only, not the server's admin Secret, and
// it shows exactly what the operator saw and will act on.
package drift

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/backend-operator/backend-operator/internal/cli/status"
)

// Report is what diff knows about one object.
type Report struct {
	Item status.Item
	// Policy is spec.managementPolicy (default Manage).
	Policy string
	// BackendName is the name on the server (status.backendName, else
	// spec.name, else metadata.name).
	BackendName string
	// Server is "Kind/name" of spec.serverRef.
	Server string
	// Generation and Observed are metadata.generation and
	// status.observedGeneration.
	Generation, Observed int64
}

// FromObject reads a Report from any of the operator's managed objects.
func FromObject(u *unstructured.Unstructured) Report {
	r := Report{Item: status.FromObject(u), Generation: u.GetGeneration()}
	r.Policy, _, _ = unstructured.NestedString(u.Object, "spec", "managementPolicy")
	r.Policy = cmp.Or(r.Policy, "Manage")
	backend, _, _ := unstructured.NestedString(u.Object, "status", "backendName")
	spec, _, _ := unstructured.NestedString(u.Object, "spec", "name")
	r.BackendName = cmp.Or(backend, spec, u.GetName())
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "serverRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "spec", "serverRef", "name")
	if name != "" {
		r.Server = cmp.Or(kind, "server") + "/" + name
	}
	r.Observed, _, _ = unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	return r
}

// Changes lists what the operator would do on the server, one line each:
// create it, adopt it, or repair each difference.
func (r Report) Changes() []string {
	switch r.Item.Reason {
	case "NotFound":
		return []string{fmt.Sprintf("+ create %s %q (it does not exist on the server)", r.Item.Kind, r.BackendName)}
	case "AlreadyExists":
		return []string{fmt.Sprintf("! %s %q exists and is not managed by this object: nothing changes until spec.adoptExisting is true; then it is adopted and made to match the spec", r.Item.Kind, r.BackendName)}
	}
	lines := make([]string, 0, len(r.Item.Drift))
	for _, d := range r.Item.Drift {
		lines = append(lines, "~ "+d)
	}
	return lines
}

// Write prints the report; it returns whether there are changes.
func (r Report) Write(w io.Writer) (bool, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %q", r.Item.Ref(), r.BackendName)
	if r.Server != "" {
		fmt.Fprintf(&b, " on %s", r.Server)
	}
	fmt.Fprintf(&b, "\nmanagementPolicy: %s\n", r.Policy)
	if r.Item.Ready == "" {
		b.WriteString("status: not observed yet\n")
	} else {
		fmt.Fprintf(&b, "status: Ready=%s %s: %s\n", r.Item.Ready, r.Item.Reason, r.Item.Message)
	}
	if r.Observed > 0 && r.Observed < r.Generation {
		fmt.Fprintf(&b, "note: the spec changed (generation %d) since it was last in sync (generation %d); the lines below are from the last observation\n", r.Generation, r.Observed)
	}
	changes := r.Changes()
	switch {
	case r.Item.Ready == "":
		b.WriteString("\nno observation yet: nothing to compare\n")
	case len(changes) == 0:
		b.WriteString("\nno differences at the last observation\n")
	default:
		verb := "would change"
		if r.Policy == "Manage" {
			verb = "is changing"
		}
		fmt.Fprintf(&b, "\nthe operator %s on the server:\n", verb)
		for _, c := range changes {
			fmt.Fprintf(&b, "  %s\n", c)
		}
		if r.Policy == "Observe" {
			b.WriteString("\nset spec.managementPolicy: Manage to apply these changes\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return len(changes) > 0, err
}
