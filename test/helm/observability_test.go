package helm

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/backend-operator/backend-operator/internal/metrics"
	"github.com/backend-operator/backend-operator/internal/operator"
	"github.com/backend-operator/backend-operator/test/kubetest"
)

// controllerRuntimeMetrics are the controller-runtime metrics the alerts and
// the dashboard use. Its collectors are internal to controller-runtime and
// report nothing before a controller runs, so they are named here; see
// https://book.kubebuilder.io/reference/metrics-reference.
var controllerRuntimeMetrics = []string{
	"workqueue_depth",
	"controller_runtime_reconcile_total",
	"controller_runtime_reconcile_time_seconds",
}

// rule is one alerting rule of the PrometheusRule.
type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func rules(t *testing.T, args ...string) []rule {
	t.Helper()
	objs := render(t, append([]string{"--show-only", "templates/prometheusrule.yaml", "--set", "metrics.prometheusRule.enabled=true"}, args...)...)
	if len(objs) != 1 {
		t.Fatalf("want one PrometheusRule, got %d", len(objs))
	}
	groups, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "groups")
	var out []rule
	for _, g := range groups {
		data, err := json.Marshal(g.(map[string]any)["rules"])
		if err != nil {
			t.Fatal(err)
		}
		var rs []rule
		if err := json.Unmarshal(data, &rs); err != nil {
			t.Fatal(err)
		}
		out = append(out, rs...)
	}
	return out
}

