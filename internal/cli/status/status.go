// Package status builds `kubectl backend status`: a tree per server of the
// objects that live on it, with their Ready condition, reason, age and the
// Secret they publish, objects that are not Ready first.
package status

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/backend-operator/backend-operator/internal/cli/kinds"
)

// Item is one object in the tree.
type Item struct {
	Kind      string
	Namespace string
	Name      string
	// Ready is the Ready condition's status: True, False, Unknown, or ""
	// when the object has no status yet.
	Ready   string
	Reason  string
	Message string
	// Stale: Ready but status.observedGeneration is behind the spec.
	Stale   bool
	Created time.Time
	// Secret is status.binding.name.
	Secret string
	// Drift is status.drift.
	Drift []string
}

// OK reports whether the item is Ready at its current generation.
func (i Item) OK() bool { return i.Ready == string(metav1.ConditionTrue) && !i.Stale }

// Ref is "Kind/name" or "namespace/Kind/name".
func (i Item) Ref() string {
	if i.Namespace == "" {
		return i.Kind + "/" + i.Name
	}
	return i.Namespace + "/" + i.Kind + "/" + i.Name
}

// Server is one server and the objects on it.
type Server struct {
	Item
	// Missing is true for a server that objects name but that does not exist
	// (or is not visible).
	Missing bool
	Objects []Item
}

// OK reports whether the server and every object on it are Ready.
func (s Server) OK() bool {
	if s.Missing || !s.Item.OK() {
		return false
	}
	for _, o := range s.Objects {
		if !o.OK() {
			return false
		}
	}
	return true
}

// Tree is the servers, not-Ready ones first.
type Tree []Server

// FromObject reads an Item from any of the operator's objects.
func FromObject(u *unstructured.Unstructured) Item {
	it := Item{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(), Created: u.GetCreationTimestamp().Time}
	it.Secret, _, _ = unstructured.NestedString(u.Object, "status", "binding", "name")
	it.Drift, _, _ = unstructured.NestedStringSlice(u.Object, "status", "drift")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		it.Ready, _ = m["status"].(string)
		it.Reason, _ = m["reason"].(string)
		it.Message, _ = m["message"].(string)
	}
	observed, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	it.Stale = it.Ready == string(metav1.ConditionTrue) && found && observed < u.GetGeneration()
	return it
}

type serverKey struct{ kind, namespace, name string }

// Build arranges servers and objects into a tree. An object goes under the
// server its spec.serverRef names (a SchemaMigration under its Database's
// server); objects whose server is not among servers go under a Missing
// server entry.
func Build(servers, objects []unstructured.Unstructured) Tree {
	byKey := map[serverKey]*Server{}
	var order []serverKey
	add := func(k serverKey, s Server) *Server {
		if byKey[k] == nil {
			byKey[k] = &s
			order = append(order, k)
		}
		return byKey[k]
	}
	for i := range servers {
		u := &servers[i]
		add(serverKey{u.GetKind(), u.GetNamespace(), u.GetName()}, Server{Item: FromObject(u)})
	}
	// Databases by namespace/name, for SchemaMigration.databaseRef.
	dbServer := map[string]serverKey{}
	for i := range objects {
		if u := &objects[i]; u.GetKind() == "Database" {
			dbServer[u.GetNamespace()+"/"+u.GetName()] = serverOf(u)
		}
	}
	for i := range objects {
		u := &objects[i]
		k := serverOf(u)
		if u.GetKind() == "SchemaMigration" {
			db, _, _ := unstructured.NestedString(u.Object, "spec", "databaseRef", "name")
			k = dbServer[u.GetNamespace()+"/"+db]
		}
		if k.name == "" {
			k = serverKey{kind: "(no server)"}
		}
		s := byKey[k]
		if s == nil {
			s = add(k, Server{Item: Item{Kind: k.kind, Namespace: k.namespace, Name: k.name, Reason: "NotFound"}, Missing: true})
		}
		s.Objects = append(s.Objects, FromObject(u))
	}
	tree := make(Tree, 0, len(order))
	for _, k := range order {
		s := *byKey[k]
		slices.SortStableFunc(s.Objects, compareItems)
		tree = append(tree, s)
	}
	slices.SortStableFunc(tree, func(a, b Server) int {
		if a.OK() != b.OK() {
			if !a.OK() {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return tree
}

// serverOf is the server spec.serverRef names, with the group's default
// kind; a namespaced server is in the object's namespace.
func serverOf(u *unstructured.Unstructured) serverKey {
	name, _, _ := unstructured.NestedString(u.Object, "spec", "serverRef", "name")
	if name == "" {
		return serverKey{}
	}
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "serverRef", "kind")
	kind = cmp.Or(kind, kinds.DefaultServerKind(u.GroupVersionKind().Group))
	ns := u.GetNamespace()
	if strings.HasPrefix(kind, "Cluster") {
		ns = ""
	}
	return serverKey{kind, ns, name}
}

// compareItems puts not-Ready items first, then orders by kind, namespace
// and name.
func compareItems(a, b Item) int {
	if a.OK() != b.OK() {
		if !a.OK() {
			return -1
		}
		return 1
	}
	return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
}

// Write prints the tree as a table; now is the time ages are counted to.
func (t Tree) Write(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER / OBJECT\tREADY\tREASON\tAGE\tSECRET")
	for _, s := range t {
		fmt.Fprintln(tw, row("", s.Item, now, s.Missing))
		for i, o := range s.Objects {
			prefix := "├─ "
			if i == len(s.Objects)-1 {
				prefix = "└─ "
			}
			fmt.Fprintln(tw, row(prefix, o, now, false))
		}
	}
	return tw.Flush()
}

func row(prefix string, it Item, now time.Time, missing bool) string {
	ready, age := cmp.Or(it.Ready, "-"), "-"
	if it.Stale {
		ready = "True (stale)"
	}
	if missing {
		ready = "-"
	}
	if !it.Created.IsZero() {
		age = duration.HumanDuration(now.Sub(it.Created))
	}
	return fmt.Sprintf("%s%s\t%s\t%s\t%s\t%s", prefix, it.Ref(), ready, cmp.Or(it.Reason, "-"), age, cmp.Or(it.Secret, "-"))
}

// Scope says which objects to show.
type Scope struct {
	// Namespace limits namespaced objects to one namespace; "" means all.
	Namespace string
}

// Collect lists the servers and the objects on them. With a namespace, it
// shows that namespace's servers and objects, and the cluster-scoped
// servers that objects in it use. Kinds whose CRD is not installed are
// skipped.
func Collect(ctx context.Context, c client.Reader, scope Scope) (Tree, error) {
	var srvs, objs []unstructured.Unstructured
	for _, k := range kinds.All() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.ListGVK())
		var opts []client.ListOption
		if scope.Namespace != "" && !k.Cluster {
			opts = append(opts, client.InNamespace(scope.Namespace))
		}
		if err := c.List(ctx, list, opts...); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("list %s: %w", k.Name, err)
		}
		if k.Server {
			srvs = append(srvs, list.Items...)
		} else {
			objs = append(objs, list.Items...)
		}
	}
	tree := Build(srvs, objs)
	if scope.Namespace == "" {
		return tree, nil
	}
	// A cluster-scoped server belongs to a namespace's view when something
	// in the namespace uses it.
	return slices.DeleteFunc(tree, func(s Server) bool { return s.Namespace == "" && !s.Missing && len(s.Objects) == 0 }), nil
}