// metricNames returns the metric names expr selects, or fails.
func metricNames(t *testing.T, what, expr string) []string {
	t.Helper()
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", what, expr, err)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// served returns the metric names the operator serves: its own, made to
// report by one use each, and controller-runtime's.
func served(t *testing.T) map[string]bool {
	t.Helper()
	metrics.ObserveOperation("test", "observe", time.Now(), nil)
	metrics.DriftDetected("Test")
	metrics.ObjectDrifted("Test", "test", "test")
	metrics.RotationCompleted("Test", "test", time.Second)
	metrics.WorkloadsRestarted("Test", 1)
	// An object, so that backend_operator_object_ready has a series.
	objs, err := decode([]byte(`
apiVersion: v1
kind: Namespace
metadata: {name: served}
---
apiVersion: sql.backend-operator.dev/v1alpha1
kind: Database
metadata: {namespace: served, name: probe}
spec: {serverRef: {name: none}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := kc.Create(t.Context(), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	metrics.CollectObjects(kc, operator.Scheme(), closed(), all)
	fams, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_count", "_sum"} {
				names[f.GetName()+s] = true
			}
		}
	}
	for _, n := range controllerRuntimeMetrics {
		names[n], names[n+"_bucket"], names[n+"_count"] = true, true, true
	}
	return names
}

// all owns every object: an unsharded instance's view.
func all(client.Object) bool { return true }

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// TestAlertRules: every alert of the PrometheusRule, with the default values
// and with every option set, parses, has a duration and a severity, and
// selects only metrics the operator serves.
func TestAlertRules(t *testing.T) {
	known := served(t)
	for _, args := range [][]string{nil, {"-f", "testdata/all-values.yaml"}} {
		rs := rules(t, args...)
		var alerts []string
		for _, r := range rs {
			alerts = append(alerts, r.Alert)
			for _, n := range metricNames(t, r.Alert, r.Expr) {
				if !known[n] {
					t.Errorf("%s selects %s, which the operator does not serve", r.Alert, n)
				}
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s lacks a severity or a summary: %+v", r.Alert, r)
			}
		}
		want := []string{"BackendOperatorBackendErrors", "BackendOperatorDriftRepeated", "BackendOperatorObjectNotReady", "BackendOperatorServerNotReady"}
		sort.Strings(alerts)
		if diff := cmp.Diff(want, alerts); diff != "" {
			t.Errorf("alerts (-want +got):\n%s", diff)
		}
	}
}

// TestDashboard: the Grafana dashboard is valid JSON whose panels have
// distinct ids and queries that parse and select served metrics.
func TestDashboard(t *testing.T) {
	known := served(t)
	data, err := os.ReadFile("../../config/grafana/backend-operator.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d repeats", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			// Grafana's range variables, as Grafana substitutes them.
			expr := strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h").Replace(q.Expr)
			for _, n := range metricNames(t, p.Title, expr) {
				if !known[n] {
					t.Errorf("panel %q selects %s, which the operator does not serve", p.Title, n)
				}
			}
		}
	}
	if d.UID == "" || queries < 10 {
		t.Errorf("dashboard uid %q with %d queries", d.UID, queries)
	}
}

// TestObjectReady: backend_operator_object_ready reports each object and
// server with its Ready reason, from the API (here a direct client stands in
// for the manager's cache), only once elected; drift series of objects that
// are gone are dropped.
func TestObjectReady(t *testing.T) {
	ctx := t.Context()
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("ready-metric")
	if err := kc.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	objs, err := decode([]byte(`
apiVersion: sql.backend-operator.dev/v1alpha1
kind: ClusterDatabaseServer
metadata: {name: metric-pg}
spec:
  engine: postgres
  host: pg.example
  port: 5432
  adminCredentials: {secretRef: {namespace: default, name: pg-admin}}
---
apiVersion: sql.backend-operator.dev/v1alpha1
kind: Database
metadata: {namespace: ready-metric, name: orders}
spec: {serverRef: {kind: ClusterDatabaseServer, name: metric-pg}}
---
apiVersion: sql.backend-operator.dev/v1alpha1
kind: Database
metadata: {namespace: ready-metric, name: fresh}
spec: {serverRef: {kind: ClusterDatabaseServer, name: metric-pg}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := kc.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range []metav1.Condition{
		{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Connected", Message: "ok"},
		{Type: "Ready", Status: metav1.ConditionFalse, Reason: "ServerNotReady", Message: "waiting"},
	} {
		c.LastTransitionTime = metav1.Now()
		cond, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&c)
		if err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedSlice(objs[i].Object, []any{cond}, "status", "conditions"); err != nil {
			t.Fatal(err)
		}
		if err := kc.Status().Update(ctx, objs[i]); err != nil {
			t.Fatal(err)
		}
	}
	metrics.ObjectDrifted("Database", "ready-metric", "orders")
	metrics.ObjectDrifted("Database", "ready-metric", "deleted-since")

	// Not elected: nothing.
	metrics.CollectObjects(kc, operator.Scheme(), make(chan struct{}), all)
	if got := gather(t, "backend_operator_object_ready", "ready-metric", "metric-pg"); len(got) != 0 {
		t.Errorf("a replica that is not the leader reports %v", got)
	}
	metrics.CollectObjects(kc, operator.Scheme(), closed(), all)
	want := []string{
		"group=sql.backend-operator.dev kind=ClusterDatabaseServer name=metric-pg namespace= reason=Connected = 1",
		"group=sql.backend-operator.dev kind=Database name=fresh namespace=ready-metric reason=NoCondition = 0",
		"group=sql.backend-operator.dev kind=Database name=orders namespace=ready-metric reason=ServerNotReady = 0",
	}
	if diff := cmp.Diff(want, gather(t, "backend_operator_object_ready", "ready-metric", "metric-pg")); diff != "" {
		t.Errorf("backend_operator_object_ready (-want +got):\n%s", diff)
	}
	want = []string{"kind=Database name=orders namespace=ready-metric = 1"}
	if diff := cmp.Diff(want, gather(t, "backend_operator_object_drift_total", "ready-metric", "")); diff != "" {
		t.Errorf("backend_operator_object_drift_total after a scrape (-want +got):\n%s", diff)
	}
}

// gather scrapes the registry and returns the series of name in namespace
// ns or named server, as "label=value ... = value" lines, sorted.
func gather(t *testing.T, name, ns, server string) []string {
	t.Helper()
	fams, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			keep := false
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
				keep = keep || (l.GetName() == "namespace" && l.GetValue() == ns) || (l.GetName() == "name" && server != "" && l.GetValue() == server)
			}
			if !keep {
				continue
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out = append(out, strings.Join(labels, " ")+" = "+model.SampleValue(v).String())
		}
	}
	slices.Sort(out)
	return out
}

// TestOperatorWithTheChartsNamespaces: run with the chart's watchNamespaces,
// the operator reconciles the objects of the watched namespace and the
// cluster-scoped servers, leaves other namespaces alone, and the gauge reads
// its cache and shows the reasons its loops set.
func TestOperatorWithTheChartsNamespaces(t *testing.T) {
	var flag string
	for _, u := range render(t, "--set", "watchNamespaces={ready-operator}", "--show-only", "templates/deployment.yaml") {
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, a := range cs[0].(map[string]any)["args"].([]any) {
			if strings.HasPrefix(a.(string), "--watch-namespaces=") {
				flag = a.(string)
			}
		}
	}
	if flag != "--watch-namespaces=ready-operator" {
		t.Fatalf("the chart renders %q", flag)
	}
	kubetest.SetLogger("helm-operator-*.log")
	cfg := kubetest.Config(flag)
	cfg.Restartable = true
	if err := env.RunOperator(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	objs, err := decode([]byte(`
apiVersion: v1
kind: Namespace
metadata: {name: ready-operator}
---
apiVersion: v1
kind: Namespace
metadata: {name: not-watched}
---
apiVersion: sql.backend-operator.dev/v1alpha1
kind: Database
metadata: {namespace: ready-operator, name: orders}
spec: {serverRef: {name: missing}}
---
apiVersion: sql.backend-operator.dev/v1alpha1
kind: Database
metadata: {namespace: not-watched, name: orders}
spec: {serverRef: {name: missing}}
---
apiVersion: sql.backend-operator.dev/v1alpha1
kind: ClusterDatabaseServer
metadata: {name: watch-pg}
spec:
  engine: postgres
  host: pg.example
  port: 5432
  adminCredentials: {secretRef: {namespace: not-watched, name: pg-admin}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := kc.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"group=sql.backend-operator.dev kind=ClusterDatabaseServer name=watch-pg namespace= reason=SecretNotFound = 0",
		"group=sql.backend-operator.dev kind=Database name=orders namespace=ready-operator reason=ServerNotFound = 0",
	}
	var got []string
	for range 100 {
		if got = gather(t, "backend_operator_object_ready", "ready-operator", "watch-pg"); cmp.Equal(want, got) {
			break
		}
		if err := sleep(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("backend_operator_object_ready (-want +got):\n%s", diff)
	}
	// The watched object got its status; give the other as long again.
	for range 10 {
		if err := sleep(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	other := objs[3]
	if err := kc.Get(t.Context(), client.ObjectKeyFromObject(other), other); err != nil {
		t.Fatal(err)
	}
	if conds, _, _ := unstructured.NestedSlice(other.Object, "status", "conditions"); len(conds) > 0 {
		t.Errorf("the Database of a namespace not watched was reconciled: %v", conds)
	}
	if got := gather(t, "backend_operator_object_ready", "not-watched", ""); len(got) > 0 {
		t.Errorf("the gauge reports a namespace not watched: %v", got)
	}
}
